//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and the minimized
//! reproducers of past findings (`fuzz/regressions/<target>/`) through the same entry
//! points the fuzz targets call (`printpark::fuzzing`), on stable, in seconds. A panic
//! on any file fails the test and names the file.

use std::path::{Path, PathBuf};

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("ipp_request", printpark::fuzzing::ipp_request),
    (
        "ipp_client_response",
        printpark::fuzzing::ipp_client_response,
    ),
    ("analyse_pdf", printpark::fuzzing::analyse_pdf),
    ("analyse_pcl", printpark::fuzzing::analyse_pcl),
    ("analyse_postscript", printpark::fuzzing::analyse_postscript),
    ("analyse_raster", printpark::fuzzing::analyse_raster),
    ("multipart_upload", printpark::fuzzing::multipart_upload),
    ("snmp_record", printpark::fuzzing::snmp_record),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every file of `fuzz/<kind>/<target>/`; returns how many ran, and the files
/// that panicked with the panic's message.
fn replay(kind: &str, target: &str, entry: Entry) -> (usize, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut failed = Vec::new();
    let files = files(&dir);
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        if let Err(panic) = std::panic::catch_unwind(|| entry(&data)) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{}: {why}", file.display()));
        }
    }
    (files.len(), failed)
}

#[test]
fn corpus_replays_without_a_panic() {
    let mut failed = Vec::new();
    for (target, entry) in TARGETS {
        let (ran, mut bad) = replay("corpus", target, *entry);
        // An empty corpus would make this test pass without testing anything.
        assert!(ran > 0, "fuzz/corpus/{target}/ is empty");
        failed.append(&mut bad);
    }
    assert!(
        failed.is_empty(),
        "corpus files panic:\n{}",
        failed.join("\n")
    );
}

#[test]
fn regressions_replay_without_a_panic() {
    let mut failed = Vec::new();
    for (target, entry) in TARGETS {
        failed.append(&mut replay("regressions", target, *entry).1);
    }
    assert!(
        failed.is_empty(),
        "regression inputs panic:\n{}",
        failed.join("\n")
    );
}

#[test]
fn every_target_has_a_corpus_and_nothing_else_is_there() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for kind in ["corpus", "regressions"] {
        for dir in files_and_dirs(&root.join(kind)) {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/{kind}/{name} is not a target the replay knows"
            );
        }
    }
}

fn files_and_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.expect("a directory entry").path())
                .collect()
        })
        .unwrap_or_default()
}
