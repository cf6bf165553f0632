//! The `stompbox-bench` command: parses arguments, runs one scenario on a multi-threaded
//! runtime, prints the report (human summary, or one JSON object with `--json`).

use std::process::ExitCode;

use clap::Parser;
use stompbox_bench::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("stompbox-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(stompbox_bench::run(&cli)) {
        Ok(report) => {
            if cli.json {
                println!("{}", report.to_json());
            } else {
                println!("{report}");
            }
            if report.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("stompbox-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
