//! Helpers for the first run, operations and file-mode tests: the setup code a test
//! server wrote to its data folder, and the permission bits of a path.

use std::path::Path;

use super::TestServer;

/// The setup code the server wrote to `<data_dir>/setup-code` at start.
pub fn setup_code(server: &TestServer) -> String {
    let path = server.services.settings.data_dir.join("setup-code");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The setup code, when the server wrote one.
pub fn setup_code_if_any(server: &TestServer) -> Option<String> {
    let path = server.services.settings.data_dir.join("setup-code");
    std::fs::read_to_string(path)
        .ok()
        .map(|code| code.trim().to_owned())
}

/// The permission bits (`0o777` part) of a path.
#[cfg(unix)]
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `printpark serve` as an operator starts it, over `data_dir`, with its log (stderr)
/// read line by line. Killed when dropped.
pub struct Serving {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Serving {
    pub fn start(data_dir: &Path) -> Self {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(super::binary());
        for (key, _) in std::env::vars() {
            if key.starts_with("PRINTPARK_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("serve")
            .env("PRINTPARK_DATA_DIR", data_dir)
            .env("PRINTPARK_SERVER__LISTEN", "127.0.0.1:0")
            .env("PRINTPARK_DNSSD__ENABLED", "false")
            .env("PRINTPARK_LOG__FORMAT", "text")
            .env("PRINTPARK_SECURITY__ARGON2_MEMORY_KIB", "8192")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start printpark serve");
        let stderr = child.stderr.take().expect("stderr");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Every log line up to and including the first that contains `marker`.
    pub fn log_until(&self, marker: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(marker);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("no `{marker}` in the log:\n{}", seen.join("\n")),
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
