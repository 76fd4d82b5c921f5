//! An XMPP client for tests, speaking the original's protocol with stanzas written out as in
//! the reference (§6.1), and acting like the original clients' sleekxmpp where they relied on
//! it (subscriptions approved and returned).

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value as Json;
use tokio::sync::mpsc;
use tokio_xmpp::Stanza;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::stanzastream::{Event, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::Timeouts;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{FullJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

/// How long a test waits for anything.
pub const WAIT: Duration = Duration::from_secs(20);

/// The outcome of a call, as the original client saw it. (tokio-xmpp 6's client drops the
/// payload of error IQs; the exception is read from the error's application condition then.)
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The `<result>`'s value.
    Result(Json),
    /// The `<exception>`'s code and message.
    Exception { code: String, message: String },
}

impl Outcome {
    pub fn value(self) -> Json {
        match self {
            Outcome::Result(v) => v,
            Outcome::Exception { code, message } => panic!("exception {code}: {message}"),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Outcome::Exception { code, .. } => code,
            Outcome::Result(v) => panic!("a result where an exception was expected: {v}"),
        }
    }
}

/// A logged-in test client.
pub struct TestClient {
    pub jid: FullJid,
    out: mpsc::Sender<Stanza>,
    incoming: mpsc::Receiver<Stanza>,
    /// Received, not yet taken.
    seen: Vec<Stanza>,
    next_id: u64,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A stanza from its XML text (in `jabber:client`).
pub fn stanza(xml: &str) -> Stanza {
    let element: Element = xml.parse().unwrap_or_else(|e| panic!("{xml}: {e}"));
    Stanza::try_from(element).unwrap_or_else(|e| panic!("{xml}: {e:?}"))
}

impl TestClient {
    /// Logs in as `jid` (with resource) and says it is available.
    pub async fn connect(server: &str, jid: &str, password: &str) -> TestClient {
        let jid = FullJid::new(jid).unwrap();
        // The stanza stream, as the bridge uses it (not tokio-xmpp's `Client`: see the bridge's
        // session.rs).
        let mut client = StanzaStream::new_c2s(
            TcpServerConnector::from(DnsConfig::addr(server)),
            Jid::from(jid.clone()),
            password.to_owned(),
            Timeouts::tight(),
            64,
        );
        let online = tokio::time::timeout(WAIT, async {
            while let Some(e) = client.next().await {
                if let Event::Stream(StreamEvent::Reset { .. }) = e {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(online, Ok(true)),
            "{jid} cannot log in on {server}"
        );
        let (out, mut to_send) = mpsc::channel::<Stanza>(64);
        let (deliver, incoming) = mpsc::channel::<Stanza>(10_000);
        let me = jid.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    s = to_send.recv() => match s {
                        Some(s) => { let _ = client.send(Box::new(s)).await; }
                        None => break,
                    },
                    e = client.next() => match e {
                        Some(Event::Stanza(Stanza::Presence(p))) if p.type_ == PresenceType::Subscribe => {
                            // sleekxmpp's auto_authorize and auto_subscribe.
                            if let Some(from) = p.from.clone() {
                                let bare = Jid::from(from.to_bare());
                                let _ = client.send(Box::new(Presence::subscribed().with_to(bare.clone()).into())).await;
                                let _ = client.send(Box::new(Presence::subscribe().with_to(bare).into())).await;
                            }
                            let _ = deliver.send(Stanza::Presence(p)).await;
                        }
                        Some(Event::Stanza(s)) => { let _ = deliver.send(s).await; }
                        Some(_) => {}
                        None => break,
                    },
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
            drop(me);
        });
        let c = TestClient {
            jid,
            out,
            incoming,
            seen: Vec::new(),
            next_id: 0,
        };
        c.send(stanza("<presence xmlns='jabber:client'/>")).await;
        c
    }

    pub async fn send(&self, s: Stanza) {
        self.out.send(s).await.expect("the test client is running");
    }

    /// Sends raw XML.
    pub async fn send_xml(&self, xml: &str) {
        self.send(stanza(xml)).await;
    }

    /// Takes the first stanza (received or to come) that `pred` accepts, waiting at most
    /// `WAIT`.
    pub async fn take(&mut self, what: &str, pred: impl Fn(&Stanza) -> bool) -> Stanza {
        self.try_take(WAIT, pred)
            .await
            .unwrap_or_else(|| panic!("{}: no {what} within {WAIT:?}", self.jid))
    }

    /// Like `take`, `None` after `wait`.
    pub async fn try_take(
        &mut self,
        wait: Duration,
        pred: impl Fn(&Stanza) -> bool,
    ) -> Option<Stanza> {
        if let Some(i) = self.seen.iter().position(&pred) {
            return Some(self.seen.remove(i));
        }
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some(s)) if pred(&s) => return Some(s),
                Ok(Some(s)) => self.seen.push(s),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Every stanza received so far that `pred` accepts, taken.
    pub fn take_all(&mut self, pred: impl Fn(&Stanza) -> bool) -> Vec<Stanza> {
        while let Ok(s) = self.incoming.try_recv() {
            self.seen.push(s);
        }
        let (taken, kept) = std::mem::take(&mut self.seen).into_iter().partition(pred);
        self.seen = kept;
        taken
    }

    /// A fresh IQ id for a command request.
    pub fn fresh_command_id(&mut self) -> String {
        self.next_id += 1;
        format!("cmd{}", self.next_id)
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("call{}", self.next_id)
    }

    /// Sends `<iq type="set"><call>…</call></iq>` to `to` as the original clients wrote it;
    /// returns the IQ's id.
    pub async fn send_call(
        &mut self,
        to: &str,
        method: &str,
        params: &Json,
        deployment: Option<&str>,
    ) -> String {
        let id = self.fresh_id();
        let deployment = deployment
            .map(|d| format!("<deployment_id>{}</deployment_id>", escape(d)))
            .unwrap_or_default();
        let xml = format!(
            "<iq xmlns='jabber:client' type='set' id='{id}' to='{to}'><call xmlns='armonic'><method>{}</method><params>{}</params>{deployment}</call></iq>",
            escape(method),
            escape(&params.to_string()),
        );
        self.send_xml(&xml).await;
        id
    }

    /// The immediate answer to call `id`: the `<status>` value, or the exception.
    pub async fn status(&mut self, id: &str) -> Result<String, Outcome> {
        let id = id.to_owned();
        let s = self
            .take("the answer to a call", |s| {
                matches!(s, Stanza::Iq(iq) if iq.id() == id && matches!(iq, Iq::Result { .. } | Iq::Error { .. }))
            })
            .await;
        match s {
            Stanza::Iq(Iq::Result {
                payload: Some(p), ..
            }) => Ok(p
                .get_child("value", "armonic")
                .map(Element::text)
                .unwrap_or_default()),
            Stanza::Iq(Iq::Error { payload, error, .. }) => {
                Err(exception(payload.as_ref().or(error.other.as_ref())))
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// The outcome of call `id`: its result IQ (acknowledged with `status received`, as the
    /// original client did) or its exception.
    pub async fn outcome(&mut self, id: &str) -> Outcome {
        let rid = format!("{id}-result");
        let s = self
            .take(
                "the result of a call",
                |s| matches!(s, Stanza::Iq(iq) if iq.id() == rid),
            )
            .await;
        match s {
            Stanza::Iq(Iq::Set { from, payload, .. }) => {
                assert!(payload.is("result", "armonic"), "{payload:?}");
                let ack = format!(
                    "<iq xmlns='jabber:client' type='result' id='{rid}' to='{}'><status xmlns='armonic'><value>received</value></status></iq>",
                    from.map(|f| f.to_string()).unwrap_or_default()
                );
                self.send_xml(&ack).await;
                let text = payload
                    .get_child("value", "armonic")
                    .map(Element::text)
                    .unwrap_or_default();
                Outcome::Result(
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}")),
                )
            }
            Stanza::Iq(Iq::Error { payload, error, .. }) => {
                exception(payload.as_ref().or(error.other.as_ref()))
            }
            other => panic!("unexpected stanza {other:?}"),
        }
    }

    /// A whole call: sent, `executing`, then its outcome.
    pub async fn call(
        &mut self,
        to: &str,
        method: &str,
        params: Json,
        deployment: Option<&str>,
    ) -> Outcome {
        let id = self.send_call(to, method, &params, deployment).await;
        match self.status(&id).await {
            Ok(status) => {
                assert_eq!(status, "executing", "{method}");
                self.outcome(&id).await
            }
            Err(e) => e,
        }
    }

    /// Joins room `room` as `nick`, waiting for the room to confirm.
    pub async fn join(&mut self, room: &str, nick: &str) {
        self.send_xml(&format!(
            "<presence xmlns='jabber:client' to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        ))
        .await;
        let me = format!("{room}/{nick}");
        self.take("the room's welcome", |s| {
            matches!(s, Stanza::Presence(p) if p.from.as_ref().is_some_and(|f| f.to_string() == me))
        })
        .await;
    }
}

fn exception(payload: Option<&Element>) -> Outcome {
    let e = payload.filter(|p| p.is("exception", "armonic"));
    let text = |name: &str| {
        e.and_then(|e| e.get_child(name, "armonic"))
            .map(Element::text)
            .unwrap_or_default()
    };
    Outcome::Exception {
        code: text("code"),
        message: text("message"),
    }
}

/// Whether `s` is a presence of `from` (a full JID) of type `kind`.
pub fn is_presence(s: &Stanza, from: &str, kind: PresenceType) -> bool {
    matches!(s, Stanza::Presence(p) if p.type_ == kind && p.from.as_ref().is_some_and(|f| f.to_string() == from))
}
