//! `printpark`: one binary, several roles (see `printpark --help`).

use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = printpark::cli::Cli::parse();
    match printpark::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("printpark: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
