//! The definitions of lifecycles: states, transitions, provides, requires and actions.
//!
//! These are immutable once loaded (see [`crate::format`]); the running state of a lifecycle
//! lives in [`crate::Location`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;

use crate::os::OsType;
use crate::value::Value;
use crate::variable::VariableDef;

/// How many value sets a require takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nargs {
    /// Exactly N sets (`"1"`, `"3"`).
    Exactly(u32),
    /// Zero or one set (`"?"`).
    Optional,
    /// Any number of sets (`"*"`).
    Any,
}

impl Nargs {
    /// Highest number of sets accepted for `*`, as for `"N"` (the original's was 99,999:
    /// a request naming index 99,998 made every set up to it, a large allocation anyone who
    /// may validate values could ask for).
    pub const UNLIMITED: u32 = Self::MAX_EXACTLY;

    /// Highest N of `"N"`: a require with nargs N starts with N value sets, and listings show
    /// each of them.
    pub const MAX_EXACTLY: u32 = 1000;

    /// Parses `"1"`, `"N"` (up to [`Nargs::MAX_EXACTLY`]), `"?"` or `"*"`.
    pub fn parse(s: &str) -> Option<Nargs> {
        match s {
            "?" => Some(Nargs::Optional),
            "*" => Some(Nargs::Any),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=Self::MAX_EXACTLY).contains(n))
                .map(Nargs::Exactly),
        }
    }

    /// Why `text` is not a nargs: the original's message, or the bound it goes over.
    pub fn refusal(text: &str) -> String {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if digits && !text.trim_start_matches('0').is_empty() {
            format!(
                "nargs must be at most {} (instead of {text})",
                Self::MAX_EXACTLY
            )
        } else {
            format!("nargs must be '1 or more', '?' or '*' (instead of {text})")
        }
    }

    /// Fewest sets.
    pub fn min(self) -> u32 {
        match self {
            Nargs::Exactly(n) => n,
            _ => 0,
        }
    }

    /// Most sets.
    pub fn max(self) -> u32 {
        match self {
            Nargs::Exactly(n) => n,
            Nargs::Optional => 1,
            Nargs::Any => Self::UNLIMITED,
        }
    }

    /// True when the require holds exactly one set (templates then see a map, not a list).
    pub fn is_single(self) -> bool {
        self == Nargs::Exactly(1)
    }
}

/// On the wire `nargs` is its text (`"1"`, `"?"`, `"*"`), as the original wrote it; a
/// number is read too.
impl serde::Serialize for Nargs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Nargs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Nargs, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u32),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Number(n) => n.to_string(),
        };
        Nargs::parse(&text).ok_or_else(|| serde::de::Error::custom(Nargs::refusal(&text)))
    }
}

impl std::fmt::Display for Nargs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Nargs::Exactly(n) => write!(f, "{n}"),
            Nargs::Optional => f.write_str("?"),
            Nargs::Any => f.write_str("*"),
        }
    }
}

/// The kind of a require.
#[derive(Debug, Clone, PartialEq)]
pub enum RequireKind {
    /// Plain values.
    Simple,
    /// Another provide must be called on the same location first.
    Local(Dependency),
    /// Another provide must be called on another location first; has an implicit `host`.
    External(Dependency),
}

/// The provide a local or external require depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    /// Generic address of the required provide (`//WebServer//start`).
    pub xpath: String,
    /// How many of the require's variables are passed to the dependency (the first ones).
    pub args: usize,
}

impl RequireKind {
    /// `simple`, `local` or `external`.
    pub fn name(&self) -> &'static str {
        match self {
            RequireKind::Simple => "simple",
            RequireKind::Local(_) => "local",
            RequireKind::External(_) => "external",
        }
    }

    /// The dependency of a local or external require.
    pub fn dependency(&self) -> Option<&Dependency> {
        match self {
            RequireKind::Simple => None,
            RequireKind::Local(d) | RequireKind::External(d) => Some(d),
        }
    }
}

/// A named group of variables a provide needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RequireDef {
    /// Name, unique in its provide.
    pub name: String,
    /// Simple, local or external.
    pub kind: RequireKind,
    /// How many value sets.
    pub nargs: Nargs,
    /// The variables of one set. For local and external requires: `provide_args` then
    /// `provide_ret` (see [`Dependency::args`]).
    pub variables: Vec<VariableDef>,
    /// Label, help and other free-form information.
    pub extra: IndexMap<String, Value>,
}

impl RequireDef {
    /// A simple require with one set of these variables.
    pub fn simple(name: impl Into<String>, variables: Vec<VariableDef>) -> RequireDef {
        RequireDef {
            name: name.into(),
            kind: RequireKind::Simple,
            nargs: Nargs::Exactly(1),
            variables,
            extra: IndexMap::new(),
        }
    }

    /// The variables passed to the dependency.
    pub fn provide_args(&self) -> &[VariableDef] {
        match self.kind.dependency() {
            Some(d) => &self.variables[..d.args],
            None => &[],
        }
    }

    /// The variables the dependency returns.
    pub fn provide_ret(&self) -> &[VariableDef] {
        match self.kind.dependency() {
            Some(d) => &self.variables[d.args..],
            None => &[],
        }
    }

    /// The variable named `name`.
    pub fn variable(&self, name: &str) -> Option<&VariableDef> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// One step of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Log a templated message.
    Log {
        /// The template.
        message: String,
        /// The level of the line.
        level: crate::log::Level,
    },
    /// Run a shell command (`/bin/sh -c`), values in the environment.
    Run {
        /// The command line.
        command: String,
        /// Abort after this long.
        timeout: Duration,
        /// Working directory (the lifecycle file's directory unless set).
        cwd: Option<PathBuf>,
        /// Extra environment, values are templates.
        env: IndexMap<String, String>,
        /// For a `wait` step: run the command again until it succeeds, within bounds.
        retry: Option<Retry>,
    },
}

/// How a `wait` step tries its command again until it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The most time all tries take together, pauses included.
    pub within: Duration,
    /// The pause between two tries.
    pub every: Duration,
}

impl Step {
    /// A short description for messages: the command line, or `log: <message>`.
    pub fn describe(&self) -> String {
        match self {
            Step::Log { message, .. } => format!("log: {message}"),
            Step::Run { command, .. } => command.clone(),
        }
    }
}

/// What runs when a provide is called (or a state entered, left or crossed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Action {
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// The value returned: strings are templates, other values literal.
    pub returns: Option<Value>,
    /// Names of returned values that are secrets: learned as such when returned, so that they
    /// are masked wherever the agent shows or writes text.
    pub secret_returns: Vec<String>,
}

impl Action {
    /// An action doing nothing and returning nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.returns.is_none()
    }

    /// Whether the action runs a command: the only steps acting outside the engine.
    pub fn runs_commands(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Run { .. }))
    }
}

/// An action a state or provide offers.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvideDef {
    /// Name (`enter` for a state's enter provide).
    pub name: String,
    /// Short description.
    pub label: Option<String>,
    /// Longer help.
    pub help: Option<String>,
    /// Tags (`demo`, `internal`…).
    pub tags: Vec<String>,
    /// Other free-form information.
    pub extra: IndexMap<String, Value>,
    /// Flags passed to the `cross` action of this state and the states above it.
    pub flags: IndexMap<String, Value>,
    /// The requires, in declaration order.
    pub requires: Vec<RequireDef>,
    /// What runs.
    pub action: Action,
    /// Whether calling it destroys what cannot be made again (data): a deployment asks
    /// before it runs.
    pub destructive: bool,
}

impl ProvideDef {
    /// A provide with no requires doing nothing.
    pub fn new(name: impl Into<String>) -> ProvideDef {
        ProvideDef {
            name: name.into(),
            label: None,
            help: None,
            tags: Vec::new(),
            extra: IndexMap::new(),
            flags: IndexMap::new(),
            requires: Vec::new(),
            action: Action::default(),
            destructive: false,
        }
    }

    /// The require named `name`.
    pub fn require(&self, name: &str) -> Option<&RequireDef> {
        self.requires.iter().find(|r| r.name == name)
    }
}

/// A package manager for the `packages` built-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageManager {
    /// Debian and Ubuntu: `apt-get`.
    Apt,
    /// Fedora and friends: `dnf`.
    Dnf,
}

/// A file rendered from a template when the state is entered.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDef {
    /// Destination path (a template).
    pub path: String,
    /// The template text.
    pub template: String,
    /// Unix permissions.
    pub mode: u32,
}

/// Built-in behaviours of a state, run around its own actions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Builtins {
    /// Packages installed on enter and removed on leave.
    pub packages: Vec<String>,
    /// The manager for `packages`.
    pub package_manager: Option<PackageManager>,
    /// Files written on enter.
    pub files: Vec<FileDef>,
    /// systemd units started on enter, stopped on leave, reloaded (`reload` flag) or restarted
    /// (`restart` flag) on cross.
    pub services: Vec<String>,
}

impl Builtins {
    /// True when the state uses no built-in.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.files.is_empty() && self.services.is_empty()
    }
}

/// A state of a lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDef {
    /// Name; `Meta.Impl` for the implementations of a state with alternatives.
    pub name: String,
    /// Description.
    pub doc: Option<String>,
    /// Operating systems the state may be entered on (all when empty).
    pub os: Vec<OsType>,
    /// The enter provide (named `enter`).
    pub enter: ProvideDef,
    /// Runs when the state is left.
    pub leave: Action,
    /// Runs after a provide of this state or a state below is called, with its flags.
    pub cross: Action,
    /// Custom provides, in declaration order.
    pub provides: Vec<ProvideDef>,
    /// Built-in behaviours.
    pub builtins: Builtins,
    /// Whether leaving it destroys what cannot be made again (data): an undo asks first.
    pub destructive: bool,
}

impl StateDef {
    /// A state with no action.
    pub fn new(name: impl Into<String>) -> StateDef {
        StateDef {
            name: name.into(),
            doc: None,
            os: Vec::new(),
            enter: ProvideDef::new("enter"),
            leave: Action::default(),
            cross: Action::default(),
            provides: Vec::new(),
            builtins: Builtins::default(),
            destructive: false,
        }
    }

    /// `enter` or a custom provide.
    pub fn provide(&self, name: &str) -> Option<&ProvideDef> {
        if name == "enter" {
            Some(&self.enter)
        } else {
            self.provides.iter().find(|p| p.name == name)
        }
    }

    /// `enter` then the custom provides.
    pub fn all_provides(&self) -> impl Iterator<Item = &ProvideDef> {
        std::iter::once(&self.enter).chain(self.provides.iter())
    }

    /// Whether the state may be used on `system`.
    pub fn supports(&self, system: &OsType) -> bool {
        self.os.is_empty() || self.os.iter().any(|o| o.supports(system))
    }
}

/// A lifecycle: a state machine describing one service.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleDef {
    /// Name (`WebServer`).
    pub name: String,
    /// Description.
    pub doc: Option<String>,
    /// States, in order of first appearance in the transitions.
    pub states: Vec<StateDef>,
    /// Transitions as indexes into `states`, in declaration order (this order sets path order).
    pub transitions: Vec<(usize, usize)>,
    /// Index of the initial state.
    pub initial: usize,
    /// The file it was loaded from.
    pub source: Option<PathBuf>,
    index: HashMap<String, usize>,
    successors: Vec<Vec<usize>>,
    predecessors: Vec<Vec<usize>>,
}

impl LifecycleDef {
    /// Builds a lifecycle from its states and named transitions.
    ///
    /// States must be unique; transitions and the initial state must name known states.
    pub fn new(
        name: impl Into<String>,
        states: Vec<StateDef>,
        transitions: &[(&str, &str)],
        initial: &str,
    ) -> Result<LifecycleDef, String> {
        let mut index = HashMap::new();
        for (i, s) in states.iter().enumerate() {
            if index.insert(s.name.clone(), i).is_some() {
                return Err(format!("state {} is defined twice", s.name));
            }
        }
        let find = |n: &str| {
            index
                .get(n)
                .copied()
                .ok_or_else(|| format!("unknown state {n}"))
        };
        let transitions = transitions
            .iter()
            .map(|(a, b)| Ok((find(a)?, find(b)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let initial = find(initial)?;
        let mut successors = vec![Vec::new(); states.len()];
        let mut predecessors = vec![Vec::new(); states.len()];
        for &(a, b) in &transitions {
            if !successors[a].contains(&b) {
                successors[a].push(b);
                predecessors[b].push(a);
            }
        }
        Ok(LifecycleDef {
            name: name.into(),
            doc: None,
            states,
            transitions,
            initial,
            source: None,
            index,
            successors,
            predecessors,
        })
    }

    /// Index of the state named `name`.
    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The states reachable by one transition from `state`, in transition order.
    pub fn successors(&self, state: usize) -> &[usize] {
        &self.successors[state]
    }

    /// The states with a transition to `state`.
    pub fn predecessors(&self, state: usize) -> &[usize] {
        &self.predecessors[state]
    }

    /// The state named `name`.
    pub fn state(&self, name: &str) -> Option<&StateDef> {
        self.state_index(name).map(|i| &self.states[i])
    }
}
