//! The one shape of a call: a [`Call`] goes to an [`Endpoint`], which answers with a
//! [`CallStream`]: the call's log lines as they come, then its end ([`Event::Done`]).
//!
//! Every way of reaching a location is an endpoint: a location in this process (the host
//! of `armonic-journal`), the agent of this machine over its control socket, another agent of
//! the mesh, a router over several of them. A call's lines come from the journal of the
//! agent that runs it; a reader that fell too far behind is told how many lines it missed
//! ([`Event::Missed`]) rather than holding up the step.
//!
//! ```
//! use armonic_proto::{Call, Event, method};
//!
//! let call = Call::new(method::Info {});
//! assert_eq!(call.request.method(), "info");
//! assert!(matches!(Event::Missed { count: 3 }, Event::Missed { .. }));
//! ```

use std::fmt;
use std::pin::Pin;

use armonic_lifecycle::Interrupt;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::lines::LogBatch;
use crate::method::{Listed, Request, Response};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Cheap to clone (shared text).
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// A new, random id.
            pub fn new() -> $name {
                $name(uuid::Uuid::new_v4().to_string().into())
            }

            /// An id given by someone else (a replayed record, the original's `uuid`, the
            /// command line).
            pub fn from_text(text: impl AsRef<str>) -> $name {
                $name(text.as_ref().into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// Identifies a deployment (or a single command) across machines: a UUID v4.
    DeploymentId
);

uuid_id!(
    /// Identifies one call across the mesh and across reconnections: a UUID v4 chosen by the
    /// caller. An agent runs a call once: the same id again re-attaches to it.
    CallId
);

/// Who made a call, as the agent running it knows: the door it came through says, never the
/// caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "door", rename_all = "snake_case")]
pub enum Caller {
    /// A user of this machine, through the control socket (the kernel says who).
    Local {
        /// The user id.
        uid: u32,
        /// The user's name, when the system knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// The calling process.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
    },
    /// Another member of the mesh (Noise proved its peer id).
    Peer {
        /// Its peer id.
        peer_id: String,
        /// Its location name, when its catalogue is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// This process (locations embedded in the command line, `--local`).
    Process {
        /// The process id.
        pid: u32,
    },
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Local { uid, user, pid } => {
                match user {
                    Some(u) => write!(f, "local user {u} (uid {uid})")?,
                    None => write!(f, "local uid {uid}")?,
                }
                if let Some(pid) = pid {
                    write!(f, " pid {pid}")?;
                }
                Ok(())
            }
            Caller::Peer { peer_id, name } => match name {
                Some(n) => write!(f, "peer {n} ({peer_id})"),
                None => write!(f, "peer {peer_id}"),
            },
            Caller::Process { pid } => write!(f, "process {pid}"),
        }
    }
}

/// What a deployment is, as each of its calls carries it to the agent that runs it (and that
/// keeps it in its journal): so any node can tell, from the journals alone, which steps a
/// deployment has and which of them ran, and run the rest, even when its driver is gone.
///
/// It holds every value a step is called with except secrets: a secret goes only in the
/// request of the step that needs it ([`PlannedStep::withheld`] names it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentDoc {
    /// The provide deployed, as asked (`//Nginx//start`).
    pub root: String,
    /// The location of the node that drives it (or of the process, with `--local`).
    pub driver: String,
    /// When it began running, in milliseconds since the Unix epoch (the driver's clock).
    pub started_ms: u64,
    /// Its steps, in plan order.
    pub steps: Vec<PlannedStep>,
    /// The answers it was resolved with (its deployment record, without the values of
    /// secrets), to show and replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<armonic_lifecycle::Value>,
    /// SHA-256 (hex) of its root, steps and record: the same hash, the same plan.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    /// The catalogue each location had when the plan was made ([`CatalogueVersion`]):
    /// a plan applied later is refused when one of them changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catalogues: Vec<CatalogueVersion>,
}

impl DeploymentDoc {
    /// The same deployment without its steps: what a call carries once the agent it goes to
    /// was given the whole (its journal keeps the first).
    pub fn summary(&self) -> DeploymentDoc {
        DeploymentDoc {
            root: self.root.clone(),
            driver: self.driver.clone(),
            started_ms: self.started_ms,
            steps: Vec::new(),
            record: None,
            hash: self.hash.clone(),
            catalogues: Vec::new(),
        }
    }

    /// Whether it holds its steps (a [`DeploymentDoc::summary`] does not).
    pub fn is_whole(&self) -> bool {
        !self.steps.is_empty()
    }
}

/// What a location's catalogue was when a plan was made: its lifecycles and where each
/// stands, as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueVersion {
    /// The location.
    pub location: String,
    /// SHA-256 (hex) of its lifecycle definitions and their current states.
    pub hash: String,
}

/// One step of a deployment: a provide called on a location, with its values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// Its node id (`node_0_1`).
    pub node: String,
    /// The provide called, relative (`Guestbook/Active/start`).
    pub xpath: String,
    /// Where.
    pub location: String,
    /// The steps that must end first (node ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// The step its returned values go to (its parent in the deployment tree), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns_to: Option<String>,
    /// The location it is called for (its consumer's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_for: Option<armonic_lifecycle::CallerLocation>,
    /// Its values, secrets left out.
    #[serde(default, skip_serializing_if = "armonic_lifecycle::Values::is_empty")]
    pub values: armonic_lifecycle::Values,
    /// The secret values it needs, left out of the document (asked again to run it later).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<Slot>,
    /// Values it takes from what the steps below it return.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub takes: Vec<Take>,
    /// The names of the values it returns that are secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_returns: Vec<String>,
    /// The destructive provides it runs (itself, or the enter provides of the states it
    /// enters): a deployment asks before running it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destructive: Vec<String>,
}

/// A value of a step: a variable's address and value set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The variable's address, as submitted.
    pub xpath: String,
    /// The value set.
    #[serde(default)]
    pub set: usize,
}

/// A value a step takes from what another returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    /// The step that returns it (node id).
    pub from: String,
    /// The name it is returned under.
    pub name: String,
    /// Where it goes.
    pub to: Slot,
    /// Whether it is a secret (never shown).
    #[serde(default)]
    pub secret: bool,
}

/// A call: a request and what comes with it.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its id: the same id again re-attaches to the call instead of making another.
    pub id: CallId,
    /// The request.
    pub request: Request,
    /// The location it is for, whatever its address says (a location of the mesh reached
    /// through another); routed by its address when `None`.
    pub location: Option<String>,
    /// The deployment it belongs to.
    pub deployment: Option<DeploymentId>,
    /// Lines before this one were already received (a caller re-attaching).
    pub from_seq: u64,
    /// Whether this is a caller re-attaching: the call was sent before, and may or may not
    /// have arrived.
    pub again: bool,
    /// Who made it; the door it came through fills it in.
    pub caller: Option<Caller>,
    /// Whom the caller says it acts for: an XMPP account through the bridge, a user of
    /// another machine through its agent. Kept as said, beside the caller.
    pub on_behalf_of: Option<String>,
    /// The location the call is made for, as its caller says (a deployment: the consumer of
    /// what the provide gives); steps read it as `caller.*`. When `None`, the agent sending
    /// the call to another says its own location, and a call made on its own machine is
    /// made for that machine.
    pub caller_location: Option<armonic_lifecycle::CallerLocation>,
    /// The step of its deployment it is (`node_0_1`).
    pub step: Option<String>,
    /// Its deployment, whole (see [`DeploymentDoc`]).
    pub plan: Option<std::sync::Arc<DeploymentDoc>>,
    /// What stops it: a request stops the step wherever it runs (SIGTERM, then SIGKILL
    /// after the interrupt's grace period), a second kills it.
    pub interrupt: Option<Interrupt>,
}

impl Call {
    /// A call of `request` with a new id, nothing else set.
    pub fn new(request: impl Into<Request>) -> Call {
        Call {
            id: CallId::new(),
            request: request.into(),
            location: None,
            deployment: None,
            from_seq: 0,
            again: false,
            caller: None,
            on_behalf_of: None,
            caller_location: None,
            step: None,
            plan: None,
            interrupt: None,
        }
    }

    /// The same call aimed at `location`.
    pub fn at(mut self, location: impl Into<String>) -> Call {
        self.location = Some(location.into());
        self
    }

    /// The same call, part of `deployment`.
    pub fn in_deployment(mut self, deployment: DeploymentId) -> Call {
        self.deployment = Some(deployment);
        self
    }

    /// The same call, made for `location` (see [`Call::caller_location`]).
    pub fn made_for(mut self, location: Option<armonic_lifecycle::CallerLocation>) -> Call {
        self.caller_location = location;
        self
    }

    /// The same call, step `step` of deployment `plan`.
    pub fn as_step(mut self, step: String, plan: std::sync::Arc<DeploymentDoc>) -> Call {
        self.step = Some(step);
        self.plan = Some(plan);
        self
    }

    /// The same call, stopped by `interrupt`.
    pub fn stopped_by(mut self, interrupt: Interrupt) -> Call {
        self.interrupt = Some(interrupt);
        self
    }
}

/// What a call streams back.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Log lines, the first numbered `seq` (a call's lines are numbered from 0, without gaps).
    Lines {
        /// The number of the first.
        seq: u64,
        /// The lines.
        lines: LogBatch,
    },
    /// This reader fell so far behind that `count` lines were not kept for it.
    Missed {
        /// How many.
        count: u64,
    },
    /// The call is over: its answer. Nothing follows.
    Done(Result<Response, ApiError>),
}

/// The events of one call, in order, ending with [`Event::Done`]. A stream that ends without
/// it lost its agent: [`finish`] says so.
pub type CallStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// A stream of one event: the call is answered without lines.
pub fn answered(result: Result<Response, ApiError>) -> CallStream {
    Box::pin(futures::stream::once(futures::future::ready(Event::Done(
        result,
    ))))
}

/// Something that answers calls: one location, a remote agent, a router.
pub trait Endpoint: Send + Sync {
    /// The location's name (a router's is empty).
    fn name(&self) -> &str;
    /// Starts `call`; its events come on the stream. Dropping the stream leaves the call
    /// running (ask the call's interrupt to stop it).
    fn call(&self, call: Call) -> CallStream;
}

/// Reads a call's events to its end: lines and missed lines go to `each`, the answer is
/// returned. A stream ending without an answer is [`ApiError::Unknown`]: the agent went away
/// and nobody can say whether the call ran.
pub async fn finish(
    mut events: CallStream,
    mut each: impl FnMut(&Event),
) -> Result<Response, ApiError> {
    while let Some(event) = events.next().await {
        match event {
            Event::Done(result) => return result,
            other => each(&other),
        }
    }
    Err(ApiError::Unknown {
        location: String::new(),
        message: "the answer was lost on the way: the call may or may not have run".into(),
    })
}

/// Typed calls on any endpoint: send a method, get its own answer back, checked once.
pub trait EndpointExt: Endpoint {
    /// Calls `method`, as `dress` makes the call (its location, deployment, interrupt…); its
    /// log lines go to `each`; its answer comes back.
    fn ask_with<M: Listed>(
        &self,
        method: M,
        dress: impl FnOnce(Call) -> Call,
        each: impl FnMut(&Event) + Send,
    ) -> impl std::future::Future<Output = Result<M::Answer, ApiError>> + Send {
        let events = self.call(dress(Call::new(method.request())));
        async move { finish(events, each).await.and_then(M::answer) }
    }

    /// Calls `method` and waits for its answer on this thread; its log lines are dropped.
    /// For reads (they have none), from threads that no async runtime needs.
    fn ask<M: Listed>(&self, method: M) -> Result<M::Answer, ApiError> {
        let events = self.call(Call::new(method.request()));
        futures::executor::block_on(finish(events, |_| {})).and_then(M::answer)
    }
}

impl<E: Endpoint + ?Sized> EndpointExt for E {}
