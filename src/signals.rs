//! Ctrl-C and SIGTERM: the first stops (no new step starts, running steps get SIGTERM, then
//! SIGKILL after the grace period), the second kills running steps at once, a third ends
//! the process at once.

use armonic_lifecycle::Interrupt;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Routes SIGINT and SIGTERM to `interrupt` for the rest of the process.
pub fn install(interrupt: &Interrupt) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let interrupt = interrupt.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut received = 0;
            for signal in signals.forever() {
                received += 1;
                match received {
                    1 => eprintln!(
                        "\nInterrupted: stopping (running steps get {} s to end; again to kill them now)",
                        interrupt.grace().as_secs_f64()
                    ),
                    2 => eprintln!("\nInterrupted again: killing the running steps"),
                    _ => std::process::exit(128 + signal),
                }
                interrupt.request(Some(signal));
            }
        })?;
    Ok(())
}
