//! `armonic`: the command line of Armonic. Parses arguments, reads the settings, catches
//! Ctrl-C and SIGTERM, and hands over to the command's module ([`cmd`]).

mod address;
mod backend;
mod cli;
mod cmd;
mod local;
mod logs;
mod progress;
mod prompt;
mod render;
mod report;
mod settings;
mod signals;
mod values;

use std::process::ExitCode;

use armonic_lifecycle::Interrupt;
use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let g = &cli.global;
    let agent = matches!(cli.command, cli::Command::Agent(_));
    logs::init_tracing(g.verbose, g.quiet, g.no_color, agent);
    let settings = match settings::Settings::new(g) {
        Ok(s) => s,
        Err(e) => return report::failure(&e, g.format, &Interrupt::default()),
    };
    let interrupt = Interrupt::new(settings.grace);
    // The agent catches its signals itself, to shut down in order.
    if !agent {
        if let Err(e) = signals::install(&interrupt) {
            eprintln!("warning: cannot catch Ctrl-C and SIGTERM: {e}");
        }
    }
    let result = cmd::run(&cli, &settings, &interrupt);
    match result {
        Ok(code) => code,
        Err(e) => report::failure(&e, g.format, &interrupt),
    }
}
