//! Calls that change states: going along a path, running actions, routing and checking values.

use std::sync::Arc;

use indexmap::IndexMap;

use super::{CallOptions, Location, involved, provide_def};
use crate::action::{ActionError, Env, Exec};
use crate::address::{Address, Kind, ToAddress};
use crate::error::Error;
use crate::info::VariableError;
use crate::log::{Level, LogRecord};
use crate::model::{LifecycleDef, ProvideDef, RequireDef};
use crate::paths::{Move, Path};
use crate::persist::{InProgress, StepKind};
use crate::template::Context;
use crate::value::Value;
use crate::values::{Filled, ProvideValues, Values};

/// Values checked against their variables, with the view used by `provide_call_validate`.
pub(super) struct Checked {
    pub(super) values: ProvideValues,
    pub(super) sets: Vec<crate::info::CheckedSets>,
    pub(super) errors: Vec<VariableError>,
}

impl Location {
    /// Calls provide `uri` with `values`, entering its state first along path
    /// `opts.path_idx` when it is not entered, then runs the `cross` action of its state and
    /// of every state above it with the provide's flags. Returns what the provide returned.
    pub fn provide_call(
        &self,
        uri: &(impl ToAddress + ?Sized),
        values: &Values,
        opts: &CallOptions,
    ) -> Result<Option<Value>, Error> {
        let uri = &*uri.to_address()?;
        let lf = self.resolve_provide(uri)?.1;
        let _changing = self.instances[lf].changes();
        // Planned once the lifecycle is ours: an earlier change may have moved it.
        let (_, lf, st, p, path) = self.call_plan(uri, opts.path_idx)?;
        self.check_not_blocked(lf, opts)?;
        let involved = involved(&path, Some((st, p)));
        let mut checked: Vec<ProvideValues> = self
            .check(lf, &involved, values, opts)?
            .into_iter()
            .map(|c| c.values)
            .collect();
        let own = checked.pop().unwrap_or_default();
        self.walk_path(lf, &path, &checked, opts)?;

        let def = Arc::clone(&self.instances[lf].def);
        let state = &def.states[st];
        let pdef = provide_def(&def, st, p);
        let ret = self.perform(
            lf,
            st,
            StepKind::Provide,
            pdef,
            &own,
            &pdef.flags,
            opts,
            Reach {
                idle: pdef.action.is_empty(),
                out: pdef.action.runs_commands(),
            },
            |exec, ctx, env| exec.run_action(&pdef.action, ctx, env),
        )?;
        self.event(
            opts,
            &def.name,
            &state.name,
            format!("provide {} called", pdef.name),
        );
        self.cross(lf, st, &pdef.flags, opts)?;
        Ok(ret)
    }

    pub(super) fn cross(
        &self,
        lf: usize,
        st: usize,
        flags: &IndexMap<String, Value>,
        opts: &CallOptions,
    ) -> Result<(), Error> {
        let inst = &self.instances[lf];
        let def = &inst.def;
        let stack = inst.read().states.clone();
        let from = stack.iter().position(|&s| s == st).unwrap_or(stack.len());
        for &s in &stack[from..] {
            let state = &def.states[s];
            if state.cross.is_empty() && state.builtins.services.is_empty() {
                continue;
            }
            let cross = ProvideDef::new("cross");
            let own = ProvideValues::new();
            self.perform(
                lf,
                s,
                StepKind::Cross,
                &cross,
                &own,
                flags,
                opts,
                Reach {
                    idle: false,
                    out: state.cross.runs_commands() || !state.builtins.services.is_empty(),
                },
                |exec, ctx, env| {
                    exec.cross_builtins(&state.builtins, flags)?;
                    exec.run_action(&state.cross, ctx, env)
                },
            )?;
        }
        Ok(())
    }

    /// Runs `work` as step `kind` (provide `pdef` of state `s`) with its template context,
    /// environment and executor; in simulation runs nothing and, unless `idle` (nothing to
    /// run anyway), says so.
    ///
    /// Nothing starts once an interrupt is requested. With a state directory, a step that
    /// runs something is recorded as in progress before it starts (and its process group as
    /// soon as it has one), so that a crash leaves a trace; the record is cleared when the
    /// step fails, and by the caller's next save when it succeeds.
    #[allow(clippy::too_many_arguments)]
    fn perform(
        &self,
        lf: usize,
        s: usize,
        kind: StepKind,
        pdef: &ProvideDef,
        own: &ProvideValues,
        flags: &IndexMap<String, Value>,
        opts: &CallOptions,
        reach: Reach,
        work: impl FnOnce(&Exec<'_>, &Context, &Env<'_>) -> Result<Option<Value>, ActionError>,
    ) -> Result<Option<Value>, Error> {
        let idle = reach.idle;
        let def = &self.instances[lf].def;
        let state = &def.states[s].name;
        if self.interrupt_of(opts).is_stopping() {
            return Err(Error::Interrupted {
                lifecycle: def.name.clone(),
                step: kind.describe(state, &pdef.name),
                started: false,
            });
        }
        if self.config.simulation {
            if !idle {
                self.sink(opts).log(&LogRecord {
                    level: Level::Warning,
                    location: self.config.name.clone(),
                    lifecycle: def.name.clone(),
                    state: Some(state.clone()),
                    provide: Some(pdef.name.clone()),
                    deployment: opts.deployment.clone(),
                    message: format!("Provide call {} of {state} is simulated", pdef.name),
                });
            }
            return Ok(None);
        }
        if idle {
            // Nothing would use the context: not even built.
            return Ok(None);
        }
        // Only what reaches outside the engine (commands, built-ins) can partly run.
        let marker = (self.store.is_some() && reach.out)
            .then(|| std::cell::RefCell::new(InProgress::now(kind, state, &pdef.name)));
        if let Some(m) = &marker {
            self.save_with(lf, Some(&m.borrow()))?;
        }
        let started = |pgid: u32| {
            if let Some(m) = &marker {
                m.borrow_mut().set_group(pgid);
                if let Err(e) = self.save_with(lf, Some(&m.borrow())) {
                    tracing::warn!("cannot record the process group of a running step: {e}");
                }
            }
        };
        let context = self.context(lf, s, pdef, own, flags, opts);
        let env = Env::new(|| self.env(def, pdef, own, &context, opts));
        let mut exec = self.exec(def, s, &pdef.name, opts);
        exec.started = &started;
        let result = work(&exec, &context, &env);
        if marker.is_some()
            && (result.is_err() || matches!(kind, StepKind::Provide | StepKind::Cross))
        {
            let saved = self.save_with(lf, None);
            if result.is_ok() {
                saved?;
            }
        }
        let result = result.map_err(|source| match source.masked(&self.secrets) {
            ActionError::Template { what, message } => ActionError::Template {
                message: match lost_secret(def, &message) {
                    Some(hint) => format!("{message}: {hint}"),
                    None => message,
                },
                what,
            },
            other => other,
        });
        result.map_err(|source| match source {
            ActionError::Interrupted { .. } => Error::Interrupted {
                lifecycle: def.name.clone(),
                step: kind.describe(state, &pdef.name),
                started: true,
            },
            source => match kind {
                StepKind::Enter => Error::Enter {
                    lifecycle: def.name.clone(),
                    state: state.clone(),
                    source,
                },
                StepKind::Leave => Error::Leave {
                    lifecycle: def.name.clone(),
                    state: state.clone(),
                    source,
                },
                StepKind::Provide => Error::Provide {
                    xpath: format!("{}/{}", self.state_xpath(lf, s), pdef.name),
                    source,
                },
                StepKind::Cross => Error::Cross {
                    lifecycle: def.name.clone(),
                    state: state.clone(),
                    source,
                },
            },
        })
    }

    /// Remembers the secret values among `values` (of `pdef`), to mask them in output.
    fn learn_secrets(&self, pdef: &ProvideDef, values: &ProvideValues) {
        for req in &pdef.requires {
            for set in values.get(&req.name).into_iter().flatten() {
                for var in req.variables.iter().filter(|v| v.secret) {
                    if let Some(v) = set.get(&var.name) {
                        self.secrets.learn(v);
                    }
                }
            }
        }
    }

    pub(super) fn exec<'a>(
        &'a self,
        def: &'a LifecycleDef,
        state: usize,
        provide: &'a str,
        opts: &'a CallOptions,
    ) -> Exec<'a> {
        Exec {
            runner: &*self.runner,
            sink: self.sink(opts),
            location: &self.config.name,
            lifecycle: &def.name,
            state: &def.states[state].name,
            provide,
            deployment: opts.deployment.as_deref(),
            interrupt: self.interrupt_of(opts),
            started: &no_group,
            secrets: &self.secrets,
            base_dir: def
                .source
                .as_deref()
                .and_then(std::path::Path::parent)
                .filter(|d| !d.as_os_str().is_empty()),
        }
    }

    /// Enters and leaves states along `path`; `values[k]` goes to the k-th enter.
    ///
    /// The state is saved after a move whose action reached outside the engine (a command, a
    /// built-in), and when the walk ends, whatever the outcome; not after every move, which
    /// would write the whole stack each time and make a walk along a long chain quadratic. A
    /// crash can only forget moves that changed nothing outside the engine (logging at most),
    /// which a new walk does again.
    pub(super) fn walk_path(
        &self,
        lf: usize,
        path: &Path,
        values: &[ProvideValues],
        opts: &CallOptions,
    ) -> Result<(), Error> {
        let mut unsaved = false;
        let result = self.walk_moves(lf, path, values, opts, &mut unsaved);
        if unsaved {
            let saved = self.save(lf);
            if result.is_ok() {
                saved?;
            }
        }
        result
    }

    fn walk_moves(
        &self,
        lf: usize,
        path: &Path,
        values: &[ProvideValues],
        opts: &CallOptions,
        unsaved: &mut bool,
    ) -> Result<(), Error> {
        let def = Arc::clone(&self.instances[lf].def);
        let mut enters = values.iter();
        for step in path {
            let state = &def.states[step.state];
            let reach = match step.action {
                Move::Enter => Reach {
                    idle: state.enter.action.is_empty() && state.builtins.is_empty(),
                    out: state.enter.action.runs_commands() || !state.builtins.is_empty(),
                },
                Move::Leave => Reach {
                    idle: state.leave.is_empty() && state.builtins.is_empty(),
                    out: state.leave.runs_commands() || !state.builtins.is_empty(),
                },
            };
            if reach.out && *unsaved {
                // What the engine did so far is on disk before anything reaches out.
                self.save(lf)?;
                *unsaved = false;
            }
            match step.action {
                Move::Enter => {
                    let own = enters.next().cloned().unwrap_or_default();
                    self.event(
                        opts,
                        &def.name,
                        &state.name,
                        format!("entering state {}", state.name),
                    );
                    self.perform(
                        lf,
                        step.state,
                        StepKind::Enter,
                        &state.enter,
                        &own,
                        &state.enter.flags,
                        opts,
                        reach,
                        |exec, ctx, env| {
                            exec.enter_builtins(&state.builtins, ctx)?;
                            exec.run_action(&state.enter.action, ctx, env)
                        },
                    )?;
                    self.instances[lf].write().push(&def, step.state, own);
                    self.event(
                        opts,
                        &def.name,
                        &state.name,
                        format!("state {} entered", state.name),
                    );
                }
                Move::Leave => {
                    self.event(
                        opts,
                        &def.name,
                        &state.name,
                        format!("leaving state {}", state.name),
                    );
                    let leave = ProvideDef::new("leave");
                    self.perform(
                        lf,
                        step.state,
                        StepKind::Leave,
                        &leave,
                        &ProvideValues::new(),
                        &IndexMap::new(),
                        opts,
                        reach,
                        |exec, ctx, env| {
                            exec.run_action(&state.leave, ctx, env)?;
                            exec.leave_builtins(&state.builtins)?;
                            Ok(None)
                        },
                    )?;
                    self.instances[lf].write().leave(&def, step.state);
                }
            }
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            *unsaved = true;
            if reach.out {
                // The step is done: its trace in the file goes, the state it reached is kept.
                self.save(lf)?;
                *unsaved = false;
            }
        }
        Ok(())
    }

    pub(super) fn save(&self, lf: usize) -> Result<(), Error> {
        let blocked = self.instances[lf].read().blocked.clone();
        self.save_with(lf, blocked.as_ref())
    }

    /// Saves lifecycle `lf` with `in_progress` as its running step.
    fn save_with(&self, lf: usize, in_progress: Option<&InProgress>) -> Result<(), Error> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let inst = &self.instances[lf];
        let state = inst.to_file(in_progress);
        store.save(&state).map_err(|source| Error::Persist {
            lifecycle: inst.def.name.clone(),
            path: store.path(&inst.def.name).unwrap_or_default(),
            source,
        })
    }

    /// Routes `values` to the variables of the `involved` provides (state, provide index).
    pub(super) fn fill(
        &self,
        lf: usize,
        involved: &[(usize, usize)],
        values: &Values,
    ) -> Result<Vec<Filled>, Error> {
        let def = &self.instances[lf].def;
        let loc = self.config.name.as_str();
        let mut filled: Vec<Filled> = involved
            .iter()
            .map(|&(s, p)| Filled::new(provide_def(def, s, p)))
            .collect();
        for entry in &values.0 {
            let addr = Address::parse(&entry.xpath)?;
            let mut hit = false;
            for (k, &(s, p)) in involved.iter().enumerate() {
                let st = &def.states[s];
                let pdef = provide_def(def, s, p);
                for (ri, req) in pdef.requires.iter().enumerate() {
                    for (vi, var) in req.variables.iter().enumerate() {
                        if !addr
                            .matches(&[loc, &def.name, &st.name, &pdef.name, &req.name, &var.name])
                        {
                            continue;
                        }
                        hit = true;
                        for (&index, value) in &entry.values {
                            if !filled[k].requires[ri].put(req, vi, index, value.clone()) {
                                return Err(Error::ValueIndex {
                                    xpath: entry.xpath.clone(),
                                    index,
                                    require: format!(
                                        "{}/{}/{}",
                                        self.state_xpath(lf, s),
                                        pdef.name,
                                        req.name
                                    ),
                                    nargs: req.nargs,
                                });
                            }
                        }
                    }
                }
            }
            if !hit {
                let mut anywhere = false;
                self.walk(&addr, |path, res| {
                    anywhere |= res.kind() == Kind::Variable && addr.matches(path)
                });
                if !anywhere {
                    return Err(Error::UnknownValue {
                        xpath: entry.xpath.clone(),
                    });
                }
            }
        }
        Ok(filled)
    }

    pub(super) fn check(
        &self,
        lf: usize,
        involved: &[(usize, usize)],
        values: &Values,
        opts: &CallOptions,
    ) -> Result<Vec<Checked>, Error> {
        let filled = self.fill(lf, involved, values)?;
        let def = &self.instances[lf].def;
        let checked: Vec<Checked> = involved
            .iter()
            .zip(&filled)
            .map(|(&(s, p), f)| {
                let pdef = provide_def(def, s, p);
                check_provide(
                    &format!("{}/{}", self.state_xpath(lf, s), pdef.name),
                    pdef,
                    f,
                    self.config.simulation,
                )
            })
            .collect();
        for (&(s, p), c) in involved.iter().zip(&checked) {
            self.learn_secrets(provide_def(def, s, p), &c.values);
        }
        let validate = self.config.validate_on_call && !opts.skip_validation;
        let errors: Vec<VariableError> = checked
            .iter()
            .flat_map(|c| c.errors.iter().cloned())
            .collect();
        if validate && !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(checked)
    }

    /// The template context of an action (see `docs/lifecycle-format.md`).
    pub(super) fn context(
        &self,
        lf: usize,
        state: usize,
        pdef: &ProvideDef,
        own: &ProvideValues,
        flags: &IndexMap<String, Value>,
        opts: &CallOptions,
    ) -> Context {
        let inst = &self.instances[lf];
        let def = &inst.def;
        let states = Arc::clone(&inst.read().context);
        let mut ctx = std::collections::BTreeMap::new();
        for req in &pdef.requires {
            ctx.insert(
                req.name.clone(),
                require_value(req, own.get(&req.name).map(Vec::as_slice).unwrap_or(&[])),
            );
        }
        let mut location = std::collections::BTreeMap::new();
        location.insert("name".into(), Value::from(self.config.name.as_str()));
        location.insert(
            "public_ip".into(),
            Value::from(self.config.public_ip.as_str()),
        );
        location.insert("os_type".into(), Value::from(self.config.os.name.as_str()));
        location.insert(
            "os_release".into(),
            self.config
                .os
                .release
                .clone()
                .map_or(Value::Null, Value::Str),
        );
        ctx.insert("location".into(), Value::Map(location));
        let (caller_name, caller_address) = self.caller(opts);
        ctx.insert(
            "caller".into(),
            Value::Map(
                [
                    ("name".to_owned(), Value::from(caller_name)),
                    ("address".to_owned(), Value::from(caller_address)),
                ]
                .into_iter()
                .collect(),
            ),
        );
        ctx.insert("lifecycle".into(), Value::from(def.name.as_str()));
        ctx.insert("state".into(), Value::from(def.states[state].name.as_str()));
        ctx.insert("provide".into(), Value::from(pdef.name.as_str()));
        ctx.insert(
            "flags".into(),
            Value::Map(flags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        );
        ctx.insert(
            "deployment".into(),
            opts.deployment.clone().map_or(Value::Null, Value::Str),
        );
        Context::new(ctx, states)
    }

    /// The name and address of the location a call is made for: the one its options say,
    /// else this one.
    fn caller<'a>(&'a self, opts: &'a CallOptions) -> (&'a str, &'a str) {
        match &opts.caller {
            Some(c) => (&c.name, &c.address),
            None => (&self.config.name, &self.config.public_ip),
        }
    }

    /// The environment of `run` steps.
    pub(super) fn env(
        &self,
        def: &LifecycleDef,
        pdef: &ProvideDef,
        own: &ProvideValues,
        context: &Context,
        opts: &CallOptions,
    ) -> Vec<(String, String)> {
        let mut env = vec![
            ("ARMONIC_LOCATION".to_owned(), self.config.name.clone()),
            (
                "ARMONIC_PUBLIC_IP".to_owned(),
                self.config.public_ip.clone(),
            ),
            ("ARMONIC_LIFECYCLE".to_owned(), def.name.clone()),
            ("ARMONIC_PROVIDE".to_owned(), pdef.name.clone()),
            (
                "ARMONIC_CALLER_NAME".to_owned(),
                self.caller(opts).0.to_owned(),
            ),
            (
                "ARMONIC_CALLER_ADDRESS".to_owned(),
                self.caller(opts).1.to_owned(),
            ),
            (
                "ARMONIC_CONTEXT".to_owned(),
                serde_json::to_string(context).unwrap_or_else(|_| "null".into()),
            ),
        ];
        if let Some(s) = context.get("state") {
            env.push(("ARMONIC_STATE".into(), s.to_plain_string()));
        }
        if let Some(f) = context.get("flags") {
            env.push(("ARMONIC_FLAGS".into(), f.to_string()));
        }
        if let Some(d) = &opts.deployment {
            env.push(("ARMONIC_DEPLOYMENT".into(), d.clone()));
        }
        for req in &pdef.requires {
            let sets = own.get(&req.name).map(Vec::as_slice).unwrap_or(&[]);
            if req.nargs.is_single() {
                if let Some(set) = sets.first() {
                    for (k, v) in set {
                        if !v.is_null() {
                            env.push((format!("{}_{k}", req.name), v.to_plain_string()));
                        }
                    }
                }
            } else {
                env.push((format!("{}_count", req.name), sets.len().to_string()));
                for (i, set) in sets.iter().enumerate() {
                    for (k, v) in set {
                        if !v.is_null() {
                            env.push((format!("{}_{k}_{i}", req.name), v.to_plain_string()));
                        }
                    }
                }
            }
        }
        env
    }
}

/// What a step's action does: nothing at all (`idle`: not even a context is built), or
/// something reaching outside the engine (`out`: commands, built-ins), which is recorded as
/// in progress while it runs.
#[derive(Debug, Clone, Copy)]
struct Reach {
    idle: bool,
    out: bool,
}

/// Where the process groups of commands run outside any recorded step are told.
fn no_group(_: u32) {}

pub(super) fn require_value(req: &RequireDef, sets: &[IndexMap<String, Value>]) -> Value {
    let map = |set: &IndexMap<String, Value>| {
        Value::Map(set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    if req.nargs.is_single() {
        sets.first()
            .map_or_else(|| Value::Map(Default::default()), map)
    } else {
        Value::List(sets.iter().map(map).collect())
    }
}

/// Checks every value of every set of `pdef`'s requires. Invalid values are kept raw.
///
/// With `returned_optional` (simulation), a missing value that a dependency returns is not an
/// error: simulated dependencies return nothing.
pub(super) fn check_provide(
    xpath: &str,
    pdef: &ProvideDef,
    filled: &Filled,
    returned_optional: bool,
) -> Checked {
    let mut values = ProvideValues::new();
    let mut sets_view = Vec::with_capacity(pdef.requires.len());
    let mut errors = Vec::new();
    for (req, rs) in pdef.requires.iter().zip(&filled.requires) {
        let mut req_values = Vec::with_capacity(rs.sets.len());
        let mut req_view = Vec::with_capacity(rs.sets.len());
        for (index, set) in rs.sets.iter().enumerate() {
            let mut set_values = IndexMap::new();
            let mut set_view = Vec::with_capacity(set.len());
            let returns_from = req.kind.dependency().map_or(usize::MAX, |d| d.args);
            for (vi, (var, raw)) in req.variables.iter().zip(set).enumerate() {
                let forgiven = returned_optional && vi >= returns_from && raw.is_null();
                let result = if forgiven {
                    Ok(Value::Null)
                } else {
                    var.check(raw)
                };
                match result {
                    Ok(v) => {
                        set_values.insert(var.name.clone(), v.clone());
                        set_view.push((v, None));
                    }
                    Err(message) => {
                        errors.push(VariableError {
                            xpath: format!("{xpath}/{}/{}", req.name, var.name),
                            index,
                            message: message.clone(),
                        });
                        set_values.insert(var.name.clone(), raw.clone());
                        set_view.push((raw.clone(), Some(message)));
                    }
                }
            }
            req_values.push(set_values);
            req_view.push(set_view);
        }
        values.insert(req.name.clone(), req_values);
        sets_view.push(req_view);
    }
    if let Some(e) = environment_overflow(xpath, pdef, &values) {
        errors.push(e);
    }
    Checked {
        values,
        sets: sets_view,
        errors,
    }
}

/// The most the values of one call may take of its commands' environment together (Linux
/// allows about 2 MiB for the arguments and environment of a command, with each string at
/// most 128 KiB; each value is at most 64 KiB).
pub const MAX_ENVIRONMENT_VALUES: usize = 1024 * 1024;

/// A call whose values could not all reach the environment of its commands is refused
/// before anything runs, on its largest variable.
fn environment_overflow(
    xpath: &str,
    pdef: &ProvideDef,
    values: &ProvideValues,
) -> Option<VariableError> {
    let mut total = 0;
    let mut largest: Option<(usize, &str, &str, usize)> = None;
    for req in &pdef.requires {
        for (index, set) in values.get(&req.name).into_iter().flatten().enumerate() {
            for (name, value) in set {
                // `REQUIRE_NAME_I=value` and its pointer.
                let size = req.name.len() + name.len() + value.plain_size() + 16;
                total += size;
                if largest.is_none_or(|(s, ..)| size > s) {
                    largest = Some((size, &req.name, name, index));
                }
            }
        }
    }
    let (_, req, name, index) = largest.filter(|_| total > MAX_ENVIRONMENT_VALUES)?;
    Some(VariableError {
        xpath: format!("{xpath}/{req}/{name}"),
        index,
        message: format!(
            "{name}: the values of this call are too large together to reach its commands' \
             environment ({total} bytes, at most {MAX_ENVIRONMENT_VALUES}); {name} is the largest"
        ),
    })
}

/// What to add to a template error that read a secret of an entered state (`states.S.R.V`
/// undefined): secrets are never saved, so after a restart they are not known.
fn lost_secret(def: &LifecycleDef, message: &str) -> Option<String> {
    let start = message.find("`states.")? + 1;
    let name = &message[start..start + message[start..].find('`')?];
    let mut parts = name.split('.').skip(1);
    let (state, req, var) = (parts.next()?, parts.next()?, parts.next()?);
    let s = def.state_index(state)?;
    let secret = def.states[s].enter.require(req)?.variable(var)?.secret;
    secret.then(|| {
        format!(
            "{req}/{var} is a secret, which is never saved: it is not known since the agent \
             restarted (enter {state} again to give it)"
        )
    })
}
