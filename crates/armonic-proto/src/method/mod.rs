//! The methods of the agent API: one file per method, one line each in the list below.
//!
//! A method is a type implementing [`Method`] in its own file: its fields (what the caller
//! gives), its typed answer, whether it changes states, where a router sends it, and how a
//! location answers it. Nothing has a default: a method that does not say whether it changes
//! states does not build. The list at the end of this file makes the rest: the [`Request`]
//! and [`Response`] enums, the dispatcher, the method names, and [`Listed`], which lets a
//! caller send any method and get its own answer back, checked once
//! ([`crate::EndpointExt::ask`]).
//!
//! Adding a method is a file here (`ping.rs`, defining `Ping`) and a line in the list
//! (`ping::Ping,`): the file's name is the method's name on the wire.
//!
//! Nothing else reaches an agent: a request is decoded into [`Request`], whose variants are
//! the list, and a method name that is not in the list is refused as it arrives
//! ([`check_name`]), naming the methods there are.
//!
//! A method that does not say whether it changes states does not build:
//!
//! ```compile_fail,E0046
//! use armonic_lifecycle::Location;
//! use armonic_proto::{ApiError, Context, Method, Route};
//!
//! #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Ping {}
//!
//! impl Method for Ping {
//!     type Answer = Vec<String>;
//!     // No `const CHANGES_STATE`: error[E0046], not all trait items implemented.
//!     fn route(&self) -> Route<'_> {
//!         Route::Here
//!     }
//!     fn apply(self, _: &Location, _: &Context) -> Result<Vec<String>, ApiError> {
//!         Ok(Vec::new())
//!     }
//!     fn example() -> Self {
//!         Ping {}
//!     }
//! }
//! ```

use std::fmt::Debug;
use std::sync::Arc;

use armonic_lifecycle::info::{Info as LocationInfo, LifecycleDetail, Validation};
use armonic_lifecycle::{Address, Interrupt, Location, LogSink, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a location needs, besides the request, to answer a call.
#[derive(Clone)]
pub struct Context {
    /// Where the log lines of the call go.
    pub logs: Arc<dyn LogSink>,
    /// What stops the call (the location's own interrupt when `None`).
    pub interrupt: Option<Interrupt>,
    /// The deployment the call belongs to, attached to its log lines.
    pub deployment: Option<String>,
    /// The location the call is made for (this location when `None`).
    pub caller: Option<armonic_lifecycle::CallerLocation>,
}

impl Context {
    /// A context sending lines to `logs`, with no interrupt or deployment of its own.
    pub fn new(logs: Arc<dyn LogSink>) -> Context {
        Context {
            logs,
            interrupt: None,
            deployment: None,
            caller: None,
        }
    }

    /// The engine's options for a call along path `path_idx`.
    pub fn options(&self, path_idx: usize) -> armonic_lifecycle::CallOptions {
        armonic_lifecycle::CallOptions {
            path_idx,
            deployment: self.deployment.clone(),
            sink: Some(Arc::clone(&self.logs)),
            interrupt: self.interrupt.clone(),
            caller: self.caller.clone(),
            ..armonic_lifecycle::CallOptions::default()
        }
    }
}

/// Where a router (several locations answering as one) sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// The one location asked: a router over several refuses it (name a location).
    Here,
    /// Every location, answers merged; a member of a mesh answers from what it knows of the
    /// mesh.
    Everywhere,
    /// A listing: the location an absolute address names, else every location, answers
    /// merged; matching nothing anywhere is `no_match`.
    Listing(&'a Address),
    /// A call on one resource: the location an absolute address names, else the only one
    /// where the address matches; matching on several is `multiple_match`.
    Resource(&'a Address),
    /// The location of a lifecycle, named `Name` or `/location/Name`.
    Lifecycle(&'a str),
}

/// One method of the agent API.
pub trait Method: Sized + Send + 'static {
    /// What it answers.
    type Answer: Merge + Serialize + DeserializeOwned + Debug + Clone + PartialEq + Send + 'static;
    /// Whether it changes states. Such calls may be limited to operators, and the agent
    /// keeps their log lines in its journal; reads are open to every member of the mesh.
    const CHANGES_STATE: bool;
    /// Where a router sends it.
    fn route(&self) -> Route<'_>;
    /// Answers it on `location`.
    fn apply(self, location: &Location, cx: &Context) -> Result<Self::Answer, ApiError>;
    /// An instance, for what is checked of every method (the wire format, who may call it).
    fn example() -> Self;
}

/// Two answers of the same listing from two locations, as one.
pub trait Merge {
    /// Adds `other` to `self`.
    fn merge(&mut self, other: Self);
}

impl<T> Merge for Vec<T> {
    fn merge(&mut self, other: Self) {
        self.extend(other);
    }
}

/// Answers about one resource are never merged (their route sends them to one location):
/// the first is kept.
macro_rules! first_wins {
    ($($t:ty),*) => {$(
        impl Merge for $t {
            fn merge(&mut self, _: Self) {}
        }
    )*};
}
first_wins!(
    LocationInfo,
    Validation,
    Option<Value>,
    String,
    Box<LifecycleDetail>
);

/// A method's place in the list: how it travels inside [`Request`] and [`Response`]. Made by
/// the list, never by hand.
pub trait Listed: Method {
    /// The method's name, as the original spelled it (`provide_call`).
    const NAME: &'static str;
    /// The request carrying it.
    fn request(self) -> Request;
    /// Its answer, out of a response; a response of another method is a protocol error.
    fn answer(response: Response) -> Result<Self::Answer, ApiError>;
    /// Its answer, as a response.
    fn response(answer: Self::Answer) -> Response;
}

/// An answer of one method where another's was expected: the two ends disagree.
fn unexpected(asked: &str, got: &Response) -> ApiError {
    ApiError::Protocol {
        message: format!("{asked} was answered as {}", got.method()),
    }
}

macro_rules! methods {
    ($( $(#[$doc:meta])* $module:ident :: $variant:ident, )*) => {
        $(
            mod $module;
            pub use $module::$variant;
        )*

        /// A request to an agent: one of the methods of the API.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "method", rename_all = "snake_case")]
        pub enum Request {
            $( $(#[$doc])* $variant($variant), )*
        }

        /// What an agent answers: the answer of the method asked, under its name.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "method", content = "answer", rename_all = "snake_case")]
        pub enum Response {
            $( $(#[$doc])* $variant(<$variant as Method>::Answer), )*
        }

        /// Every method's name, in the order of the list.
        pub const NAMES: &[&str] = &[$(stringify!($module)),*];

        $(
            impl Listed for $variant {
                const NAME: &'static str = stringify!($module);
                fn request(self) -> Request {
                    Request::$variant(self)
                }
                fn answer(response: Response) -> Result<Self::Answer, ApiError> {
                    match response {
                        Response::$variant(a) => Ok(a),
                        other => Err(unexpected(stringify!($module), &other)),
                    }
                }
                fn response(answer: Self::Answer) -> Response {
                    Response::$variant(answer)
                }
            }

            impl From<$variant> for Request {
                fn from(m: $variant) -> Request {
                    Request::$variant(m)
                }
            }
        )*

        impl Request {
            /// The method's name, as the original spelled it (`provide_call`).
            pub fn method(&self) -> &'static str {
                match self { $( Request::$variant(_) => stringify!($module), )* }
            }

            /// Whether it changes states (and may be limited to operators).
            pub fn changes_state(&self) -> bool {
                match self { $( Request::$variant(_) => <$variant as Method>::CHANGES_STATE, )* }
            }

            /// Where a router sends it.
            pub fn route(&self) -> Route<'_> {
                match self { $( Request::$variant(m) => m.route(), )* }
            }

            /// Answers it on `location`.
            pub fn apply(self, location: &Location, cx: &Context) -> Result<Response, ApiError> {
                match self {
                    $( Request::$variant(m) => m.apply(location, cx).map(Response::$variant), )*
                }
            }

            /// One request of every method, in the order of the list.
            pub fn examples() -> Vec<Request> {
                vec![$( Request::$variant(<$variant as Method>::example()), )*]
            }
        }

        impl Response {
            /// The name of the method it answers.
            pub fn method(&self) -> &'static str {
                match self { $( Response::$variant(_) => stringify!($module), )* }
            }

            /// Two answers of the same method from two locations, as one (a listing's
            /// items are added up).
            pub fn merge(self, other: Response) -> Response {
                match (self, other) {
                    $( (Response::$variant(mut a), Response::$variant(b)) => {
                        a.merge(b);
                        Response::$variant(a)
                    } )*
                    (a, _) => a,
                }
            }
        }
    };
}

methods! {
    /// Facts about the location.
    info::Info,
    /// Every location this end reaches, with facts about each.
    locations::Locations,
    /// The live locations whose catalogue offers a provide an address matches.
    offering::Offering,
    /// What this end knows of the mesh.
    mesh::Mesh,
    /// Lifecycles enclosing what an address matches.
    lifecycle::Lifecycle,
    /// States enclosing what an address matches.
    state::State,
    /// The current state of each lifecycle enclosing what an address matches.
    state_current::StateCurrent,
    /// The paths from the current state to each state an address matches.
    state_goto_path::StateGotoPath,
    /// The enter provides with requires along a path to a state.
    state_goto_requires::StateGotoRequires,
    /// Goes to a state.
    state_goto::StateGoto,
    /// A hash of the location's lifecycles and of where they stand.
    fingerprint::Fingerprint,
    /// The provides an address names whose state is entered or reachable.
    provide::Provide,
    /// The paths to the state of each provide an address names.
    provide_call_path::ProvideCallPath,
    /// What calling a provide along a path needs.
    provide_call_requires::ProvideCallRequires,
    /// Validates values for a call of a provide; changes nothing.
    provide_call_validate::ProvideCallValidate,
    /// Calls a provide, entering its state first.
    provide_call::ProvideCall,
    /// A lifecycle's state machine as a Graphviz digraph.
    to_dot::ToDot,
    /// A lifecycle with its states, transitions and stack.
    to_primitive::ToPrimitive,
    /// The addresses of what an address matches.
    uri::Uri,
    /// Every resource an address matches, with its kind.
    xpath::Xpath,
}

impl Request {
    /// The address the request names, if it names one.
    pub fn address(&self) -> Option<&Address> {
        match self.route() {
            Route::Listing(a) | Route::Resource(a) => Some(a),
            Route::Here | Route::Everywhere | Route::Lifecycle(_) => None,
        }
    }
}

/// Refuses `name` unless it is a method of the list: the error names the methods there are.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if NAMES.contains(&name) {
        return Ok(());
    }
    Err(ApiError::InvalidRequest {
        message: format!(
            "unknown method '{}': the agent API's methods are {}",
            name.chars().take(64).collect::<String>().escape_debug(),
            NAMES.join(", ")
        ),
    })
}

/// `text` as an address, for examples.
fn example_address(text: &str) -> Address {
    Address::parse(text).unwrap_or_else(|e| unreachable!("example address {text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_listed_once_under_the_name_its_request_gives() {
        let examples = Request::examples();
        assert_eq!(examples.len(), NAMES.len());
        for (request, name) in examples.iter().zip(NAMES) {
            assert_eq!(request.method(), *name);
        }
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len(), "no name twice");
    }

    #[test]
    fn only_state_goto_and_provide_call_change_states() {
        let changing: Vec<&str> = Request::examples()
            .iter()
            .filter(|r| r.changes_state())
            .map(Request::method)
            .collect();
        assert_eq!(changing, ["state_goto", "provide_call"]);
    }

    #[test]
    fn an_answer_of_another_method_is_a_protocol_error() {
        let got = <Info as Listed>::answer(Response::ToDot("digraph {}".into()));
        assert!(
            matches!(got, Err(ApiError::Protocol { ref message }) if message == "info was answered as to_dot"),
            "{got:?}"
        );
    }
}
