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
