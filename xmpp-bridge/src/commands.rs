//! The master's ad-hoc commands (XEP-0050), as the original master offered them to web and
//! standard clients: `provides` lists the provides of the mesh, `build` drives a deployment
//! on the deployment engine through forms (XEP-0004), one question per form.
//!
//! Every build has a session of its own (several run at once): a thread runs the engine,
//! whose frontend hands each question to the session and waits for the form that answers
//! it. The session id is the deployment's id, as in the original; the deployment's log
//! lines go to the room `<session id>@<muc domain>`. Only JIDs allowed to change states may
//! build; a session answers only the full JID that started it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armonic_lifecycle::{Address, Level, LogRecord};
use armonic_mesh::Handle;
use armonic_proto::DeploymentId;
use armonic_smart::{Abort, Agent, Answer, Event, Frontend, Mesh, Options, Question};
use tokio::sync::mpsc;
use xmpp_parsers::data_forms::DataForm;
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity, Item};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::minidom::rxml::NcName;
use xmpp_parsers::ns;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::config::Config;
use crate::forms;
use crate::limits;
use crate::logs;
use crate::outbox::Outbox;
use crate::shared::Shared;

/// An attribute name (all of them constants of this module).
fn name(n: &'static str) -> NcName {
    NcName::try_from(n).expect("attribute names here are valid XML names")
}

/// The ad-hoc commands namespace.
pub const NS: &str = "http://jabber.org/protocol/commands";

/// The commands offered: node and name, as the original master named them.
pub const COMMANDS: [(&str, &str); 2] = [
    ("provides", "Get the list of provides"),
    ("build", "Build a provide"),
];

/// Most build sessions open at once (each holds a thread while it waits for its forms).
const MAX_BUILDS: usize = 16;

/// Most steps of a deployment run at once.
const PARALLELISM: usize = 4;

/// What a command request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start, or go on (`execute` on a session).
    Execute,
    /// Go on.
    Next,
    /// Go back (not offered).
    Prev,
    /// Finish.
    Complete,
    /// Give up.
    Cancel,
}

/// A command request: `<command xmlns=… node=… action=… sessionid=…>` with its form.
#[derive(Debug, Clone)]
pub struct CommandRequest {
    /// The command.
    pub node: String,
    /// What is asked.
    pub action: Action,
    /// The session it continues.
    pub session: Option<String>,
    /// The submitted form.
    pub form: Option<DataForm>,
}

impl CommandRequest {
    /// Reads `payload`, or says why it is not a command request.
    pub fn parse(payload: &Element) -> Result<CommandRequest, String> {
        if !payload.is("command", NS) {
            return Err("not an ad-hoc command".into());
        }
        let node = payload
            .attr("node")
            .ok_or("the command has no node")?
            .to_owned();
        let action = match payload.attr("action").unwrap_or("execute") {
            "execute" => Action::Execute,
            "next" => Action::Next,
            "prev" => Action::Prev,
            "complete" => Action::Complete,
            "cancel" => Action::Cancel,
            other => return Err(format!("unknown action {}", limits::quote(other))),
        };
        let form = match payload.get_child("x", ns::DATA_FORMS) {
            Some(x) => Some(forms::submitted(x).map_err(|e| format!("bad form: {e}"))?),
            None => None,
        };
        Ok(CommandRequest {
            node,
            action,
            session: payload.attr("sessionid").map(str::to_owned),
            form,
        })
    }
}

/// A command's status in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// More to come.
    Executing,
    /// Done.
    Completed,
    /// Given up.
    Canceled,
}

/// A command response being built.
pub struct CommandResponse {
    node: String,
    session: String,
    status: Status,
    /// The actions offered and the default one.
    actions: Option<(&'static str, Vec<&'static str>)>,
    notes: Vec<(&'static str, String)>,
    form: Option<Element>,
}

impl CommandResponse {
    /// A response of `node`'s session `session`.
    pub fn new(node: &str, session: &str, status: Status) -> CommandResponse {
        CommandResponse {
            node: node.to_owned(),
            session: session.to_owned(),
            status,
            actions: None,
            notes: Vec::new(),
            form: None,
        }
    }

    /// Offers `actions`, `default` first among them.
    pub fn actions(mut self, default: &'static str, actions: Vec<&'static str>) -> Self {
        self.actions = Some((default, actions));
        self
    }

    /// Adds a note of `kind` (`info`, `warn`, `error`), shortened to
    /// [`limits::MESSAGE_BYTES`].
    pub fn note(mut self, kind: &'static str, text: impl Into<String>) -> Self {
        self.notes
            .push((kind, limits::clip(&text.into(), limits::MESSAGE_BYTES)));
        self
    }

    /// Carries `form`.
    pub fn form(mut self, form: impl Into<Element>) -> Self {
        self.form = Some(form.into());
        self
    }

    /// The `<command>` element.
    pub fn build(self) -> Element {
        let status = match self.status {
            Status::Executing => "executing",
            Status::Completed => "completed",
            Status::Canceled => "canceled",
        };
        let mut b = Element::builder("command", NS)
            .attr(name("node"), self.node)
            .attr(name("sessionid"), self.session)
            .attr(name("status"), status);
        if let Some((default, actions)) = self.actions {
            let mut a = Element::builder("actions", NS).attr(name("execute"), default);
            for action in actions {
                a = a.append(Element::builder(action, NS).build());
            }
            b = b.append(a.build());
        }
        for (kind, text) in self.notes {
            b = b.append(
                Element::builder("note", NS)
                    .attr(name("type"), kind)
                    .append(text)
                    .build(),
            );
        }
        if let Some(mut form) = self.form {
            forms::type_fields(&mut form);
            b = b.append(form);
        }
        b.build()
    }
}

/// Longest text of one value in a response's form before it is cut, in bytes.
const LONG_VALUE: usize = 16 * 1024;

/// Cuts the text of `e` to `max` bytes, if longer.
fn cut_text(e: &mut Element, max: usize) {
    let text = e.text();
    if text.len() > max {
        let _ = e.take_nodes();
        e.append_text_node(limits::cut(&text, max));
    }
}

/// Leaves out the last children of `parent` named `name` whose sizes add up to at least
/// `excess` bytes; how many were left out.
fn leave_out_last(parent: &mut Element, name: &str, excess: usize) -> usize {
    let mut removed_bytes = 0;
    let mut removed = 0;
    let mut kept = Vec::new();
    for node in parent.take_nodes().into_iter().rev() {
        match node {
            xmpp_parsers::minidom::Node::Element(e)
                if removed_bytes < excess && e.is(name, ns::DATA_FORMS) =>
            {
                removed_bytes += limits::size(&e);
                removed += 1;
            }
            other => kept.push(other),
        }
    }
    for node in kept.into_iter().rev() {
        parent.append_node(node);
    }
    removed
}

/// Command response `response` within `room` bytes: long values of its form cut, then its
/// last items (or the last values of its longest field) left out with a note saying how
/// many, and as a last resort its form left out with a note. An XMPP server closes the stream
/// of a client sending a stanza over its limit: the master would go offline.
pub fn fit(mut response: Element, room: usize) -> Element {
    let over = |r: &Element| limits::size(r).saturating_sub(room);
    if over(&response) == 0 {
        return response;
    }
    // Room for the note saying what was left out.
    const NOTE: usize = 200;
    let mut left_out = 0;
    if let Some(form) = response.get_child_mut("x", ns::DATA_FORMS) {
        for field in form.children_mut() {
            let fields: Vec<&mut Element> = if field.is("item", ns::DATA_FORMS) {
                field.children_mut().collect()
            } else {
                vec![field]
            };
            for f in fields {
                for value in f.children_mut() {
                    if value.is("value", ns::DATA_FORMS) {
                        cut_text(value, LONG_VALUE);
                    }
                }
            }
        }
    }
    // Sizes of children written alone are a little larger than within their parent: a few
    // rounds.
    for _ in 0..8 {
        let excess = over(&response);
        if excess == 0 {
            break;
        }
        let Some(form) = response.get_child_mut("x", ns::DATA_FORMS) else {
            break;
        };
        let mut removed = leave_out_last(form, "item", excess + NOTE);
        if removed == 0 {
            let longest = form
                .children_mut()
                .filter(|f| f.is("field", ns::DATA_FORMS))
                .max_by_key(|f| f.children().count());
            if let Some(field) = longest {
                removed = leave_out_last(field, "value", excess + NOTE);
            }
        }
        if removed == 0 {
            break;
        }
        left_out += removed;
    }
    let note = |text: String| {
        Element::builder("note", NS)
            .attr(name("type"), "warn")
            .append(text)
            .build()
    };
    if over(&response) > 0 {
        let size = limits::size(&response);
        let _ = response.remove_child("x", ns::DATA_FORMS);
        response.append_child(note(format!(
            "the answer's form is left out: {size} bytes, more than the XMPP server accepts"
        )));
    } else if left_out > 0 {
        response.append_child(note(format!(
            "{left_out} lines are left out: the whole answer is more than the XMPP server \
             accepts"
        )));
    }
    response
}

/// An error of a command: `condition`, the commands' specific condition if any, and text.
pub fn command_error(
    kind: ErrorType,
    condition: DefinedCondition,
    specific: Option<&str>,
    text: impl Into<String>,
) -> Box<StanzaError> {
    let mut e = StanzaError::new(
        kind,
        condition,
        "en",
        limits::clip(&text.into(), limits::MESSAGE_BYTES),
    );
    e.other = specific.map(|s| Element::builder(s, NS).build());
    Box::new(e)
}

/// The items answering a disco#items query on the commands node of `me`.
pub fn items(me: &FullJid) -> DiscoItemsResult {
    DiscoItemsResult {
        node: Some(NS.to_owned()),
        items: COMMANDS
            .iter()
            .map(|(node, name)| Item {
                jid: Jid::from(me.clone()),
                node: Some((*node).to_owned()),
                name: Some((*name).to_owned()),
            })
            .collect(),
        rsm: None,
    }
}

/// The disco#info of command `node`, if it is one.
pub fn node_info(node: &str) -> Option<DiscoInfoResult> {
    let (_, name) = COMMANDS.iter().find(|(n, _)| *n == node)?;
    Some(DiscoInfoResult {
        node: Some(node.to_owned()),
        identities: vec![Identity::new("automation", "command-node", "en", *name)],
        features: [NS, ns::DATA_FORMS]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        extensions: Vec::new(),
    })
}

/// One provide in the list: its relative address, where it is offered, and its words.
#[derive(Debug, Default)]
struct Listed {
    label: String,
    help: String,
    tags: String,
    locations: Vec<String>,
}

/// The `provides` result form: one item per provide of the mesh.
fn provides_form(listed: &BTreeMap<String, Listed>) -> Element {
    let columns = [
        ("xpath", "Provide"),
        ("tag", "Tags"),
        ("label", "Label"),
        ("help", "Help"),
        ("locations", "Locations"),
    ];
    let text = |name: &str, v: String| Element::builder(name, ns::DATA_FORMS).append(v).build();
    let mut reported = Element::builder("reported", ns::DATA_FORMS);
    for (var, label) in columns {
        reported = reported.append(
            Element::builder("field", ns::DATA_FORMS)
                .attr(name("var"), var)
                .attr(name("label"), label)
                .attr(name("type"), "text-single")
                .build(),
        );
    }
    let mut form = Element::builder("x", ns::DATA_FORMS)
        .attr(name("type"), "result")
        .append(text("title", "List of provides".into()))
        .append(text("instructions", "Choose a xpath amongst them".into()))
        .append(reported.build());
    for (xpath, p) in listed {
        let mut item = Element::builder("item", ns::DATA_FORMS);
        for (var, value) in [
            ("xpath", xpath.clone()),
            ("tag", p.tags.clone()),
            ("label", p.label.clone()),
            ("help", p.help.clone()),
            ("locations", p.locations.join(", ")),
        ] {
            item = item.append(
                Element::builder("field", ns::DATA_FORMS)
                    .attr(name("var"), var)
                    .append(text("value", value))
                    .build(),
            );
        }
        form = form.append(item.build());
    }
    form.build()
}

/// The mesh as the deployment engine of a build sees it: every call made for `owner`.
struct MeshView {
    mesh: Handle,
    owner: String,
}

/// A location of the mesh, its calls made for someone (their agent's journal says whom).
struct ForWhom {
    inner: Arc<dyn armonic_proto::Endpoint>,
    who: String,
}

impl armonic_proto::Endpoint for ForWhom {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn call(&self, mut call: armonic_proto::Call) -> armonic_proto::CallStream {
        call.on_behalf_of = Some(self.who.clone());
        self.inner.call(call)
    }
}

impl Mesh for MeshView {
    fn locations(&self) -> Vec<String> {
        let mut names: Vec<String> = self.mesh.live().into_iter().map(|i| i.name).collect();
        names.sort();
        names
    }

    fn agent(&self, location: &str) -> Option<Agent> {
        self.locations().iter().any(|n| n == location).then(|| {
            Agent::new(Arc::new(ForWhom {
                inner: self.mesh.endpoint(location),
                who: self.owner.clone(),
            }))
        })
    }

    fn offering(&self, xpath: &str) -> Option<Vec<String>> {
        Address::parse(xpath).ok().map(|a| self.mesh.offering(&a))
    }
}

/// What a build's engine tells its session.
enum Step {
    /// A question to put in a form.
    Ask(Question),
    /// The deployment is resolved: apply it? (its description)
    Confirm(String),
    /// The deployment ran.
    Done {
        succeeded: bool,
        result: Option<armonic_lifecycle::Value>,
        steps: Vec<String>,
    },
    /// The build stopped.
    Failed(String),
}

/// Where a build stands.
enum Stage {
    /// The provide to build is asked.
    Root,
    /// The engine asked this.
    Asking(Box<Question>),
    /// The deployment waits for approval.
    Confirm(String),
}

/// One build session.
struct Build {
    owner: Jid,
    root: String,
    stage: Stage,
    /// Answers to the engine's thread; dropping it cancels the build.
    answers: Option<std::sync::mpsc::SyncSender<Answer>>,
    steps: Option<mpsc::Receiver<Step>>,
    touched: Instant,
    room: Option<BareJid>,
    /// The secret values of this build: never said in clear in its forms, notes and room.
    secrets: Secrets,
}

/// What stands for a secret value in text the bridge writes.
pub const HIDDEN: &str = armonic_lifecycle::secret::MASK;

/// The secret values a build has seen (typed in `text-private` fields, or proposed for
/// secret variables), shared by its session and its engine's thread.
#[derive(Clone, Default)]
struct Secrets(Arc<Mutex<Vec<String>>>);

impl Secrets {
    /// Keeps the text of `value` (and of each item of a list) as a secret.
    fn keep(&self, value: &armonic_lifecycle::Value) {
        let mut texts = vec![forms::shown(value)];
        if let armonic_lifecycle::Value::List(items) = value {
            texts.extend(items.iter().map(forms::shown));
        }
        let mut secrets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for t in texts {
            if !t.is_empty() && !secrets.contains(&t) {
                secrets.push(t);
            }
        }
        // Longest first: a secret holding another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret replaced by [`HIDDEN`].
    fn hide(&self, text: &str) -> String {
        let secrets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = text.to_owned();
        for s in secrets.iter() {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), HIDDEN);
            }
        }
        text
    }

    /// Hides the secrets in every text of `e`, but for the values of boolean fields (`1`, `0`).
    fn hide_in(&self, e: &mut Element) {
        if e.is("field", ns::DATA_FORMS) && e.attr("type") == Some("boolean") {
            return;
        }
        for node in e.nodes_mut() {
            match node {
                xmpp_parsers::minidom::Node::Text(t) => *t = self.hide(t),
                xmpp_parsers::minidom::Node::Element(child) => self.hide_in(child),
            }
        }
    }

    /// Keeps what question `q` proposes for a secret variable.
    fn keep_proposed(&self, q: &Question) {
        if let Question::Value { variable, .. } = q {
            if forms::is_secret(variable) {
                if let Some(v) = &variable.suggestion {
                    self.keep(v);
                }
            }
        }
    }

    /// Keeps what `answer` gives question `q`, if it is a secret.
    fn keep_answer(&self, q: &Question, answer: &Answer) {
        if let (Question::Value { variable, .. }, Answer::Value(v)) = (q, answer) {
            if forms::is_secret(variable) {
                self.keep(v);
            }
        }
    }
}

/// The frontend of a build's engine: each question goes to the session, each answer comes
/// from the form submitted; log lines go to the deployment's room.
struct FormFrontend {
    steps: mpsc::Sender<Step>,
    answers: std::sync::mpsc::Receiver<Answer>,
    idle: Duration,
    outbox: Outbox,
    room: BareJid,
    deployment: String,
    secrets: Secrets,
}

impl FormFrontend {
    fn wait(&self) -> Result<Answer, Abort> {
        match self.answers.recv_timeout(self.idle) {
            Ok(a) => Ok(a),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Abort(format!(
                "nothing was answered for {} minutes: the build was given up",
                self.idle.as_secs() / 60
            ))),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(Abort("the build was cancelled".into()))
            }
        }
    }

    fn say(&self, level: Level, location: &str, message: String) {
        self.line(&LogRecord {
            level,
            location: location.to_owned(),
            lifecycle: String::new(),
            state: None,
            provide: None,
            deployment: Some(self.deployment.clone()),
            message,
        });
    }

    fn line(&self, record: &LogRecord) {
        let mut record = record.clone();
        record.message = self.secrets.hide(&record.message);
        let m = logs::message(&self.room, &record, &self.deployment);
        self.outbox.send_blocking(m);
    }
}

impl Frontend for FormFrontend {
    fn ask(&mut self, question: &Question) -> Result<Answer, Abort> {
        self.steps
            .blocking_send(Step::Ask(question.clone()))
            .map_err(|_| Abort("the build was cancelled".into()))?;
        self.wait()
    }

    fn notify(&mut self, event: &Event) {
        match event {
            Event::Log(record) => self.line(record),
            Event::StepFailed { xpath, error, .. } => {
                self.say(Level::Error, "master", format!("{xpath} failed: {error}"));
            }
            Event::Notice(text) => self.say(Level::Warning, "master", text.clone()),
            _ => {}
        }
    }
}

/// A step's outcome in words.
fn said(status: &armonic_smart::Status) -> String {
    use armonic_smart::Status;
    match status {
        Status::Done { returned: Some(v) } => format!("done, returned {v}"),
        Status::Done { returned: None } => "done".into(),
        Status::Failed { error } => format!("failed: {error}"),
        Status::Interrupted { error } => format!("interrupted: {error}"),
        Status::Unknown { error } => format!("outcome unknown: {error}"),
        Status::NotStarted => "not started".into(),
    }
}

/// Runs a build's engine: resolves `root` asking the session, asks for approval, runs it.
fn engine(mesh: MeshView, root: String, mut fe: FormFrontend) {
    let options = Options {
        id: DeploymentId::from_text(fe.deployment.clone()),
        ..Options::default()
    };
    let step = match armonic_smart::resolve(&mesh, &root, &mut fe, &options) {
        Err(e) => Step::Failed(e.to_string()),
        Ok(mut plan) => {
            if fe
                .steps
                .blocking_send(Step::Confirm(plan.render()))
                .is_err()
            {
                return;
            }
            match fe.wait() {
                Ok(Answer::Yes) => {
                    let outcome = plan.execute(&mesh, &mut fe, PARALLELISM);
                    let steps = outcome
                        .steps
                        .iter()
                        .map(|s| format!("{} on {}: {}", s.xpath, s.location, said(&s.status)))
                        .collect();
                    Step::Done {
                        succeeded: outcome.succeeded,
                        result: outcome.result,
                        steps,
                    }
                }
                Ok(_) => Step::Failed("the deployment was not applied".into()),
                Err(Abort(why)) => Step::Failed(why),
            }
        }
    };
    let _ = fe.steps.blocking_send(step);
}

/// The master's commands.
pub(crate) struct Commands {
    me: FullJid,
    config: Arc<Config>,
    mesh: Handle,
    outbox: Outbox,
    builds: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Build>>>>,
}

type Reply = Result<Element, Box<StanzaError>>;

impl Commands {
    pub(crate) fn new(me: FullJid, shared: &Shared, outbox: Outbox) -> Commands {
        Commands {
            me,
            config: Arc::clone(&shared.config),
            mesh: shared.mesh.clone(),
            outbox,
            builds: Mutex::new(HashMap::new()),
        }
    }

    /// The master's own JID.
    pub(crate) fn me(&self) -> &FullJid {
        &self.me
    }

    /// Answers command request `payload` from `from`.
    pub(crate) async fn handle(self: &Arc<Self>, from: &Jid, payload: &Element) -> Reply {
        let request = CommandRequest::parse(payload).map_err(|e| {
            command_error(
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                Some("malformed-action"),
                e,
            )
        })?;
        let room = self.config.stanza_limit.saturating_sub(limits::ENVELOPE);
        match request.node.as_str() {
            "provides" => Ok(fit(self.provides().await, room)),
            "build" => self.build(from, request).await.map(|r| fit(r, room)),
            other => Err(command_error(
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
                None,
                format!(
                    "there is no command {}: the commands are provides and build",
                    limits::quote(other)
                ),
            )),
        }
    }

    /// Every provide of the live locations, once per relative address.
    async fn provides(&self) -> Element {
        let mut listed: BTreeMap<String, Listed> = BTreeMap::new();
        let mut notes = Vec::new();
        let all = Address::parse("//*").expect("//* is an address");
        let mut names: Vec<String> = self.mesh.live().into_iter().map(|i| i.name).collect();
        names.sort();
        // Every location at once: one slow or dead agent costs its timeout once, not once
        // per location after it.
        let answers = futures::future::join_all(names.iter().map(|name| {
            let call =
                armonic_proto::Call::new(armonic_proto::method::Provide { xpath: all.clone() });
            armonic_proto::finish(self.mesh.endpoint(name).call(call), |_| {})
        }))
        .await;
        for (name, answer) in names.into_iter().zip(answers) {
            match answer.and_then(<armonic_proto::method::Provide as armonic_proto::Listed>::answer)
            {
                Ok(provides) => {
                    for p in provides {
                        let relative = p
                            .xpath
                            .trim_start_matches('/')
                            .split_once('/')
                            .map_or(p.xpath.clone(), |(_, rest)| rest.to_owned());
                        let entry = listed.entry(relative).or_default();
                        entry.label = p.label.clone().unwrap_or_default();
                        entry.help = p.help.clone().unwrap_or_default();
                        entry.tags = p.tags.join(", ");
                        entry.locations.push(name.clone());
                    }
                }
                Err(e) => notes.push(format!("{name}: {e}")),
            }
        }
        let session = DeploymentId::new().to_string();
        let mut r = CommandResponse::new("provides", &session, Status::Completed)
            .form(provides_form(&listed));
        for n in notes {
            r = r.note("warn", n);
        }
        r.build()
    }

    /// Forgets the builds nobody touched for longer than the engine waits for an answer.
    fn expire(&self) {
        let idle = self.config.build_idle_timeout;
        if let Ok(mut builds) = self.builds.lock() {
            builds.retain(|_, b| {
                b.try_lock().map_or(true, |b| {
                    b.touched.elapsed() < idle + Duration::from_secs(60)
                })
            });
        }
    }

    fn session(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<Build>>> {
        self.builds.lock().ok()?.get(id).cloned()
    }

    fn forget(&self, id: &str) {
        if let Ok(mut builds) = self.builds.lock() {
            builds.remove(id);
        }
    }

    async fn build(self: &Arc<Self>, from: &Jid, request: CommandRequest) -> Reply {
        if !self.config.may_change_states(&from.to_bare()) {
            return Err(command_error(
                ErrorType::Auth,
                DefinedCondition::Forbidden,
                None,
                format!(
                    "{} may not build: only the JIDs allowed to change states may",
                    from.to_bare()
                ),
            ));
        }
        self.expire();
        let Some(id) = request.session.clone() else {
            let open = self.builds.lock().map_or(0, |b| b.len());
            if open >= MAX_BUILDS {
                return Err(command_error(
                    ErrorType::Wait,
                    DefinedCondition::ResourceConstraint,
                    None,
                    format!("{open} builds are open already: finish or cancel one first"),
                ));
            }
            let id = DeploymentId::new().to_string();
            let build = Build {
                owner: from.clone(),
                root: String::new(),
                stage: Stage::Root,
                answers: None,
                steps: None,
                touched: Instant::now(),
                room: None,
                secrets: Secrets::default(),
            };
            if let Ok(mut builds) = self.builds.lock() {
                builds.insert(id.clone(), Arc::new(tokio::sync::Mutex::new(build)));
            }
            return Ok(CommandResponse::new("build", &id, Status::Executing)
                .actions("next", vec!["next"])
                .form(forms::ask_root())
                .build());
        };
        let Some(session) = self.session(&id) else {
            return Err(command_error(
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                Some("bad-sessionid"),
                format!(
                    "there is no build session {} (it ended, or was given up)",
                    limits::quote(&id)
                ),
            ));
        };
        let mut b = session.lock().await;
        if &b.owner != from {
            return Err(command_error(
                ErrorType::Auth,
                DefinedCondition::Forbidden,
                None,
                "this build session belongs to another client",
            ));
        }
        let secrets = b.secrets.clone();
        self.advance(&id, &mut b, request).await.map(|mut r| {
            secrets.hide_in(&mut r);
            r
        })
    }

    /// Takes `request`'s answer to where build `id` stands, and says what comes next.
    async fn advance(&self, id: &str, b: &mut Build, request: CommandRequest) -> Reply {
        let id = id.to_owned();
        b.touched = Instant::now();
        match request.action {
            Action::Cancel => {
                self.end(&id, b).await;
                return Ok(CommandResponse::new("build", &id, Status::Canceled).build());
            }
            Action::Prev => {
                return Err(command_error(
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    Some("bad-action"),
                    "a build cannot go back: cancel it and start again",
                ));
            }
            Action::Execute | Action::Next | Action::Complete => {}
        }
        let form = request.form.as_ref();
        let again = |b: &Build, error: String| {
            let (form, complete) = match &b.stage {
                Stage::Root => (forms::ask_root(), false),
                Stage::Asking(q) => (forms::ask(q, &b.root), false),
                Stage::Confirm(plan) => (forms::confirm(plan, &b.root), true),
            };
            let (default, actions) = if complete {
                ("complete", vec!["complete"])
            } else {
                ("next", vec!["next"])
            };
            Ok(CommandResponse::new("build", &id, Status::Executing)
                .actions(default, actions)
                .note("error", error)
                .form(form)
                .build())
        };
        let answer = match &b.stage {
            Stage::Root => match forms::root(form) {
                Err(e) => return again(b, e),
                Ok(root) => {
                    self.start(&id, b, root);
                    None
                }
            },
            Stage::Asking(q) => match forms::answer(q, form) {
                Err(e) => return again(b, e),
                Ok(a) => {
                    b.secrets.keep_answer(q, &a);
                    Some(a)
                }
            },
            Stage::Confirm(_) => match forms::applied(form) {
                Err(e) => return again(b, e),
                Ok(true) => {
                    let room = self.room(&id)?;
                    if let Err(e) = self
                        .outbox
                        .join(room.clone(), self.config.reply_timeout)
                        .await
                    {
                        tracing::warn!("the log room {room} cannot be joined: {e}");
                    } else {
                        b.room = Some(room);
                    }
                    Some(Answer::Yes)
                }
                Ok(false) => Some(Answer::No),
            },
        };
        if let Some(a) = answer {
            let sent = b.answers.as_ref().is_some_and(|tx| tx.try_send(a).is_ok());
            if !sent {
                self.end(&id, b).await;
                return Ok(CommandResponse::new("build", &id, Status::Completed)
                    .note("error", "the build had already stopped")
                    .build());
            }
        }
        self.next_step(&id, b).await
    }

    fn room(&self, id: &str) -> Result<BareJid, Box<StanzaError>> {
        BareJid::new(&format!("{id}@{}", self.config.muc_domain)).map_err(|e| {
            command_error(
                ErrorType::Cancel,
                DefinedCondition::InternalServerError,
                None,
                format!("no log room for {id}: {e}"),
            )
        })
    }

    /// Starts the engine of build `id` on `root`.
    fn start(&self, id: &str, b: &mut Build, root: String) {
        let (steps_tx, steps_rx) = mpsc::channel(4);
        // One question waits for one answer at a time.
        let (answers_tx, answers_rx) = std::sync::mpsc::sync_channel(1);
        let Ok(room) = self.room(id) else { return };
        let fe = FormFrontend {
            steps: steps_tx,
            answers: answers_rx,
            idle: self.config.build_idle_timeout,
            outbox: self.outbox.clone(),
            room,
            deployment: id.to_owned(),
            secrets: b.secrets.clone(),
        };
        let mesh = MeshView {
            mesh: self.mesh.clone(),
            owner: b.owner.to_bare().to_string(),
        };
        let r = root.clone();
        // The engine's calls are streams of the mesh: they need its runtime.
        let runtime = tokio::runtime::Handle::current();
        let spawned = std::thread::Builder::new()
            .name(format!("build-{id}"))
            .spawn(move || {
                let _in = runtime.enter();
                engine(mesh, r, fe);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a build: {e}");
            return;
        }
        tracing::info!(build = id, "building {root}");
        b.root = root;
        b.answers = Some(answers_tx);
        b.steps = Some(steps_rx);
    }

    /// Waits for what the engine says next and makes it the response.
    async fn next_step(&self, id: &str, b: &mut Build) -> Reply {
        let step = match b.steps.as_mut() {
            Some(rx) => rx.recv().await,
            None => None,
        };
        let response = CommandResponse::new("build", id, Status::Executing);
        match step {
            Some(Step::Ask(q)) => {
                b.secrets.keep_proposed(&q);
                let form = forms::ask(&q, &b.root);
                b.stage = Stage::Asking(Box::new(q));
                Ok(response.actions("next", vec!["next"]).form(form).build())
            }
            Some(Step::Confirm(plan)) => {
                let form = forms::confirm(&plan, &b.root);
                b.stage = Stage::Confirm(plan);
                Ok(response
                    .actions("complete", vec!["complete"])
                    .note(
                        "info",
                        format!(
                            "log lines of the deployment go to the room {id}@{}",
                            self.config.muc_domain
                        ),
                    )
                    .form(form)
                    .build())
            }
            Some(Step::Done {
                succeeded,
                result,
                steps,
            }) => {
                let root = b.root.clone();
                self.end(id, b).await;
                tracing::info!(build = id, succeeded, "{root} built");
                let note = if succeeded {
                    ("info", format!("{root} is deployed"))
                } else {
                    ("error", format!("the deployment of {root} failed"))
                };
                Ok(CommandResponse::new("build", id, Status::Completed)
                    .note(note.0, note.1)
                    .form(forms::done(&root, id, succeeded, result.as_ref(), steps))
                    .build())
            }
            Some(Step::Failed(why)) => {
                self.end(id, b).await;
                tracing::info!(build = id, "build stopped: {why}");
                Ok(CommandResponse::new("build", id, Status::Completed)
                    .note("error", why)
                    .build())
            }
            None => {
                self.end(id, b).await;
                Ok(CommandResponse::new("build", id, Status::Completed)
                    .note("error", "the build stopped")
                    .build())
            }
        }
    }

    /// Ends build `id`: its engine stops at its next question, its room is left.
    async fn end(&self, id: &str, b: &mut Build) {
        b.answers = None;
        b.steps = None;
        if let Some(room) = b.room.take() {
            self.outbox.leave(room).await;
        }
        self.forget(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<CommandRequest, String> {
        CommandRequest::parse(&xml.parse::<Element>().unwrap())
    }

    #[test]
    fn requests_are_read_as_standard_clients_send_them() {
        let r = parse(&format!(
            "<command xmlns='{NS}' node='build' action='execute'/>"
        ))
        .unwrap();
        assert_eq!(
            (r.node.as_str(), r.action, r.session),
            ("build", Action::Execute, None)
        );
        let r = parse(&format!(
            "<command xmlns='{NS}' node='build' sessionid='s1'>\
             <x xmlns='jabber:x:data' type='submit'><field var='xpath'><value>//WebSite//start</value></field></x>\
             </command>"
        ))
        .unwrap();
        assert_eq!(r.action, Action::Execute, "no action means execute");
        assert_eq!(r.session.as_deref(), Some("s1"));
        assert_eq!(r.form.unwrap().fields[0].values, ["//WebSite//start"]);
        assert!(
            parse(&format!(
                "<command xmlns='{NS}' node='build' action='jump'/>"
            ))
            .is_err()
        );
        assert!(parse(&format!("<command xmlns='{NS}'/>")).is_err());
    }

    #[test]
    fn responses_carry_status_actions_notes_and_form() {
        let e = CommandResponse::new("build", "s1", Status::Executing)
            .actions("next", vec!["next"])
            .note("error", "again")
            .form(forms::ask_root())
            .build();
        let xml = String::from(&e);
        assert!(xml.contains("status='executing'"), "{xml}");
        assert!(xml.contains("sessionid='s1'"), "{xml}");
        assert!(
            xml.contains("<actions execute='next'><next/></actions>"),
            "{xml}"
        );
        assert!(xml.contains("<note type='error'>again</note>"), "{xml}");
        assert!(xml.contains("var='xpath'"), "{xml}");
    }

    #[test]
    fn a_form_with_empty_fields_is_read_not_refused() {
        let r = parse(&format!(
            "<command xmlns='{NS}' node='build' sessionid='s1' action='next'>\
             <x xmlns='jabber:x:data' type='submit'><field/><field var='root'/>\
             <field var='xpath'><value>//WebSite//start</value></field></x></command>"
        ))
        .unwrap();
        let form = r.form.unwrap();
        assert_eq!(form.fields.len(), 1);
        assert_eq!(form.fields[0].values, ["//WebSite//start"]);
    }

    #[test]
    fn forms_in_responses_say_the_type_of_every_field() {
        let xml = String::from(
            &CommandResponse::new("build", "s1", Status::Executing)
                .form(forms::ask_root())
                .build(),
        );
        assert!(
            xml.contains("type='text-single'") && xml.contains("var='xpath'"),
            "{xml}"
        );
    }

    #[test]
    fn an_error_quoting_a_huge_input_is_short() {
        // (The XML parser takes attributes of a few kilobytes only.)
        let action = "n".repeat(4_000);
        let e = parse(&format!(
            "<command xmlns='{NS}' node='b' action='{action}'/>"
        ))
        .unwrap_err();
        assert!(e.len() < 400, "{}", e.len());
        let huge = "n".repeat(300_000);
        let error = command_error(ErrorType::Modify, DefinedCondition::BadRequest, None, huge);
        let text = error.texts.values().next().unwrap();
        assert!(text.len() <= limits::MESSAGE_BYTES + 64, "{}", text.len());
        let note = CommandResponse::new("build", "s", Status::Completed)
            .note("error", "e".repeat(300_000))
            .build();
        assert!(limits::size(&note) < 2 * limits::MESSAGE_BYTES);
    }

    #[test]
    fn a_response_over_the_limit_leaves_out_its_last_lines_and_says_so() {
        let mut listed = BTreeMap::new();
        for i in 0..5000 {
            listed.insert(
                format!("Lifecycle{i:04}/Active/start"),
                Listed {
                    label: "A provide with a label".into(),
                    help: "and some help".into(),
                    tags: String::new(),
                    locations: vec!["web1".into()],
                },
            );
        }
        let whole = CommandResponse::new("provides", "s", Status::Completed)
            .form(provides_form(&listed))
            .build();
        assert!(limits::size(&whole) > 256 * 1024);
        let room = 16 * 1024;
        let fitted = fit(whole, room);
        assert!(limits::size(&fitted) <= room, "{}", limits::size(&fitted));
        let xml = String::from(&fitted);
        assert!(xml.contains("<value>Lifecycle0000/Active/start</value>"));
        assert!(xml.contains("lines are left out"), "{xml}");
        // One value too long for any room: cut, then the form left out if need be.
        let mut big = forms::done("//x", "d", true, None, vec!["s".repeat(100_000)]);
        big.fields.truncate(3);
        let r = CommandResponse::new("build", "s", Status::Completed)
            .form(big)
            .build();
        let fitted = fit(r, 8 * 1024);
        assert!(
            limits::size(&fitted) <= 8 * 1024,
            "{}",
            limits::size(&fitted)
        );
        let small = CommandResponse::new("build", "s", Status::Completed)
            .form(forms::ask_root())
            .build();
        assert_eq!(fit(small.clone(), 8 * 1024), small);
    }

    #[test]
    fn secrets_are_hidden_in_every_text_of_a_response_and_in_room_lines() {
        let secrets = Secrets::default();
        secrets.keep(&armonic_lifecycle::Value::from("hunter2-secret"));
        let mut form = forms::confirm(
            "Deployment of //x\n  Db/Configured/enter/conf/password = hunter2-secret",
            "//x",
        );
        form.fields.push({
            let mut f = xmpp_parsers::data_forms::Field::new(
                "flag",
                xmpp_parsers::data_forms::FieldType::Boolean,
            );
            f.values = vec!["1".into()];
            f
        });
        let mut r = CommandResponse::new("build", "s", Status::Executing)
            .note("error", "'hunter2-secret' is refused")
            .form(form)
            .build();
        secrets.hide_in(&mut r);
        let xml = String::from(&r);
        assert!(!xml.contains("hunter2-secret"), "{xml}");
        assert!(xml.contains(HIDDEN), "{xml}");
        assert_eq!(
            secrets.hide("connecting with hunter2-secret"),
            format!("connecting with {HIDDEN}")
        );
    }

    #[test]
    fn the_commands_are_listed_with_the_original_names() {
        let me = FullJid::new("master@example.com/master").unwrap();
        let items = items(&me);
        let names: Vec<_> = items
            .items
            .iter()
            .map(|i| i.node.clone().unwrap())
            .collect();
        assert_eq!(names, ["provides", "build"]);
        assert_eq!(items.items[1].name.as_deref(), Some("Build a provide"));
        assert!(node_info("build").is_some());
        assert!(node_info("nope").is_none());
    }

    #[test]
    fn the_provides_form_has_the_originals_columns_and_one_item_per_provide() {
        let mut listed = BTreeMap::new();
        listed.insert(
            "WebSite/Active/start".to_owned(),
            Listed {
                label: "Start the site".into(),
                help: String::new(),
                tags: "expert".into(),
                locations: vec!["web1".into(), "web2".into()],
            },
        );
        let xml = String::from(&provides_form(&listed));
        for column in ["xpath", "tag", "label", "help"] {
            assert!(xml.contains(&format!("var='{column}'")), "{xml}");
        }
        assert!(xml.contains("<title>List of provides</title>"), "{xml}");
        assert!(xml.contains("<value>WebSite/Active/start</value>"), "{xml}");
        assert!(xml.contains("<value>web1, web2</value>"), "{xml}");
    }
}
