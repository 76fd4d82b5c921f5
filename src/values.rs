//! Values given on the command line: `-R REQUIRE VAR:VALUE…` groups, or `--json` in our
//! format or the original's.

use anyhow::Result;
use armonic_lifecycle::{Value, Values};

use crate::cli::ValueArgs;
use crate::report::Usage;

/// Values and, when the original's format carried one, the deployment id they belong to.
#[derive(Debug, Default)]
pub struct Given {
    pub values: Values,
    pub deployment: Option<String>,
}

/// Turns -R groups or --json into values, every address checked (what an agent would
/// refuse is said here, as `--local` says it).
pub fn values(args: &ValueArgs) -> Result<Given> {
    let given = given(args)?;
    for entry in &given.values.0 {
        armonic_lifecycle::Address::parse(&entry.xpath).map_err(|e| Usage(e.to_string()))?;
    }
    Ok(given)
}

fn given(args: &ValueArgs) -> Result<Given> {
    if let Some(json) = &args.json {
        return from_json(json);
    }
    // Occurrences of -R arrive flattened; a word without ':' is a require name and starts a
    // new group (variables always come as VAR:VALUE).
    let mut groups: Vec<Vec<String>> = Vec::new();
    for word in &args.require {
        match groups.last_mut() {
            Some(g) if word.contains(':') => g.push(word.clone()),
            _ => groups.push(vec![word.clone()]),
        }
    }
    let mut out = Values::new();
    let mut seen: Vec<&str> = Vec::new();
    for group in &groups {
        let Some((require, pairs)) = group.split_first() else {
            continue;
        };
        if pairs.is_empty() {
            return Err(Usage(format!(
                "-R {require}: expected VAR:VALUE after the require name"
            ))
            .into());
        }
        let index = seen.iter().filter(|r| *r == require).count();
        seen.push(require);
        for pair in pairs {
            let (var, raw) = pair
                .split_once(':')
                .ok_or_else(|| Usage(format!("-R {require}: expected VAR:VALUE, got '{pair}'")))?;
            let key = if var.starts_with('/') {
                var.to_owned()
            } else {
                format!("//{require}/{var}")
            };
            out = out.set_at(key, index, parse_value(raw));
        }
    }
    Ok(Given {
        values: out,
        deployment: None,
    })
}

const JSON_FORMS: &str = "--json takes {\"address\": value, ...}, [[\"address\", {\"0\": value}], ...] \
     or the original's [[[\"address\", {\"0\": value}], ...], {\"source\": ..., \"uuid\": ...}]";

/// `{"address": value}`, `[["address", {"0": value}], …]`, or the original's
/// `[[["address", {"0": value}], …], {"source": …, "uuid": …}]` (the second element optional).
fn from_json(text: &str) -> Result<Given> {
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Usage(format!("--json is not valid JSON: {e}")))?;
    let usage = |e: serde_json::Error| Usage(format!("{JSON_FORMS}: {e}"));
    match parsed {
        serde_json::Value::Object(map) => Ok(Given {
            values: map
                .into_iter()
                .fold(Values::new(), |v, (k, x)| v.set(k, Value::from_json(x))),
            deployment: None,
        }),
        serde_json::Value::Array(items) => {
            // The original wraps the list of entries: its first element is itself a list of
            // [address, values] pairs (or empty), not an address.
            let wrapped = matches!(
                items.first(),
                Some(serde_json::Value::Array(first))
                    if first.first().is_none_or(serde_json::Value::is_array)
            );
            if !wrapped {
                let values =
                    serde_json::from_value(serde_json::Value::Array(items)).map_err(usage)?;
                return Ok(Given {
                    values,
                    deployment: None,
                });
            }
            if items.len() > 2 {
                return Err(Usage(format!("{JSON_FORMS}: too many elements")).into());
            }
            let mut items = items.into_iter();
            let values = serde_json::from_value(items.next().unwrap_or_default()).map_err(usage)?;
            let deployment = match items.next() {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::Object(info)) => info
                    .get("uuid")
                    .or_else(|| info.get("id"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                Some(_) => {
                    return Err(Usage(format!(
                        "{JSON_FORMS}: the second element must be an object"
                    ))
                    .into());
                }
            };
            Ok(Given { values, deployment })
        }
        _ => Err(Usage(JSON_FORMS.to_owned()).into()),
    }
}

pub use armonic_smart::parse_value;

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Given {
        values(&ValueArgs {
            json: Some(text.into()),
            ..ValueArgs::default()
        })
        .unwrap()
    }

    #[test]
    fn command_line_values_keep_colons_and_types() {
        assert_eq!(parse_value("8080"), Value::Int(8080));
        assert_eq!(parse_value("http://a:80/x"), Value::from("http://a:80/x"));
        assert_eq!(parse_value("[a, b]"), Value::from(vec!["a", "b"]));
        assert_eq!(parse_value("[1, 2]"), Value::from(vec![1i64, 2]));
        assert_eq!(parse_value("null"), Value::from("null"));
    }

    #[test]
    fn repeated_requires_fill_successive_sets() {
        let args = ValueArgs {
            require: ["r", "v:a", "r", "v:b", "u:http://x:1"]
                .map(String::from)
                .to_vec(),
            json: None,
            path_idx: 0,
        };
        let v = values(&args).unwrap().values;
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            r#"[["//r/v",{"0":"a","1":"b"}],["//r/u",{"1":"http://x:1"}]]"#
        );
    }

    #[test]
    fn json_values_are_accepted_in_our_forms_and_the_originals() {
        let ours = json(r#"[["//conf/port", {"0": 8080}]]"#);
        let map = json(r#"{"//conf/port": 8080}"#);
        let original = json(r#"[[["//conf/port", {"0": 8080}]], {"source": null, "uuid": "d1"}]"#);
        let bare = json(r#"[[["//conf/port", 8080]]]"#);
        for given in [&map, &original, &bare] {
            assert_eq!(given.values, ours.values);
        }
        assert_eq!(original.deployment.as_deref(), Some("d1"));
        assert_eq!(json("[[], {}]").values, Values::new());
    }
}
