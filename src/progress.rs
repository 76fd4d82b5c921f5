//! What a user sees while a deployment runs. At a terminal: a status line under the streamed
//! logs (steps done out of all, the running steps with their time, the total time), redrawn
//! every second so a silent step still shows it is alive. Elsewhere (a pipe, a log file):
//! plain step lines with a timestamp, and a `still running` line every 30 s of a long step.

use std::time::{Duration, Instant};

use armonic_lifecycle::persist::{format_time, unix_now};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a long step is said to be still running in plain output.
const ALIVE_EVERY: Duration = Duration::from_secs(30);

enum Mode {
    /// A status line at the bottom of the terminal.
    Bar(ProgressBar),
    /// Timestamped lines, to standard error (or elsewhere, in tests).
    Plain(Box<dyn FnMut(String)>),
    /// Nothing (JSON output, `-q`).
    Off,
}

struct Running {
    node: String,
    xpath: String,
    location: String,
    since: Instant,
    said_alive: Instant,
}

/// The progress of a running deployment.
pub struct Progress {
    mode: Mode,
    running: Vec<Running>,
    done: usize,
    total: usize,
    started: Instant,
    alive_every: Duration,
}

/// `1.2 s`, `2 min 05 s`.
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

impl Progress {
    /// Progress shown at a terminal when `terminal`, as lines otherwise, not at all when
    /// `silent`.
    pub fn new(terminal: bool, silent: bool) -> Progress {
        let mode = if silent {
            Mode::Off
        } else if terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            Mode::Bar(bar)
        } else {
            Mode::Plain(Box::new(|line| eprintln!("{line}")))
        };
        Progress {
            mode,
            running: Vec::new(),
            done: 0,
            total: 0,
            started: Instant::now(),
            alive_every: ALIVE_EVERY,
        }
    }

    /// The run of `total` steps begins.
    pub fn begin(&mut self, total: usize) {
        self.total = total;
        self.started = Instant::now();
        if let Mode::Bar(bar) = &self.mode {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        self.redraw();
    }

    /// Prints with `print` above the status line.
    pub fn above(&self, print: impl FnOnce()) {
        match &self.mode {
            Mode::Bar(bar) => bar.suspend(print),
            _ => print(),
        }
    }

    fn line(&mut self, text: &str) {
        match &mut self.mode {
            Mode::Bar(bar) => bar.suspend(|| eprintln!("==> {text}")),
            Mode::Plain(out) => out(format!("{} {text}", format_time(unix_now()))),
            Mode::Off => {}
        }
    }

    /// A step starts.
    pub fn started(&mut self, node: &str, xpath: &str, location: &str) {
        self.line(&format!("start {node} {xpath} on {location}"));
        let now = Instant::now();
        self.running.push(Running {
            node: node.to_owned(),
            xpath: xpath.to_owned(),
            location: location.to_owned(),
            since: now,
            said_alive: now,
        });
        self.redraw();
    }

    /// A step ended: `how` is `done`, `FAILED`…
    pub fn ended(&mut self, node: &str, how: &str) {
        if let Some(i) = self.running.iter().position(|r| r.node == node) {
            let r = self.running.remove(i);
            self.line(&format!(
                "{how} {} {} on {} ({})",
                r.node,
                r.xpath,
                r.location,
                human(r.since.elapsed())
            ));
        }
        self.done += 1;
        self.redraw();
    }

    /// A second went by.
    pub fn tick(&mut self) {
        if matches!(self.mode, Mode::Plain(_)) {
            let mut lines = Vec::new();
            for r in &mut self.running {
                if r.said_alive.elapsed() >= self.alive_every {
                    r.said_alive = Instant::now();
                    lines.push(format!(
                        "still running {} {} on {} ({})",
                        r.node,
                        r.xpath,
                        r.location,
                        human(r.since.elapsed())
                    ));
                }
            }
            for l in lines {
                self.line(&l);
            }
        }
        self.redraw();
    }

    fn redraw(&self) {
        let Mode::Bar(bar) = &self.mode else { return };
        let running: Vec<String> = self
            .running
            .iter()
            .map(|r| {
                format!(
                    "{} on {} {}s",
                    r.xpath,
                    r.location,
                    r.since.elapsed().as_secs()
                )
            })
            .collect();
        let what = if running.is_empty() {
            String::new()
        } else {
            format!(" · running {}", running.join(", "))
        };
        bar.set_message(format!(
            "[{}/{}] {}s{what}",
            self.done,
            self.total,
            self.started.elapsed().as_secs()
        ));
    }

    /// The run is over: the status line goes away.
    pub fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        self.running.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn plain(alive_every: Duration) -> (Progress, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let mut p = Progress::new(false, false);
        p.mode = Mode::Plain(Box::new(move |l| sink.lock().unwrap().push(l)));
        p.alive_every = alive_every;
        (p, lines)
    }

    #[test]
    fn plain_output_has_timestamped_step_lines_and_says_a_silent_step_is_alive() {
        let (mut p, lines) = plain(Duration::ZERO);
        p.begin(2);
        p.started("node_0_0", "Db/On/get", "db1");
        p.tick();
        p.ended("node_0_0", "done");
        p.tick();
        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].ends_with(" UTC start node_0_0 Db/On/get on db1"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains(" UTC still running node_0_0 Db/On/get on db1 ("),
            "{lines:?}"
        );
        assert!(
            lines[2].contains(" UTC done node_0_0 Db/On/get on db1 ("),
            "{lines:?}"
        );
        assert!(lines[0].starts_with("20"), "a date first: {lines:?}");
    }

    #[test]
    fn a_step_is_not_said_alive_before_its_time() {
        let (mut p, lines) = plain(Duration::from_secs(3600));
        p.begin(1);
        p.started("n", "X/S/p", "l");
        p.tick();
        assert_eq!(lines.lock().unwrap().len(), 1);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(1200)), "1.2 s");
        assert_eq!(human(Duration::from_secs(125)), "2 min 05 s");
    }
}
