//! Lifecycle files: one lifecycle per TOML file (format in `docs/lifecycle-format.md`).
//!
//! [`parse`] turns the text of one file into a [`LifecycleDef`]; [`load_dirs`] loads every
//! `*.toml` of some directories, reporting each broken file (file, line, column, what is
//! wrong) without stopping the others.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

mod limits;
mod templates;

pub use limits::{
    MAX_BOUND, MAX_FILE_BYTES, MAX_LENGTH, MAX_PATTERN_BYTES, MAX_REQUIRE_VALUES, MAX_TIMEOUT,
    MIN_TIMEOUT,
};

use crate::log::Level;
use crate::model::{
    Action, Builtins, Dependency, FileDef, LifecycleDef, Nargs, PackageManager, ProvideDef,
    RequireDef, RequireKind, Retry, StateDef, Step,
};
use crate::os::OsType;
use crate::value::Value;
use crate::variable::{Rules, VarType, VariableDef};

/// Default timeout of `run` steps.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a `wait` step tries its command when its file does not say (`within`).
pub const DEFAULT_WAIT_WITHIN: Duration = Duration::from_secs(60);
/// The pause between two tries of a `wait` step when its file does not say (`every`).
pub const DEFAULT_WAIT_EVERY: Duration = Duration::from_secs(1);

/// Names a require may not take: they are the other keys of the template context.
const RESERVED_REQUIRE_NAMES: &[&str] = &[
    "states",
    "location",
    "flags",
    "lifecycle",
    "state",
    "provide",
    "caller",
];

/// A lifecycle file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The lifecycles found in some directories, and the files that failed.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Loaded lifecycles, in file name order.
    pub lifecycles: Vec<LifecycleDef>,
    /// Files that could not be loaded.
    pub errors: Vec<LoadError>,
}

/// Loads every `*.toml` file of `dirs` (not recursively), in name order.
///
/// A missing directory, an unreadable or broken file, or a second lifecycle with a name
/// already loaded is reported in [`Catalog::errors`]; the other files still load.
pub fn load_dirs<P: AsRef<Path>>(dirs: &[P]) -> Catalog {
    let mut catalog = Catalog::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for dir in dirs {
        let dir = dir.as_ref();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                catalog.errors.push(LoadError {
                    file: dir.to_owned(),
                    line: None,
                    column: None,
                    message: format!("cannot read lifecycle directory: {e}"),
                });
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            match load_file_guarded(&file) {
                Ok(def) => {
                    if let Some(first) = seen.get(&def.name) {
                        catalog.errors.push(LoadError {
                            file: file.clone(),
                            line: None,
                            column: None,
                            message: format!(
                                "lifecycle {} is already defined in {}",
                                def.name,
                                first.display()
                            ),
                        });
                    } else {
                        seen.insert(def.name.clone(), file.clone());
                        catalog.lifecycles.push(def);
                    }
                }
                Err(e) => catalog.errors.push(e),
            }
        }
    }
    catalog
}

/// [`load_file`], with a panic taken as the file's error: whatever a file holds, it costs that
/// file, never the others or the process loading them. No input is known to make the loader
/// panic (the fuzz tests look for one); this is the last line, not the first.
fn load_file_guarded(file: &Path) -> Result<LifecycleDef, LoadError> {
    std::panic::catch_unwind(|| load_file(file)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(LoadError {
            file: file.to_owned(),
            line: None,
            column: None,
            message: format!("internal error while loading the file: {what}"),
        })
    })
}

/// Loads one lifecycle file.
///
/// Only a regular file of at most [`MAX_FILE_BYTES`] is read.
pub fn load_file(file: &Path) -> Result<LifecycleDef, LoadError> {
    let text = limits::read_text(file).map_err(|e| LoadError {
        file: file.to_owned(),
        line: None,
        column: None,
        message: format!("cannot read file: {e}"),
    })?;
    parse(&text, file)
}

/// Parses the text of a lifecycle file; `file` names it in errors and anchors relative paths.
pub fn parse(text: &str, file: &Path) -> Result<LifecycleDef, LoadError> {
    let located = |span: Option<Range<usize>>, message: String| {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = line_col(text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        LoadError {
            file: file.to_owned(),
            line,
            column,
            message,
        }
    };
    let raw: RawLifecycle =
        toml::from_str(text).map_err(|e| located(e.span(), e.message().trim().to_owned()))?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut def = build(raw, &dir).map_err(|(span, msg)| located(span, msg))?;
    def.source = Some(file.to_owned());
    Ok(def)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    // Spans fall on character boundaries; should one not, count the whole text.
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

type BuildError = (Option<Range<usize>>, String);

fn at<T>(s: &Spanned<T>, msg: impl Into<String>) -> BuildError {
    (Some(s.span()), msg.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLifecycle {
    name: Spanned<String>,
    doc: Option<String>,
    initial: Spanned<String>,
    #[serde(default)]
    transitions: Vec<Spanned<(String, String)>>,
    #[serde(default)]
    states: IndexMap<String, Spanned<RawState>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    doc: Option<String>,
    #[serde(default)]
    destructive: bool,
    #[serde(default)]
    os: Vec<String>,
    #[serde(default)]
    implementations: Vec<String>,
    enter: Option<Spanned<RawProvide>>,
    leave: Option<RawAction>,
    cross: Option<RawAction>,
    #[serde(default)]
    provides: IndexMap<String, Spanned<RawProvide>>,
    #[serde(default)]
    packages: Vec<String>,
    package_manager: Option<Spanned<String>>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    files: Vec<Spanned<RawFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: String,
    template: Option<String>,
    source: Option<String>,
    mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(default, rename = "do")]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvide {
    label: Option<String>,
    help: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    extra: IndexMap<String, toml::Value>,
    #[serde(default)]
    flags: IndexMap<String, toml::Value>,
    #[serde(default)]
    requires: IndexMap<String, Spanned<RawRequire>>,
    #[serde(default, rename = "do")]
    steps: Vec<Spanned<RawStep>>,
    #[serde(rename = "return")]
    returns: Option<Spanned<toml::Value>>,
    secret_returns: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    destructive: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    log: Option<String>,
    level: Option<String>,
    run: Option<String>,
    wait: Option<String>,
    within: Option<toml::Value>,
    every: Option<toml::Value>,
    timeout: Option<toml::Value>,
    cwd: Option<String>,
    #[serde(default)]
    env: IndexMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequire {
    #[serde(rename = "type")]
    kind: Option<String>,
    xpath: Option<String>,
    nargs: Option<toml::Value>,
    label: Option<String>,
    help: Option<String>,
    #[serde(default)]
    extra: IndexMap<String, toml::Value>,
    #[serde(default)]
    variables: IndexMap<String, Spanned<RawVariable>>,
    #[serde(default)]
    provide_args: IndexMap<String, Spanned<RawVariable>>,
    #[serde(default)]
    provide_ret: IndexMap<String, Spanned<RawVariable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(rename = "type", default = "default_type")]
    ty: String,
    default: Option<toml::Value>,
    required: Option<bool>,
    from_xpath: Option<String>,
    label: Option<String>,
    help: Option<String>,
    #[serde(default)]
    expert: bool,
    #[serde(default)]
    extra: IndexMap<String, toml::Value>,
    pattern: Option<String>,
    pattern_error: Option<String>,
    min: Option<toml::Value>,
    max: Option<toml::Value>,
    #[serde(default)]
    choices: Vec<toml::Value>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    modifier: Option<String>,
    #[serde(default)]
    secret: bool,
    items: Option<Box<RawVariable>>,
}

fn default_type() -> String {
    "str".into()
}

fn check_name(name: &str, what: &str, span: Option<Range<usize>>) -> Result<(), BuildError> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err((
            span,
            format!(
                "{what} name '{name}' must start with a letter and use letters, digits, '_' or '-'"
            ),
        ))
    }
}

fn build(raw: RawLifecycle, dir: &Path) -> Result<LifecycleDef, BuildError> {
    let name = raw.name.get_ref().clone();
    check_name(&name, "lifecycle", Some(raw.name.span()))?;
    for (state_name, state) in &raw.states {
        check_name(state_name, "state", Some(state.span()))?;
    }
    let defined = |n: &str| raw.states.contains_key(n);
    for t in &raw.transitions {
        let (a, b) = t.get_ref();
        for s in [a, b] {
            if !defined(s) {
                return Err(at(
                    t,
                    format!("transition names state '{s}', which is not defined under [states]"),
                ));
            }
        }
    }
    let initial = raw.initial.get_ref().clone();
    if !defined(&initial) {
        return Err(at(
            &raw.initial,
            format!("initial state '{initial}' is not defined under [states]"),
        ));
    }
    // States with alternatives (`implementations`) are replaced, on every transition leading
    // to them, by one `Meta.Impl` state per implementation, each leading to the state itself.
    let mut implementations_of: HashMap<&str, &[String]> = HashMap::new();
    let mut used_as_impl: HashSet<&str> = HashSet::new();
    for (state_name, state) in &raw.states {
        let st = state.get_ref();
        if st.implementations.is_empty() {
            continue;
        }
        if *state_name == initial {
            return Err(at(state, "the initial state cannot have implementations"));
        }
        for imp in &st.implementations {
            match raw.states.get(imp) {
                None => {
                    return Err(at(
                        state,
                        format!("implementation '{imp}' is not defined under [states]"),
                    ));
                }
                Some(s) if !s.get_ref().implementations.is_empty() => {
                    return Err(at(
                        state,
                        format!("implementation '{imp}' has implementations itself"),
                    ));
                }
                Some(_) => {}
            }
            used_as_impl.insert(imp);
        }
        implementations_of.insert(state_name, &st.implementations);
    }
    let mut transitions: Vec<(String, String)> = Vec::new();
    for t in &raw.transitions {
        let (a, b) = t.get_ref();
        match implementations_of.get(b.as_str()) {
            Some(imps) => {
                for imp in imps.iter() {
                    let expanded = format!("{b}.{imp}");
                    transitions.push((a.clone(), expanded.clone()));
                    transitions.push((expanded, b.clone()));
                }
            }
            None => transitions.push((a.clone(), b.clone())),
        }
    }
    // States in order of first appearance; a set beside the list keeps this linear.
    let mut order: Vec<String> = vec![initial.clone()];
    let mut ordered: HashSet<&str> = HashSet::from([initial.as_str()]);
    for (a, b) in &transitions {
        for s in [a, b] {
            if ordered.insert(s) {
                order.push(s.clone());
            }
        }
    }
    for (state_name, state) in &raw.states {
        if !ordered.contains(state_name.as_str()) && !used_as_impl.contains(state_name.as_str()) {
            return Err(at(
                state,
                format!("state '{state_name}' is neither initial nor part of any transition"),
            ));
        }
    }
    let mut states = Vec::with_capacity(order.len());
    for state_name in &order {
        let (source_name, meta) = match state_name.split_once('.') {
            Some((meta, imp)) => (imp, Some(meta)),
            None => (state_name.as_str(), None),
        };
        let raw_state = &raw.states[source_name];
        let mut state = build_state(state_name, raw_state, dir)?;
        if meta.is_none() && *state_name == initial && !state.enter.requires.is_empty() {
            return Err(at(
                raw_state,
                "the initial state's enter cannot have requires: it runs with no values",
            ));
        }
        state.name = state_name.clone();
        states.push(state);
    }
    templates::check(&raw, &states)?;
    let pairs: Vec<(&str, &str)> = transitions
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut def = LifecycleDef::new(name, states, &pairs, &initial).map_err(|m| (None, m))?;
    def.doc = raw.doc;
    Ok(def)
}

fn build_state(name: &str, raw: &Spanned<RawState>, dir: &Path) -> Result<StateDef, BuildError> {
    let r = raw.get_ref();
    let mut state = StateDef::new(name);
    state.doc = r.doc.clone();
    state.destructive = r.destructive;
    state.os = r.os.iter().map(|o| OsType::parse(o)).collect();
    if let Some(enter) = &r.enter {
        state.enter = build_provide("enter", enter)?;
    }
    if let Some(leave) = &r.leave {
        state.leave = Action {
            steps: build_steps(&leave.steps)?,
            returns: None,
            secret_returns: Vec::new(),
        };
    }
    if let Some(cross) = &r.cross {
        state.cross = Action {
            steps: build_steps(&cross.steps)?,
            returns: None,
            secret_returns: Vec::new(),
        };
    }
    for (pname, p) in &r.provides {
        check_name(pname, "provide", Some(p.span()))?;
        if matches!(pname.as_str(), "enter" | "leave" | "cross") {
            return Err(at(
                p,
                format!("'{pname}' is reserved: write it as [states.{name}.{pname}]"),
            ));
        }
        state.provides.push(build_provide(pname, p)?);
    }
    let mut builtins = Builtins {
        packages: r.packages.clone(),
        services: r.services.clone(),
        ..Builtins::default()
    };
    if let Some(m) = &r.package_manager {
        builtins.package_manager = Some(match m.get_ref().as_str() {
            "apt" => PackageManager::Apt,
            "dnf" => PackageManager::Dnf,
            other => {
                return Err(at(
                    m,
                    format!("unknown package manager '{other}' (apt or dnf)"),
                ));
            }
        });
    }
    for f in &r.files {
        builtins.files.push(build_file(f, dir)?);
    }
    state.builtins = builtins;
    Ok(state)
}

fn build_file(f: &Spanned<RawFile>, dir: &Path) -> Result<FileDef, BuildError> {
    let r = f.get_ref();
    let template = match (&r.template, &r.source) {
        (Some(t), None) => t.clone(),
        (None, Some(src)) => {
            let path = dir.join(src);
            limits::read_text(&path)
                .map_err(|e| at(f, format!("cannot read template {}: {e}", path.display())))?
        }
        _ => {
            return Err(at(
                f,
                "a file needs exactly one of 'template' (inline text) or 'source' (a file)",
            ));
        }
    };
    let mode = match &r.mode {
        None => 0o644,
        Some(m) => limits::mode(m).map_err(|e| at(f, e))?,
    };
    Ok(FileDef {
        path: r.path.clone(),
        template,
        mode,
    })
}

fn build_steps(raw: &[Spanned<RawStep>]) -> Result<Vec<Step>, BuildError> {
    raw.iter().map(build_step).collect()
}

fn build_step(s: &Spanned<RawStep>) -> Result<Step, BuildError> {
    let r = s.get_ref();
    if r.wait.is_none() && (r.within.is_some() || r.every.is_some()) {
        return Err(at(s, "'within' and 'every' belong to 'wait' steps"));
    }
    match (&r.log, &r.run, &r.wait) {
        (Some(message), None, None) => {
            if r.timeout.is_some() || r.cwd.is_some() || !r.env.is_empty() {
                return Err(at(
                    s,
                    "'timeout', 'cwd' and 'env' belong to 'run' and 'wait' steps",
                ));
            }
            let level = match &r.level {
                None => Level::Info,
                Some(l) => {
                    Level::parse(l).ok_or_else(|| at(s, format!("unknown log level '{l}'")))?
                }
            };
            Ok(Step::Log {
                message: message.clone(),
                level,
            })
        }
        (None, Some(command), None) | (None, None, Some(command)) => {
            if r.level.is_some() {
                return Err(at(s, "'level' belongs to 'log' steps"));
            }
            let timeout = match &r.timeout {
                None => DEFAULT_RUN_TIMEOUT,
                Some(t) => limits::timeout(t).map_err(|e| at(s, e))?,
            };
            let retry = match r.wait {
                None => None,
                Some(_) => {
                    let within = match &r.within {
                        None => DEFAULT_WAIT_WITHIN,
                        Some(t) => limits::timeout(t)
                            .map_err(|e| at(s, e.replacen("timeout", "within", 1)))?,
                    };
                    let every = match &r.every {
                        None => DEFAULT_WAIT_EVERY.min(within),
                        Some(t) => limits::timeout(t)
                            .map_err(|e| at(s, e.replacen("timeout", "every", 1)))?,
                    };
                    if every > within {
                        return Err(at(s, "'every' is longer than 'within': it would try once"));
                    }
                    Some(Retry { within, every })
                }
            };
            Ok(Step::Run {
                command: command.clone(),
                timeout,
                cwd: r.cwd.as_ref().map(PathBuf::from),
                env: r.env.clone(),
                retry,
            })
        }
        _ => Err(at(s, "a step needs exactly one of 'log', 'run' or 'wait'")),
    }
}

fn build_provide(name: &str, raw: &Spanned<RawProvide>) -> Result<ProvideDef, BuildError> {
    let r = raw.get_ref();
    let mut p = ProvideDef::new(name);
    p.label = r.label.clone();
    p.help = r.help.clone();
    p.tags = r.tags.clone();
    p.extra = values(&r.extra, "extra").map_err(|e| at(raw, e))?;
    p.flags = values(&r.flags, "flags").map_err(|e| at(raw, e))?;
    for (rname, req) in &r.requires {
        check_name(rname, "require", Some(req.span()))?;
        if RESERVED_REQUIRE_NAMES.contains(&rname.as_str()) {
            return Err(at(
                req,
                format!(
                    "require name '{rname}' is reserved (it names part of the template context)"
                ),
            ));
        }
        p.requires.push(build_require(rname, req)?);
    }
    p.action.steps = build_steps(&r.steps)?;
    if let Some(ret) = &r.returns {
        let value = value(ret.get_ref()).map_err(|e| at(ret, format!("return: {e}")))?;
        p.action.returns = Some(value);
    }
    if let Some(names) = &r.secret_returns {
        for name in names.get_ref() {
            check_name(name, "returned value", Some(names.span()))?;
        }
        p.action.secret_returns = names.get_ref().clone();
    }
    p.destructive = r.destructive;
    Ok(p)
}

/// A value of the file as the model holds it; its numbers must be finite.
fn value(v: &toml::Value) -> Result<Value, String> {
    limits::finite(v)?;
    Ok(Value::from_toml(v))
}

/// A free-form table (`extra`, `flags`) as the model holds it.
fn values(
    table: &IndexMap<String, toml::Value>,
    what: &str,
) -> Result<IndexMap<String, Value>, String> {
    table
        .iter()
        .map(|(k, v)| Ok((k.clone(), value(v).map_err(|e| format!("{what}.{k}: {e}"))?)))
        .collect()
}

fn build_require(name: &str, raw: &Spanned<RawRequire>) -> Result<RequireDef, BuildError> {
    let r = raw.get_ref();
    let nargs = match &r.nargs {
        None => Nargs::Exactly(1),
        Some(v) => {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                other => other.to_string(),
            };
            Nargs::parse(&text).ok_or_else(|| at(raw, Nargs::refusal(&text)))?
        }
    };
    let kind_name = r.kind.as_deref().unwrap_or("simple");
    let mut variables = Vec::new();
    let kind = match kind_name {
        "simple" => {
            if r.xpath.is_some() || !r.provide_args.is_empty() || !r.provide_ret.is_empty() {
                return Err(at(
                    raw,
                    "a simple require takes 'variables'; 'xpath', 'provide_args' and 'provide_ret' are for local and external requires",
                ));
            }
            for (vname, v) in &r.variables {
                variables.push(build_variable(vname, v)?);
            }
            RequireKind::Simple
        }
        "local" | "external" => {
            if !r.variables.is_empty() {
                return Err(at(
                    raw,
                    format!(
                        "a {kind_name} require takes 'provide_args' and 'provide_ret', not 'variables'"
                    ),
                ));
            }
            let xpath = r.xpath.clone().ok_or_else(|| at(raw, format!("a {kind_name} require needs 'xpath', the address of the provide it depends on")))?;
            crate::address::Address::parse(&xpath).map_err(|e| at(raw, e.to_string()))?;
            if kind_name == "external" {
                if r.provide_args.contains_key("host") || r.provide_ret.contains_key("host") {
                    return Err(at(
                        raw,
                        "Variable name 'host' can not be used because it is a reserved variable name for External require.",
                    ));
                }
                let mut host = VariableDef::new("host", VarType::ArmonicHost);
                host.label = Some("Host".into());
                host.expert = true;
                variables.push(host);
            }
            for (vname, v) in &r.provide_args {
                variables.push(build_variable(vname, v)?);
            }
            let args = variables.len();
            for (vname, v) in &r.provide_ret {
                if r.provide_args.contains_key(vname) {
                    return Err(at(
                        v,
                        format!("variable '{vname}' is both in provide_args and provide_ret"),
                    ));
                }
                variables.push(build_variable(vname, v)?);
            }
            let dep = Dependency { xpath, args };
            if kind_name == "local" {
                RequireKind::Local(dep)
            } else {
                RequireKind::External(dep)
            }
        }
        other => {
            return Err(at(
                raw,
                format!("unknown require type '{other}' (simple, local or external)"),
            ));
        }
    };
    let mut extra: IndexMap<String, Value> = IndexMap::new();
    if let Some(l) = &r.label {
        extra.insert("label".into(), Value::from(l.as_str()));
    }
    if let Some(h) = &r.help {
        extra.insert("help".into(), Value::from(h.as_str()));
    }
    extra.extend(values(&r.extra, "extra").map_err(|e| at(raw, e))?);
    // Every set of a require is listed and starts with its defaults: their number is bounded
    // here, not by whoever asks.
    let sets = u64::from(nargs.min().max(1));
    let held = sets * variables.len() as u64;
    if held > limits::MAX_REQUIRE_VALUES {
        return Err(at(
            raw,
            format!(
                "require '{name}' holds too many values: nargs {nargs} times {} variables is {held}, at most {}",
                variables.len(),
                limits::MAX_REQUIRE_VALUES
            ),
        ));
    }
    Ok(RequireDef {
        name: name.to_owned(),
        kind,
        nargs,
        variables,
        extra,
    })
}

fn build_variable(name: &str, raw: &Spanned<RawVariable>) -> Result<VariableDef, BuildError> {
    check_name(name, "variable", Some(raw.span()))?;
    variable_from(name, raw.get_ref()).map_err(|m| at(raw, m))
}

fn variable_from(name: &str, r: &RawVariable) -> Result<VariableDef, String> {
    let inner = match &r.items {
        Some(items) => Some(variable_from("item", items)?),
        None => None,
    };
    if inner.is_some() && r.ty != "list" {
        return Err(format!("variable '{name}': 'items' is only for lists"));
    }
    let ty = VarType::from_name(&r.ty, inner)
        .ok_or_else(|| format!("variable '{name}': unknown type '{}'", r.ty))?;
    let mut v = VariableDef::new(name, ty);
    v.required = r.required.unwrap_or(true);
    v.from_xpath = r.from_xpath.clone();
    v.label = r.label.clone();
    v.help = r.help.clone();
    v.expert = r.expert;
    v.extra = values(&r.extra, "extra").map_err(|e| format!("variable '{name}': {e}"))?;
    v.modifier = r.modifier.clone();
    v.secret |= r.secret;
    if let Some(p) = &r.pattern {
        v.rules.pattern = Some(
            limits::pattern(p, r.pattern_error.clone())
                .map_err(|e| format!("variable '{name}': {e}"))?,
        );
    } else if r.pattern_error.is_some() {
        return Err(format!(
            "variable '{name}': 'pattern_error' needs 'pattern'"
        ));
    }
    let number = |x: &Option<toml::Value>, what: &str| -> Result<Option<f64>, String> {
        let n = match x {
            None => return Ok(None),
            // Compared before conversion: 2^53 + 1 would round to 2^53.
            Some(toml::Value::Integer(i)) if i.unsigned_abs() > limits::MAX_BOUND as u64 => {
                f64::INFINITY
            }
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(f)) => *f,
            Some(_) => return Err(format!("variable '{name}': '{what}' must be a number")),
        };
        if !(-limits::MAX_BOUND..=limits::MAX_BOUND).contains(&n) {
            return Err(format!(
                "variable '{name}': '{what}' must be a number from -{bound} to {bound}",
                bound = limits::MAX_BOUND
            ));
        }
        Ok(Some(n))
    };
    let (min, max) = (number(&r.min, "min")?, number(&r.max, "max")?);
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            return Err(format!("variable '{name}': 'min' is above 'max'"));
        }
    }
    let length = |x: Option<u64>, what: &str| -> Result<Option<usize>, String> {
        match x {
            Some(n) if n > limits::MAX_LENGTH => Err(format!(
                "variable '{name}': '{what}' must be at most {} (the size of the largest value)",
                limits::MAX_LENGTH
            )),
            // At most MAX_LENGTH, which is a usize.
            n => Ok(n.map(|n| n as usize)),
        }
    };
    let (min_length, max_length) = (
        length(r.min_length, "min_length")?,
        length(r.max_length, "max_length")?,
    );
    if let (Some(min), Some(max)) = (min_length, max_length) {
        if min > max {
            return Err(format!(
                "variable '{name}': 'min_length' is above 'max_length'"
            ));
        }
    }
    let choices = r
        .choices
        .iter()
        .map(value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("variable '{name}': choices: {e}"))?;
    v.rules = Rules {
        pattern: v.rules.pattern.take(),
        min: r.min.as_ref().map(Value::from_toml),
        max: r.max.as_ref().map(Value::from_toml),
        choices,
        min_length,
        max_length,
    };
    if let Some(d) = &r.default {
        let d = value(d).map_err(|e| format!("variable '{name}': default: {e}"))?;
        let checked = v
            .check(&d)
            .map_err(|e| format!("variable '{name}': default value is not valid: {e}"))?;
        // The modifier is applied when values are checked, not to the stored default.
        v.default = Some(if v.modifier.is_some() { d } else { checked });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<LifecycleDef, LoadError> {
        parse(s, Path::new("test.toml"))
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = parse_str("name = \"X\"\ninitial = \"A\"\n[states.A]\nfoo = 1\n").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("unknown field"), "{}", e.message);
        assert!(e.to_string().starts_with("test.toml:4:"));
    }

    #[test]
    fn unknown_states_in_transitions_are_reported_where_written() {
        let e = parse_str(
            "name = \"X\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("'B'"));
    }

    #[test]
    fn invalid_defaults_are_rejected_at_load() {
        let e = parse_str(
            "name = \"X\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n[states.B.enter.requires.conf.variables]\nport = { type = \"port\", default = 99999 }\n",
        )
        .unwrap_err();
        assert!(
            e.message.contains("port value must be at most 65535"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(6));
    }

    #[test]
    fn implementations_expand_into_named_states() {
        let def = parse_str(
            "name = \"X\"\ninitial = \"a\"\ntransitions = [[\"a\", \"h\"], [\"h\", \"g\"]]\n[states.a]\n[states.g]\n[states.h]\nimplementations = [\"i\", \"j\"]\n[states.i]\nos = [\"debian\"]\n[states.j]\nos = [\"mbs\"]\n",
        )
        .unwrap();
        let names: Vec<&str> = def.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "h.i", "h", "h.j", "g"]);
    }

    #[test]
    fn external_requires_get_a_host_variable_and_reserve_its_name() {
        let def = parse_str(
            "name = \"X\"\ninitial = \"a\"\ntransitions = [[\"a\", \"b\"]]\n[states.a]\n[states.b.enter.requires.dep]\ntype = \"external\"\nxpath = \"//Y//start\"\nprovide_ret.url = { type = \"url\" }\n",
        )
        .unwrap();
        let r = &def.states[1].enter.requires[0];
        let names: Vec<&str> = r.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["host", "url"]);
        assert_eq!(r.provide_args().len(), 1);
        let e = parse_str(
            "name = \"X\"\ninitial = \"a\"\ntransitions = [[\"a\", \"b\"]]\n[states.a]\n[states.b.enter.requires.dep]\ntype = \"external\"\nxpath = \"//Y//start\"\nprovide_args.host = { type = \"str\" }\n",
        )
        .unwrap_err();
        assert!(e.message.contains("reserved variable name"));
    }

    #[test]
    fn bad_nargs_use_the_original_message() {
        let e = parse_str(
            "name = \"X\"\ninitial = \"a\"\ntransitions = [[\"a\", \"b\"]]\n[states.a]\n[states.b.enter.requires.r]\nnargs = \"0\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "nargs must be '1 or more', '?' or '*' (instead of 0)"
        );
    }
}
