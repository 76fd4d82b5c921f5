//! What the agent API returns: serializable views of resources, with absolute addresses.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::address::Kind;
use crate::model::{Nargs, ProvideDef, RequireDef, RequireKind};
use crate::os::OsType;
use crate::paths::Move;
use crate::value::Value;
use crate::variable::VariableDef;

/// The agent itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// Location name (defaults to the host name).
    pub name: String,
    /// Detected or configured OS.
    pub os_type: String,
    /// Its release.
    pub os_release: Option<String>,
    /// Armonic version.
    pub version: String,
    /// The address services on this location are reached at.
    pub public_ip: String,
}

/// A lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleInfo {
    /// Name.
    pub name: String,
    /// Absolute address.
    pub xpath: String,
    /// Description.
    pub doc: Option<String>,
}

/// A lifecycle with its states and transitions (`plot --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleDetail {
    /// Name.
    pub name: String,
    /// Absolute address.
    pub xpath: String,
    /// Description.
    pub doc: Option<String>,
    /// Initial state.
    pub initial: String,
    /// Current stack, bottom first.
    pub stack: Vec<String>,
    /// States.
    pub states: Vec<StateInfo>,
    /// Transitions as (source, destination).
    pub transitions: Vec<(String, String)>,
}

/// A state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateInfo {
    /// Name.
    pub name: String,
    /// Absolute address.
    pub xpath: String,
    /// Description.
    pub doc: Option<String>,
    /// Operating systems it may be entered on (empty: all).
    pub supported_os: Vec<OsType>,
    /// Its enter provide.
    pub enter: ProvideInfo,
    /// Its custom provides.
    pub provides: Vec<ProvideInfo>,
    /// Whether leaving it destroys what cannot be made again: an undo asks first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destructive: bool,
}

/// The current state of a lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentState {
    /// Absolute address of the state.
    pub xpath: String,
    /// Its name.
    pub state: String,
    /// The lifecycle.
    pub lifecycle: String,
}

/// One move of a path, by state name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMove {
    /// State name, shared: a listing of paths repeats the same names many times, and copying
    /// each would cost most of the listing.
    pub state: Arc<str>,
    /// Enter or leave.
    pub action: Move,
}

/// The paths to a state (or to the state of a provide).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paths {
    /// Absolute address of the state or provide.
    pub xpath: String,
    /// The paths, in `path_idx` order. Empty: cannot be reached. One empty path: already there.
    pub paths: Vec<Vec<PathMove>>,
}

/// A resource matched by an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// Absolute address.
    pub xpath: String,
    /// Its kind.
    pub kind: Kind,
}

/// A variable, with a value and an error when it comes from a validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableInfo {
    /// Name.
    pub name: String,
    /// Absolute address.
    pub xpath: String,
    /// Type name (`str`, `int`, `port`, `armonic_host`…).
    #[serde(rename = "type")]
    pub ty: String,
    /// Default value.
    pub default: Option<Value>,
    /// Current value (the default unless one was given).
    pub value: Option<Value>,
    /// Whether a value is needed.
    pub required: bool,
    /// Validation error, if any.
    pub error: Option<String>,
    /// Relative address of the variable this one takes its value from in a deployment.
    pub from_xpath: Option<String>,
    /// Label, help, expert and free-form information.
    pub extra: IndexMap<String, Value>,
    /// Accepted values, if restricted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Value>,
    /// Lowest accepted number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    /// Highest accepted number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    /// Pattern of accepted strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Whether the value is a secret: its default and value are then never sent (`None`),
    /// and frontends hide what is typed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

impl VariableInfo {
    pub(crate) fn new(
        def: &VariableDef,
        xpath: String,
        value: Option<Value>,
        error: Option<String>,
    ) -> VariableInfo {
        let mut extra = IndexMap::new();
        if let Some(l) = &def.label {
            extra.insert("label".to_owned(), Value::from(l.as_str()));
        }
        if let Some(h) = &def.help {
            extra.insert("help".to_owned(), Value::from(h.as_str()));
        }
        if def.expert {
            extra.insert("expert".to_owned(), Value::Bool(true));
        }
        extra.extend(def.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        VariableInfo {
            name: def.name.clone(),
            xpath,
            ty: def.ty.name().to_owned(),
            default: def.default.clone().filter(|_| !def.secret),
            value: value.filter(|v| !v.is_null() && !def.secret),
            required: def.required,
            error,
            from_xpath: def.from_xpath.clone(),
            extra,
            choices: def.rules.choices.clone(),
            min: def.rules.min.clone(),
            max: def.rules.max.clone(),
            pattern: def.rules.pattern.as_ref().map(|p| p.source.clone()),
            secret: def.secret,
        }
    }

    /// The label to show: `label`, or the name.
    pub fn label(&self) -> &str {
        self.extra
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or(&self.name)
    }
}

/// The kind of a require, on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequireType {
    /// Plain values.
    Simple,
    /// A provide to call on the same location first.
    Local,
    /// A provide to call on another location first.
    External,
}

impl RequireType {
    /// `simple`, `local` or `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequireType::Simple => "simple",
            RequireType::Local => "local",
            RequireType::External => "external",
        }
    }
}

impl std::fmt::Display for RequireType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A require.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequireInfo {
    /// Name.
    pub name: String,
    /// Absolute address.
    pub xpath: String,
    /// Simple, local or external.
    #[serde(rename = "type")]
    pub kind: RequireType,
    /// How many value sets: `1`, `N`, `?` or `*`.
    pub nargs: Nargs,
    /// Fewest value sets.
    pub nargs_min: u32,
    /// Most value sets.
    pub nargs_max: u32,
    /// For local and external requires: the provide depended on.
    pub provide_xpath: Option<String>,
    /// Variables passed to the dependency.
    pub provide_args: Vec<VariableInfo>,
    /// Variables the dependency returns.
    pub provide_ret: Vec<VariableInfo>,
    /// The value sets.
    pub variables: Vec<Vec<VariableInfo>>,
    /// The variables of one set.
    pub variables_skel: Vec<VariableInfo>,
    /// Label, help and free-form information.
    pub extra: IndexMap<String, Value>,
}

impl RequireInfo {
    /// The variables of set `index`.
    pub fn set(&self, index: usize) -> Option<&[VariableInfo]> {
        self.variables.get(index).map(Vec::as_slice)
    }

    /// Variable `name` of set `index`.
    pub fn variable(&self, name: &str, index: usize) -> Option<&VariableInfo> {
        self.set(index)?.iter().find(|v| v.name == name)
    }
}

/// The value sets of one require as validated: per set, per variable, the value and its error.
pub(crate) type CheckedSets = Vec<Vec<(Value, Option<String>)>>;

/// A provide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvideInfo {
    /// Name.
    pub name: String,
    /// Absolute address.
    pub xpath: String,
    /// Short description.
    pub label: Option<String>,
    /// Help.
    pub help: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Free-form information.
    pub extra: IndexMap<String, Value>,
    /// Flags passed to cross actions.
    pub flags: IndexMap<String, Value>,
    /// Requires.
    pub requires: Vec<RequireInfo>,
    /// Names of returned values that are secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_returns: Vec<String>,
    /// Whether calling it destroys what cannot be made again: a deployment asks first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destructive: bool,
}

impl ProvideInfo {
    /// The require named `name`.
    pub fn require(&self, name: &str) -> Option<&RequireInfo> {
        self.requires.iter().find(|r| r.name == name)
    }

    /// Builds the view of `def` at `xpath`; `sets(i)` gives the values and errors of require i.
    pub(crate) fn build(
        def: &ProvideDef,
        xpath: String,
        mut sets: impl FnMut(usize) -> Option<CheckedSets>,
    ) -> ProvideInfo {
        let requires = def
            .requires
            .iter()
            .enumerate()
            .map(|(i, r)| require_info(r, format!("{xpath}/{}", r.name), sets(i)))
            .collect();
        ProvideInfo {
            name: def.name.clone(),
            xpath,
            label: def.label.clone(),
            help: def.help.clone(),
            tags: def.tags.clone(),
            extra: def.extra.clone(),
            flags: def.flags.clone(),
            requires,
            secret_returns: def.action.secret_returns.clone(),
            destructive: def.destructive,
        }
    }
}

fn require_info(r: &RequireDef, xpath: String, sets: Option<CheckedSets>) -> RequireInfo {
    let var = |v: &VariableDef, value: Option<Value>, error: Option<String>| {
        VariableInfo::new(v, format!("{xpath}/{}", v.name), value, error)
    };
    let skel: Vec<VariableInfo> = r
        .variables
        .iter()
        .map(|v| var(v, v.default.clone(), None))
        .collect();
    let variables = match sets {
        Some(sets) => sets
            .into_iter()
            .map(|set| {
                r.variables
                    .iter()
                    .zip(set)
                    .map(|(v, (value, err))| var(v, Some(value), err))
                    .collect()
            })
            .collect(),
        None => {
            let n = match r.nargs {
                crate::model::Nargs::Exactly(n) => n as usize,
                _ => 0,
            };
            vec![skel.clone(); if r.variables.is_empty() { 0 } else { n }]
        }
    };
    let (provide_xpath, args) = match &r.kind {
        RequireKind::Simple => (None, 0),
        RequireKind::Local(d) | RequireKind::External(d) => (Some(d.xpath.clone()), d.args),
    };
    let provide_args = if provide_xpath.is_some() {
        skel[..args].to_vec()
    } else {
        Vec::new()
    };
    let provide_ret = if provide_xpath.is_some() {
        skel[args..].to_vec()
    } else {
        Vec::new()
    };
    RequireInfo {
        name: r.name.clone(),
        xpath,
        kind: match r.kind {
            RequireKind::Simple => RequireType::Simple,
            RequireKind::Local(_) => RequireType::Local,
            RequireKind::External(_) => RequireType::External,
        },
        nargs: r.nargs,
        nargs_min: r.nargs.min(),
        nargs_max: r.nargs.max(),
        provide_xpath,
        provide_args,
        provide_ret,
        variables,
        variables_skel: skel,
        extra: r.extra.clone(),
    }
}

/// One validation error: which variable (and value set), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableError {
    /// Absolute address of the variable.
    pub xpath: String,
    /// Value set index.
    pub index: usize,
    /// The message.
    pub message: String,
}

/// The result of `provide_call_validate`: the provides of the call with values and errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Absolute address of the provide validated.
    pub xpath: String,
    /// Whether any variable has an error.
    pub errors: bool,
    /// Enter provides along the path (those with requires), then the provide.
    pub requires: Vec<ProvideInfo>,
}

impl Validation {
    /// The provide named `name` in the result.
    pub fn provide(&self, name: &str) -> Option<&ProvideInfo> {
        self.requires.iter().find(|p| p.name == name)
    }

    /// Every error, with its variable's address.
    pub fn error_list(&self) -> Vec<VariableError> {
        let mut out = Vec::new();
        for p in &self.requires {
            for r in &p.requires {
                for (index, set) in r.variables.iter().enumerate() {
                    for v in set {
                        if let Some(message) = &v.error {
                            out.push(VariableError {
                                xpath: v.xpath.clone(),
                                index,
                                message: message.clone(),
                            });
                        }
                    }
                }
            }
        }
        out
    }
}
