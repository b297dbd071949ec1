//! Documents made at test time with Ghostscript, and hostile ones made by hand.

use std::path::PathBuf;
use std::process::Command;

/// Three pages: colour text and shapes, a colour image, then blue text.
const DOCUMENT_PS: &str = r#"%!PS
/Helvetica findfont 28 scalefont setfont
1 0 0 setrgbcolor 72 600 200 100 rectfill
0 setgray 72 500 moveto (PrintPark page one) show showpage
gsave 72 300 translate 300 300 scale
16 16 8 [16 0 0 16 0 0]
{ <ff0000 00ff00 0000ff ffff00 00ffff ff00ff 808080 000000 ff8000 0080ff 8000ff 00ff80 ff0080 80ff00 008080 800080> } false 3 colorimage
grestore 0 setgray 72 200 moveto (page two: an image) show showpage
0 0 1 setrgbcolor 72 500 moveto (page three in blue) show showpage
"#;

pub struct Fixtures {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixtures {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub fn gs(args: &[&str]) {
    let out = Command::new("gs")
        .args(["-q", "-dSAFER", "-dBATCH", "-dNOPAUSE"])
        .args(args)
        .output()
        .expect("gs");
    assert!(
        out.status.success(),
        "gs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// document.ps, document.pdf (A4), photo.jpg, picture.png, document.pwg, document.urf.
pub fn fixtures() -> Fixtures {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    std::fs::write(p("document.ps"), DOCUMENT_PS).unwrap();
    let a4 = ["-sPAPERSIZE=a4", "-dFIXEDMEDIA"];
    gs(&[
        a4[0],
        a4[1],
        "-sDEVICE=pdfwrite",
        &format!("-sOutputFile={}", p("document.pdf")),
        &p("document.ps"),
    ]);
    let first = ["-dFirstPage=1", "-dLastPage=1", "-r40"];
    gs(&[
        first[0],
        first[1],
        first[2],
        "-sDEVICE=jpeg",
        &format!("-sOutputFile={}", p("photo.jpg")),
        &p("document.pdf"),
    ]);
    gs(&[
        first[0],
        first[1],
        first[2],
        "-sDEVICE=png16m",
        &format!("-sOutputFile={}", p("picture.png")),
        &p("document.pdf"),
    ]);
    let raster = ["-r60", "-dcupsColorSpace=19", "-dcupsBitsPerColor=8"];
    gs(&[
        raster[0],
        raster[1],
        raster[2],
        "-sDEVICE=pwgraster",
        &format!("-sOutputFile={}", p("document.pwg")),
        &p("document.pdf"),
    ]);
    gs(&[
        raster[0],
        raster[1],
        raster[2],
        "-sDEVICE=urf",
        &format!("-sOutputFile={}", p("document.urf")),
        &p("document.pdf"),
    ]);
    let path = dir.path().to_path_buf();
    Fixtures {
        _dir: dir,
        dir: path,
    }
}

/// A valid PNG header (60000 x 60000, 8-bit RGB) and a little zlib data.
pub fn bomb_png() -> Vec<u8> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The document as a PDF whose second page's content cannot be decoded (its stream
/// claims an LZW filter it was not written with): pages 1 and 3 are fine.
pub fn broken_page_two(f: &Fixtures) -> PathBuf {
    let plain = f.path("plain.pdf");
    gs(&[
        "-sDEVICE=pdfwrite",
        "-dCompressPages=false",
        &format!("-sOutputFile={}", plain.display()),
        &f.path("document.ps").to_string_lossy(),
    ]);
    let mut pdf = std::fs::read(&plain).unwrap();
    let starts: Vec<usize> = pdf
        .windows(9)
        .enumerate()
        .filter(|(_, w)| *w == b"stream\nq ")
        .map(|(i, _)| i)
        .collect();
    assert!(starts.len() >= 3, "three content streams");
    let dict_end = pdf[..starts[1]].iter().rposition(|b| *b == b'>').unwrap() - 1;
    pdf.splice(dict_end..dict_end, b"/Filter/LZWDecode".iter().copied());
    let out = f.path("broken-page-two.pdf");
    std::fs::write(&out, pdf).unwrap();
    out
}
