//! Templates in lifecycle files (log messages, returned values, files): minijinja with strict
//! undefined values, so a misspelt variable is an error rather than an empty string, and a
//! budget ([`FUEL`]) that bounds the time and memory of one rendering.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::value::Value;

/// The work one rendering may do, in minijinja fuel: about one unit per instruction and one
/// per 64 bytes of data created. A configuration file of 50 sites with 10 backends each
/// (52 KB of output) uses about 10 000; the budget leaves a hundred times that, stops a
/// runaway loop within a fraction of a second, and bounds what a rendering allocates to
/// about 64 MB.
pub const FUEL: u64 = 1_000_000;

/// What templates of an action see (see `docs/lifecycle-format.md`): the entries of the
/// action itself, and `states`, the values every entered state was entered with.
///
/// `states` is shared with the lifecycle's instance rather than copied, and a template reads
/// only the states it names: copying or converting every entered state for every action would
/// make a walk along a long chain quadratic.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// Every entry but `states`.
    own: BTreeMap<String, Value>,
    states: Arc<BTreeMap<String, Value>>,
}

impl Context {
    /// The context made of `own` entries (`states` excepted) and the entered `states`.
    pub fn new(own: BTreeMap<String, Value>, states: Arc<BTreeMap<String, Value>>) -> Context {
        Context { own, states }
    }

    /// The entry `key`, other than `states`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.own.get(key)
    }

    fn to_jinja(&self) -> minijinja::Value {
        let mut map: BTreeMap<String, minijinja::Value> = self
            .own
            .iter()
            .map(|(k, v)| (k.clone(), jinja(v)))
            .collect();
        map.insert(
            "states".into(),
            minijinja::Value::from_object(States(Arc::clone(&self.states))),
        );
        minijinja::Value::from(map)
    }
}

/// The whole context as one map, keys in order, as if `states` were one of the entries.
impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.own.len() + 1))?;
        let mut states = Some(&*self.states);
        for (k, v) in &self.own {
            if k.as_str() > "states" {
                if let Some(s) = states.take() {
                    map.serialize_entry("states", s)?;
                }
            }
            map.serialize_entry(k, v)?;
        }
        if let Some(s) = states {
            map.serialize_entry("states", s)?;
        }
        map.end()
    }
}

fn jinja(value: &Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// `states` as templates see it: a map whose entries are converted when a template reads them.
#[derive(Debug)]
struct States(Arc<BTreeMap<String, Value>>);

impl Object for States {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.0.get(key.as_str()?).map(jinja)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_enumerator(|this| {
            Box::new(this.0.keys().map(|k| minijinja::Value::from(k.as_str())))
        })
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env
    })
}

/// What a template may name: the shape of its context as far as it is known when a file
/// loads. `Keys` lists every name a map will have; `Open` is not looked into (a list of
/// value sets, a variable's value, the flags a `cross` action receives).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// A value whose inside is not checked.
    Open,
    /// A map with exactly these keys, shared: the shape of `states` is part of every
    /// action's context, and copying it for each would make loading a long chain quadratic.
    Keys(Arc<BTreeMap<String, Shape>>),
}

/// Checks `source` as far as it can be before rendering: its syntax, that every name it reads
/// can exist in `context` (or is a global such as `range`), and that its filters and tests
/// exist. Branches and loops are checked whether or not they would run.
///
/// Not checked: names reached through `[...]`, methods (`x.upper()`), what lies inside an
/// `Open` value, tests named in filter arguments (`select("odd")`) and anything that depends
/// on values (types, `none`, list lengths); those fail when the template renders.
pub(crate) fn check(source: &str, context: &Shape) -> Result<(), String> {
    if !is_template(source) {
        return Ok(());
    }
    let env = env();
    let tmpl = env.template_from_str(source).map_err(|e| describe(&e))?;
    let mut names: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
    names.sort();
    let mut problems: Vec<String> = names
        .iter()
        .filter_map(|name| unknown_name(name, context))
        .collect();
    let mut state = env.empty_state();
    let compiled = minijinja::machinery::get_compiled_template(&tmpl);
    let blocks = std::iter::once(&compiled.instructions).chain(compiled.blocks.values());
    for instructions in blocks {
        use minijinja::machinery::Instruction;
        for instruction in (0..).map_while(|i| instructions.get(i)) {
            // Probing with no argument tells an unknown name from a known one that wants
            // arguments: only the unknown one fails with this kind.
            let problem = match instruction {
                Instruction::ApplyFilter(name, ..) => state
                    .apply_filter(name, &[])
                    .is_err_and(|e| e.kind() == ErrorKind::UnknownFilter)
                    .then(|| format!("unknown filter '{name}'")),
                Instruction::PerformTest(name, ..) => state
                    .perform_test(name, &[])
                    .is_err_and(|e| e.kind() == ErrorKind::UnknownTest)
                    .then(|| format!("unknown test '{name}'")),
                _ => None,
            };
            if let Some(p) = problem.filter(|p| !problems.contains(p)) {
                problems.push(p);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Why `name` (`conf.port`, from `undeclared_variables`) cannot exist, if it cannot.
fn unknown_name(name: &str, context: &Shape) -> Option<String> {
    let mut parts = name.split('.');
    let top = parts.next().unwrap_or_default();
    let Shape::Keys(keys) = context else {
        return None;
    };
    let mut shape = match keys.get(top) {
        Some(shape) => shape,
        None if env().globals().any(|(global, _)| global == top) => return None,
        None => return Some(explain(top, name, "the context", keys)),
    };
    let mut end = top.len();
    for part in parts {
        let Shape::Keys(keys) = shape else {
            return None;
        };
        let parent = &name[..end];
        end += 1 + part.len();
        match keys.get(part) {
            Some(inner) => shape = inner,
            None => return Some(explain(&name[..end], name, parent, keys)),
        }
    }
    None
}

fn explain(missing: &str, full: &str, parent: &str, keys: &BTreeMap<String, Shape>) -> String {
    let mut msg = format!("unknown name '{missing}'");
    if missing != full {
        msg.push_str(&format!(" (in '{full}')"));
    }
    if keys.is_empty() {
        msg.push_str(&format!(": {parent} has no names"));
    } else {
        let known: Vec<&str> = keys.keys().map(String::as_str).collect();
        msg.push_str(&format!(": {parent} has {}", known.join(", ")));
    }
    msg
}

fn is_template(source: &str) -> bool {
    source.contains("{{") || source.contains("{%") || source.contains("{#")
}

/// Renders `source` with `context`.
pub fn render(source: &str, context: &Context) -> Result<String, String> {
    if !is_template(source) {
        return Ok(source.to_owned());
    }
    let mut out = env()
        .render_str(source, context.to_jinja())
        .map_err(|e| describe(&e))?;
    // minijinja drops the final newline of a template; files need it.
    if source.ends_with('\n') && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// Renders every string inside `value` (returned values): other values are kept as they are.
pub fn render_value(value: &Value, context: &Context) -> Result<Value, String> {
    Ok(match value {
        Value::Str(s) => Value::Str(render(s, context)?),
        Value::List(l) => Value::List(
            l.iter()
                .map(|v| render_value(v, context))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, context)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn describe(e: &minijinja::Error) -> String {
    if e.kind() == ErrorKind::OutOfFuel {
        return format!(
            "rendering went over its budget of {FUEL} steps (a loop too large?) and was stopped"
        );
    }
    let mut msg = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line() {
        msg.push_str(&format!(" (template line {line})"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    /// A context with entries around `states` in key order, and the same as one plain map.
    fn context() -> (Context, Value) {
        let Value::Map(own) = map(&[
            ("conf", map(&[("port", Value::Int(80))])),
            ("lifecycle", Value::from("L")),
            ("state", Value::from("B")),
        ]) else {
            unreachable!()
        };
        let Value::Map(states) = map(&[
            ("A", map(&[])),
            ("B", map(&[("conf", map(&[("port", Value::Int(1))]))])),
        ]) else {
            unreachable!()
        };
        let mut whole = own.clone();
        whole.insert("states".into(), Value::Map(states.clone()));
        (Context::new(own, Arc::new(states)), Value::Map(whole))
    }

    #[test]
    fn renders_values_and_rejects_unknown_names() {
        let (ctx, _) = context();
        assert_eq!(render("port {{ conf.port }}", &ctx).unwrap(), "port 80");
        assert!(render("{{ conf.prot }}", &ctx).is_err());
        assert!(check("{{ oops", &Shape::Open).is_err());
    }

    #[test]
    fn entered_states_render_as_a_plain_map_would() {
        let (ctx, whole) = context();
        let plain = jinja(&whole);
        for source in [
            "{{ states }}",
            "{{ states | length }}",
            "{% for k, v in states | items %}{{ k }}={{ v }};{% endfor %}",
            "{% for k in states %}{{ k }}{% endfor %}",
            "{{ states | list }}",
            "{{ states | dictsort }}",
            "{{ states | first }}",
            "{{ states | string }}",
            "{{ states.B.conf.port }} {{ states['A'] }} {{ states.B }}",
            "{{ states is mapping }} {{ states.Z is defined }} {{ 'A' in states }}",
            "{% if states %}some{% endif %}{% if states.A %}A{% endif %}",
            "{{ states.Z.port }}",
            "{{ state }} {{ lifecycle }}",
        ] {
            let expected = env()
                .render_str(source, plain.clone())
                .map_err(|e| describe(&e));
            assert_eq!(render(source, &ctx), expected, "{source}");
        }
    }

    #[test]
    fn the_whole_context_serializes_as_one_map() {
        let (ctx, whole) = context();
        assert_eq!(serde_json::to_string(&ctx).unwrap(), whole.to_string());
    }
}
