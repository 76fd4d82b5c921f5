//! Arguments as the original clients send them, `{"args": [...], "kwargs": {...}}`, bound to
//! a method's parameters the way Python binds them: positional first, then by name.

use serde_json::{Map, Value as Json};

use super::Fault;

/// One parameter of an original method.
pub(crate) struct Param {
    /// Its name, then the other names the original's methods or clients used for it.
    pub names: &'static [&'static str],
    /// Whether a call must give it.
    pub required: bool,
}

/// A required parameter.
pub(crate) const fn req(names: &'static [&'static str]) -> Param {
    Param {
        names,
        required: true,
    }
}

/// A parameter with a default.
pub(crate) const fn opt(names: &'static [&'static str]) -> Param {
    Param {
        names,
        required: false,
    }
}

/// The arguments of a call, as parsed from `<params>`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Params {
    args: Vec<Json>,
    kwargs: Map<String, Json>,
}

impl Params {
    /// Parses the JSON text of `<params>`; an empty text means no argument.
    pub fn parse(text: &str) -> Result<Params, Fault> {
        if text.trim().is_empty() {
            return Ok(Params::default());
        }
        let json: Json = serde_json::from_str(text)
            .map_err(|e| Fault::new("ValueError", format!("params is not valid JSON: {e}")))?;
        let Json::Object(mut map) = json else {
            return Err(Fault::new(
                "ValueError",
                "params must be a JSON object {\"args\": [...], \"kwargs\": {...}}",
            ));
        };
        let args = match map.remove("args") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a,
            Some(_) => return Err(Fault::new("ValueError", "params' args must be a list")),
        };
        let kwargs = match map.remove("kwargs") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(k)) => k,
            Some(_) => return Err(Fault::new("ValueError", "params' kwargs must be an object")),
        };
        if let Some(other) = map.keys().next() {
            return Err(Fault::new(
                "ValueError",
                format!(
                    "params has an unknown key {} (only args and kwargs)",
                    crate::limits::quote(other)
                ),
            ));
        }
        Ok(Params { args, kwargs })
    }

    /// Params with these positional arguments (tests, examples).
    pub fn positional(args: Vec<Json>) -> Params {
        Params {
            args,
            kwargs: Map::new(),
        }
    }

    /// Binds the arguments to `params` of `method`: one value per parameter, `None` when the
    /// call did not give it.
    pub(crate) fn bind(self, method: &str, params: &[Param]) -> Result<Vec<Option<Json>>, Fault> {
        if self.args.len() > params.len() {
            return Err(Fault::type_error(format!(
                "{method}() takes at most {} arguments ({} given)",
                params.len(),
                self.args.len()
            )));
        }
        let mut bound: Vec<Option<Json>> = vec![None; params.len()];
        for (slot, value) in bound.iter_mut().zip(self.args) {
            *slot = Some(value);
        }
        for (name, value) in self.kwargs {
            let Some(i) = params.iter().position(|p| p.names.contains(&name.as_str())) else {
                return Err(Fault::type_error(format!(
                    "{method}() got an unexpected keyword argument {}",
                    crate::limits::quote(&name)
                )));
            };
            if bound[i].is_some() {
                return Err(Fault::type_error(format!(
                    "{method}() got multiple values for keyword argument '{}'",
                    params[i].names[0]
                )));
            }
            bound[i] = Some(value);
        }
        if let Some(missing) = params
            .iter()
            .zip(&bound)
            .find(|(p, v)| p.required && v.is_none())
        {
            return Err(Fault::type_error(format!(
                "{method}() missing required argument '{}'",
                missing.0.names[0]
            )));
        }
        Ok(bound)
    }
}

/// Python's truth value of a JSON argument.
pub(crate) fn truthy(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        Some(Json::Object(o)) => !o.is_empty(),
    }
}

/// A text argument.
pub(crate) fn text<'a>(method: &str, name: &str, value: &'a Json) -> Result<&'a str, Fault> {
    value.as_str().ok_or_else(|| {
        Fault::type_error(format!(
            "{method}(): argument '{name}' must be a string, not {}",
            json_type(value)
        ))
    })
}

/// A non-negative index (`path_idx`): a number, or a string of digits.
pub(crate) fn index(method: &str, name: &str, value: Option<&Json>) -> Result<usize, Fault> {
    let bad = |v: &Json| {
        Fault::type_error(format!(
            "{method}(): argument '{name}' must be a non-negative integer, not {}",
            crate::limits::quote(&v.to_string())
        ))
    };
    match value {
        None | Some(Json::Null) => Ok(0),
        Some(v @ Json::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad(v)),
        Some(v @ Json::String(s)) => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(v));
            }
            s.parse().map_err(|_| bad(v))
        }
        Some(v) => Err(bad(v)),
    }
}

/// The Python name of a JSON value's type, for messages.
pub(crate) fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "NoneType",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "float",
        Json::Number(_) => "int",
        Json::String(_) => "str",
        Json::Array(_) => "list",
        Json::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SIG: &[Param] = &[
        req(&["provide_xpath_uri", "xpath"]),
        opt(&["requires"]),
        opt(&["path_idx"]),
    ];

    fn params(text: &str) -> Params {
        Params::parse(text).unwrap()
    }

    #[test]
    fn arguments_bind_by_position_then_by_name() {
        let bound = params(r#"{"args": ["//a"], "kwargs": {"path_idx": 1}}"#)
            .bind("provide_call", SIG)
            .unwrap();
        assert_eq!(bound, vec![Some(json!("//a")), None, Some(json!(1))]);
        let by_alias = params(r#"{"kwargs": {"xpath": "//a"}}"#)
            .bind("provide_call", SIG)
            .unwrap();
        assert_eq!(by_alias[0], Some(json!("//a")));
    }

    #[test]
    fn binding_errors_read_like_pythons_type_errors() {
        let missing = params(r#"{"args": [], "kwargs": {}}"#)
            .bind("provide_call", SIG)
            .unwrap_err();
        assert_eq!(missing.code, "TypeError");
        assert_eq!(
            missing.message,
            "provide_call() missing required argument 'provide_xpath_uri'"
        );
        let unknown = params(r#"{"kwargs": {"provide_xpath_uri": "//a", "colour": 1}}"#)
            .bind("provide_call", SIG)
            .unwrap_err();
        assert_eq!(
            unknown.message,
            "provide_call() got an unexpected keyword argument 'colour'"
        );
        let twice = params(r#"{"args": ["//a"], "kwargs": {"provide_xpath_uri": "//b"}}"#)
            .bind("provide_call", SIG)
            .unwrap_err();
        assert!(twice.message.contains("multiple values"), "{twice}");
        let many = params(r#"{"args": [1, 2, 3, 4]}"#)
            .bind("provide_call", SIG)
            .unwrap_err();
        assert!(many.message.contains("at most 3"), "{many}");
    }

    #[test]
    fn malformed_params_are_value_errors_not_crashes() {
        for text in [
            "{",
            "[1, 2]",
            r#"{"args": {}}"#,
            r#"{"kwargs": []}"#,
            r#"{"args": [], "other": 1}"#,
        ] {
            let e = Params::parse(text).unwrap_err();
            assert_eq!(e.code, "ValueError", "{text}: {e}");
        }
        assert_eq!(Params::parse("").unwrap(), Params::default());
        assert_eq!(
            Params::parse(r#"{"args": null, "kwargs": null}"#).unwrap(),
            Params::default()
        );
    }

    #[test]
    fn truth_and_indexes_follow_python() {
        assert!(!truthy(None));
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!(""))));
        assert!(truthy(Some(&json!("yes"))));
        assert!(truthy(Some(&json!(true))));
        assert_eq!(index("m", "path_idx", Some(&json!(2))).unwrap(), 2);
        assert_eq!(index("m", "path_idx", Some(&json!("3"))).unwrap(), 3);
        assert_eq!(index("m", "path_idx", None).unwrap(), 0);
        assert!(index("m", "path_idx", Some(&json!(-1))).is_err());
        assert!(index("m", "path_idx", Some(&json!(1.5))).is_err());
        assert!(index("m", "path_idx", Some(&json!("x"))).is_err());
    }
}
