//! The interactive frontend of `armonic deploy`: questions on stderr, answers on stdin (a
//! terminal or a pipe), log lines and step outcomes as they come.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

use armonic_lifecycle::{Interrupt, Level, LogRecord, LogSink, Value, secret};
use armonic_smart::{Abort, Answer, Event, Frontend, Outcome, Question, Requirer, Status};

use crate::cli::{Format, Global};
use crate::logs::StderrSink;
use crate::progress::Progress;
use crate::render;
use crate::values::parse_value;

/// Asks on stderr, reads stdin.
pub struct Prompt {
    /// Lines of stdin, read by a thread of their own so that waiting for an answer can be
    /// interrupted (started at the first question).
    input: Option<mpsc::Receiver<std::io::Result<String>>>,
    interrupt: Interrupt,
    autofill: bool,
    sink: StderrSink,
    progress: Progress,
    quiet: bool,
    echo: bool,
}

impl Prompt {
    /// A prompt reading stdin; `autofill` takes suggestions without asking (and ends the
    /// deployment where there is none); `terminal` says whether the user sees what they type
    /// (otherwise answers are echoed); waiting for an answer ends when `interrupt` is
    /// requested.
    pub fn new(
        autofill: bool,
        g: &Global,
        terminal: bool,
        several_locations: bool,
        interrupt: Interrupt,
    ) -> Prompt {
        let mut sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
        sink.show_location = several_locations;
        let silent = g.quiet || g.format == Format::Json;
        let progress = Progress::new(std::io::stderr().is_terminal(), silent);
        Prompt {
            progress,
            input: None,
            interrupt,
            autofill,
            sink,
            quiet: g.quiet,
            echo: !terminal,
        }
    }

    fn next_line(&mut self) -> Option<std::io::Result<String>> {
        let input = self.input.get_or_insert_with(|| {
            let (tx, rx) = mpsc::sync_channel(1);
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        loop {
            if self.interrupt.is_stopping() {
                return Some(Err(std::io::Error::other("interrupted")));
            }
            match input.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => return Some(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn read(&mut self, prompt: &str) -> Result<String, Abort> {
        self.read_shown(prompt, true)
    }

    /// Reads a secret: a terminal does not show what is typed; an answer echoed (input that
    /// is not a terminal) is echoed as a mask.
    pub(crate) fn read_secret(&mut self, prompt: &str) -> Result<String, Abort> {
        let _quiet = EchoOff::new();
        let line = self.read_shown(prompt, false);
        if !self.echo {
            eprintln!();
        }
        line
    }

    fn read_shown(&mut self, prompt: &str, shown: bool) -> Result<String, Abort> {
        {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{prompt}");
            let _ = err.flush();
        }
        match self.next_line() {
            None => {
                eprintln!();
                Err(Abort("end of input".into()))
            }
            Some(Ok(line)) => {
                let line = line.trim_end_matches(['\n', '\r']).to_owned();
                if self.echo {
                    eprintln!("{}", if shown { &line } else { secret::MASK });
                }
                Ok(line)
            }
            Some(Err(_)) if self.interrupt.is_stopping() => {
                eprintln!();
                Err(Abort("interrupted".into()))
            }
            Some(Err(e)) => Err(Abort(format!("cannot read the answer: {e}"))),
        }
    }

    /// The run of `steps` steps begins: progress is shown from now on.
    pub fn begin_run(&mut self, steps: usize) {
        self.progress.begin(steps);
    }

    /// The run is over.
    pub fn end_run(&mut self) {
        self.progress.finish();
    }

    /// Asks a yes/no question (yes by default).
    pub fn confirm(&mut self, prompt: &str) -> Result<bool, Abort> {
        Ok(self.yes_no(prompt)? == Answer::Yes)
    }

    /// Asks a yes/no question whose answer is no unless said (for what cannot be undone).
    pub fn confirm_no(&mut self, prompt: &str) -> Result<bool, Abort> {
        loop {
            match self.read(prompt)?.trim().to_lowercase().as_str() {
                "y" | "yes" => return Ok(true),
                "" | "n" | "no" => return Ok(false),
                _ => eprintln!("Please answer y or n."),
            }
        }
    }

    fn yes_no(&mut self, prompt: &str) -> Result<Answer, Abort> {
        loop {
            match self.read(prompt)?.trim().to_lowercase().as_str() {
                "" | "y" | "yes" => return Ok(Answer::Yes),
                "n" | "no" => return Ok(Answer::No),
                _ => eprintln!("Please answer y or n."),
            }
        }
    }

    fn choose(
        &mut self,
        indent: &str,
        prompt: &str,
        choices: &[String],
        suggestion: Option<&str>,
    ) -> Result<String, Abort> {
        for (i, c) in choices.iter().enumerate() {
            eprintln!("{indent}  {i}) {c}");
        }
        let hint = suggestion.map(|s| format!(" [{s}]")).unwrap_or_default();
        loop {
            let answer = self.read(&format!(
                "{indent}{prompt} [0-{}]{hint}: ",
                choices.len().saturating_sub(1)
            ))?;
            let answer = answer.trim();
            if answer.is_empty() {
                if let Some(s) = suggestion {
                    return Ok(s.to_owned());
                }
            } else if let Some(c) = answer.parse::<usize>().ok().and_then(|i| choices.get(i)) {
                return Ok(c.clone());
            } else if choices.iter().any(|c| c == answer) {
                return Ok(answer.to_owned());
            }
            eprintln!("Invalid choice. Do it again!");
        }
    }

    /// Prints which steps ran, failed, were interrupted or never started, by location, with
    /// the time each took.
    pub fn summary(&mut self, outcome: &Outcome) {
        if self.quiet && outcome.succeeded {
            return;
        }
        if outcome.succeeded {
            let n = outcome.steps.len();
            eprintln!(
                "Deployment done: {n} call{}.",
                if n == 1 { "" } else { "s" }
            );
        } else if outcome.interrupted {
            eprintln!("Deployment interrupted:");
        } else {
            eprintln!("Deployment failed:");
        }
        // Locations in the order their first step comes in the plan, steps in plan order.
        let mut locations: Vec<&str> = Vec::new();
        for s in &outcome.steps {
            if !locations.contains(&s.location.as_str()) {
                locations.push(&s.location);
            }
        }
        for location in locations {
            eprintln!("  {location}");
            for s in outcome.steps.iter().filter(|s| s.location == location) {
                let (what, why) = match &s.status {
                    Status::Done { .. } if s.earlier => ("done before", String::new()),
                    Status::Done { .. } => ("done", String::new()),
                    Status::Failed { error } => ("FAILED", format!(": {error}")),
                    Status::Interrupted { error } => ("INTERRUPTED", format!(": {error}")),
                    Status::Unknown { error } => ("UNKNOWN", format!(": {error}")),
                    Status::NotStarted => ("not started", String::new()),
                };
                let took = s
                    .took_ms
                    .map(|ms| format!(" ({:.1} s)", ms as f64 / 1000.0))
                    .unwrap_or_default();
                eprintln!("    {what:<11} {} {}{took}{why}", s.node, s.xpath);
            }
        }
    }
}

impl Frontend for Prompt {
    fn ask(&mut self, q: &Question) -> Result<Answer, Abort> {
        // Unattended means no question at all: what has no proposal ends the deployment.
        if self.autofill {
            return q.unattended();
        }
        match q {
            Question::Manage { depth, xpath, .. } => self.yes_no(&format!(
                "{}Do you want to configure and call '{xpath}' [Y/n]? ",
                "  ".repeat(*depth)
            )),
            Question::Call { depth, xpath, .. } => {
                self.yes_no(&format!("{}Call {xpath} [Y/n]? ", "  ".repeat(*depth)))
            }
            Question::Location {
                depth,
                xpath,
                required_by,
                choices,
                suggestion,
                error,
                ..
            } => {
                let indent = "  ".repeat(*depth);
                if let Some(e) = error {
                    eprintln!("{indent}error: {e}");
                }
                let context = required_by.as_ref().map(requirer).unwrap_or_default();
                eprintln!("{indent}Choose the location of '{xpath}'{context}:");
                self.choose(&indent, "Choose", choices, suggestion.as_deref())
                    .map(Answer::Location)
            }
            Question::Specialize {
                depth,
                xpath,
                choices,
                ..
            } => {
                let indent = "  ".repeat(*depth);
                eprintln!("{indent}Which provide do you want to call for '{xpath}':");
                let labels: Vec<String> = choices
                    .iter()
                    .map(|c| match &c.label {
                        Some(l) => format!("{l} ({})", c.xpath),
                        None => c.xpath.clone(),
                    })
                    .collect();
                let chosen = self.choose(&indent, "Choose", &labels, None)?;
                let i = labels.iter().position(|l| *l == chosen).unwrap_or(0);
                Ok(Answer::Choice(choices[i].xpath.clone()))
            }
            Question::Multiplicity {
                depth,
                require,
                provide_xpath,
                external,
                min,
                max,
                suggestion,
                choices,
                suggested_locations,
                error,
                ..
            } => {
                let indent = "  ".repeat(*depth);
                if let Some(e) = error {
                    eprintln!("{indent}error: {e}");
                }
                let what = if provide_xpath.is_empty() {
                    require.as_str()
                } else {
                    provide_xpath.as_str()
                };
                let count = loop {
                    let question = if provide_xpath.is_empty() {
                        format!("{indent}How many value sets for {what}? [{suggestion}] ")
                    } else {
                        format!("{indent}How many time to call {what}? [{suggestion}] ")
                    };
                    let line = self.read(&question)?;
                    let line = line.trim();
                    if line.is_empty() {
                        break *suggestion;
                    }
                    match line.parse::<usize>() {
                        Ok(n) if n >= *min as usize && n <= *max as usize => break n,
                        _ => eprintln!("{indent}Please give a number from {min} to {max}."),
                    }
                };
                if !external {
                    return Ok(Answer::Count(count));
                }
                let mut locations = Vec::new();
                for i in 0..count {
                    eprintln!("{indent}Choose location for node {i}:");
                    let s = suggested_locations
                        .get(i)
                        .or(suggested_locations.last())
                        .map(String::as_str);
                    locations.push(self.choose(&indent, "Choose", choices, s)?);
                }
                Ok(Answer::Locations(locations))
            }
            Question::Value {
                depth, variable, ..
            } => {
                let indent = "  ".repeat(*depth);
                if let Some(e) = &variable.error {
                    eprintln!("{indent}error: {e}");
                }
                let hint = match &variable.suggestion {
                    Some(_) if variable.secret => format!(" [{}]", secret::MASK),
                    Some(s) => format!(" [{}]", render::value(s)),
                    None => String::new(),
                };
                let set = if variable.sets > 1 {
                    format!(" [set {}]", variable.index + 1)
                } else {
                    String::new()
                };
                loop {
                    let prompt = format!(
                        "{indent}{}{set} ({}){hint} = ",
                        variable.label, variable.xpath
                    );
                    let line = if variable.secret {
                        self.read_secret(&prompt)?
                    } else {
                        self.read(&prompt)?
                    };
                    if line.trim().is_empty() {
                        match (&variable.suggestion, variable.required) {
                            (Some(s), _) => return Ok(Answer::Value(s.clone())),
                            (None, false) => return Ok(Answer::Value(Value::Null)),
                            (None, true) => {
                                eprintln!("{indent}A value is required.");
                                continue;
                            }
                        }
                    }
                    return Ok(Answer::Value(parse_value(line.trim())));
                }
            }
        }
    }

    fn notify(&mut self, event: &Event) {
        let (sink, progress) = (&self.sink, &mut self.progress);
        match event {
            Event::Notice(msg) => progress.above(|| eprintln!("warning: {msg}")),
            Event::Log(record) => progress.above(|| sink.log(record)),
            Event::Tick => progress.tick(),
            Event::StepStarted {
                node,
                location,
                xpath,
            } => progress.started(node, xpath, location),
            Event::StepDone {
                node,
                xpath,
                returned,
            } => {
                progress.ended(node, "done");
                if let Some(Value::Map(map)) = returned {
                    progress.above(|| {
                        sink.log(&smart_line(
                            Level::Info,
                            format!("Provide '{xpath}' returns:"),
                        ));
                        for (k, v) in map {
                            sink.log(&smart_line(
                                Level::Info,
                                format!("- {k} : {}", render::value(v)),
                            ));
                        }
                    });
                }
            }
            Event::StepFailed { node, xpath, error } => {
                let how = if self.interrupt.is_stopping() {
                    "INTERRUPTED"
                } else {
                    "FAILED"
                };
                progress.ended(node, how);
                progress.above(|| {
                    sink.log(&smart_line(
                        Level::Error,
                        format!("{node}: {xpath} failed: {error}"),
                    ))
                });
            }
        }
    }
}

/// ` (required by WebSite/Active/start, require webserver)`, with `, instance 1 of 2` when
/// the require has several instances.
fn requirer(r: &Requirer) -> String {
    let instance = if r.instances > 1 {
        format!(", instance {} of {}", r.instance + 1, r.instances)
    } else {
        String::new()
    };
    format!(
        " (required by {}, require {}{instance})",
        r.provide, r.require
    )
}

fn smart_line(level: Level, message: String) -> LogRecord {
    LogRecord {
        level,
        location: String::new(),
        lifecycle: "smart".into(),
        state: None,
        provide: None,
        deployment: None,
        message,
    }
}

/// The terminal on standard input stops showing what is typed while this lives.
struct EchoOff {
    saved: Option<rustix::termios::Termios>,
}

impl EchoOff {
    fn new() -> EchoOff {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok().filter(|t| {
            let mut quiet = t.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            tcsetattr(&stdin, OptionalActions::Now, &quiet).is_ok()
        });
        EchoOff { saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                t,
            );
        }
    }
}
