//! `printpark admin reset-password USERNAME`: for the last admin locked out. The new
//! password is read from standard input (without echo on a terminal; one line when
//! piped), never from an argument (other local users see those). It works while the
//! server runs: it writes the same database. No change is required at the next
//! sign-in (it is usually the operator's own account); the account's sign-in lock-out
//! is cleared and its sessions end. Audited as the system.

use std::io::{BufRead, IsTerminal, Write};

use super::CliError;
use crate::config::Settings;
use crate::services::Services;

/// Reads one line from standard input; on a terminal, with echo off while typing.
fn read_secret_line(prompt: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    let failed = |e: std::io::Error| CliError::Failed(format!("cannot read the password: {e}"));
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        std::io::stderr().flush().ok();
        let saved = rustix::termios::tcgetattr(&stdin).map_err(|e| failed(e.into()))?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet)
            .map_err(|e| failed(e.into()))?;
        let read = stdin.lock().read_line(&mut line);
        // Echo comes back whatever the read gave.
        let restored =
            rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &saved);
        eprintln!();
        read.map_err(failed)?;
        restored.map_err(|e| failed(e.into()))?;
    } else {
        stdin.lock().read_line(&mut line).map_err(failed)?;
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn reset_password(settings: Settings, username: &str) -> Result<(), CliError> {
    let password = read_secret_line(&format!("New password for {username}: "))?;
    if std::io::stdin().is_terminal() {
        let again = read_secret_line("Again: ")?;
        if again != password {
            return Err(CliError::Failed(
                "the two passwords differ; nothing changed".into(),
            ));
        }
    }
    let services = Services::start(settings).await?;
    let user = services
        .identity
        .reset_password_by_operator(username, &password)
        .await
        .map_err(|e| match e {
            crate::identity::IdentityError::NotFound => {
                CliError::Failed(format!("no account {username}; nothing changed"))
            }
            other => CliError::Failed(format!("cannot reset the password: {other}")),
        })?;
    println!(
        "password of {} {} reset; its sign-in lock-out is cleared and its sessions ended",
        user.role.as_str(),
        user.username
    );
    Ok(())
}
