//! `armonic`: the command line of Armonic. Parses arguments and hands over to [`run`].

mod cli;
mod deploy;
mod logs;
mod many;
mod prompt;
mod render;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logs::init_tracing(cli.global.verbose, cli.global.quiet, cli.global.no_color);
    match run::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
