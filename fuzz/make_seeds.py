#!/usr/bin/env python3
"""Writes the starting seeds of each fuzz target into fuzz/corpus/<target>/ (run once
before the first `cargo fuzz run`; the committed corpus is what fuzzing kept after
`cargo fuzz cmin`). Documents come from tests/fixtures."""
import os, struct, pathlib

HERE = pathlib.Path(__file__).resolve().parent
FIX = HERE.parent / "tests" / "fixtures"

def put(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)

# --- IPP ---------------------------------------------------------------------------
def attr(tag, name, value):
    if isinstance(value, str):
        value = value.encode()
    return bytes([tag]) + struct.pack(">H", len(name)) + name.encode() + struct.pack(">H", len(value)) + value

def ipp(op, rid, groups, version=(2, 0)):
    out = bytes(version) + struct.pack(">HI", op, rid)
    for g, attrs in groups:
        out += bytes([g]) + b"".join(attrs)
    return out + b"\x03"

OPS = [attr(0x47, "attributes-charset", "utf-8"), attr(0x48, "attributes-natural-language", "en"),
       attr(0x45, "printer-uri", "ipp://localhost:631/ipp/print")]
media_col = (attr(0x34, "media-col", b"") + attr(0x4A, "", "media-size") + attr(0x34, "", b"")
             + attr(0x4A, "", "x-dimension") + attr(0x21, "", struct.pack(">i", 21000))
             + attr(0x4A, "", "y-dimension") + attr(0x21, "", struct.pack(">i", 29700))
             + attr(0x37, "", b"") + attr(0x4A, "", "media-type") + attr(0x44, "", "stationery")
             + attr(0x37, "", b""))
put("ipp_request", "get-printer-attributes", ipp(0x000B, 1, [(1, OPS + [
    attr(0x44, "requested-attributes", "all"), attr(0x44, "", "media-col-database")])]))
put("ipp_request", "print-job", ipp(0x0002, 7, [(1, OPS + [
    attr(0x42, "requesting-user-name", "alice"), attr(0x42, "job-name", "report.pdf"),
    attr(0x49, "document-format", "application/pdf"), attr(0x44, "compression", "gzip")]),
    (2, [attr(0x21, "copies", struct.pack(">i", 2)), attr(0x44, "sides", "two-sided-long-edge"),
         attr(0x33, "page-ranges", struct.pack(">ii", 1, 3)), attr(0x33, "", struct.pack(">ii", 5, 9)),
         attr(0x44, "print-color-mode", "monochrome"), attr(0x22, "some-bool", b"\x01"),
         attr(0x32, "printer-resolution", struct.pack(">iib", 600, 600, 3)),
         attr(0x31, "when", struct.pack(">HBBBBBBcBB", 2026, 12, 7, 12, 0, 0, 0, b"+", 0, 0)), attr(0x23, "finishings", struct.pack(">i", 3)),
         media_col])]) + b"%PDF-1.4\n")
put("ipp_request", "get-jobs", ipp(0x000A, 3, [(1, OPS + [attr(0x44, "which-jobs", "completed"),
    attr(0x21, "limit", struct.pack(">i", 10)), attr(0x13, "my-jobs", b"")])], version=(1, 1)))
put("ipp_request", "cancel-job", ipp(0x0008, 9, [(1, OPS[:2] + [
    attr(0x45, "job-uri", "ipp://localhost/jobs/4"), attr(0x35, "message", b"\x00\x02en\x00\x03bye")])]))

# --- HTTP answers from a printer ------------------------------------------------------
body = ipp(0x0000, 1, [(1, OPS[:2] + [attr(0x41, "status-message", "successful-ok")]),
                       (4, [attr(0x44, "printer-state-reasons", "none"), attr(0x23, "printer-state", struct.pack(">i", 3))])])
put("ipp_client_response", "sized", b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
chunks = b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in (body[:10], body[10:]))
put("ipp_client_response", "chunked", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0;ext=1\r\nX-Trailer: y\r\n\r\n")
put("ipp_client_response", "to-close", b"HTTP/1.0 200 OK\r\nServer: printer\r\n\r\n" + body)
put("ipp_client_response", "refused", b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nWWW-Authenticate: Basic\r\n\r\n")

# --- documents --------------------------------------------------------------------------
CAP = 16 * 1024
docs = FIX / "documents"
for f in ("document-a4.pdf", "document-a4-objstm.pdf", "document-a4-gray.pdf"):
    put("analyse_pdf", f, (docs / f).read_bytes())
put("analyse_pcl", "ljet4.pcl", (docs / "document-a4-ljet4.pcl").read_bytes()[:CAP])
put("analyse_pcl", "pxlmono.pxl", (docs / "document-a4-pxlmono.pxl").read_bytes()[:CAP])
put("analyse_pcl", "pjl-pcl5", b"\x1b%-12345X@PJL JOB\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE\x1b&l0H\x1b*r1A\x1b*b3Wabc\x0c\x1b&l1X\x0c\x1bE\x1b%-12345X")
for f in ("document-a4.ps", "document-letter.ps"):
    put("analyse_postscript", f, (docs / f).read_bytes())
put("analyse_postscript", "dsc", b"%!PS-Adobe-3.0\n%%Pages: (atend)\n%%Page: 1 1\n0 0 1 setrgbcolor\nshowpage\n%%Page: 2 2\n%%Trailer\n%%Pages: 2\n%%EOF\n")
for f in ("document-a4-black1-300.pwg", "document-a4-srgb8-150.pwg"):
    put("analyse_raster", f, (docs / f).read_bytes()[:CAP])
# URF page header: bpp, colour space, duplex, quality, 8 reserved, width, height,
# resolution, 8 reserved; then one line (repeated once) of 8 pixels in one run.
urf_page = bytes([24, 1, 0, 0]) + bytes(8) + struct.pack(">III", 8, 2, 300) + bytes(8) + b"\x01\x07\xff\x00\x00"
put("analyse_raster", "urf", b"UNIRAST\x00" + struct.pack(">I", 2) + urf_page + urf_page)

# --- the portal's upload form ---------------------------------------------------------------
def part(name, value, filename=None, ctype=None):
    cd = b'Content-Disposition: form-data; name="%s"' % name.encode()
    if filename is not None:
        cd += b'; filename="%s"' % filename.encode()
    head = cd + b"\r\n" + (b"Content-Type: %s\r\n" % ctype.encode() if ctype else b"")
    return b"--B0und\r\n" + head + b"\r\n" + value + b"\r\n"
form = (part("csrf", b"tok123") + part("copies", b"2") + part("sides", b"two-sided-long-edge")
        + part("color_mode", b"monochrome") + part("other", b"x")
        + part("files", (docs / "document-a4.pdf").read_bytes()[:600], "a.pdf", "application/pdf")
        + part("files", b"", "") + b"--B0und--\r\n")
put("multipart_upload", "form", b"multipart/form-data; boundary=B0und\n" + form)
put("multipart_upload", "jpeg", b'multipart/form-data; boundary="B0und"\n' + part("csrf", b"t") + part("files", b"\xff\xd8\xff\xe0" + bytes(40), "p\x01ic.jpg", "image/jpeg") + b"--B0und--\r\n")

# --- SNMP ------------------------------------------------------------------------------------
def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + content

def ber_int(v):
    return tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))

def ber_oid(arcs):
    out = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        enc = [a & 0x7F]
        a >>= 7
        while a:
            enc.insert(0, 0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(enc)
    return tlv(0x06, out)

def ber_value(kind, text):
    if kind == "4":
        return tlv(0x04, text.encode())
    if kind == "4x":
        return tlv(0x04, bytes.fromhex(text))
    if kind == "2":
        return ber_int(int(text))
    if kind == "6":
        return ber_oid([int(a) for a in text.split(".")])
    if kind in ("65", "66", "67"):
        return tlv({"65": 0x41, "66": 0x42, "67": 0x43}[kind], int(text).to_bytes(4, "big").lstrip(b"\x00") or b"\x00")
    if kind == "64":
        return tlv(0x40, bytes(int(x) for x in text.split(".")))
    if kind == "70":
        return tlv(0x46, int(text).to_bytes(8, "big").lstrip(b"\x00") or b"\x00")
    return tlv(0x05, b"")

snmp = FIX / "snmp"
for rec in sorted(snmp.glob("*.snmprec")):
    binds = b""
    structured = b""
    for line in rec.read_text().splitlines():
        oid, kind, value = line.split("|", 2)
        arcs = [int(a) for a in oid.split(".")]
        binds += tlv(0x30, ber_oid(arcs) + ber_value(kind, value))
    pdu = tlv(0xA2, ber_int(4242) + ber_int(0) + ber_int(0) + tlv(0x30, binds))
    msg = tlv(0x30, ber_int(1) + tlv(0x04, b"public") + pdu)
    put("snmp_record", rec.stem + ".ber", b"\x00\x00" + msg)
# The structured form: mode odd, then (prefix|arcs<<5, arcs…, kind, len, value…) entries.
def entry(prefix, index, kind, value):
    return bytes([prefix | (len(index) << 5)]) + bytes(index) + bytes([kind, len(value)]) + value
printer = (entry(0, [], 1, b"HP LaserJet 4250; version 1.2") + entry(1, [], 2, bytes([1, 3, 6, 1, 4, 1, 11]))
           + entry(6, [2, 1], 2, bytes([1, 3, 6, 1, 2, 1, 25, 3, 1, 5])) + entry(6, [3, 1], 1, b"HP LaserJet")
           + entry(6, [5, 1], 0, b"\x02") + entry(7, [2, 1], 1, b"\x82") + entry(10, [5, 1, 1], 0, b"\x03")
           + entry(10, [6, 1, 1], 1, b"cyan toner") + entry(10, [8, 1, 1], 0, b"\x64") + entry(10, [9, 1, 1], 0, b"\x2a")
           + entry(13, [2, 1, 1], 0, b"\x03") + entry(13, [7, 1, 1], 0, b"\x08") + entry(12, [1, 1], 1, b"READY")
           + entry(5, [1], 1, b"\x00\x80\x77\x4a\x10\x01") + entry(9, [4, 1, 1], 3, b"\x01\x00"))
put("snmp_record", "structured-printer", b"\x01\x00" + printer)
put("snmp_record", "structured-failing", b"\x03\x55" + printer)
