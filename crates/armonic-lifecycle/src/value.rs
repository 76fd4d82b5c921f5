//! Typed values carried by variables, passed to actions and returned by provides.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A value as it travels through the engine and over the wire.
///
/// Values keep their type: an `int` variable holds [`Value::Int`], never a string of digits.
/// Serialized untagged, so JSON `8080` is an int, `"8080"` a string and `[1, 2]` a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A list of values.
    List(Vec<Value>),
    /// A map of values, mostly seen in values returned by provides.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The name of the value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string inside a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Text for an environment variable or a message: strings as they are, the rest as JSON.
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The length in bytes of [`Value::to_plain_string`], counted without building the text.
    pub fn plain_size(&self) -> usize {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        match self {
            Value::Str(s) => s.len(),
            other => {
                let mut count = Count(0);
                // Writing to a counter cannot fail, and every value serializes.
                let _ = serde_json::to_writer(&mut count, other);
                count.0
            }
        }
    }

    /// Converts a JSON value (for example from `--json` on the command line).
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => {
                Value::List(a.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts a TOML value from a lifecycle file. Dates become strings.
    pub fn from_toml(value: &toml::Value) -> Value {
        match value {
            toml::Value::String(s) => Value::Str(s.clone()),
            toml::Value::Integer(i) => Value::Int(*i),
            toml::Value::Float(f) => Value::Float(*f),
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Datetime(d) => Value::Str(d.to_string()),
            toml::Value::Array(a) => Value::List(a.iter().map(Value::from_toml).collect()),
            toml::Value::Table(t) => Value::Map(
                t.iter()
                    .map(|(k, v)| (k.clone(), Value::from_toml(v)))
                    .collect(),
            ),
        }
    }
}

/// JSON rendering: `"text"`, `8080`, `[1, 2]`, `{"url": "…"}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("null"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_stay_ints_through_json() {
        let v: Value = serde_json::from_str("8080").unwrap();
        assert_eq!(v, Value::Int(8080));
        let v: Value = serde_json::from_str("\"8080\"").unwrap();
        assert_eq!(v, Value::Str("8080".into()));
        let v: Value = serde_json::from_str("10.5").unwrap();
        assert_eq!(v, Value::Float(10.5));
    }

    #[test]
    fn plain_size_is_the_length_of_the_plain_text() {
        for v in [
            Value::from("héllo"),
            Value::Int(-12),
            Value::from(vec!["a", "b"]),
            Value::Null,
        ] {
            assert_eq!(v.plain_size(), v.to_plain_string().len(), "{v:?}");
        }
    }

    #[test]
    fn display_is_json() {
        let v = Value::Map([("url".to_owned(), Value::from("http://localhost:80"))].into());
        assert_eq!(v.to_string(), r#"{"url":"http://localhost:80"}"#);
    }
}
