//! `printpark convert`: the worker process that runs the renderer. (CONTRACT for issue
//! 17's helpers: being written in the convert-core branch.)

/// Entry point of `printpark convert` (no settings, no runtime, no logging).
pub fn worker_main() -> std::process::ExitCode {
    std::process::ExitCode::FAILURE
}
