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

/// A small deterministic generator (xorshift64*), so a failure names a reproducible input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four blind mutations of `input` (flips, boundary bytes, cuts, copies, splices).
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 if at < out.len() => out[at] = [0x00, 0x01, 0x7f, 0x80, 0xff][rng.below(5)],
            2 => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let from = rng.below(out.len());
                let end = (from + rng.below(32)).min(out.len());
                let piece = out[from..end].to_vec();
                out.splice(at..at, piece);
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Blind mutations of the corpus on stable, from a fixed seed: no substitute for the
/// coverage-guided runs (`bench/fuzz.sh`), but every test run tries them. Set
/// `FUZZ_REPLAY_MUTATIONS` for more than the default 300 per target, and
/// `FUZZ_REPLAY_TARGET` to mutate one target's corpus only.
#[test]
fn mutated_corpus_does_not_panic() {
    let per_target: usize = std::env::var("FUZZ_REPLAY_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let only = std::env::var("FUZZ_REPLAY_TARGET").ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failed = Vec::new();
    for (target, entry) in TARGETS {
        let corpus: Vec<Vec<u8>> = files(&root.join(target))
            .iter()
            .map(|f| std::fs::read(f).expect("a corpus file"))
            .collect();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
        for i in 0..per_target {
            let base = &corpus[i % corpus.len()];
            let other = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, base, other);
            if only.as_deref().is_some_and(|t| t != *target) {
                continue;
            }
            // Should an input hang, this names it.
            let current = std::env::temp_dir().join(format!("fuzz-replay-{target}-current"));
            std::fs::write(&current, &input).expect("note the current input");
            if std::panic::catch_unwind(|| entry(&input)).is_err() {
                let kept = std::env::temp_dir().join(format!("fuzz-replay-{target}-{i}"));
                std::fs::write(&kept, &input).expect("keep the failing input");
                failed.push(format!(
                    "{target}: mutation {i}, kept in {}",
                    kept.display()
                ));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "mutated inputs panic:\n{}",
        failed.join("\n")
    );
}
