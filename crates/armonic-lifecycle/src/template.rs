//! Templates in lifecycle files (log messages, returned values, files): minijinja with strict
//! undefined values, so a misspelt variable is an error rather than an empty string, and a
//! budget ([`FUEL`]) that bounds the time and memory of one rendering.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::value::Value;

/// The work one rendering may do, in minijinja fuel: about one unit per instruction and one
/// per 64 bytes of data created. A configuration file of 50 sites with 10 backends each
/// (52 KB of output) uses about 10 000; the budget leaves a hundred times that, stops a
/// runaway loop within a fraction of a second, and bounds what a rendering allocates to
/// about 64 MB.
pub const FUEL: u64 = 1_000_000;

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
    /// A map with exactly these keys.
    Keys(BTreeMap<String, Shape>),
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

/// Renders `source` with `context` (a map).
pub fn render(source: &str, context: &Value) -> Result<String, String> {
    if !is_template(source) {
        return Ok(source.to_owned());
    }
    let mut out = env()
        .render_str(
            source,
            minijinja::Value::from(minijinja::value::Serde(context)),
        )
        .map_err(|e| describe(&e))?;
    // minijinja drops the final newline of a template; files need it.
    if source.ends_with('\n') && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// Renders every string inside `value` (returned values): other values are kept as they are.
pub fn render_value(value: &Value, context: &Value) -> Result<Value, String> {
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

    #[test]
    fn renders_values_and_rejects_unknown_names() {
        let ctx = Value::Map(
            [(
                "conf".to_owned(),
                Value::Map([("port".to_owned(), Value::Int(80))].into()),
            )]
            .into(),
        );
        assert_eq!(render("port {{ conf.port }}", &ctx).unwrap(), "port 80");
        assert!(render("{{ conf.prot }}", &ctx).is_err());
        assert!(check("{{ oops", &Shape::Open).is_err());
    }
}
