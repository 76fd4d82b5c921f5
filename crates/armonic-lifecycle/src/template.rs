//! Templates in lifecycle files (log messages, returned values, files): minijinja with strict
//! undefined values, so a misspelt variable is an error rather than an empty string, and a
//! budget ([`FUEL`]) that bounds the time and memory of one rendering.

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

/// Renders `source` with `context` (a map).
pub fn render(source: &str, context: &Value) -> Result<String, String> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
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
        assert!(check_syntax("{{ oops").is_err());
    }
}
