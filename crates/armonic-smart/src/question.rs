//! Questions the engine asks a frontend, and what it tells it as the deployment goes.

use armonic_lifecycle::{LogRecord, Value};
use serde::Serialize;
use thiserror::Error;

/// A choice offered by a specialize question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// Relative address of the provide.
    pub xpath: String,
    /// Its label, if it has one.
    pub label: Option<String>,
}

/// The require a location question is for: which provide needs it, and which of its
/// instances this one is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirer {
    /// Relative address of the requiring provide (`WebSite/Active/start`).
    pub provide: String,
    /// Name of the require (`webserver`).
    pub require: String,
    /// Index of this instance, from 0.
    pub instance: usize,
    /// How many instances the require has.
    pub instances: usize,
}

/// A variable whose value is asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableQuestion {
    /// Relative address (`WebServer/Configured/enter/conf/port`).
    pub xpath: String,
    /// Value set index.
    pub index: usize,
    /// How many value sets its require has (several: the index says which one is asked).
    pub sets: usize,
    /// Name.
    pub name: String,
    /// Label to show (the name when it has none).
    pub label: String,
    /// Help text.
    pub help: Option<String>,
    /// Type name.
    pub ty: String,
    /// Whether a value is needed.
    pub required: bool,
    /// Accepted values, if restricted.
    pub choices: Vec<Value>,
    /// The proposed value: a value linked from elsewhere in the deployment, or the default.
    pub suggestion: Option<Value>,
    /// Why the previous answer was refused.
    pub error: Option<String>,
    /// Whether the value is a secret: what is typed is not shown, nor is the suggestion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// What the engine needs to know. `depth` is the node's depth in the tree (for indentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "question", rename_all = "snake_case")]
pub enum Question {
    /// Should this provide be configured and called? (answer: [`Answer::Yes`] / [`Answer::No`])
    Manage {
        /// Node id (`node_0_1`).
        node: String,
        /// Depth in the tree.
        depth: usize,
        /// The generic address asked for.
        xpath: String,
    },
    /// On which location? (answer: [`Answer::Location`])
    Location {
        /// Node id.
        node: String,
        /// Depth in the tree.
        depth: usize,
        /// The generic address.
        xpath: String,
        /// The require this location is for (none for the root).
        required_by: Option<Requirer>,
        /// Known locations.
        choices: Vec<String>,
        /// The proposed one.
        suggestion: Option<String>,
        /// Why the previous answer was refused.
        error: Option<String>,
    },
    /// Several provides match: which one? (answer: [`Answer::Choice`])
    Specialize {
        /// Node id.
        node: String,
        /// Depth in the tree.
        depth: usize,
        /// The generic address.
        xpath: String,
        /// The location where they match.
        location: String,
        /// The matching provides.
        choices: Vec<Choice>,
    },
    /// How many instances of a require? (answer: [`Answer::Count`], or [`Answer::Locations`]
    /// for external requires: one location per instance)
    Multiplicity {
        /// Node id.
        node: String,
        /// Depth in the tree.
        depth: usize,
        /// Relative address of the require.
        require: String,
        /// The provide each instance calls (empty for simple requires).
        provide_xpath: String,
        /// Whether each instance goes on a location to choose.
        external: bool,
        /// Fewest and most instances.
        min: u32,
        /// Most instances.
        max: u32,
        /// Proposed number.
        suggestion: usize,
        /// Known locations (external requires).
        choices: Vec<String>,
        /// Proposed locations (external requires) for instances 0, 1, …: the first
        /// `suggestion` of them are the proposed answer.
        suggested_locations: Vec<String>,
        /// Why the previous answer was refused.
        error: Option<String>,
    },
    /// A value (answer: [`Answer::Value`]).
    Value {
        /// Node id.
        node: String,
        /// Depth in the tree.
        depth: usize,
        /// The variable.
        variable: VariableQuestion,
    },
    /// Call this provide when the deployment runs? (answer: [`Answer::Yes`] / [`Answer::No`])
    Call {
        /// Node id.
        node: String,
        /// Depth in the tree.
        depth: usize,
        /// The generic address.
        xpath: String,
    },
}

impl Question {
    /// The suggested answer, when there is one (what `--autofill` takes).
    pub fn suggested(&self) -> Option<Answer> {
        match self {
            Question::Manage { .. } | Question::Call { .. } => Some(Answer::Yes),
            Question::Location { suggestion, .. } => suggestion.clone().map(Answer::Location),
            // Several matches are a choice only the user can make: none is proposed.
            Question::Specialize { choices, .. } => match choices.as_slice() {
                [only] => Some(Answer::Choice(only.xpath.clone())),
                _ => None,
            },
            Question::Multiplicity {
                external,
                suggestion,
                suggested_locations,
                ..
            } => Some(if *external {
                Answer::Locations(
                    suggested_locations
                        .iter()
                        .take(*suggestion)
                        .cloned()
                        .collect(),
                )
            } else {
                Answer::Count(*suggestion)
            }),
            Question::Value { variable, .. } => match (&variable.suggestion, variable.required) {
                (Some(v), _) => Some(Answer::Value(v.clone())),
                (None, false) => Some(Answer::Value(Value::Null)),
                (None, true) => None,
            },
        }
    }

    /// What an unattended run answers: the suggestion, or why there is none (an ambiguous
    /// address lists what it matches).
    pub fn unattended(&self) -> Result<Answer, Abort> {
        if let Some(e) = self.error() {
            return Err(Abort(format!("no acceptable answer: {e}")));
        }
        if let Some(answer) = self.suggested() {
            return Ok(answer);
        }
        Err(Abort(match self {
            Question::Specialize {
                xpath,
                location,
                choices,
                ..
            } => {
                let listed: Vec<&str> = choices.iter().map(|c| c.xpath.as_str()).collect();
                let example = choices
                    .first()
                    .map(|c| {
                        format!(
                            "; give a more precise address, such as {}",
                            precise(c, choices)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "{xpath} matches {} provides on location {location}: {}{example}",
                    choices.len(),
                    listed.join(", ")
                )
            }
            _ => format!("nothing to answer unattended: {}", describe(self)),
        }))
    }

    /// Why the previous answer to this question was refused, if it was.
    pub fn error(&self) -> Option<&str> {
        match self {
            Question::Location { error, .. } | Question::Multiplicity { error, .. } => {
                error.as_deref()
            }
            Question::Value { variable, .. } => variable.error.as_deref(),
            _ => None,
        }
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Answer {
    /// Yes (manage, call).
    Yes,
    /// No (manage, call).
    No,
    /// A location name.
    Location(String),
    /// A provide's relative address (specialize).
    Choice(String),
    /// A number of instances.
    Count(usize),
    /// One location per instance.
    Locations(Vec<String>),
    /// A value.
    Value(Value),
}

/// In words, for messages about an answer that does not fit its question.
impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Yes => f.write_str("yes"),
            Answer::No => f.write_str("no"),
            Answer::Location(l) => write!(f, "the location {l}"),
            Answer::Choice(x) => write!(f, "the provide {x}"),
            Answer::Count(n) => write!(f, "the number {n}"),
            Answer::Locations(ls) => write!(f, "the locations {}", ls.join(", ")),
            Answer::Value(v) => write!(f, "the value {v}"),
        }
    }
}

/// The frontend gave up; the deployment stops before running anything.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct Abort(pub String);

/// Something that happened, for the frontend to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A problem the user may fix by answering again (no provide found on a location…).
    Notice(String),
    /// A step starts.
    StepStarted {
        /// Node id.
        node: String,
        /// Location.
        location: String,
        /// Provide address (relative).
        xpath: String,
    },
    /// A log line of a running step.
    Log(LogRecord),
    /// A step finished.
    StepDone {
        /// Node id.
        node: String,
        /// Provide address (relative).
        xpath: String,
        /// What it returned.
        returned: Option<Value>,
    },
    /// Nothing happened for a second while steps run (to show they are alive).
    Tick,
    /// A step failed.
    StepFailed {
        /// Node id.
        node: String,
        /// Provide address (relative).
        xpath: String,
        /// The error.
        error: String,
    },
}

/// A frontend: answers questions and shows events.
pub trait Frontend {
    /// Answers `question`, or gives up.
    fn ask(&mut self, question: &Question) -> Result<Answer, Abort>;
    /// Shows `event`.
    fn notify(&mut self, event: &Event);
}

/// Answers every question with its suggestion and gives up when there is none (or when a
/// suggested answer was refused): fully unattended runs.
#[derive(Debug, Default)]
pub struct Autofill {
    /// Events received, kept for inspection.
    pub events: Vec<Event>,
}

impl Frontend for Autofill {
    fn ask(&mut self, q: &Question) -> Result<Answer, Abort> {
        q.unattended()
    }

    fn notify(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

/// A value typed by a user (on the command line, at a prompt, in a form): JSON when it parses as a number, boolean, list, object
/// or quoted string; `[a, b]` as a list of strings; anything else as a string.
pub fn parse_value(raw: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Null) | Err(_) => {
            let t = raw.trim();
            if t.starts_with('[') && t.ends_with(']') {
                let inner = &t[1..t.len() - 1];
                if inner.trim().is_empty() {
                    return Value::List(vec![]);
                }
                return Value::List(inner.split(',').map(|s| Value::from(s.trim())).collect());
            }
            Value::from(raw)
        }
        Ok(json) => Value::from_json(json),
    }
}

/// One line describing a question, for messages.
pub fn describe(q: &Question) -> String {
    match q {
        Question::Manage { xpath, .. } => format!("configure and call '{xpath}'?"),
        Question::Location { xpath, .. } => format!("location of '{xpath}'"),
        Question::Specialize { xpath, .. } => format!("which provide for '{xpath}'"),
        Question::Multiplicity { require, .. } => format!("how many instances of {require}"),
        Question::Value { variable, .. } => {
            format!("value of {} ({})", variable.label, variable.xpath)
        }
        Question::Call { xpath, .. } => format!("call '{xpath}'?"),
    }
}

/// The shortest address that designates `choice` alone among `choices`: `//Lifecycle//name`
/// when no other choice shares them, the full relative address otherwise.
fn precise(choice: &Choice, choices: &[Choice]) -> String {
    fn ends(c: &Choice) -> (Option<&str>, Option<&str>) {
        let mut parts = c.xpath.split('/');
        (parts.next(), parts.next_back())
    }
    let short = ends(choice);
    if choices.iter().filter(|c| ends(c) == short).count() == 1 {
        if let (Some(lifecycle), Some(name)) = short {
            return format!("//{lifecycle}//{name}");
        }
    }
    format!("//{}", choice.xpath)
}
