//! Running actions: log steps, shell commands and the built-ins (packages, files, services).
//!
//! Commands go through a [`CommandRunner`], so tests (and dry runs) can see what would run
//! without running it; [`SystemRunner`] runs them for real.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::interrupt::Interrupt;
use crate::log::{Level, LogRecord, LogSink};
use crate::model::{Action, Builtins, PackageManager, Retry, Step};
use crate::template::{self, Context};
use crate::value::Value;

mod lines;

pub use lines::{MAX_LINE, PROGRESS_INTERVAL};

/// How many lines of stderr a failed command reports.
pub const STDERR_TAIL_LINES: usize = 20;
/// Largest return file read back from a `run` step.
const MAX_RETURN_FILE: u64 = 1024 * 1024;

/// A command to run.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment added to the agent's.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Killed (with its process group) after this long.
    pub timeout: Duration,
}

impl CommandSpec {
    /// `program args…` as one line, for messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Which output stream a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Whether it was killed for running past its timeout.
    pub timed_out: bool,
    /// Whether it was stopped because an [`Interrupt`] was requested.
    pub interrupted: bool,
    /// The last lines of standard error.
    pub stderr_tail: Vec<String>,
    /// Whether the command exited while a process it started still held its output, which
    /// was then no longer read.
    pub output_left_open: bool,
}

/// What a runner watches and reports to while a command runs.
pub struct Supervision<'a> {
    /// When requested, the command is stopped (SIGTERM, then SIGKILL after the grace period).
    pub interrupt: &'a Interrupt,
    /// Told the command's process group as soon as it started.
    pub started: &'a mut dyn FnMut(u32),
    /// Each output line, as it comes.
    pub output: &'a mut dyn FnMut(Stream, &str),
}

/// Runs commands for actions.
pub trait CommandRunner: Send + Sync {
    /// Runs `spec`, reporting to and watching `supervision`.
    fn run(
        &self,
        spec: &CommandSpec,
        supervision: &mut Supervision<'_>,
    ) -> std::io::Result<CommandOutcome>;
}

/// Runs commands as child processes, each in its own process group so that stopping a
/// command stops everything it started.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

/// How often a running command's timeout and interruption are checked.
const TICK: Duration = Duration::from_millis(25);

/// How long the output of a command that was stopped (or that exited) is still read, for a
/// process it left holding it.
const DRAIN: Duration = Duration::from_millis(300);

/// How long the output of a command that exited by itself is still read while a process it
/// started in the background holds it open.
const LEFT_OPEN: Duration = Duration::from_secs(1);

/// One output pipe of a running command.
struct Pipe {
    stream: Stream,
    fd: Option<std::os::fd::OwnedFd>,
    splitter: lines::Splitter,
}

impl Pipe {
    fn new(stream: Stream, fd: Option<std::os::fd::OwnedFd>) -> std::io::Result<Pipe> {
        if let Some(fd) = &fd {
            use nix::fcntl::{FcntlArg, OFlag, fcntl};
            fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(std::io::Error::from)?;
        }
        Ok(Pipe {
            stream,
            fd,
            splitter: lines::Splitter::default(),
        })
    }

    /// Reads what the pipe holds now (up to four buffers: the lines are handed out before
    /// more is read, so memory stays bounded however fast the command prints) into `out`;
    /// closes the pipe at its end.
    fn drain(&mut self, buf: &mut [u8], out: &mut Vec<String>) {
        let Some(fd) = &self.fd else { return };
        for _ in 0..4 {
            match nix::unistd::read(fd, buf) {
                Ok(0) => {
                    self.splitter.finish(out);
                    self.fd = None;
                    return;
                }
                Ok(n) => self.splitter.push(&buf[..n], Instant::now(), out),
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(_) => {
                    self.splitter.finish(out);
                    self.fd = None;
                    return;
                }
            }
        }
    }
}

impl CommandRunner for SystemRunner {
    /// Runs `spec` as a child process in a process group of its own, reading its output on
    /// this thread as it comes (both pipes and the command's end at once, `poll`), checking
    /// its timeout and interruption every 25 ms at most.
    fn run(
        &self,
        spec: &CommandSpec,
        sup: &mut Supervision<'_>,
    ) -> std::io::Result<CommandOutcome> {
        use std::os::fd::AsFd;
        use std::os::unix::process::CommandExt;
        if sup.interrupt.is_stopping() {
            return Ok(CommandOutcome {
                code: None,
                timed_out: false,
                interrupted: true,
                stderr_tail: Vec::new(),
                output_left_open: false,
            });
        }
        let command = |program: &str, args: &[String]| {
            let mut cmd = Command::new(program);
            cmd.args(args)
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
            if let Some(cwd) = &spec.cwd {
                cmd.current_dir(cwd);
            }
            cmd
        };
        // A shell command that is only a program's path and plain words needs no shell to
        // be split: it is run directly, saving the shell's start (the shell runs it when
        // the program cannot be started, and says why as it would).
        let direct = match spec.args.as_slice() {
            [flag, line] if spec.program == "/bin/sh" && flag == "-c" => plain_command(line),
            _ => None,
        };
        let spawned = match direct {
            Some((program, args)) => match command(program, &args).spawn() {
                Ok(child) => Ok(child),
                Err(_) => command(&spec.program, &spec.args).spawn(),
            },
            None => command(&spec.program, &spec.args).spawn(),
        };
        let mut child = spawned?;
        let mut group = Group::new(child.id());
        (sup.started)(child.id());
        let mut pipes = [
            Pipe::new(Stream::Stdout, child.stdout.take().map(Into::into))?,
            Pipe::new(Stream::Stderr, child.stderr.take().map(Into::into))?,
        ];
        let deadline = Instant::now() + spec.timeout;
        let mut tail: Vec<String> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut lines = Vec::new();
        let mut status = None;
        let mut exited: Option<Instant> = None;
        let mut left_open = false;
        // A descriptor that becomes readable when the command ends (Linux 5.3 and later): the
        // command's end wakes the wait like its output does. Without one, the end is looked
        // for after short naps.
        let ended = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(-1))
            .and_then(|pid| {
                rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
            });
        let mut nap = Duration::from_micros(50);
        let status = loop {
            let open = pipes.iter().any(|p| p.fd.is_some());
            let wait = u16::try_from(TICK.as_millis()).unwrap_or(u16::MAX);
            if open || (status.is_none() && ended.is_some()) {
                let mut fds: Vec<nix::poll::PollFd<'_>> = pipes
                    .iter()
                    .filter_map(|p| p.fd.as_ref())
                    .chain(ended.as_ref().filter(|_| status.is_none()))
                    .map(|fd| nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN))
                    .collect();
                match nix::poll::poll(&mut fds, wait) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
                drop(fds);
                for p in &mut pipes {
                    p.drain(&mut buf, &mut lines);
                    for line in lines.drain(..) {
                        if p.stream == Stream::Stderr {
                            tail.push(line.clone());
                            if tail.len() > STDERR_TAIL_LINES {
                                tail.remove(0);
                            }
                        }
                        (sup.output)(p.stream, &line);
                    }
                }
            }
            if status.is_none() {
                status = child.try_wait()?;
                if status.is_some() {
                    exited = Some(Instant::now());
                }
            }
            let open = pipes.iter().any(|p| p.fd.is_some());
            match (status, open) {
                (Some(status), false) => break status,
                // The command ended, leaving a process that holds its output: when it was
                // being stopped, that process gets no more than a moment.
                (Some(status), true)
                    if group.stopping() && exited.is_some_and(|t| t.elapsed() >= DRAIN) =>
                {
                    break status;
                }
                // The command ended by itself, and a process it started in the background
                // still holds its output (`daemon &`): the step ends with the command, not
                // with that process, after a moment for what is already written.
                (Some(status), true) if exited.is_some_and(|t| t.elapsed() >= LEFT_OPEN) => {
                    left_open = true;
                    keep_draining(pipes.iter_mut().filter_map(|p| p.fd.take()).collect());
                    break status;
                }
                (None, false) if ended.is_none() => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(TICK / 5);
                }
                _ => {}
            }
            if sup.interrupt.is_killing() {
                group.kill();
            } else if sup.interrupt.is_stopping() {
                group.stop();
            } else if Instant::now() >= deadline {
                group.timed_out = true;
                group.stop();
            }
            group.escalate(sup.interrupt.grace());
        };
        if group.stopping() {
            // Whatever the step left in its group gets the same treatment as the step.
            group.finish(sup.interrupt);
        }
        Ok(CommandOutcome {
            code: status.code(),
            timed_out: group.timed_out,
            interrupted: group.stopping() && !group.timed_out,
            stderr_tail: tail,
            output_left_open: left_open,
        })
    }
}

/// Processes reading what processes left by steps still print, at most.
const MAX_DRAINERS: usize = 64;

/// Keeps reading (and dropping) what a process a step left running writes on the step's
/// output, until it closes it: otherwise its next write would kill it (`SIGPIPE`). One
/// thread per such step, up to [`MAX_DRAINERS`]; past that the pipes are closed.
fn keep_draining(fds: Vec<std::os::fd::OwnedFd>) {
    static DRAINERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    use std::sync::atomic::Ordering::SeqCst;
    if fds.is_empty() || DRAINERS.fetch_add(1, SeqCst) >= MAX_DRAINERS {
        DRAINERS.fetch_sub(1, SeqCst);
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("armonic-drain".into())
        .spawn(move || {
            let mut open = fds;
            let mut buf = vec![0u8; 16 * 1024];
            while !open.is_empty() {
                let mut polled: Vec<nix::poll::PollFd<'_>> = open
                    .iter()
                    .map(|fd| {
                        use std::os::fd::AsFd;
                        nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)
                    })
                    .collect();
                if matches!(
                    nix::poll::poll(&mut polled, nix::poll::PollTimeout::NONE),
                    Err(e) if e != nix::errno::Errno::EINTR
                ) {
                    break;
                }
                drop(polled);
                open.retain(|fd| match nix::unistd::read(fd, &mut buf) {
                    Ok(0) => false,
                    Ok(_) => true,
                    Err(e) => e == nix::errno::Errno::EAGAIN || e == nix::errno::Errno::EINTR,
                });
            }
            DRAINERS.fetch_sub(1, SeqCst);
        });
    if spawned.is_err() {
        DRAINERS.fetch_sub(1, SeqCst);
    }
}

/// `line` as a program and its arguments, when a shell would only split it into words: a
/// path (`/bin/true`, `./run.sh`), then words without quotes, variables, globs,
/// redirections, separators or anything else a shell would interpret.
fn plain_command(line: &str) -> Option<(&str, Vec<String>)> {
    let plain = |c: char| c.is_ascii_alphanumeric() || " \t_./,:+@%=-".contains(c);
    if !line.chars().all(plain) {
        return None;
    }
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    let program = words.next()?;
    if !program.contains('/') || program.contains('=') {
        return None;
    }
    Some((program, words.map(str::to_owned).collect()))
}

/// The process group of a running command, and how far stopping it has gone.
struct Group {
    pgid: nix::unistd::Pid,
    term_sent: Option<Instant>,
    kill_sent: bool,
    timed_out: bool,
}

impl Group {
    fn new(pid: u32) -> Group {
        Group {
            pgid: nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
            term_sent: None,
            kill_sent: false,
            timed_out: false,
        }
    }

    fn stopping(&self) -> bool {
        self.term_sent.is_some() || self.kill_sent
    }

    /// SIGTERM to the group, once.
    fn stop(&mut self) {
        if self.term_sent.is_none() {
            self.term_sent = Some(Instant::now());
            let _ = nix::sys::signal::killpg(self.pgid, nix::sys::signal::Signal::SIGTERM);
        }
    }

    /// SIGKILL to the group.
    fn kill(&mut self) {
        self.term_sent.get_or_insert_with(Instant::now);
        if !self.kill_sent {
            self.kill_sent = true;
            let _ = nix::sys::signal::killpg(self.pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// SIGKILL once the grace period after SIGTERM is over (a timeout gets no more than 5 s).
    /// The grace is read each time: whoever stops the call may give its own.
    fn escalate(&mut self, grace: Duration) {
        let grace = if self.timed_out {
            grace.min(Duration::from_secs(5))
        } else {
            grace
        };
        if self.term_sent.is_some_and(|t| t.elapsed() >= grace) {
            self.kill();
        }
    }

    fn alive(&self) -> bool {
        nix::sys::signal::killpg(self.pgid, None).is_ok()
    }

    /// Waits for the rest of the group to end within the grace period, then kills it.
    fn finish(&mut self, interrupt: &Interrupt) {
        while self.alive() && !self.kill_sent {
            if interrupt.is_killing() {
                self.kill();
            }
            self.escalate(interrupt.grace());
            std::thread::sleep(TICK / 5);
        }
    }
}

/// The tries of a `wait` step that never succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tries {
    /// The time the tries were given.
    pub within: Duration,
    /// How many times the command ran.
    pub count: u32,
    /// How the last try failed.
    pub last: String,
}

/// Why an action failed.
#[derive(Debug, Error)]
pub enum ActionError {
    /// A template could not be rendered.
    #[error("{what}: {message}")]
    Template {
        /// Which template.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A command exited with a non-zero status or was killed.
    #[error("`{command}` {}{}", exit_text(*.code), tail_text(.stderr_tail))]
    Failed {
        /// The command.
        command: String,
        /// Its exit code (`None`: killed by a signal).
        code: Option<i32>,
        /// The last lines it wrote on standard error.
        stderr_tail: Vec<String>,
    },
    /// The step was stopped by an interrupt (Ctrl-C, SIGTERM, shutdown).
    #[error("`{command}` was interrupted")]
    Interrupted {
        /// The command (or step) stopped.
        command: String,
    },
    /// A command ran past its timeout and was killed.
    #[error("`{command}` timed out after {}s and was killed", .after.as_secs_f64())]
    TimedOut {
        /// The command.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// The command of a `wait` step did not succeed in the time it was given.
    #[error("`{command}` did not succeed within {}s ({} {}); the last try: {}", .tries.within.as_secs_f64(), .tries.count, if .tries.count == 1 { "try" } else { "tries" }, .tries.last)]
    NeverSucceeded {
        /// The command.
        command: String,
        /// Its tries.
        tries: Box<Tries>,
    },
    /// The values a command returned could not be read.
    #[error("cannot read the values returned by `{command}`: {message}")]
    Return {
        /// The command.
        command: String,
        /// What is wrong.
        message: String,
    },
    /// A file's rendered path is not one the `files` built-in may write to.
    #[error("refusing to write {}: {reason}", .path.display())]
    UnsafePath {
        /// The rendered path.
        path: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ActionError {
    /// The error with `secrets` masked in every text it carries.
    pub(crate) fn masked(self, secrets: &crate::secret::Secrets) -> ActionError {
        let text = |t: String| match secrets.mask(&t) {
            std::borrow::Cow::Owned(masked) => masked,
            std::borrow::Cow::Borrowed(_) => t,
        };
        let path = |p: PathBuf| match p.to_str().map(|t| secrets.mask(t)) {
            Some(std::borrow::Cow::Owned(masked)) => PathBuf::from(masked),
            _ => p,
        };
        match self {
            ActionError::Template { what, message } => ActionError::Template {
                what: text(what),
                message: text(message),
            },
            ActionError::Spawn { command, source } => ActionError::Spawn {
                command: text(command),
                source: std::io::Error::new(source.kind(), text(source.to_string())),
            },
            ActionError::Failed {
                command,
                code,
                stderr_tail,
            } => ActionError::Failed {
                command: text(command),
                code,
                stderr_tail: stderr_tail.into_iter().map(text).collect(),
            },
            ActionError::Return { command, message } => ActionError::Return {
                command: text(command),
                message: text(message),
            },
            ActionError::NeverSucceeded { command, tries } => ActionError::NeverSucceeded {
                command: text(command),
                tries: Box::new(Tries {
                    last: text(tries.last),
                    ..*tries
                }),
            },
            ActionError::UnsafePath { path: p, reason } => ActionError::UnsafePath {
                path: path(p),
                reason,
            },
            ActionError::File { path: p, source } => ActionError::File {
                path: path(p),
                source: std::io::Error::new(source.kind(), text(source.to_string())),
            },
            other @ (ActionError::TimedOut { .. } | ActionError::Interrupted { .. }) => other,
        }
    }

    /// The last lines of standard error of the command that failed, if one did.
    pub fn output_tail(&self) -> &[String] {
        match self {
            ActionError::Failed { stderr_tail, .. } => stderr_tail,
            _ => &[],
        }
    }
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exited with status {c}"),
        None => "was killed by a signal".into(),
    }
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.join("\n"))
    }
}

/// A shell step as written: its command line, the longest it may run, where, with what more.
struct Shell<'a> {
    command: &'a str,
    timeout: Duration,
    cwd: Option<&'a Path>,
    extra: &'a indexmap::IndexMap<String, String>,
}

/// The environment of `run` steps, made when the first one runs: it holds the whole template
/// context as JSON, which actions running no command should not pay for.
pub(crate) struct Env<'a> {
    vars: std::cell::OnceCell<Vec<(String, String)>>,
    make: Box<dyn Fn() -> Vec<(String, String)> + 'a>,
}

impl<'a> Env<'a> {
    /// The environment `make` returns, made once when first asked for.
    pub fn new(make: impl Fn() -> Vec<(String, String)> + 'a) -> Env<'a> {
        Env {
            vars: std::cell::OnceCell::new(),
            make: Box::new(make),
        }
    }

    /// The variables.
    pub fn vars(&self) -> &[(String, String)] {
        self.vars.get_or_init(|| (self.make)())
    }
}

/// Everything an action needs to run: where it comes from, where lines go, what runs commands.
pub(crate) struct Exec<'a> {
    pub runner: &'a dyn CommandRunner,
    pub sink: &'a dyn LogSink,
    pub location: &'a str,
    pub lifecycle: &'a str,
    pub state: &'a str,
    pub provide: &'a str,
    pub deployment: Option<&'a str>,
    pub base_dir: Option<&'a Path>,
    pub interrupt: &'a Interrupt,
    /// Told the process group of each command as it starts.
    pub started: &'a dyn Fn(u32),
    /// The secrets masked in every line and error text.
    pub secrets: &'a crate::secret::Secrets,
}

impl Exec<'_> {
    pub fn log(&self, level: Level, message: impl Into<String>) {
        self.sink.log(&LogRecord {
            level,
            location: self.location.to_owned(),
            lifecycle: self.lifecycle.to_owned(),
            state: Some(self.state.to_owned()),
            provide: Some(self.provide.to_owned()),
            deployment: self.deployment.map(str::to_owned),
            message: self.masked(message.into()),
        });
    }

    /// `message` with the secrets masked.
    fn masked(&self, message: String) -> String {
        match self.secrets.mask(&message) {
            std::borrow::Cow::Owned(masked) => masked,
            std::borrow::Cow::Borrowed(_) => message,
        }
    }

    /// Runs `spec` under this action's interrupt, its output going to the logs.
    fn supervised(&self, spec: &CommandSpec) -> std::io::Result<CommandOutcome> {
        self.supervised_at(spec, Level::Process)
    }

    /// Runs `spec` under this action's interrupt, its output going to the logs at `level`.
    fn supervised_at(&self, spec: &CommandSpec, level: Level) -> std::io::Result<CommandOutcome> {
        let mut started = |pgid| (self.started)(pgid);
        let mut output = |_, line: &str| self.log(level, line);
        let outcome = self.runner.run(
            spec,
            &mut Supervision {
                interrupt: self.interrupt,
                started: &mut started,
                output: &mut output,
            },
        )?;
        let mut outcome = outcome;
        for line in &mut outcome.stderr_tail {
            if let std::borrow::Cow::Owned(masked) = self.secrets.mask(line) {
                *line = masked;
            }
        }
        if outcome.output_left_open {
            self.log(
                Level::Warning,
                format!(
                    "`{}` exited, leaving a process that still holds its output: the step ends \
                     now, and what that process prints from now on is dropped (redirect the \
                     output of what a step leaves running to keep it)",
                    spec.display()
                ),
            );
        }
        Ok(outcome)
    }

    fn command(&self, spec: &CommandSpec) -> Result<(), ActionError> {
        let command = spec.display();
        let outcome = self.supervised(spec).map_err(|source| ActionError::Spawn {
            command: command.clone(),
            source,
        })?;
        check_outcome(command, spec.timeout, outcome)
    }

    /// Runs the steps of `action` and renders its returned value.
    pub fn run_action(
        &self,
        action: &Action,
        context: &Context,
        env: &Env<'_>,
    ) -> Result<Option<Value>, ActionError> {
        let mut returned: Option<Value> = None;
        for step in &action.steps {
            if self.interrupt.is_stopping() {
                return Err(ActionError::Interrupted {
                    command: step.describe(),
                });
            }
            match step {
                Step::Log { message, level } => {
                    let text = template::render(message, context).map_err(|message| {
                        ActionError::Template {
                            what: "log message".into(),
                            message,
                        }
                    })?;
                    self.log(*level, text);
                }
                Step::Run {
                    command,
                    timeout,
                    cwd,
                    env: extra,
                    retry,
                } => {
                    let shell = Shell {
                        command,
                        timeout: *timeout,
                        cwd: cwd.as_deref(),
                        extra,
                    };
                    let r = match retry {
                        None => self.run_shell(&shell, context, env)?,
                        Some(retry) => self.wait_shell(&shell, *retry, context, env)?,
                    };
                    self.learn_returned(action, r.as_ref());
                    returned = merge(returned, r);
                }
            }
        }
        if let Some(ret) = &action.returns {
            let rendered =
                template::render_value(ret, context).map_err(|message| ActionError::Template {
                    what: "returned value".into(),
                    message,
                })?;
            self.learn_returned(action, Some(&rendered));
            returned = merge(returned, Some(rendered));
        }
        Ok(returned)
    }

    /// The environment and command of a shell step, with the file it may return values in.
    fn shell_spec(
        &self,
        shell: &Shell<'_>,
        timeout: Duration,
        context: &Context,
        env: &Env<'_>,
    ) -> Result<(CommandSpec, ReturnFile), ActionError> {
        let command = shell.command;
        let ret_file = ReturnFile::new().map_err(|source| ActionError::Spawn {
            command: command.to_owned(),
            source,
        })?;
        let mut full_env: Vec<(String, String)> = env.vars().to_vec();
        full_env.push(("ARMONIC_RETURN".into(), ret_file.path.display().to_string()));
        ret_file
            .context(&mut full_env)
            .map_err(|source| ActionError::Spawn {
                command: command.to_owned(),
                source,
            })?;
        for (k, v) in shell.extra {
            let v = template::render(v, context).map_err(|message| ActionError::Template {
                what: format!("env {k}"),
                message,
            })?;
            full_env.push((k.clone(), v));
        }
        let spec = CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), command.to_owned()],
            env: full_env,
            cwd: shell
                .cwd
                .map(Path::to_path_buf)
                .or_else(|| self.base_dir.map(Path::to_path_buf)),
            timeout,
        };
        Ok((spec, ret_file))
    }

    fn run_shell(
        &self,
        shell: &Shell<'_>,
        context: &Context,
        env: &Env<'_>,
    ) -> Result<Option<Value>, ActionError> {
        let command = shell.command;
        let (spec, ret_file) = self.shell_spec(shell, shell.timeout, context, env)?;
        let outcome = self
            .supervised(&spec)
            .map_err(|source| ActionError::Spawn {
                command: command.to_owned(),
                source,
            })?;
        check_outcome(command.to_owned(), shell.timeout, outcome)?;
        ret_file.read(command)
    }

    /// Learns the secrets among values `action` returned, as soon as they are returned: a
    /// later step printing one shows it masked.
    fn learn_returned(&self, action: &Action, returned: Option<&Value>) {
        if let Some(Value::Map(map)) = returned {
            for name in &action.secret_returns {
                if let Some(v) = map.get(name) {
                    self.secrets.learn(v);
                }
            }
        }
    }

    /// A `wait` step: runs the command until it succeeds, at most `retry.within` in all.
    /// The output of the tries goes to the logs at debug level, each failed try is said
    /// there; a success after several tries is said as an event.
    fn wait_shell(
        &self,
        shell: &Shell<'_>,
        retry: Retry,
        context: &Context,
        env: &Env<'_>,
    ) -> Result<Option<Value>, ActionError> {
        let command = shell.command;
        let start = std::time::Instant::now();
        let deadline = start + retry.within;
        let mut tries = 0u32;
        loop {
            tries += 1;
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // A try never runs past the deadline, and gets at least a millisecond.
            let timeout = shell.timeout.min(left).max(Duration::from_millis(1));
            let (spec, ret_file) = self.shell_spec(shell, timeout, context, env)?;
            let outcome =
                self.supervised_at(&spec, Level::Debug)
                    .map_err(|source| ActionError::Spawn {
                        command: command.to_owned(),
                        source,
                    })?;
            let failure = match check_outcome(command.to_owned(), timeout, outcome) {
                Ok(()) => {
                    if tries > 1 {
                        self.log(
                            Level::Event,
                            format!(
                                "`{command}` succeeded after {tries} tries in {:.1} s",
                                start.elapsed().as_secs_f64()
                            ),
                        );
                    }
                    return ret_file.read(command);
                }
                Err(e @ ActionError::Interrupted { .. }) => return Err(e),
                Err(e) => e,
            };
            let now = std::time::Instant::now();
            if now + retry.every >= deadline {
                return Err(ActionError::NeverSucceeded {
                    command: command.to_owned(),
                    tries: Box::new(Tries {
                        within: retry.within,
                        count: tries,
                        last: failure.to_string(),
                    }),
                });
            }
            self.log(
                Level::Debug,
                format!(
                    "try {tries} failed: {failure}; trying again in {:.1} s",
                    retry.every.as_secs_f64()
                ),
            );
            if self.interrupt.sleep(retry.every) {
                return Err(ActionError::Interrupted {
                    command: command.to_owned(),
                });
            }
        }
    }

    /// Installs the packages of `b`. With apt, an install that fails (package lists older
    /// than the repository, a package not in them yet) is tried once more after `apt-get
    /// update`, saying so; dnf refreshes its metadata by itself.
    fn install_packages(&self, b: &Builtins) -> Result<(), ActionError> {
        let install = package_command(b, true);
        match self.command(&install) {
            Err(ActionError::Failed { .. })
                if b.package_manager.unwrap_or(PackageManager::Apt) == PackageManager::Apt =>
            {
                self.log(
                    Level::Warning,
                    format!(
                        "`{}` failed: updating the package lists (apt-get update), then trying once more",
                        install.display()
                    ),
                );
                self.command(&apt_update())?;
                self.command(&install)
            }
            other => other,
        }
    }

    /// Built-ins run when entering: install packages, write files, start services.
    pub fn enter_builtins(&self, b: &Builtins, context: &Context) -> Result<(), ActionError> {
        if !b.packages.is_empty() {
            self.install_packages(b)?;
        }
        for f in &b.files {
            let path =
                template::render(&f.path, context).map_err(|message| ActionError::Template {
                    what: format!("path {}", f.path),
                    message,
                })?;
            let path = checked_file_path(path)?;
            let text = template::render(&f.template, context).map_err(|message| {
                ActionError::Template {
                    what: format!("template of {}", path.display()),
                    message,
                }
            })?;
            crate::safefs::replace_file(&path, text.as_bytes(), f.mode).map_err(|source| {
                ActionError::File {
                    path: path.clone(),
                    source,
                }
            })?;
            self.log(Level::Event, format!("wrote {}", path.display()));
        }
        for s in &b.services {
            self.command(&systemctl("start", s))?;
        }
        Ok(())
    }

    /// Built-ins run when leaving: stop services, remove packages.
    pub fn leave_builtins(&self, b: &Builtins) -> Result<(), ActionError> {
        for s in b.services.iter().rev() {
            self.command(&systemctl("stop", s))?;
        }
        if !b.packages.is_empty() {
            self.command(&package_command(b, false))?;
        }
        Ok(())
    }

    /// Built-ins run on cross: restart (flag `restart`) or reload (flag `reload`) services.
    pub fn cross_builtins(
        &self,
        b: &Builtins,
        flags: &indexmap::IndexMap<String, Value>,
    ) -> Result<(), ActionError> {
        let on = |k: &str| matches!(flags.get(k), Some(Value::Bool(true)));
        let verb = if on("restart") {
            "restart"
        } else if on("reload") {
            "reload"
        } else {
            return Ok(());
        };
        for s in &b.services {
            self.command(&systemctl(verb, s))?;
        }
        Ok(())
    }
}

/// A rendered file path, refused unless absolute and free of `..`: values reach paths, and a
/// value such as `../x` must not move a file out of the directory the lifecycle meant.
fn checked_file_path(path: String) -> Result<PathBuf, ActionError> {
    use std::path::Component;
    let path = PathBuf::from(path);
    let reason = if !path.is_absolute() {
        "the path is not absolute"
    } else if path.components().any(|c| c == Component::ParentDir) {
        "the path has a '..' component"
    } else {
        return Ok(path);
    };
    Err(ActionError::UnsafePath { path, reason })
}

fn check_outcome(
    command: String,
    timeout: Duration,
    outcome: CommandOutcome,
) -> Result<(), ActionError> {
    if outcome.interrupted {
        return Err(ActionError::Interrupted { command });
    }
    if outcome.timed_out {
        return Err(ActionError::TimedOut {
            command,
            after: timeout,
        });
    }
    if outcome.code != Some(0) {
        return Err(ActionError::Failed {
            command,
            code: outcome.code,
            stderr_tail: outcome.stderr_tail,
        });
    }
    Ok(())
}

fn package_command(b: &Builtins, install: bool) -> CommandSpec {
    let (program, mut args, env) = match (b.package_manager.unwrap_or(PackageManager::Apt), install)
    {
        (PackageManager::Apt, true) => (
            "apt-get",
            vec![
                "install".to_owned(),
                "--assume-yes".into(),
                "--no-install-recommends".into(),
            ],
            vec![("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())],
        ),
        (PackageManager::Apt, false) => (
            "apt-get",
            vec!["remove".to_owned(), "--assume-yes".into(), "--purge".into()],
            vec![("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())],
        ),
        (PackageManager::Dnf, true) => (
            "dnf",
            vec!["install".to_owned(), "--assumeyes".into()],
            vec![],
        ),
        (PackageManager::Dnf, false) => (
            "dnf",
            vec!["remove".to_owned(), "--assumeyes".into()],
            vec![],
        ),
    };
    args.extend(b.packages.iter().cloned());
    CommandSpec {
        program: program.into(),
        args,
        env,
        cwd: None,
        timeout: Duration::from_secs(1800),
    }
}

fn apt_update() -> CommandSpec {
    CommandSpec {
        program: "apt-get".into(),
        args: vec!["update".into()],
        env: vec![("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())],
        cwd: None,
        timeout: Duration::from_secs(600),
    }
}

fn systemctl(verb: &str, unit: &str) -> CommandSpec {
    let unit = if unit.contains('.') {
        unit.to_owned()
    } else {
        format!("{unit}.service")
    };
    CommandSpec {
        program: "systemctl".into(),
        args: vec![verb.into(), unit],
        env: vec![],
        cwd: None,
        timeout: Duration::from_secs(300),
    }
}

/// The largest `ARMONIC_CONTEXT` given inline; a larger context is only in its file.
const MAX_INLINE_CONTEXT: usize = 32 * 1024;

/// The private directory of a `run` step (mode 0700, random name, removed after the step):
/// the file its command may write returned values to (`$ARMONIC_RETURN`) and the file of its
/// context (`$ARMONIC_CONTEXT_FILE`). Nobody but the agent's user can create, replace or read
/// them.
struct ReturnFile {
    dir: crate::safefs::PrivateTemp,
    path: PathBuf,
}

impl ReturnFile {
    fn new() -> std::io::Result<ReturnFile> {
        let dir = crate::safefs::PrivateTemp::new("armonic-step-")?;
        let path = dir.path().join("return");
        crate::safefs::open_private_file(&path)?;
        Ok(ReturnFile { dir, path })
    }

    /// Moves the context out of `env` into its file: `ARMONIC_CONTEXT_FILE` names it, and
    /// `ARMONIC_CONTEXT` stays only when small (an environment string is at most 128 KiB).
    fn context(&self, env: &mut Vec<(String, String)>) -> std::io::Result<()> {
        let Some(at) = env.iter().position(|(k, _)| k == "ARMONIC_CONTEXT") else {
            return Ok(());
        };
        let path = self.dir.path().join("context.json");
        {
            use std::io::Write;
            let mut f = crate::safefs::open_private_file(&path)?;
            f.write_all(env[at].1.as_bytes())?;
        }
        if env[at].1.len() > MAX_INLINE_CONTEXT {
            env.remove(at);
        }
        env.push(("ARMONIC_CONTEXT_FILE".into(), path.display().to_string()));
        Ok(())
    }

    /// JSON, or `key=value` lines; nothing written means nothing returned.
    fn read(&self, command: &str) -> Result<Option<Value>, ActionError> {
        let err = |message: String| ActionError::Return {
            command: command.to_owned(),
            message,
        };
        let file = std::fs::File::open(&self.path).map_err(|e| err(e.to_string()))?;
        let mut text = String::new();
        file.take(MAX_RETURN_FILE)
            .read_to_string(&mut text)
            .map_err(|e| err(e.to_string()))?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.starts_with(['{', '[', '"']) {
            let json: serde_json::Value =
                serde_json::from_str(trimmed).map_err(|e| err(format!("invalid JSON: {e}")))?;
            return Ok(Some(Value::from_json(json)));
        }
        let mut map = std::collections::BTreeMap::new();
        for line in trimmed.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| err(format!("line '{line}' is not key=value")))?;
            map.insert(k.trim().to_owned(), Value::Str(v.to_owned()));
        }
        Ok(Some(Value::Map(map)))
    }
}

/// Combines returned values: maps are merged (later keys win), anything else replaces.
fn merge(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (Some(Value::Map(mut x)), Some(Value::Map(y))) => {
            x.extend(y);
            Some(Value::Map(x))
        }
        (a, None) => a,
        (_, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, timeout: Duration) -> CommandSpec {
        CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            cwd: None,
            timeout,
        }
    }

    /// Runs `spec` watched by `interrupt`: the outcome, the lines and the process group.
    fn run(
        spec: &CommandSpec,
        interrupt: &Interrupt,
    ) -> (CommandOutcome, Vec<(Stream, String)>, u32) {
        run_interrupting(spec, interrupt, 0)
    }

    /// Like `run`, requesting `interrupt` `times` times as soon as the command prints
    /// `ready` (so that it has set itself up, however slow the machine).
    fn run_interrupting(
        spec: &CommandSpec,
        interrupt: &Interrupt,
        times: usize,
    ) -> (CommandOutcome, Vec<(Stream, String)>, u32) {
        let mut lines = Vec::new();
        let mut group = 0;
        let outcome = SystemRunner
            .run(
                spec,
                &mut Supervision {
                    interrupt,
                    started: &mut |g| group = g,
                    output: &mut |s, l| {
                        if l == "ready" {
                            for _ in 0..times {
                                interrupt.request(Some(2));
                            }
                        }
                        lines.push((s, l.to_owned()))
                    },
                },
            )
            .unwrap();
        (outcome, lines, group)
    }

    /// Whether process group `pgid` still has a process, within a second (killed processes
    /// linger until reaped).
    /// Whether a process of group `pgid` still runs, 5 s after the question at most. A
    /// process killed but not yet reaped (a zombie: an orphan waits for init to reap it, which
    /// may take a while on a busy machine) runs nothing, and is not counted.
    fn group_alive(pgid: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !runs_in_group(pgid) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Whether a process of group `pgid` runs (in any state but zombie), from `/proc`.
    fn runs_in_group(pgid: u32) -> bool {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return false;
        };
        entries.flatten().any(|e| {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            // After the command's name (which may hold anything): state, ppid, pgrp.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
                && !matches!(fields.first(), Some(&"Z") | Some(&"X"))
        })
    }

    #[test]
    fn system_runner_streams_lines_and_reports_status() {
        let spec = shell("echo one; echo two >&2; exit 3", Duration::from_secs(10));
        let (out, lines, _) = run(&spec, &Interrupt::default());
        assert_eq!(out.code, Some(3));
        assert!(lines.contains(&(Stream::Stdout, "one".into())));
        assert_eq!(out.stderr_tail, vec!["two".to_owned()]);
    }

    #[test]
    fn system_runner_kills_commands_past_their_timeout() {
        let spec = shell("sleep 30", Duration::from_millis(300));
        let start = Instant::now();
        let (out, _, _) = run(&spec, &Interrupt::default());
        assert!(out.timed_out);
        assert!(!out.interrupted);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn an_interrupt_stops_the_command_and_everything_in_its_process_group() {
        let interrupt = Interrupt::new(Duration::from_secs(10));
        let spec = shell(
            "sleep 60 & echo ready; sleep 60; echo finished",
            Duration::from_secs(60),
        );
        let start = Instant::now();
        let (out, lines, group) = run_interrupting(&spec, &interrupt, 1);
        assert!(out.interrupted, "{out:?}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "SIGTERM ends sleep"
        );
        assert!(!lines.iter().any(|(_, l)| l == "finished"));
        assert!(!group_alive(group), "the background sleep was stopped too");
    }

    #[test]
    fn a_command_ignoring_sigterm_is_killed_when_the_grace_period_is_over() {
        let interrupt = Interrupt::new(Duration::from_millis(700));
        let spec = shell(
            "trap '' TERM; echo ready; sleep 60",
            Duration::from_secs(60),
        );
        let start = Instant::now();
        let (out, _, group) = run_interrupting(&spec, &interrupt, 1);
        let took = start.elapsed();
        assert!(out.interrupted);
        assert!(
            took >= Duration::from_millis(700),
            "the grace period was given: {took:?}"
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(!group_alive(group));
    }

    #[test]
    fn a_second_request_kills_without_waiting_for_the_grace_period() {
        let interrupt = Interrupt::new(Duration::from_secs(60));
        let spec = shell(
            "trap '' TERM; echo ready; sleep 60",
            Duration::from_secs(120),
        );
        let start = Instant::now();
        let (out, _, group) = run_interrupting(&spec, &interrupt, 2);
        assert!(out.interrupted);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(!group_alive(group));
    }

    #[test]
    fn only_a_path_and_plain_words_skip_the_shell() {
        assert_eq!(plain_command("/bin/true"), Some(("/bin/true", Vec::new())));
        assert_eq!(
            plain_command("  /usr/bin/env   a=1 b.c "),
            Some(("/usr/bin/env", vec!["a=1".to_owned(), "b.c".to_owned()]))
        );
        assert_eq!(
            plain_command("./run.sh -x"),
            Some(("./run.sh", vec!["-x".to_owned()]))
        );
        for shell in [
            "true",
            "echo hi",
            "/bin/echo $HOME",
            "/bin/echo 'a b'",
            "/bin/ls *",
            "/bin/true; /bin/false",
            "/bin/true > /tmp/x",
            "A=1 /bin/true",
            "/bin/echo ~",
            "/bin/true\n/bin/false",
            "",
        ] {
            assert_eq!(plain_command(shell), None, "{shell:?} needs a shell");
        }
    }

    #[test]
    fn a_command_run_without_the_shell_behaves_as_with_it() {
        let mut spec = shell("/bin/echo one  two", Duration::from_secs(5));
        let (out, lines, _) = run(&spec, &Interrupt::default());
        assert_eq!(out.code, Some(0));
        assert_eq!(lines, [(Stream::Stdout, "one two".to_owned())]);
        // A program that is not there: the shell says so, as it would have.
        spec.args[1] = "/no/such/program".into();
        let (out, lines, _) = run(&spec, &Interrupt::default());
        assert_eq!(out.code, Some(127));
        assert!(
            lines
                .iter()
                .any(|(s, l)| *s == Stream::Stderr && l.contains("/no/such/program")),
            "{lines:?}"
        );
    }

    #[test]
    fn nothing_starts_once_an_interrupt_was_requested() {
        let interrupt = Interrupt::default();
        interrupt.request(None);
        let (out, lines, group) = run(&shell("echo ran", Duration::from_secs(5)), &interrupt);
        assert!(out.interrupted);
        assert!(lines.is_empty());
        assert_eq!(group, 0, "no process was started");
    }
}
