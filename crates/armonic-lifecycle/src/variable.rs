//! Variables: typed, validated values that requires are made of.
//!
//! [`VariableDef::check`] coerces a submitted value to the variable's type and validates it,
//! returning every problem as the message the original armonic used (see `docs/variables.md`).

use std::net::{Ipv4Addr, Ipv6Addr};

use indexmap::IndexMap;
use regex::Regex;

use crate::value::Value;

/// The type of a variable.
#[derive(Debug, Clone, PartialEq)]
pub enum VarType {
    /// Any string (`str`).
    Str,
    /// An integer (`int`).
    Int,
    /// A floating point number (`float`).
    Float,
    /// A boolean (`bool`).
    Bool,
    /// A list whose elements follow the inner definition (`list`).
    List(Box<VariableDef>),
    /// An IP address or a DNS name (`host`).
    Host,
    /// A DNS name starting with a letter (`hostname`).
    Hostname,
    /// An integer from 0 to 65535 (`port`).
    Port,
    /// A URL `scheme://…` (`url`).
    Url,
    /// A secret string of at least 6 characters (`password`).
    Password,
    /// The address of an armonic location; filled by the deployment engine (`armonic_host`).
    ArmonicHost,
    /// The hosts of every instance of a multiplicity group (`armonic_hosts`).
    ArmonicHosts,
    /// The host of the location being configured (`armonic_this_host`).
    ArmonicThisHost,
    /// True for the first instance of a multiplicity group (`armonic_first_instance`).
    ArmonicFirstInstance,
}

impl VarType {
    /// Parses a type name as written in lifecycle files. `inner` is the element type of lists.
    pub fn from_name(name: &str, inner: Option<VariableDef>) -> Option<VarType> {
        Some(match name {
            "str" | "string" => VarType::Str,
            "int" => VarType::Int,
            "float" => VarType::Float,
            "bool" => VarType::Bool,
            "list" => VarType::List(Box::new(
                inner.unwrap_or_else(|| VariableDef::new("item", VarType::Str)),
            )),
            "host" => VarType::Host,
            "hostname" => VarType::Hostname,
            "port" => VarType::Port,
            "url" => VarType::Url,
            "password" => VarType::Password,
            "armonic_host" => VarType::ArmonicHost,
            "armonic_hosts" => VarType::ArmonicHosts,
            "armonic_this_host" => VarType::ArmonicThisHost,
            "armonic_first_instance" => VarType::ArmonicFirstInstance,
            _ => return None,
        })
    }

    /// The type name shown in listings and on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            VarType::Str => "str",
            VarType::Int => "int",
            VarType::Float => "float",
            VarType::Bool => "bool",
            VarType::List(_) => "list",
            VarType::Host => "host",
            VarType::Hostname => "hostname",
            VarType::Port => "port",
            VarType::Url => "url",
            VarType::Password => "password",
            VarType::ArmonicHost => "armonic_host",
            VarType::ArmonicHosts => "armonic_hosts",
            VarType::ArmonicThisHost => "armonic_this_host",
            VarType::ArmonicFirstInstance => "armonic_first_instance",
        }
    }

    /// True for the types whose value is a host address filled by the deployment engine.
    pub fn is_host(&self) -> bool {
        matches!(
            self,
            VarType::Host | VarType::ArmonicHost | VarType::ArmonicThisHost | VarType::ArmonicHosts
        )
    }

    fn is_textual(&self) -> bool {
        matches!(
            self,
            VarType::Str
                | VarType::Host
                | VarType::Hostname
                | VarType::Url
                | VarType::Password
                | VarType::ArmonicHost
                | VarType::ArmonicThisHost
        )
    }
}

/// A regular expression a string value must match, with the message shown when it does not.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The compiled expression (anchored at the start, like Python's `re.match`).
    pub regex: Regex,
    /// The expression as written.
    pub source: String,
    /// The message of the error; `(current value is …)` is appended.
    pub error: Option<String>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.error == other.error
    }
}

impl Pattern {
    /// Compiles `source`, anchored at the start of the value.
    pub fn new(source: &str, error: Option<String>) -> Result<Pattern, regex::Error> {
        let regex = Regex::new(&format!("^(?:{source})"))?;
        Ok(Pattern {
            regex,
            source: source.to_owned(),
            error,
        })
    }
}

/// Validation rules a file can add to any variable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    /// A pattern for string values.
    pub pattern: Option<Pattern>,
    /// Lowest accepted number (int, float, port).
    pub min: Option<Value>,
    /// Highest accepted number (int, float, port).
    pub max: Option<Value>,
    /// The only accepted values, if not empty.
    pub choices: Vec<Value>,
    /// Shortest accepted string or list (password: 6 unless set).
    pub min_length: Option<usize>,
    /// Longest accepted string or list.
    pub max_length: Option<usize>,
}

/// The definition of a variable: its name, type, default, and how it is validated and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableDef {
    /// The variable's name, unique in its require.
    pub name: String,
    /// Its type.
    pub ty: VarType,
    /// The value used when none is given.
    pub default: Option<Value>,
    /// Whether a value must be given (true unless said otherwise).
    pub required: bool,
    /// The relative address of another variable whose value this one takes in a deployment.
    pub from_xpath: Option<String>,
    /// Short text shown when asking for the value.
    pub label: Option<String>,
    /// Longer help text.
    pub help: Option<String>,
    /// Whether only experts should be asked (deployment frontends hide it when a value exists).
    pub expert: bool,
    /// Other free-form information, passed to frontends untouched.
    pub extra: IndexMap<String, Value>,
    /// Validation rules.
    pub rules: Rules,
    /// A `%s` template applied to string values (the original `modifier`).
    pub modifier: Option<String>,
    /// Whether the value is a secret, never shown, logged or written in clear (always true
    /// for `password` variables).
    pub secret: bool,
}

impl VariableDef {
    /// A required variable with no default and no rules.
    pub fn new(name: impl Into<String>, ty: VarType) -> VariableDef {
        let secret = match &ty {
            VarType::Password => true,
            VarType::List(item) => item.secret,
            _ => false,
        };
        VariableDef {
            name: name.into(),
            ty,
            default: None,
            required: true,
            from_xpath: None,
            label: None,
            help: None,
            expert: false,
            extra: IndexMap::new(),
            rules: Rules::default(),
            modifier: None,
            secret,
        }
    }

    /// Sets the default value.
    pub fn with_default(mut self, default: impl Into<Value>) -> VariableDef {
        self.default = Some(default.into());
        self
    }

    /// Makes the variable optional.
    pub fn optional(mut self) -> VariableDef {
        self.required = false;
        self
    }

    /// Coerces `raw` to the variable's type and validates it.
    ///
    /// `Value::Null` stands for "no value". On success the typed value is returned; on failure
    /// the message says what is wrong, in the original's words where it had some.
    pub fn check(&self, raw: &Value) -> Result<Value, String> {
        let checked = self.check_shown(raw);
        if self.secret {
            // A secret's value is never quoted, even when it is wrong.
            checked.map_err(|m| match m.find(" (current value is ") {
                Some(at) => format!("{} (the value is a secret: not shown)", &m[..at]),
                None => m,
            })
        } else {
            checked
        }
    }

    fn check_shown(&self, raw: &Value) -> Result<Value, String> {
        let name = &self.name;
        // Measured first, so an oversized value costs no coercion or pattern matching.
        check_size(name, raw)?;
        if has_nul(raw) {
            return Err(format!(
                "{name} contains a NUL character, which no command can be given"
            ));
        }
        if raw.is_null() {
            return if self.required {
                Err(format!("{name} is required"))
            } else {
                Ok(Value::Null)
            };
        }
        let value = self.coerce(raw)?;
        let empty = match &value {
            Value::Str(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        };
        if empty {
            return if self.required {
                Err(format!("{name} is required"))
            } else {
                Ok(value)
            };
        }
        self.check_type_rules(&value)?;
        self.check_rules(&value)?;
        match (&value, &self.modifier) {
            (Value::Str(s), Some(m)) => {
                let modified = Value::Str(m.replacen("%s", s, 1));
                check_size(name, &modified)?;
                Ok(modified)
            }
            _ => Ok(value),
        }
    }

    fn coerce(&self, raw: &Value) -> Result<Value, String> {
        let name = &self.name;
        match &self.ty {
            t if t.is_textual() => match raw {
                Value::Str(_) => Ok(raw.clone()),
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                    Ok(Value::Str(raw.to_plain_string()))
                }
                other => Err(format!(
                    "{name} must be a string (instead of {})",
                    other.type_name()
                )),
            },
            VarType::Int | VarType::Port => match raw {
                Value::Int(_) => Ok(raw.clone()),
                // A float is refused even when whole (`1e3`): the submitter meant a number
                // of another type, and silently truncating would hide it.
                Value::Str(s) => s
                    .trim()
                    .parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| format!("{name} must be an int")),
                _ => Err(format!("{name} must be an int")),
            },
            VarType::Float => match raw {
                Value::Float(_) => Ok(raw.clone()),
                Value::Int(i) => Ok(Value::Float(*i as f64)),
                Value::Str(s) => match s.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(Value::Float(f)),
                    _ => Err(format!("{name} must be a float")),
                },
                _ => Err(format!("{name} must be a float")),
            },
            VarType::Bool | VarType::ArmonicFirstInstance => match raw {
                Value::Bool(_) => Ok(raw.clone()),
                Value::Str(s) => match s.as_str() {
                    "True" | "true" | "y" | "Y" | "yes" => Ok(Value::Bool(true)),
                    "False" | "false" | "n" | "N" | "no" => Ok(Value::Bool(false)),
                    _ => Err(format!("{name} value must be a boolean")),
                },
                _ => Err(format!("{name} value must be a boolean")),
            },
            VarType::List(_) | VarType::ArmonicHosts => match raw {
                Value::List(items) => {
                    let inner = self.inner();
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let mut element = inner.clone();
                        element.name = i.to_string();
                        out.push(element.check(item)?);
                    }
                    Ok(Value::List(out))
                }
                other => Err(format!(
                    "{name} must be a list (instead of {})",
                    other.type_name()
                )),
            },
            _ => Ok(raw.clone()),
        }
    }

    /// The definition of list elements (hosts for `armonic_hosts`).
    pub fn inner(&self) -> VariableDef {
        match &self.ty {
            VarType::List(inner) => (**inner).clone(),
            VarType::ArmonicHosts => VariableDef::new("item", VarType::ArmonicHost),
            _ => VariableDef::new("item", VarType::Str),
        }
    }

    fn check_type_rules(&self, value: &Value) -> Result<(), String> {
        let name = &self.name;
        let text = value.as_str().unwrap_or_default();
        match self.ty {
            VarType::Host | VarType::ArmonicHost | VarType::ArmonicThisHost
                if !is_valid_host(text) =>
            {
                Err(format!(
                    "Incorrect host (expected an IP address or a DNS name) (current value is {text})"
                ))
            }
            VarType::Hostname if !is_valid_hostname(text) => Err(format!(
                "Incorrect Hostname (expected a DNS name starting with a letter) (current value is {text})"
            )),
            VarType::Url if !is_valid_url(text) => Err(format!(
                "{name} must be a URL such as http://host:port/ (current value is {text})"
            )),
            VarType::Password => {
                let min = self.rules.min_length.unwrap_or(6);
                if text.chars().count() < min {
                    Err(format!("Password too short. {min} chars minimum."))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn check_rules(&self, value: &Value) -> Result<(), String> {
        let name = &self.name;
        let rules = &self.rules;
        if let (Some(p), Value::Str(s)) = (&rules.pattern, value) {
            if !p.regex.is_match(s) {
                let msg = p
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("{name} must match {}", p.source));
                return Err(format!("{msg} (current value is {s})"));
            }
        }
        let number = match value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        };
        let (min, max) = match self.ty {
            VarType::Port => (
                rules.min.clone().or(Some(Value::Int(0))),
                rules.max.clone().or(Some(Value::Int(65535))),
            ),
            _ => (rules.min.clone(), rules.max.clone()),
        };
        if let Some(n) = number {
            if let Some(min) = min.as_ref().and_then(as_f64) {
                if n < min {
                    return Err(format!("{name} value must be at least {}", bound_text(min)));
                }
            }
            if let Some(max) = max.as_ref().and_then(as_f64) {
                if n > max {
                    return Err(format!("{name} value must be at most {}", bound_text(max)));
                }
            }
        }
        if !rules.choices.is_empty() && !rules.choices.contains(value) {
            let list: Vec<String> = rules.choices.iter().map(Value::to_plain_string).collect();
            return Err(format!(
                "{name} must be one of: {} (current value is {})",
                list.join(", "),
                value.to_plain_string()
            ));
        }
        let length = match value {
            Value::Str(s) => Some(s.chars().count()),
            Value::List(l) => Some(l.len()),
            _ => None,
        };
        if let Some(len) = length {
            if !matches!(self.ty, VarType::Password) {
                if let Some(min) = rules.min_length.filter(|m| len < *m) {
                    return Err(format!("{name} must be at least {min} long"));
                }
            }
            if let Some(max) = rules.max_length.filter(|m| len > *m) {
                return Err(format!("{name} must be at most {max} long"));
            }
        }
        Ok(())
    }
}

/// Largest value a variable accepts, in bytes of its text (strings as they are, other values
/// as JSON; a list as a whole). Values travel in environment variables and messages, where a
/// few hundred kilobytes fail late (E2BIG) and far from the variable that caused it.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Whether a string in `value` holds a NUL character (which no environment variable,
/// argument or path can carry).
fn has_nul(value: &Value) -> bool {
    match value {
        Value::Str(s) => s.contains('\0'),
        Value::List(l) => l.iter().any(has_nul),
        Value::Map(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn check_size(name: &str, value: &Value) -> Result<(), String> {
    let size = value.plain_size();
    if size > MAX_VALUE_BYTES {
        Err(format!(
            "{name} is too large: {size} bytes, at most {MAX_VALUE_BYTES}"
        ))
    } else {
        Ok(())
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn bound_text(b: f64) -> String {
    if b.fract() == 0.0 {
        format!("{}", b as i64)
    } else {
        b.to_string()
    }
}

/// An IPv4 or IPv6 address, or a DNS name (labels of letters, digits and hyphens).
pub fn is_valid_host(s: &str) -> bool {
    let bare = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<Ipv4Addr>().is_ok() || bare.parse::<Ipv6Addr>().is_ok() || is_dns_name(s)
}

/// A DNS name whose first character is a letter (`web1`, `db-2.example.com`).
pub fn is_valid_hostname(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic()) && is_dns_name(s)
}

fn is_dns_name(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = s.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    // A last label made of digits only is a mistyped IPv4 address, not a name.
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|l| !l.chars().all(|c| c.is_ascii_digit()))
}

fn is_valid_url(s: &str) -> bool {
    match s.split_once("://") {
        Some((scheme, rest)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !rest.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(ty: VarType) -> VariableDef {
        VariableDef::new("v", ty)
    }

    #[test]
    fn required_variable_without_value_is_reported() {
        assert_eq!(
            var(VarType::Str).check(&Value::Null),
            Err("v is required".into())
        );
        assert_eq!(
            var(VarType::Str).check(&Value::from("")),
            Err("v is required".into())
        );
    }

    #[test]
    fn optional_variable_may_stay_empty_whatever_its_type() {
        for ty in [
            VarType::Host,
            VarType::Int,
            VarType::Password,
            VarType::Port,
            VarType::Hostname,
        ] {
            assert_eq!(var(ty).optional().check(&Value::Null), Ok(Value::Null));
        }
    }

    #[test]
    fn digits_in_a_string_become_an_int() {
        assert_eq!(
            var(VarType::Int).check(&Value::from("8080")),
            Ok(Value::Int(8080))
        );
        assert_eq!(
            var(VarType::Int).check(&Value::from("foo")),
            Err("v must be an int".into())
        );
    }

    #[test]
    fn a_decimal_string_is_a_valid_float() {
        assert_eq!(
            var(VarType::Float).check(&Value::from("10.5")),
            Ok(Value::Float(10.5))
        );
        assert_eq!(
            var(VarType::Float).check(&Value::from("bar")),
            Err("v must be a float".into())
        );
    }

    #[test]
    fn port_bounds_use_the_original_messages() {
        let port = VariableDef::new("port", VarType::Port);
        assert_eq!(
            port.check(&Value::Int(99999)),
            Err("port value must be at most 65535".into())
        );
        assert_eq!(
            port.check(&Value::Int(-20)),
            Err("port value must be at least 0".into())
        );
    }

    #[test]
    fn hosts_accept_fqdns_hyphens_and_ipv6() {
        for ok in [
            "example.com",
            "my-host",
            "10.0.0.1",
            "::1",
            "[fe80::1]",
            "Web1",
            "localhost",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in ["", "-x", "a b", "999.1.1.1", "x..y", "a_b"] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn hostname_must_start_with_a_letter() {
        let h = VariableDef::new("host", VarType::Hostname);
        assert!(
            h.check(&Value::from("44"))
                .unwrap_err()
                .starts_with("Incorrect Hostname")
        );
        assert_eq!(
            h.check(&Value::from("myhost33")),
            Ok(Value::from("myhost33"))
        );
    }

    #[test]
    fn list_elements_are_checked_and_named_by_index() {
        let mut inner = VariableDef::new("i", VarType::Int);
        inner.rules.max = Some(Value::Int(5));
        let list = VariableDef::new("l", VarType::List(Box::new(inner)));
        assert_eq!(
            list.check(&Value::from(vec![1i64, 2, 3])),
            Ok(Value::from(vec![1i64, 2, 3]))
        );
        assert_eq!(
            list.check(&Value::from(vec![1i64, 22])),
            Err("1 value must be at most 5".into())
        );
        assert_eq!(
            list.check(&Value::from("x")),
            Err("l must be a list (instead of str)".into())
        );
    }

    #[test]
    fn pattern_choices_and_password_rules_apply() {
        let mut v = var(VarType::Str);
        v.rules.pattern = Some(Pattern::new("[a-z]+$", Some("Lower case only".into())).unwrap());
        assert_eq!(
            v.check(&Value::from("ABC")),
            Err("Lower case only (current value is ABC)".into())
        );
        let mut c = var(VarType::Str);
        c.rules.choices = vec![Value::from("a"), Value::from("b")];
        assert_eq!(
            c.check(&Value::from("z")),
            Err("v must be one of: a, b (current value is z)".into())
        );
        assert_eq!(
            var(VarType::Password).check(&Value::from("abc")),
            Err("Password too short. 6 chars minimum.".into())
        );
    }

    #[test]
    fn bool_accepts_the_original_spellings() {
        for (s, b) in [
            ("True", true),
            ("y", true),
            ("Y", true),
            ("False", false),
            ("n", false),
            ("N", false),
        ] {
            assert_eq!(
                var(VarType::Bool).check(&Value::from(s)),
                Ok(Value::Bool(b))
            );
        }
        assert_eq!(
            var(VarType::Bool).check(&Value::Int(34)),
            Err("v value must be a boolean".into())
        );
    }

    #[test]
    fn modifier_formats_strings() {
        let mut v = var(VarType::Str);
        v.modifier = Some("pre-%s".into());
        assert_eq!(v.check(&Value::from("abc")), Ok(Value::from("pre-abc")));
        assert_eq!(
            var(VarType::Str).check(&Value::Int(1)),
            Ok(Value::from("1"))
        );
    }
}
