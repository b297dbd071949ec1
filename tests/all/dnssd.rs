//! Found by itself: the queue is announced by DNS-SD, and an independent mDNS stack
//! (python-zeroconf, installed by tests/run.sh) finds it by the types and subtypes
//! IPP Everywhere and AirPrint clients browse, with the TXT keys they read.
//!
//! Multicast needs a network of the test's own: the server and the browser run in a
//! fresh network namespace (`unshare -n`, as root like CI) whose loopback carries
//! multicast, so nothing is announced on the machine's real network.

use crate::support;

use std::process::Command;

use serde_json::Value;

const TYPES: &[&str] = &[
    "_ipps._tcp.local.",
    "_universal._sub._ipps._tcp.local.",
    "_print._sub._ipps._tcp.local.",
    "_print._sub._ipp._tcp.local.",
];

/// Runs the server in its own network namespace with `env`, browses `TYPES` for up to
/// `seconds`, stops the server; returns what was found and the server's log.
fn browse_in_namespace(env: &[(&str, &str)], seconds: u32) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let browse = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dnssd/browse.py"
    );
    let mut exports = String::new();
    for (k, v) in env {
        exports.push_str(&format!("export {k}='{v}'\n"));
    }
    let script = format!(
        r#"set -e
ip link set lo up
ip link set lo multicast on
{exports}
"{bin}" serve > "{dir}/server.log" 2>&1 &
server=$!
for i in $(seq 1 100); do
  curl -fsk https://127.0.0.1:8443/healthz >/dev/null 2>&1 && break
  sleep 0.2
done
python3 "{browse}" {seconds} {types} > "{dir}/found.json"
kill -TERM $server
wait $server || true
"#,
        bin = support::binary().display(),
        dir = dir.path().display(),
        types = TYPES.join(" "),
    );
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .current_dir(dir.path())
        .env("PRINTPARK_DATA_DIR", dir.path().join("data"))
        .env("PRINTPARK_SERVER__LISTEN", "127.0.0.1:8443")
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare (util-linux)");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "a network namespace of our own needs root (CI runs as root): {}\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = std::fs::read_to_string(dir.path().join("found.json")).unwrap();
    (
        serde_json::from_str(&found).expect("browse.py prints JSON"),
        log,
    )
}

#[test]
fn the_queue_is_announced_with_its_subtypes_and_txt_keys_and_can_be_switched_off() {
    let (found, log) = browse_in_namespace(
        &[
            ("PRINTPARK_QUEUE__NAME", "Secure Queue 3rd floor"),
            ("PRINTPARK_QUEUE__LOCATION", "Room 301"),
            ("PRINTPARK_DNSSD__HOST_NAME", "printhost"),
            ("PRINTPARK_SERVER__PLAIN_IPP_LISTEN", "127.0.0.1:8631"),
        ],
        10,
    );
    for ty in TYPES {
        let services = found[ty].as_array().unwrap();
        assert_eq!(services.len(), 1, "{ty}: {found}\n{log}");
        let service = &services[0];
        let ipps = ty.ends_with("_ipps._tcp.local.");
        let txt = &service["txt"];
        assert_eq!(
            service["name"].as_str().unwrap(),
            format!(
                "Secure Queue 3rd floor.{}",
                if ipps {
                    "_ipps._tcp.local."
                } else {
                    "_ipp._tcp.local."
                }
            )
        );
        assert_eq!(service["port"], if ipps { 8443 } else { 8631 });
        assert_eq!(service["server"], "printhost.local.");
        assert!(
            service["addresses"]
                .as_array()
                .unwrap()
                .contains(&Value::from("127.0.0.1")),
            "{service}"
        );
        assert_eq!(txt["rp"], "ipp/print");
        assert_eq!(txt["note"], "Room 301");
        assert_eq!(txt["Color"], "T");
        assert_eq!(txt["Duplex"], "T");
        assert_eq!(txt["air"], "username,password");
        assert_eq!(txt["adminurl"], "https://printhost.local:8443/admin");
        assert_eq!(txt["URF"], printpark::ipp::printer::URF_SUPPORTED.join(","));
        let pdl = txt["pdl"].as_str().unwrap();
        for format in [
            "application/pdf",
            "image/pwg-raster",
            "image/urf",
            "image/jpeg",
        ] {
            assert!(pdl.split(',').any(|f| f == format), "{format} in {pdl}");
        }
        assert_eq!(txt["UUID"].as_str().unwrap().len(), 36, "{txt}");
        assert_eq!(
            txt.get("TLS").is_some(),
            ipps,
            "TLS key only on _ipps: {txt}"
        );
    }
    // The same UUID everywhere: one queue.
    let uuids: std::collections::BTreeSet<_> = TYPES
        .iter()
        .map(|t| found[t][0]["txt"]["UUID"].to_string())
        .collect();
    assert_eq!(uuids.len(), 1);

    let (found, log) = browse_in_namespace(&[("PRINTPARK_DNSSD__ENABLED", "false")], 4);
    for ty in TYPES {
        assert!(
            found[ty].as_array().unwrap().is_empty(),
            "{ty}: {found}\n{log}"
        );
    }
    assert!(log.contains("PrintPark listening"), "{log}");
}
