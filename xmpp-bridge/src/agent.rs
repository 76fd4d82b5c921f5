//! Calls made to an agent's JID: read, checked (method, arguments, caller), answered
//! `executing` at once, run on the mesh on a task of their own, their log lines sent to the
//! deployment's room, their result (or exception) sent back to the caller in a new IQ whose id
//! is the call's followed by `-result`.

use std::sync::Arc;

use armonic_lifecycle::Address;
use armonic_mesh::Handle;
use armonic_proto::{ApiError, Event, Listed, finish, method};
use futures::StreamExt;
use serde_json::Value as Json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::config::Config;
use crate::limits;
use crate::logs;
use crate::original::{self, Call, Fault, Params, xml};
use crate::outbox::Outbox;
use crate::shared::Shared;
use crate::stanza;

/// Serves the calls made to one agent.
pub(crate) struct Caller {
    location: String,
    mesh: Handle,
    config: Arc<Config>,
    outbox: Outbox,
    calls: Arc<Semaphore>,
}

/// The id of the IQ carrying the result of call `id`.
pub fn result_id(id: &str) -> String {
    format!("{id}-result")
}

/// The stanza error accompanying an exception. The exception is also its
/// application-specific condition: clients built on tokio-xmpp 6 never see the other payload
/// of an error IQ (its client drops it), and a standard client reads the condition first.
fn stanza_error(fault: &Fault, deployment: Option<&str>) -> StanzaError {
    let (kind, condition) = match fault.code.as_str() {
        "MethodNotExposed" => (ErrorType::Cancel, DefinedCondition::ItemNotFound),
        "Unauthorized" => (ErrorType::Auth, DefinedCondition::Forbidden),
        "TypeError" | "ValueError" | "XpathInvalidExpression" => {
            (ErrorType::Modify, DefinedCondition::BadRequest)
        }
        "Busy" => (ErrorType::Wait, DefinedCondition::ResourceConstraint),
        _ => (ErrorType::Cancel, DefinedCondition::UndefinedCondition),
    };
    let mut error = StanzaError::new(kind, condition, "en", fault.message.clone());
    error.other = Some(stanza::exception(fault, deployment));
    error
}

/// An error IQ to `to` carrying `fault` as the original's `<exception>`. Its message is
/// shortened to [`limits::MESSAGE_BYTES`] (it is carried three times: the stanza error's
/// text, its application condition, the payload).
pub fn exception_iq(to: Jid, id: String, fault: &Fault, deployment: Option<&str>) -> Iq {
    let fault = Fault {
        code: limits::cut(&fault.code, limits::QUOTED_CHARS),
        message: limits::clip(&fault.message, limits::MESSAGE_BYTES),
    };
    Iq::Error {
        from: None,
        to: Some(to),
        id,
        error: stanza_error(&fault, deployment),
        payload: Some(stanza::exception(&fault, deployment)),
    }
}

impl Caller {
    pub(crate) fn new(location: &str, shared: &Shared, outbox: Outbox) -> Caller {
        Caller {
            location: location.to_owned(),
            mesh: shared.mesh.clone(),
            config: Arc::clone(&shared.config),
            outbox,
            calls: Arc::new(Semaphore::new(shared.config.max_calls)),
        }
    }

    /// Takes call `id` from `from` and gives the immediate answer: `executing`, or the
    /// exception that stops it before it runs.
    pub(crate) fn call(self: &Arc<Self>, from: Jid, id: String, payload: &Element) -> Iq {
        // Said back with the answer: only one that can be a deployment's (a longer one is
        // refused by `accept`).
        let deployment = payload
            .get_child("deployment_id", stanza::NS)
            .map(Element::text)
            .filter(|d| !d.trim().is_empty() && d.len() <= stanza::MAX_DEPLOYMENT_ID);
        match self.accept(&from, payload) {
            Ok((method, call, permit)) => {
                let reply = Iq::Result {
                    from: None,
                    to: Some(from.clone()),
                    id: id.clone(),
                    payload: Some(stanza::status(stanza::EXECUTING, deployment.as_deref())),
                };
                let me = Arc::clone(self);
                tokio::spawn(async move {
                    me.serve(from, id, method, call, deployment, permit).await;
                });
                reply
            }
            Err(fault) => {
                tracing::info!(location = self.location, caller = %from, "call refused: {fault}");
                exception_iq(from, id, &fault, deployment.as_deref())
            }
        }
    }

    /// Reads and checks a call: its method, its arguments, whether the caller may make it,
    /// whether there is room for it.
    fn accept(
        &self,
        from: &Jid,
        payload: &Element,
    ) -> Result<(String, Call, OwnedSemaphorePermit), Fault> {
        let Some(parsed) = stanza::parse_call(payload) else {
            return Err(Fault::new("ValueError", "not a call"));
        };
        let c = parsed?;
        let params = Params::parse(&c.params)?;
        let call = Call::parse(&c.method, params, c.deployment.as_deref())?;
        // Who may change states is decided by the call's own request: its method's rule in
        // the agent API.
        if call.changes_state() && !self.config.may_change_states(&from.to_bare()) {
            return Err(Fault::unauthorized(format!(
                "{} may not call {} on {} (it is not allowed to change states)",
                from.to_bare(),
                c.method,
                self.location
            )));
        }
        let permit = Arc::clone(&self.calls).try_acquire_owned().map_err(|_| {
            Fault::new(
                "Busy",
                format!(
                    "{} already runs {} calls: try again later",
                    self.location, self.config.max_calls
                ),
            )
        })?;
        Ok((c.method, call, permit))
    }

    async fn serve(
        self: Arc<Self>,
        caller: Jid,
        id: String,
        method: String,
        call: Call,
        deployment: Option<String>,
        _permit: OwnedSemaphorePermit,
    ) {
        let room = deployment
            .as_deref()
            .filter(|_| call.changes_state())
            .and_then(|d| self.room(d));
        let joined = match &room {
            Some(room) => match self
                .outbox
                .join(room.clone(), self.config.reply_timeout)
                .await
            {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(
                        location = self.location,
                        %room,
                        "cannot join the deployment's room, its log lines will be lost: {e}"
                    );
                    false
                }
            },
            None => false,
        };
        let to_room = match (&room, &deployment) {
            (Some(room), Some(deployment)) if joined => Some((room, deployment.as_str())),
            _ => None,
        };
        let outcome = self.execute(call, &caller, to_room).await;
        self.deliver(caller, &id, &method, deployment.as_deref(), outcome)
            .await;
        if let Some(room) = room.filter(|_| joined) {
            self.outbox.leave(room).await;
        }
    }

    fn room(&self, deployment: &str) -> Option<BareJid> {
        match BareJid::new(&format!("{deployment}@{}", self.config.muc_domain)) {
            Ok(room) => Some(room),
            Err(e) => {
                tracing::warn!(
                    location = self.location,
                    "deployment id '{deployment}' cannot name a room: {e}"
                );
                None
            }
        }
    }

    /// Sends the result (and waits for its acknowledgement) or the exception.
    async fn deliver(
        &self,
        caller: Jid,
        id: &str,
        method: &str,
        deployment: Option<&str>,
        outcome: Result<Json, Fault>,
    ) {
        let outcome = outcome.and_then(|value| {
            let payload = stanza::result(&value, deployment);
            let size = limits::size(&payload) + id.len();
            let room = self.config.stanza_limit.saturating_sub(limits::ENVELOPE);
            if size > room {
                return Err(Fault::new(
                    "ResultTooLarge",
                    format!(
                        "the answer of {method} is {size} bytes, more than the {room} bytes a \
                         stanza may carry to this XMPP server: ask for less (a narrower xpath)"
                    ),
                ));
            }
            Ok(payload)
        });
        match outcome {
            Ok(payload) => {
                let iq = Iq::Set {
                    from: None,
                    to: Some(caller.clone()),
                    id: result_id(id),
                    payload,
                };
                match self.outbox.request(iq, self.config.reply_timeout).await {
                    Ok(Iq::Result { .. }) => {
                        tracing::debug!(location = self.location, method, %caller, "result received");
                    }
                    Ok(_) => tracing::warn!(
                        location = self.location,
                        method,
                        %caller,
                        "the caller refused the result"
                    ),
                    Err(e) => tracing::warn!(
                        location = self.location,
                        method,
                        %caller,
                        "the caller did not acknowledge the result: {e}"
                    ),
                }
            }
            Err(fault) => {
                tracing::info!(location = self.location, method, %caller, "call failed: {fault}");
                self.outbox
                    .send(exception_iq(caller, result_id(id), &fault, deployment))
                    .await;
            }
        }
    }

    /// Asks `method` (a read) of the location, for `caller`.
    async fn ask<M: Listed>(&self, method: M, caller: &Jid) -> Result<M::Answer, ApiError> {
        let mut call = armonic_proto::Call::new(method.request());
        call.on_behalf_of = Some(caller.to_bare().to_string());
        finish(self.mesh.endpoint(&self.location).call(call), |_| {})
            .await
            .and_then(M::answer)
    }

    /// Runs the call on the location for `caller` and gives its answer in the original's
    /// shape; its log lines go to `room` as they come (the call runs at its own pace
    /// meanwhile: the lines wait in its agent's journal).
    async fn execute(
        &self,
        call: Call,
        caller: &Jid,
        room: Option<(&BareJid, &str)>,
    ) -> Result<Json, Fault> {
        match call {
            Call::One {
                request,
                shape,
                deployment,
            } => {
                let mut c = armonic_proto::Call::new(request);
                c.deployment = deployment;
                c.on_behalf_of = Some(caller.to_bare().to_string());
                let mut events = self.mesh.endpoint(&self.location).call(c);
                let mut answer = None;
                while let Some(event) = events.next().await {
                    match (event, room) {
                        (Event::Done(r), _) => {
                            answer = Some(r);
                            break;
                        }
                        (Event::Lines { lines, .. }, Some((room, deployment))) => {
                            for r in lines.records() {
                                self.outbox.send(logs::message(room, &r, deployment)).await;
                            }
                        }
                        (Event::Missed { count }, Some((room, deployment))) => {
                            let line = logs::missed(&self.location, count, deployment);
                            self.outbox
                                .send(logs::message(room, &line, deployment))
                                .await;
                        }
                        _ => {}
                    }
                }
                let answer = answer.unwrap_or_else(|| {
                    Err(ApiError::Unknown {
                        location: self.location.clone(),
                        message: "the answer was lost on the way".into(),
                    })
                });
                match answer {
                    Ok(response) => original::shape(&shape, response),
                    Err(ApiError::NoMatch { xpath }) => shape
                        .when_nothing_matches()
                        .ok_or_else(|| Fault::from(ApiError::NoMatch { xpath })),
                    Err(e) => Err(e.into()),
                }
            }
            Call::Xml { xpath, single } => self.xml(xpath, single, caller).await,
        }
    }

    /// `xpath()` and `to_xml()`: what the address matches, rendered from the details of the
    /// lifecycles involved.
    async fn xml(&self, xpath: Address, single: bool, caller: &Jid) -> Result<Json, Fault> {
        let text = xpath.to_string();
        let matches = match self.ask(method::Xpath { xpath }, caller).await {
            Ok(m) => m,
            Err(ApiError::NoMatch { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        if single && matches.len() != 1 {
            return Err(Fault::from(if matches.is_empty() {
                ApiError::NoMatch { xpath: text }
            } else {
                ApiError::MultipleMatch {
                    xpath: text,
                    matches: matches.into_iter().map(|m| m.xpath).collect(),
                }
            }));
        }
        let names = match xml::lifecycles_needed(&matches) {
            Some(names) => names,
            None => {
                let all: Address =
                    "/*/*"
                        .parse()
                        .map_err(|e: armonic_lifecycle::AddressError| {
                            Fault::new("ProtocolError", e.to_string())
                        })?;
                match self.ask(method::Lifecycle { xpath: all }, caller).await {
                    Ok(l) => l.into_iter().map(|l| l.name).collect(),
                    Err(ApiError::NoMatch { .. }) => Vec::new(),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let mut details = Vec::with_capacity(names.len());
        for lifecycle in names {
            details.push(*self.ask(method::ToPrimitive { lifecycle }, caller).await?);
        }
        let rendered: Vec<Json> = matches
            .iter()
            .filter_map(|m| xml::render(m, &details))
            .map(Json::String)
            .collect();
        Ok(if single {
            rendered.into_iter().next().unwrap_or(Json::Null)
        } else {
            Json::Array(rendered)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exception_iq_carries_the_originals_exception_and_a_stanza_error() {
        let to = Jid::new("admin@example.com/cli").unwrap();
        let iq = exception_iq(
            to,
            "c1-result".into(),
            &Fault::new("XpathNotMatch", "//X matches nothing"),
            Some("d-1"),
        );
        let xml = String::from(&Element::from(iq));
        assert!(xml.contains("type='error'"), "{xml}");
        assert!(xml.contains("<code>XpathNotMatch</code>"), "{xml}");
        assert!(
            xml.contains("<message>//X matches nothing</message>"),
            "{xml}"
        );
        assert!(xml.contains("<undefined-condition"), "{xml}");
    }

    #[test]
    fn an_unknown_method_is_not_found_as_in_the_original() {
        let iq = exception_iq(
            Jid::new("a@b/c").unwrap(),
            "c2".into(),
            &Fault::not_exposed("frobnicate"),
            None,
        );
        let xml = String::from(&Element::from(iq));
        assert!(xml.contains("<code>MethodNotExposed</code>"), "{xml}");
        assert!(
            xml.contains("<message>Method \"frobnicate\" is not supported</message>")
                || xml
                    .contains("<message>Method &quot;frobnicate&quot; is not supported</message>"),
            "{xml}"
        );
        assert!(xml.contains("<item-not-found"), "{xml}");
    }

    #[test]
    fn an_exception_quotes_a_huge_input_once_and_short() {
        let huge = format!("//{}[", "x".repeat(45_000));
        let params = Params::positional(vec![Json::String(huge)]);
        let fault = Call::parse("provide", params, None).unwrap_err();
        assert_eq!(fault.code, "XpathInvalidExpression");
        assert!(fault.message.len() < 1000, "{}", fault.message);
        // Quoted once: one run of the input's characters.
        let runs = fault.message.split(|c| c != 'x').filter(|r| r.len() > 10);
        assert_eq!(runs.count(), 1, "{}", fault.message);
        assert!(fault.message.contains("(45003 bytes)"), "{}", fault.message);
        let iq = exception_iq(Jid::new("a@b/c").unwrap(), "c1".into(), &fault, None);
        assert!(limits::size(&Element::from(iq)) < 4096);
        // A message built elsewhere is shortened too.
        let long = Fault::new("ProvideError", "y".repeat(1_000_000));
        let iq = exception_iq(Jid::new("a@b/c").unwrap(), "c1".into(), &long, None);
        assert!(limits::size(&Element::from(iq)) < 4 * limits::MESSAGE_BYTES);
        let unknown = Fault::not_exposed(&"m".repeat(100_000));
        assert!(unknown.message.len() < 400, "{}", unknown.message);
    }

    #[test]
    fn results_are_tied_to_their_call_by_id() {
        assert_eq!(result_id("abc"), "abc-result");
    }
}
