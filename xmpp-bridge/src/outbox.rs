//! How call tasks reach the task that owns a client: a bounded channel of [`Command`]s, each
//! reply on a oneshot, so the client itself is never shared.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::BareJid;

/// What call tasks ask of the task owning the client.
pub(crate) enum Command {
    /// Send a stanza.
    Send(Stanza),
    /// Send an IQ request and hand back its answer.
    Request { iq: Iq, reply: oneshot::Sender<Iq> },
    /// Be in `room` (joined once however many calls need it).
    Join {
        room: BareJid,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// One call less needs `room`: leave it when none does.
    Leave { room: BareJid },
}

/// How call tasks reach the client. Clonable.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Command>,
}

impl Outbox {
    pub(crate) fn new(tx: mpsc::Sender<Command>) -> Outbox {
        Outbox { tx }
    }

    /// Sends `stanza`; false if the client is gone.
    pub(crate) async fn send(&self, stanza: impl Into<Stanza>) -> bool {
        self.tx.send(Command::Send(stanza.into())).await.is_ok()
    }

    /// Sends `stanza` from a thread outside the runtime (waiting while the queue is full);
    /// false if the client is gone.
    pub(crate) fn send_blocking(&self, stanza: impl Into<Stanza>) -> bool {
        self.tx.blocking_send(Command::Send(stanza.into())).is_ok()
    }

    /// Sends request `iq` and waits for its answer, at most `wait`.
    pub(crate) async fn request(&self, iq: Iq, wait: Duration) -> Result<Iq, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Request { iq, reply })
            .await
            .map_err(|_| "the client is gone".to_owned())?;
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(iq)) => Ok(iq),
            Ok(Err(_)) => Err("the client is gone".into()),
            Err(_) => Err(format!("no answer within {} s", wait.as_secs())),
        }
    }

    /// Joins `room`, waiting at most `wait` for the room to confirm.
    pub(crate) async fn join(&self, room: BareJid, wait: Duration) -> Result<(), String> {
        let (reply, joined) = oneshot::channel();
        self.tx
            .send(Command::Join {
                room: room.clone(),
                reply,
            })
            .await
            .map_err(|_| "the client is gone".to_owned())?;
        let outcome = match tokio::time::timeout(wait, joined).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err("the client is gone".into()),
            Err(_) => Err(format!(
                "the room did not answer within {} s",
                wait.as_secs()
            )),
        };
        if outcome.is_err() {
            self.leave(room).await;
        }
        outcome
    }

    /// Leaves `room` (once no call needs it).
    pub(crate) async fn leave(&self, room: BareJid) {
        let _ = self.tx.send(Command::Leave { room }).await;
    }
}
