//! The ad-hoc commands (XEP-0050) as a standard client uses them: stanzas written out as a
//! client such as Gajim or Psi sends them, forms submitted with the values they show.

use tokio_xmpp::Stanza;
use xmpp_parsers::data_forms::{DataForm, FieldType};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::client::TestClient;
use super::server::DOMAIN;

pub const NS: &str = "http://jabber.org/protocol/commands";

/// The master's JID, which offers the commands.
pub fn master() -> String {
    format!("master@{DOMAIN}/master")
}

/// A command's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: String,
    pub session: String,
    pub form: Option<DataForm>,
    pub notes: Vec<(String, String)>,
    pub element: Element,
}

impl Reply {
    /// The values of field `var` of the form.
    pub fn values(&self, var: &str) -> Vec<String> {
        self.form
            .as_ref()
            .and_then(|f| f.fields.iter().find(|f| f.var.as_deref() == Some(var)))
            .map(|f| f.values.clone())
            .unwrap_or_default()
    }

    /// The form's instructions: the step (`manage`, `lfm`, `validation`, `apply`…).
    pub fn step(&self) -> String {
        self.form
            .as_ref()
            .and_then(|f| f.instructions.clone())
            .unwrap_or_default()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// Sends a command request and waits for its answer.
pub async fn command(
    c: &mut TestClient,
    node: &str,
    action: Option<&str>,
    session: Option<&str>,
    fields: &[(String, Vec<String>)],
) -> Result<Reply, StanzaError> {
    let id = c.fresh_command_id();
    let action = action.map(|a| format!(" action='{a}'")).unwrap_or_default();
    let session = session
        .map(|s| format!(" sessionid='{}'", escape(s)))
        .unwrap_or_default();
    let form = if fields.is_empty() {
        String::new()
    } else {
        let fields: String = fields
            .iter()
            .map(|(var, values)| {
                let values: String = values
                    .iter()
                    .map(|v| format!("<value>{}</value>", escape(v)))
                    .collect();
                format!("<field var='{}'>{values}</field>", escape(var))
            })
            .collect();
        format!("<x xmlns='jabber:x:data' type='submit'>{fields}</x>")
    };
    let xml = format!(
        "<iq xmlns='jabber:client' type='set' id='{id}' to='{}'><command xmlns='{NS}' node='{node}'{action}{session}>{form}</command></iq>",
        master()
    );
    c.send_xml(&xml).await;
    let s = c
        .take("the command's answer", |s| matches!(s, Stanza::Iq(iq) if iq.id() == id && matches!(iq, Iq::Result { .. } | Iq::Error { .. })))
        .await;
    match s {
        Stanza::Iq(Iq::Result {
            payload: Some(p), ..
        }) => {
            assert!(p.is("command", NS), "{p:?}");
            Ok(Reply {
                status: p.attr("status").unwrap_or_default().to_owned(),
                session: p.attr("sessionid").unwrap_or_default().to_owned(),
                form: p
                    .get_child("x", "jabber:x:data")
                    .and_then(|x| DataForm::try_from(x.clone()).ok()),
                notes: p
                    .children()
                    .filter(|n| n.is("note", NS))
                    .map(|n| (n.attr("type").unwrap_or("info").to_owned(), n.text()))
                    .collect(),
                element: p,
            })
        }
        Stanza::Iq(Iq::Error { error, .. }) => Err(error),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// What a standard client submits when the user accepts a form as shown: every field but
/// the fixed ones, with its values.
pub fn as_shown(form: &DataForm) -> Vec<(String, Vec<String>)> {
    form.fields
        .iter()
        .filter(|f| f.type_ != FieldType::Fixed)
        .filter_map(|f| Some((f.var.clone()?, f.values.clone())))
        .collect()
}
