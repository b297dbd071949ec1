//! `printpark`: one binary, several roles (see `printpark --help`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = printpark::cli::Cli::parse();
    if let printpark::cli::Command::AnalysePdf = cli.command {
        // A sandboxed worker of the server: no settings, no runtime, no logging.
        return printpark::jobs::pdf::worker_main();
    }
    if let printpark::cli::Command::Convert = cli.command {
        // The sandboxed renderer worker (issue 17): same rules as analyse-pdf.
        return printpark::convert::worker::worker_main();
    }
    actix_web::rt::System::new().block_on(async move {
        match printpark::cli::run(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("printpark: {err}");
                ExitCode::from(err.exit_code())
            }
        }
    })
}
