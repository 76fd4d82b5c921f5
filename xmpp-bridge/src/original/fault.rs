//! Errors as the original agent reported them: an exception class name and a message.

use armonic_proto::ApiError;

/// An error in the original's terms: the `code` of an `<exception>` is the name of the Python
/// exception class the original agent raised for it, the `message` its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Fault {
    /// The exception class name (`XpathNotMatch`, `ValidationError`…).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

impl Fault {
    /// A fault of class `code`.
    pub fn new(code: &str, message: impl Into<String>) -> Fault {
        Fault {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// Arguments that do not fit the method (Python raised `TypeError`).
    pub fn type_error(message: impl Into<String>) -> Fault {
        Fault::new("TypeError", message)
    }

    /// A method the agent does not expose, answered as the original did.
    pub fn not_exposed(method: &str) -> Fault {
        Fault::new(
            "MethodNotExposed",
            format!("Method \"{}\" is not supported", short_name(method)),
        )
    }

    /// The caller may not make this call.
    pub fn unauthorized(message: impl Into<String>) -> Fault {
        Fault::new("Unauthorized", message)
    }

    /// Whether this is the answer to a method that does not exist (status `not found`).
    pub fn is_not_found(&self) -> bool {
        self.code == "MethodNotExposed"
    }
}

/// A name given by a caller, as it is when short, else its beginning and size.
fn short_name(name: &str) -> String {
    let quoted = crate::limits::quote(name);
    if name.chars().nth(crate::limits::QUOTED_CHARS).is_none() {
        name.to_owned()
    } else {
        quoted
    }
}

/// The original's exception class for each kind of error of our API. Kinds the original had
/// no class for get a name of the same style.
pub fn class_of(error: &ApiError) -> &'static str {
    match error {
        ApiError::InvalidAddress { .. } => "XpathInvalidExpression",
        ApiError::NoMatch { .. } => "XpathNotMatch",
        ApiError::MultipleMatch { .. } => "XpathMultipleMatch",
        ApiError::WrongKind { .. } => "XpathHaveNotRessource",
        ApiError::NoPath { .. } => "StateNotApply",
        ApiError::Validation { .. } | ApiError::InvalidRequest { .. } => "ValidationError",
        ApiError::ActionFailed { .. } | ApiError::Interrupted { .. } => "ProvideError",
        ApiError::Unauthorized { .. } => "Unauthorized",
        ApiError::Busy { .. } => "Busy",
        ApiError::Unreachable { .. } => "Unreachable",
        ApiError::Timeout { .. } => "Timeout",
        ApiError::Unknown { .. } => "OutcomeUnknown",
        ApiError::VersionMismatch { .. } => "VersionMismatch",
        ApiError::Protocol { .. } | ApiError::TooLarge { .. } => "ProtocolError",
        ApiError::Agent { .. } => "AgentError",
    }
}

impl From<ApiError> for Fault {
    fn from(error: ApiError) -> Fault {
        let mut message = error.to_string();
        if let ApiError::ActionFailed { output_tail, .. } = &error {
            for line in output_tail {
                message.push('\n');
                message.push_str(line);
            }
        }
        Fault::new(class_of(&error), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_become_the_originals_exception_classes() {
        let cases = [
            (
                ApiError::NoMatch {
                    xpath: "//X".into(),
                },
                "XpathNotMatch",
            ),
            (
                ApiError::MultipleMatch {
                    xpath: "//start".into(),
                    matches: vec!["/a/X/S/start".into(), "/a/Y/S/start".into()],
                },
                "XpathMultipleMatch",
            ),
            (ApiError::Validation { errors: vec![] }, "ValidationError"),
            (
                ApiError::ActionFailed {
                    message: "boom".into(),
                    output_tail: vec![],
                },
                "ProvideError",
            ),
            (
                ApiError::NoPath {
                    message: "no path".into(),
                },
                "StateNotApply",
            ),
            (
                ApiError::InvalidAddress {
                    message: "bad".into(),
                },
                "XpathInvalidExpression",
            ),
        ];
        for (error, class) in cases {
            let text = error.to_string();
            let fault = Fault::from(error);
            assert_eq!(fault.code, class);
            assert_eq!(fault.message, text);
        }
    }

    #[test]
    fn a_failed_action_carries_the_tail_of_its_output() {
        let fault = Fault::from(ApiError::ActionFailed {
            message: "Error in /a/X/S/enter".into(),
            output_tail: vec!["line 1".into(), "line 2".into()],
        });
        assert_eq!(fault.message, "Error in /a/X/S/enter\nline 1\nline 2");
    }

    #[test]
    fn unknown_methods_are_not_exposed_as_the_original_said() {
        let f = Fault::not_exposed("frobnicate");
        assert_eq!(f.code, "MethodNotExposed");
        assert_eq!(f.message, "Method \"frobnicate\" is not supported");
        assert!(f.is_not_found());
    }
}
