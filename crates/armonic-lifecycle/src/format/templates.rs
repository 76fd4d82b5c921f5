//! The templates of a lifecycle file, checked against the context each will be rendered with
//! (see `Location::context` in `location/call.rs`, which this mirrors).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use toml::Spanned;

use super::{BuildError, RawLifecycle, RawProvide, RawState, RawStep, at};
use crate::model::{ProvideDef, RequireDef, StateDef, Step};
use crate::template::{self, Shape};
use crate::value::Value;

/// Checks every template of `raw`, whose states were built into `states`; errors point at the
/// step, returned value or file that holds the template.
pub(super) fn check(raw: &RawLifecycle, states: &[StateDef]) -> Result<(), BuildError> {
    let all = states_shape(states);
    let mut done = HashSet::new();
    for state in states {
        // An implementation state `Meta.Impl` is built from `[states.Impl]`, checked once.
        let source = state
            .name
            .split_once('.')
            .map_or(state.name.as_str(), |(_, imp)| imp);
        if done.insert(source) {
            check_state(raw.states[source].get_ref(), state, &all)?;
        }
    }
    Ok(())
}

fn check_state(raw: &RawState, built: &StateDef, all: &Shape) -> Result<(), BuildError> {
    if let Some(enter) = &raw.enter {
        check_provide(enter, &built.enter, all)?;
    }
    // Files are written on enter, with the enter's values.
    let enter = context(all, &built.enter.requires);
    for (rf, f) in raw.files.iter().zip(&built.builtins.files) {
        template::check(&f.path, &enter).map_err(|e| at(rf, format!("path {}: {e}", f.path)))?;
        template::check(&f.template, &enter)
            .map_err(|e| at(rf, format!("template of {}: {e}", f.path)))?;
    }
    let bare = context(all, &[]);
    if let Some(leave) = &raw.leave {
        check_steps(&leave.steps, &built.leave.steps, &bare)?;
    }
    if let Some(cross) = &raw.cross {
        check_steps(&cross.steps, &built.cross.steps, &bare)?;
    }
    for ((_, rp), p) in raw.provides.iter().zip(&built.provides) {
        check_provide(rp, p, all)?;
    }
    Ok(())
}

fn check_provide(
    raw: &Spanned<RawProvide>,
    built: &ProvideDef,
    all: &Shape,
) -> Result<(), BuildError> {
    let ctx = context(all, &built.requires);
    check_steps(&raw.get_ref().steps, &built.action.steps, &ctx)?;
    if let (Some(rr), Some(value)) = (&raw.get_ref().returns, &built.action.returns) {
        check_value(value, &ctx).map_err(|e| at(rr, format!("return template: {e}")))?;
    }
    Ok(())
}

fn check_steps(raw: &[Spanned<RawStep>], built: &[Step], ctx: &Shape) -> Result<(), BuildError> {
    for (rs, step) in raw.iter().zip(built) {
        match step {
            Step::Log { message, .. } => {
                template::check(message, ctx).map_err(|e| at(rs, format!("log template: {e}")))?;
            }
            Step::Run { env, .. } => {
                for (k, v) in env {
                    template::check(v, ctx)
                        .map_err(|e| at(rs, format!("env template {k}: {e}")))?;
                }
            }
        }
    }
    Ok(())
}

fn check_value(v: &Value, ctx: &Shape) -> Result<(), String> {
    match v {
        Value::Str(s) => template::check(s, ctx),
        Value::List(l) => l.iter().try_for_each(|v| check_value(v, ctx)),
        Value::Map(m) => m.values().try_for_each(|v| check_value(v, ctx)),
        _ => Ok(()),
    }
}

/// A require's values: a map of its variables for nargs 1, otherwise a list of such maps.
fn require_shape(req: &RequireDef) -> Shape {
    if req.nargs.is_single() {
        keys(req.variables.iter().map(|v| (v.name.as_str(), Shape::Open)))
    } else {
        Shape::Open
    }
}

/// `states`: every state, with the values its enter was entered with.
fn states_shape(states: &[StateDef]) -> Shape {
    keys(states.iter().map(|s| {
        let requires = s.enter.requires.iter();
        (
            s.name.as_str(),
            keys(requires.map(|r| (r.name.as_str(), require_shape(r)))),
        )
    }))
}

/// The context of an action whose provide has `requires`.
fn context(states: &Shape, requires: &[RequireDef]) -> Shape {
    let location = keys(
        ["name", "public_ip", "os_type", "os_release"]
            .into_iter()
            .map(|k| (k, Shape::Open)),
    );
    let caller = keys(["name", "address"].into_iter().map(|k| (k, Shape::Open)));
    // `flags` stays open: a `cross` action receives the flags of whichever provide ran.
    let fixed = [
        ("states", states.clone()),
        ("location", location),
        ("caller", caller),
        ("lifecycle", Shape::Open),
        ("state", Shape::Open),
        ("provide", Shape::Open),
        ("flags", Shape::Open),
        ("deployment", Shape::Open),
    ];
    keys(
        requires
            .iter()
            .map(|r| (r.name.as_str(), require_shape(r)))
            .chain(fixed),
    )
}

fn keys<'a>(entries: impl IntoIterator<Item = (&'a str, Shape)>) -> Shape {
    Shape::Keys(Arc::new(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
    ))
}
