//! In-band registration of an agent's account (XEP-0077), before it logs in: a stream of its
//! own, one `jabber:iq:register` set, the answer.

use std::borrow::Cow;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_xmpp::Stanza;
use tokio_xmpp::xmlstream::{StreamHeader, Timeouts, XmppStreamElement, initiate_stream};
use xmpp_parsers::ibr::LegacyQuery;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::stanza_error::DefinedCondition;

/// How a registration ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Registered {
    /// The account was created.
    Created,
    /// It already exists (its password may differ: the login will tell).
    Exists,
}

/// Why an account could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The server could not be reached or the stream broke.
    #[error("cannot register {user}@{domain} on {server}: {reason}")]
    Stream {
        /// The account's user part.
        user: String,
        /// The domain.
        domain: String,
        /// Where the server was looked for.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server refused.
    #[error("the server refused to register {user}@{domain}: {reason}")]
    Refused {
        /// The account's user part.
        user: String,
        /// The domain.
        domain: String,
        /// The error it gave.
        reason: String,
    },
}

/// Registers `user@domain` with `password` on the server at `server` (`IP:PORT`), within
/// `deadline`.
pub async fn register(
    server: &str,
    domain: &str,
    user: &str,
    password: &str,
    deadline: Duration,
) -> Result<Registered, RegisterError> {
    let stream_error = |reason: String| RegisterError::Stream {
        user: user.to_owned(),
        domain: domain.to_owned(),
        server: server.to_owned(),
        reason,
    };
    let exchange = async {
        let tcp = TcpStream::connect(server)
            .await
            .map_err(|e| stream_error(e.to_string()))?;
        let pending = initiate_stream(
            BufStream::new(tcp),
            "jabber:client",
            StreamHeader {
                to: Some(Cow::Borrowed(domain)),
                from: None,
                id: None,
            },
            Timeouts::tight(),
        )
        .await
        .map_err(|e| stream_error(e.to_string()))?;
        let (_features, mut stream) = pending
            .recv_features::<XmppStreamElement>()
            .await
            .map_err(|e| stream_error(format!("{e:?}")))?;
        let query = LegacyQuery {
            username: Some(user.to_owned()),
            password: Some(password.to_owned()),
            ..LegacyQuery::default()
        };
        let iq = Iq::from_set("register", query);
        stream
            .send(&XmppStreamElement::Stanza(Stanza::Iq(iq)))
            .await
            .map_err(|e| stream_error(e.to_string()))?;
        let outcome = loop {
            match stream.next().await {
                None => break Err(stream_error("the server closed the stream".into())),
                Some(Ok(XmppStreamElement::Stanza(Stanza::Iq(Iq::Result { id, .. }))))
                    if id == "register" =>
                {
                    break Ok(Registered::Created);
                }
                Some(Ok(XmppStreamElement::Stanza(Stanza::Iq(Iq::Error {
                    id, error, ..
                }))))
                    if id == "register" =>
                {
                    break if error.defined_condition == DefinedCondition::Conflict {
                        Ok(Registered::Exists)
                    } else {
                        Err(RegisterError::Refused {
                            user: user.to_owned(),
                            domain: domain.to_owned(),
                            reason: format!("{:?}", error.defined_condition),
                        })
                    };
                }
                Some(Ok(XmppStreamElement::StreamError(e))) => {
                    break Err(stream_error(format!("stream error: {e:?}")));
                }
                Some(Ok(_)) => {}
                Some(Err(tokio_xmpp::xmlstream::ReadError::SoftTimeout)) => {}
                Some(Err(e)) => break Err(stream_error(e.to_string())),
            }
        };
        let _ = SinkExt::<&XmppStreamElement>::close(&mut stream).await;
        outcome
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or_else(|_| Err(stream_error(format!("no answer within {deadline:?}"))))
}
