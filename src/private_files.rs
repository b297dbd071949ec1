//! Files and folders that only the server's own account may read: the data folder,
//! the SQLite database, the blob folder, the TLS folder, key files and the setup code.
//! Folders are made 0700 and files 0600 with an explicit `chmod` after creation, so a
//! loose umask does not matter; paths that already exist are never changed (an
//! operator may have chosen a group on purpose) but a start warns about each one that
//! other local users can reach.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Mode of the folders the server makes.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of the files the server makes that hold secrets or data.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` and every missing parent as 0700. Folders that exist are left alone.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current.filter(|p| !p.as_os_str().is_empty()) {
        if path.is_dir() {
            break;
        }
        missing.push(path.to_path_buf());
        current = path.parent();
    }
    for path in missing.iter().rev() {
        match make_dir(path) {
            Ok(()) => set_mode(path, PRIVATE_DIR_MODE)?,
            // Another process made it between our look and our create: theirs stands.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn make_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(PRIVATE_DIR_MODE)
        .create(path)
}

#[cfg(not(unix))]
fn make_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir(path)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn private_options() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.mode(PRIVATE_FILE_MODE);
    options
}

#[cfg(not(unix))]
fn private_options() -> std::fs::OpenOptions {
    std::fs::OpenOptions::new()
}

/// Creates `path` empty and 0600 unless it exists; true when it was made now.
/// (SQLite opens an empty file as an empty database, and makes its `-wal` and `-shm`
/// files with the database file's mode.)
pub fn create_private_file(path: &Path) -> io::Result<bool> {
    match private_options().write(true).create_new(true).open(path) {
        Ok(_) => {
            set_mode(path, PRIVATE_FILE_MODE)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` as a 0600 file: beside it first, then renamed, so the
/// file is whole or absent and never briefly readable by others.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let written = (|| {
        let mut file = private_options()
            .write(true)
            .create_new(true)
            .open(&partial)?;
        set_mode(&partial, PRIVATE_FILE_MODE)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The permission bits of `path` when group or others have any access to it;
/// `None` when it is private or does not exist.
pub fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Logs one warning per path that exists and that other local users can reach.
/// Returns the paths warned about.
pub fn warn_if_loose(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut warned = Vec::new();
    for path in paths {
        if let Some(mode) = loose_mode(path) {
            let fix = if path.is_dir() {
                "chmod 700"
            } else {
                "chmod 600"
            };
            tracing::warn!(
                path = %path.display(),
                mode = %format!("{mode:o}"),
                "other local users can read this server path (it holds keys, the database or documents); run `{fix} {}`",
                path.display()
            );
            warned.push(path.clone());
        }
    }
    warned
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_paths_are_private_whatever_the_umask_and_existing_ones_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        create_private_dir(&nested).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&dir.path().join(p)), 0o700, "{p}");
        }
        let file = nested.join("f");
        assert!(create_private_file(&file).unwrap());
        assert!(!create_private_file(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        write_private_file(&nested.join("g"), b"secret").unwrap();
        assert_eq!(mode(&nested.join("g")), 0o600);
        assert_eq!(std::fs::read(nested.join("g")).unwrap(), b"secret");

        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o755, "an existing folder is not changed");
        assert_eq!(loose_mode(&open), Some(0o755));
        assert_eq!(loose_mode(&nested), None);
        assert_eq!(warn_if_loose(&[open.clone(), nested.clone()]), vec![open]);
    }
}
