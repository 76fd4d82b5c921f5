//! A location: the lifecycles of one agent, and the agent API over them.
//!
//! [`Location`] is the original's `LifecycleManager`. Every method takes addresses (see
//! [`crate::Address`]) and returns values from [`crate::info`] with absolute addresses. Calls
//! that change states (`state_goto`, `provide_call`) validate every value first, report every
//! error at once, and only then change anything.

mod call;
mod find;
mod index;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::action::{CommandRunner, SystemRunner};
use crate::address::{self, Address, Kind, ToAddress};
use crate::error::Error;
use crate::info::{
    CurrentState, Info, LifecycleDetail, LifecycleInfo, Match, PathMove, Paths, ProvideInfo,
    StateInfo, Validation,
};
use crate::interrupt::Interrupt;
use crate::log::{Level, LogRecord, LogSink, TracingSink};
use crate::model::{LifecycleDef, ProvideDef};
use crate::os::OsType;
use crate::paths::{MAX_PATHS, Move, Path, Search};
use crate::persist::{InProgress, LockWait, RestoreIssue, StateStore};
use crate::value::Value;
use crate::values::{ProvideValues, Values};
use call::check_provide;
use index::NameIndex;

/// Armonic's version, reported by [`Location::info`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How a location behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Location name, first step of absolute addresses (defaults to the host name).
    pub name: String,
    /// The OS states are checked against.
    pub os: OsType,
    /// Address of this location for services (`location.public_ip` in templates).
    pub public_ip: String,
    /// Skip actions (enter, leave, cross, provides) while still validating and moving states.
    pub simulation: bool,
    /// Validate values before calls (on by default; can also be skipped per call).
    pub validate_on_call: bool,
    /// Where states are saved; nothing is saved when `None`. The directory is locked for
    /// the life of the location.
    pub state_dir: Option<PathBuf>,
    /// What to do when another process holds the state directory.
    pub lock_wait: LockWait,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            name: hostname(),
            os: OsType::detect(),
            public_ip: "localhost".into(),
            simulation: false,
            validate_on_call: true,
            state_dir: None,
            lock_wait: LockWait::No,
        }
    }
}

/// The machine's host name, `localhost` when unknown.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| crate::names::check(s).is_ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The location a call is made for: the consumer of what the provide gives (in a deployment,
/// the location of the lifecycle whose require the call serves; otherwise the calling
/// machine). Templates read it as `caller.name` and `caller.address`, commands as
/// `ARMONIC_CALLER_NAME` and `ARMONIC_CALLER_ADDRESS`: a provide opening access for its
/// consumer opens it to that address only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallerLocation {
    /// Its location name.
    pub name: String,
    /// Its public address (a host name or an IP address).
    pub address: String,
}

/// Options of one call.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Which path to take when several lead to the state (see [`Location::provide_call_path`]).
    pub path_idx: usize,
    /// The deployment the call belongs to; it is attached to every log line.
    pub deployment: Option<String>,
    /// Do not validate values before the call.
    pub skip_validation: bool,
    /// Where this call's log lines go (the location's sink when `None`).
    pub sink: Option<Arc<dyn LogSink>>,
    /// What stops this call (the location's interrupt when `None`); make it a
    /// [child](Interrupt::child) of the location's, so that stopping the location stops it.
    pub interrupt: Option<Interrupt>,
    /// The location the call is made for (this location itself when `None`).
    pub caller: Option<CallerLocation>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("path_idx", &self.path_idx)
            .field("deployment", &self.deployment)
            .field("skip_validation", &self.skip_validation)
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Location`].
pub struct Builder {
    config: Config,
    runner: Arc<dyn CommandRunner>,
    sink: Arc<dyn LogSink>,
    interrupt: Interrupt,
}

impl Builder {
    /// Runs commands with `runner` instead of [`SystemRunner`].
    pub fn runner(mut self, runner: Arc<dyn CommandRunner>) -> Builder {
        self.runner = runner;
        self
    }

    /// Sends log lines to `sink` instead of `tracing`.
    pub fn sink(mut self, sink: Arc<dyn LogSink>) -> Builder {
        self.sink = sink;
        self
    }

    /// Stops calls when `interrupt` is requested (see [`Interrupt`]).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Builder {
        self.interrupt = interrupt;
        self
    }

    /// Creates the location with `lifecycles`, restoring saved states.
    ///
    /// A lifecycle with no saved state enters its initial state. Saved states that cannot be
    /// used are moved aside and listed by [`Location::restore_issues`].
    pub fn build(self, lifecycles: Vec<LifecycleDef>) -> Result<Location, Error> {
        crate::names::check(&self.config.name).map_err(|message| Error::InvalidName {
            what: "location",
            message,
        })?;
        let store = match &self.config.state_dir {
            Some(dir) => Some(StateStore::open(dir, &self.config.lock_wait)?),
            None => None,
        };
        let mut loc = Location {
            config: self.config,
            instances: Vec::with_capacity(lifecycles.len()),
            by_name: HashMap::new(),
            names: NameIndex::default(),
            runner: self.runner,
            sink: self.sink,
            store,
            restore_issues: Vec::new(),
            interrupt: self.interrupt,
            generation: std::sync::atomic::AtomicU64::new(0),
            secret_names: crate::secret::SecretNames::of(&lifecycles),
            secrets: crate::secret::Secrets::default(),
        };
        for def in lifecycles {
            let i = loc.instances.len();
            if loc.by_name.insert(def.name.clone(), i).is_some() {
                continue;
            }
            loc.names.add(i, &def);
            loc.instances.push(Instance::new(def));
            loc.start(i)?;
        }
        if let Some(store) = &loc.store {
            for name in store.saved() {
                if !loc.by_name.contains_key(&name) {
                    loc.restore_issues.push(RestoreIssue {
                        file: store.path(&name).unwrap_or_default(),
                        message: format!(
                            "no lifecycle named {name} is loaded; its saved state is kept as it is"
                        ),
                        lifecycle: name,
                        moved_to: None,
                        interrupted: false,
                    });
                }
            }
        }
        Ok(loc)
    }
}

struct Instance {
    def: Arc<LifecycleDef>,
    /// The state names, shared by the paths listed.
    state_names: Vec<Arc<str>>,
    /// Held for the whole of a state change: the changes of one lifecycle happen one at a
    /// time, those of different lifecycles at once.
    changing: Mutex<()>,
    /// Where the lifecycle stands: read by listings and path searches, written between the
    /// steps of a change (never held while an action runs).
    state: RwLock<Stack>,
}

/// Where a lifecycle stands (see `state.rs`).
#[derive(Debug, Clone, Default)]
struct Stack {
    /// Entered states, bottom first; a state is never in it twice.
    states: Vec<usize>,
    /// The values each entered state was entered with.
    entered: HashMap<usize, ProvideValues>,
    /// `states` of the template context, kept as the stack changes rather than built for
    /// every action.
    context: Arc<BTreeMap<String, Value>>,
    /// A step a previous process left running: no state change until its commands end.
    blocked: Option<InProgress>,
}

impl Instance {
    /// Where the lifecycle stands now. (A panic elsewhere leaves the data as it was last
    /// written, which is still the truth: poisoning is ignored.)
    fn read(&self) -> RwLockReadGuard<'_, Stack> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Stack> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the lifecycle's other changes to end; the change holds the guard.
    fn changes(&self) -> MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A resource found by an address: indexes down the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Res {
    lf: Option<usize>,
    state: Option<usize>,
    /// 0 is `enter`, i + 1 the custom provide i.
    provide: Option<usize>,
    require: Option<usize>,
    var: Option<usize>,
}

impl Res {
    fn kind(&self) -> Kind {
        let depth = [self.lf, self.state, self.provide, self.require, self.var]
            .iter()
            .filter(|x| x.is_some())
            .count();
        Kind::from_depth(depth).unwrap_or(Kind::Variable)
    }
}

/// The provides a call runs, as (state, provide index): the enter provide of every state the
/// path enters, then `target`.
fn involved(path: &Path, target: Option<(usize, usize)>) -> Vec<(usize, usize)> {
    path.iter()
        .filter(|s| s.action == Move::Enter)
        .map(|s| (s.state, 0))
        .chain(target)
        .collect()
}

fn provide_def(def: &LifecycleDef, state: usize, provide: usize) -> &ProvideDef {
    let s = &def.states[state];
    if provide == 0 {
        &s.enter
    } else {
        &s.provides[provide - 1]
    }
}

/// The lifecycles of one agent and the API to drive them.
pub struct Location {
    config: Config,
    instances: Vec<Instance>,
    by_name: HashMap<String, usize>,
    /// The lifecycles holding each name, so a lookup visits only those an address can match.
    names: NameIndex,
    runner: Arc<dyn CommandRunner>,
    sink: Arc<dyn LogSink>,
    store: Option<StateStore>,
    restore_issues: Vec<RestoreIssue>,
    interrupt: Interrupt,
    /// Grows with every state entered or left.
    generation: std::sync::atomic::AtomicU64,
    /// Which value addresses name secrets.
    secret_names: crate::secret::SecretNames,
    /// The secret values given so far (memory only), masked in what steps print.
    secrets: crate::secret::Secrets,
}

impl Location {
    /// A builder with `config`, running commands for real and logging through `tracing`.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            runner: Arc::new(SystemRunner),
            sink: Arc::new(TracingSink),
            interrupt: Interrupt::default(),
        }
    }

    /// Which value addresses name secret variables of this location's lifecycles (to hide
    /// them from whatever records a request).
    pub fn secret_names(&self) -> &crate::secret::SecretNames {
        &self.secret_names
    }

    /// Whether this location was given secret values (that [`Location::mask`] masks).
    pub fn knows_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// `text` with the secret values this location was given masked.
    pub fn mask<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        self.secrets.mask(text)
    }

    /// A number that grows whenever a lifecycle enters or leaves a state: whoever shows the
    /// current states knows when to look again.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What stops this location's calls.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Saved states that could not be used when the location started.
    pub fn restore_issues(&self) -> &[RestoreIssue] {
        &self.restore_issues
    }

    /// Names of the lifecycles, in load order.
    pub fn lifecycle_names(&self) -> Vec<&str> {
        self.instances.iter().map(|i| i.def.name.as_str()).collect()
    }

    /// The definition of lifecycle `name`.
    pub fn definition(&self, name: &str) -> Option<&LifecycleDef> {
        self.by_name.get(name).map(|&i| &*self.instances[i].def)
    }

    /// Names of the entered states of lifecycle `name`, bottom first.
    pub fn stack(&self, name: &str) -> Option<Vec<&str>> {
        let inst = &self.instances[*self.by_name.get(name)?];
        Some(
            inst.read()
                .states
                .iter()
                .map(|&s| inst.def.states[s].name.as_str())
                .collect(),
        )
    }

    fn start(&mut self, i: usize) -> Result<(), Error> {
        let name = self.instances[i].def.name.clone();
        if let Some(store) = &self.store {
            let loaded = store.load(&name).and_then(|state| match state {
                None => Ok(None),
                Some(sf) => {
                    let in_progress = sf.in_progress.clone();
                    self.instances[i].restore(sf).map(|()| Some(in_progress))
                }
            });
            let file = store.path(&name).unwrap_or_default();
            match loaded {
                Ok(Some(in_progress)) => {
                    if let Some(p) = in_progress {
                        self.left_in_progress(i, p, file)?;
                    }
                    return Ok(());
                }
                Ok(None) => {}
                Err(message) => {
                    let moved_to = store.set_aside(&name).ok();
                    self.restore_issues.push(RestoreIssue {
                        lifecycle: name.clone(),
                        file,
                        message,
                        moved_to,
                        interrupted: false,
                    });
                }
            }
        }
        let initial = self.instances[i].def.initial;
        let path = vec![crate::paths::PathStep {
            state: initial,
            action: Move::Enter,
        }];
        self.walk_path(i, &path, &[ProvideValues::new()], &CallOptions::default())
    }

    /// A step a previous process was running when it ended: reported once; while its
    /// commands still run, the lifecycle refuses state changes.
    fn left_in_progress(&mut self, i: usize, p: InProgress, file: PathBuf) -> Result<(), Error> {
        let name = self.instances[i].def.name.clone();
        let (message, blocked) = match p.live_group() {
            Some(pgid) => (state::still_running_message(&name, &p, pgid), true),
            None => (state::interrupted_message(&name, &p), false),
        };
        self.restore_issues.push(RestoreIssue {
            lifecycle: name,
            file,
            message,
            moved_to: None,
            interrupted: true,
        });
        if blocked {
            self.instances[i].write().blocked = Some(p);
            Ok(())
        } else {
            // Reported: the next process need not hear of it again.
            self.save(i)
        }
    }

    /// Refuses a state change of lifecycle `lf` while a step a previous process left is
    /// still running; once it ended, says so and lets the change go on.
    fn check_not_blocked(&self, lf: usize, opts: &CallOptions) -> Result<(), Error> {
        let Some(p) = self.instances[lf].read().blocked.clone() else {
            return Ok(());
        };
        let name = self.instances[lf].def.name.clone();
        if let Some(pgid) = p.live_group() {
            return Err(Error::StepStillRunning {
                message: state::still_running_message(&name, &p, pgid),
            });
        }
        self.instances[lf].write().blocked = None;
        self.sink(opts).log(&LogRecord {
            level: Level::Warning,
            location: self.config.name.clone(),
            lifecycle: name.clone(),
            state: Some(p.state.clone()),
            provide: Some(p.provide.clone()),
            deployment: opts.deployment.clone(),
            message: state::interrupted_message(&name, &p),
        });
        self.save(lf)
    }

    fn sink<'a>(&'a self, opts: &'a CallOptions) -> &'a dyn LogSink {
        opts.sink.as_deref().unwrap_or(&*self.sink)
    }

    fn interrupt_of<'a>(&'a self, opts: &'a CallOptions) -> &'a Interrupt {
        opts.interrupt.as_ref().unwrap_or(&self.interrupt)
    }

    fn event(&self, opts: &CallOptions, lifecycle: &str, state: &str, message: String) {
        self.sink(opts).log(&LogRecord {
            level: Level::Event,
            location: self.config.name.clone(),
            lifecycle: lifecycle.to_owned(),
            state: Some(state.to_owned()),
            provide: None,
            deployment: opts.deployment.clone(),
            message,
        });
    }

    /// Facts about this location.
    pub fn info(&self) -> Info {
        Info {
            name: self.config.name.clone(),
            os_type: self.config.os.name.clone(),
            os_release: self.config.os.release.clone(),
            version: VERSION.to_owned(),
            public_ip: self.config.public_ip.clone(),
        }
    }

    /// The lifecycles enclosing the resources `xpath` matches.
    pub fn lifecycle(
        &self,
        xpath: &(impl ToAddress + ?Sized),
    ) -> Result<Vec<LifecycleInfo>, Error> {
        let xpath = &*xpath.to_address()?;
        let lfs = self.enclosing(xpath, Kind::Lifecycle, |r| r.lf)?;
        Ok(lfs
            .into_iter()
            .map(|lf| {
                let def = &self.instances[lf].def;
                LifecycleInfo {
                    name: def.name.clone(),
                    xpath: format!("/{}/{}", self.config.name, def.name),
                    doc: def.doc.clone(),
                }
            })
            .collect())
    }

    /// The states enclosing the resources `xpath` matches.
    pub fn state(&self, xpath: &(impl ToAddress + ?Sized)) -> Result<Vec<StateInfo>, Error> {
        let xpath = &*xpath.to_address()?;
        let states = self.enclosing(xpath, Kind::State, |r| Some((r.lf?, r.state?)))?;
        Ok(states
            .into_iter()
            .map(|(lf, s)| self.state_info(lf, s))
            .collect())
    }

    fn state_info(&self, lf: usize, s: usize) -> StateInfo {
        let def = &self.instances[lf].def;
        let st = &def.states[s];
        let xpath = self.state_xpath(lf, s);
        StateInfo {
            name: st.name.clone(),
            doc: st.doc.clone(),
            supported_os: st.os.clone(),
            enter: ProvideInfo::build(&st.enter, format!("{xpath}/enter"), |_| None),
            provides: st
                .provides
                .iter()
                .map(|p| ProvideInfo::build(p, format!("{xpath}/{}", p.name), |_| None))
                .collect(),
            destructive: st.destructive,
            xpath,
        }
    }

    /// The current state of each lifecycle enclosing what `xpath` matches.
    pub fn state_current(
        &self,
        xpath: &(impl ToAddress + ?Sized),
    ) -> Result<Vec<CurrentState>, Error> {
        let xpath = &*xpath.to_address()?;
        let lfs = self.enclosing(xpath, Kind::Lifecycle, |r| r.lf)?;
        Ok(lfs
            .into_iter()
            .filter_map(|lf| {
                let inst = &self.instances[lf];
                let s = *inst.read().states.last()?;
                Some(CurrentState {
                    xpath: self.state_xpath(lf, s),
                    state: inst.def.states[s].name.clone(),
                    lifecycle: inst.def.name.clone(),
                })
            })
            .collect())
    }

    /// The paths from the current state to each state `xpath` matches.
    pub fn state_goto_path(&self, xpath: &(impl ToAddress + ?Sized)) -> Result<Vec<Paths>, Error> {
        let xpath = &*xpath.to_address()?;
        let states = self.enclosing(xpath, Kind::State, |r| Some((r.lf?, r.state?)))?;
        Ok(states
            .into_iter()
            .map(|(lf, s)| Paths {
                xpath: self.state_xpath(lf, s),
                paths: self.named_paths(lf, s),
            })
            .collect())
    }

    fn raw_paths(&self, lf: usize, to: usize, limit: usize) -> Vec<Path> {
        let inst = &self.instances[lf];
        let stack = inst.read();
        let Some(&current) = stack.states.last() else {
            return Vec::new();
        };
        Search::new(&inst.def, &self.config.os, &stack.states).paths(current, to, limit)
    }

    fn named_paths(&self, lf: usize, to: usize) -> Vec<Vec<PathMove>> {
        let inst = &self.instances[lf];
        self.raw_paths(lf, to, MAX_PATHS)
            .into_iter()
            .map(|p| inst.named(p))
            .collect()
    }

    /// Paths between any two states of lifecycle `lifecycle`, given the current stack
    /// (the original's `_get_from_state_paths`).
    pub fn paths_between(
        &self,
        lifecycle: &str,
        from: &str,
        to: &str,
    ) -> Option<Vec<Vec<PathMove>>> {
        let lf = *self.by_name.get(lifecycle)?;
        let inst = &self.instances[lf];
        let (from, to) = (inst.def.state_index(from)?, inst.def.state_index(to)?);
        let paths =
            Search::new(&inst.def, &self.config.os, &inst.read().states).paths(from, to, MAX_PATHS);
        Some(paths.into_iter().map(|p| inst.named(p)).collect())
    }

    fn select_path(&self, lf: usize, state: usize, path_idx: usize) -> Result<Path, Error> {
        // Only the paths up to the one asked for are searched.
        let mut paths = self.raw_paths(lf, state, path_idx.saturating_add(1));
        let inst = &self.instances[lf];
        let current = inst.read().states.last().map_or_else(
            || "nothing".to_owned(),
            |&s| inst.def.states[s].name.clone(),
        );
        if paths.is_empty() {
            return Err(Error::NoPath {
                lifecycle: inst.def.name.clone(),
                from: current,
                state: inst.def.states[state].name.clone(),
            });
        }
        if path_idx >= paths.len() {
            let count = self.raw_paths(lf, state, MAX_PATHS).len();
            return Err(Error::PathIndex {
                lifecycle: inst.def.name.clone(),
                state: inst.def.states[state].name.clone(),
                index: path_idx,
                count,
            });
        }
        Ok(paths.swap_remove(path_idx))
    }

    fn resolve_state(&self, uri: &Address) -> Result<(usize, usize), Error> {
        let (_, res) = self.find_one(uri, Kind::State)?;
        Ok((res.lf.unwrap_or_default(), res.state.unwrap_or_default()))
    }

    pub(super) fn resolve_provide(
        &self,
        uri: &Address,
    ) -> Result<(String, usize, usize, usize), Error> {
        let (abs, res) = self.find_one(uri, Kind::Provide)?;
        let (lf, st, p) = (
            res.lf.unwrap_or_default(),
            res.state.unwrap_or_default(),
            res.provide.unwrap_or_default(),
        );
        if p == 0 {
            return Err(Error::EnterNotCallable { xpath: abs });
        }
        Ok((abs, lf, st, p))
    }

    /// The enter provides (those with requires) along path `path_idx` to state `uri`.
    pub fn state_goto_requires(
        &self,
        uri: &(impl ToAddress + ?Sized),
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, Error> {
        let uri = &*uri.to_address()?;
        let (lf, st) = self.resolve_state(uri)?;
        let path = if self.instances[lf].read().states.last() == Some(&st) {
            Vec::new()
        } else {
            self.select_path(lf, st, path_idx)?
        };
        Ok(self.enter_infos(lf, &path))
    }

    fn enter_infos(&self, lf: usize, path: &Path) -> Vec<ProvideInfo> {
        let def = &self.instances[lf].def;
        // Those with requires, as the original; destructive ones too, so that a deployment
        // can say so before it runs them.
        path.iter()
            .filter(|s| {
                let enter = &def.states[s.state].enter;
                s.action == Move::Enter && (!enter.requires.is_empty() || enter.destructive)
            })
            .map(|s| {
                ProvideInfo::build(
                    &def.states[s.state].enter,
                    format!("{}/enter", self.state_xpath(lf, s.state)),
                    |_| None,
                )
            })
            .collect()
    }

    /// Goes to state `uri` along path `opts.path_idx`, entering states with `values`.
    ///
    /// Values are validated for every state of the path before the first move. If a state
    /// fails, the states before it stay entered and the error names the failing state.
    pub fn state_goto(
        &self,
        uri: &(impl ToAddress + ?Sized),
        values: &Values,
        opts: &CallOptions,
    ) -> Result<(), Error> {
        let uri = &*uri.to_address()?;
        let (lf, st) = self.resolve_state(uri)?;
        let _changing = self.instances[lf].changes();
        if self.instances[lf].read().states.last() == Some(&st) {
            return Ok(());
        }
        self.check_not_blocked(lf, opts)?;
        let path = self.select_path(lf, st, opts.path_idx)?;
        let involved = involved(&path, None);
        let checked = self.check(lf, &involved, values, opts)?;
        let values: Vec<ProvideValues> = checked.into_iter().map(|c| c.values).collect();
        self.walk_path(lf, &path, &values, opts)
    }

    /// The provides `xpath` names (not `enter`) whose state is entered or reachable.
    pub fn provide(&self, xpath: &(impl ToAddress + ?Sized)) -> Result<Vec<ProvideInfo>, Error> {
        let xpath = &*xpath.to_address()?;
        let mut out = Vec::new();
        for (abs, res) in self.provides_in(xpath)? {
            let (lf, st, p) = (
                res.lf.unwrap_or_default(),
                res.state.unwrap_or_default(),
                res.provide.unwrap_or_default(),
            );
            let inst = &self.instances[lf];
            if !inst.read().states.contains(&st) && self.raw_paths(lf, st, 1).is_empty() {
                continue;
            }
            out.push(ProvideInfo::build(
                provide_def(&inst.def, st, p),
                abs,
                |_| None,
            ));
        }
        Ok(out)
    }

    /// For each provide `xpath` matches: the paths to its state (none needed when entered).
    pub fn provide_call_path(
        &self,
        xpath: &(impl ToAddress + ?Sized),
    ) -> Result<Vec<Paths>, Error> {
        let xpath = &*xpath.to_address()?;
        let mut out = Vec::new();
        for (abs, res) in self.provides_in(xpath)? {
            let (lf, st) = (res.lf.unwrap_or_default(), res.state.unwrap_or_default());
            let paths = if self.instances[lf].read().states.contains(&st) {
                Vec::new()
            } else {
                self.named_paths(lf, st)
            };
            out.push(Paths { xpath: abs, paths });
        }
        Ok(out)
    }

    fn call_plan(
        &self,
        uri: &Address,
        path_idx: usize,
    ) -> Result<(String, usize, usize, usize, Path), Error> {
        let (abs, lf, st, p) = self.resolve_provide(uri)?;
        let path = if self.instances[lf].read().states.contains(&st) {
            Vec::new()
        } else {
            self.select_path(lf, st, path_idx)?
        };
        Ok((abs, lf, st, p, path))
    }

    /// What a call of provide `uri` needs: the enter provides (with requires) along path
    /// `path_idx` when its state is not entered, then the provide itself.
    pub fn provide_call_requires(
        &self,
        uri: &(impl ToAddress + ?Sized),
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, Error> {
        let uri = &*uri.to_address()?;
        let (abs, lf, st, p, path) = self.call_plan(uri, path_idx)?;
        let mut out = self.enter_infos(lf, &path);
        out.push(ProvideInfo::build(
            provide_def(&self.instances[lf].def, st, p),
            abs,
            |_| None,
        ));
        Ok(out)
    }

    /// Validates `values` for a call of provide `uri`, changing nothing: every variable of the
    /// call comes back with its value and, when invalid, its error.
    pub fn provide_call_validate(
        &self,
        uri: &(impl ToAddress + ?Sized),
        values: &Values,
        path_idx: usize,
    ) -> Result<Validation, Error> {
        let uri = &*uri.to_address()?;
        let (abs, lf, st, p, path) = self.call_plan(uri, path_idx)?;
        let involved = involved(&path, Some((st, p)));
        let filled = self.fill(lf, &involved, values)?;
        let def = &self.instances[lf].def;
        let mut requires = Vec::new();
        let mut errors = false;
        for (k, ((s, pi), f)) in involved.iter().zip(filled).enumerate() {
            let pdef = provide_def(def, *s, *pi);
            if pdef.requires.is_empty() && k + 1 < involved.len() {
                continue;
            }
            let xpath = format!("{}/{}", self.state_xpath(lf, *s), pdef.name);
            let mut checked = check_provide(&xpath, pdef, &f, false);
            errors |= !checked.errors.is_empty();
            requires.push(ProvideInfo::build(pdef, xpath, |i| {
                Some(std::mem::take(&mut checked.sets[i]))
            }));
        }
        Ok(Validation {
            xpath: abs,
            errors,
            requires,
        })
    }

    /// The lifecycle `name` as a Graphviz digraph; `reachable` keeps only the states that
    /// can be reached from the current one (or are entered).
    pub fn to_dot(&self, name: &str, reachable: bool) -> Result<String, Error> {
        let lf = self.lifecycle_index(name)?;
        let inst = &self.instances[lf];
        let stack = inst.read().states.clone();
        let keep: Vec<bool> = (0..inst.def.states.len())
            .map(|s| !reachable || stack.contains(&s) || !self.raw_paths(lf, s, 1).is_empty())
            .collect();
        Ok(crate::dot::to_dot(&inst.def, stack.last().copied(), &keep))
    }

    fn lifecycle_index(&self, name: &str) -> Result<usize, Error> {
        let name = name.trim_start_matches('/');
        let name = name.rsplit('/').next().unwrap_or(name);
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::NoMatch {
                xpath: name.to_owned(),
            })
    }

    /// A fingerprint of what this location runs (SHA-256, hex): every lifecycle's definition
    /// (its states with their steps, provides and variables, its transitions) and the states
    /// each stands in. A plan made against a fingerprint is applied only while it holds;
    /// calling a provide whose state is entered changes nothing of it.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for inst in &self.instances {
            let def = &inst.def;
            let definition = format!(
                "{:?}\u{1}{:?}\u{1}{:?}\u{1}{:?}\u{1}{:?}\u{1}{:?}\u{2}",
                def.name,
                def.doc,
                def.states,
                def.transitions,
                def.initial,
                inst.read().states
            );
            hasher.update(definition.as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The lifecycle `name` with its states, transitions and stack.
    pub fn to_primitive(&self, name: &str) -> Result<LifecycleDetail, Error> {
        let lf = self.lifecycle_index(name)?;
        let inst = &self.instances[lf];
        let def = &inst.def;
        Ok(LifecycleDetail {
            name: def.name.clone(),
            xpath: format!("/{}/{}", self.config.name, def.name),
            doc: def.doc.clone(),
            initial: def.states[def.initial].name.clone(),
            stack: inst
                .read()
                .states
                .iter()
                .map(|&s| def.states[s].name.clone())
                .collect(),
            states: (0..def.states.len())
                .map(|s| self.state_info(lf, s))
                .collect(),
            transitions: def
                .transitions
                .iter()
                .map(|&(a, b)| (def.states[a].name.clone(), def.states[b].name.clone()))
                .collect(),
        })
    }

    /// The absolute (or, with `relative`, location-relative) addresses of what `xpath`
    /// matches, of kind `kind` when given.
    pub fn uri(
        &self,
        xpath: &(impl ToAddress + ?Sized),
        relative: bool,
        kind: Option<Kind>,
    ) -> Result<Vec<String>, Error> {
        let xpath = &*xpath.to_address()?;
        Ok(self
            .find_some(xpath)?
            .into_iter()
            .filter(|(_, r)| kind.is_none_or(|k| r.kind() == k))
            .map(|(abs, _)| {
                if relative {
                    address::relative(&abs).to_owned()
                } else {
                    abs
                }
            })
            .collect())
    }

    /// Every resource `xpath` matches, with its kind.
    pub fn xpath(&self, xpath: &(impl ToAddress + ?Sized)) -> Result<Vec<Match>, Error> {
        let xpath = &*xpath.to_address()?;
        Ok(self
            .find_some(xpath)?
            .into_iter()
            .map(|(xpath, r)| Match {
                xpath,
                kind: r.kind(),
            })
            .collect())
    }
}
