//! Templates in lifecycle files (log messages, returned values, files): minijinja with strict
//! undefined values, so a misspelt variable is an error rather than an empty string.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr};
use minijinja::{Environment, UndefinedBehavior};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::value::Value;

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
        env
    })
}

/// Checks that `source` is a well-formed template.
pub fn check_syntax(source: &str) -> Result<(), String> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
        return Ok(());
    }
    env()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Renders `source` with `context`.
pub fn render(source: &str, context: &Context) -> Result<String, String> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
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
        assert!(check_syntax("{{ oops").is_err());
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
