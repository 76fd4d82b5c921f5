//! The host of a location: runs its calls, each into its journal, and answers each caller
//! from the journal.
//!
//! A call that changes states is written to the journal when it begins (who asked, the
//! request, the deployment), runs on a thread of its own with its lines going to the
//! journal as they come, and ends with its answer in the journal. Its caller gets a reader
//! of the journal positioned at the call: the lines, then the answer, at the caller's own
//! pace. The same call id again (a caller re-attaching) gets a new reader of the same call;
//! nothing runs twice. Reads are answered directly and noted in the journal.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use armonic_lifecycle::{Interrupt, Location, LogRecord, LogSink};
use armonic_proto::{
    ApiError, Call, CallId, CallStream, Caller, Endpoint, Event, LogBatch, Request, Response,
    answered_later,
};
use futures::Stream;

use crate::journal::{self, Journal, OpenError};
use crate::reader::{Cursor, Step};
use crate::record::Record;

/// Work handed to a [`Spawn`].
pub type Job = Box<dyn FnOnce() + Send>;

/// Runs jobs that block (a call running on a location): a thread each by default; an agent
/// gives its runtime's pool of blocking threads.
pub type Spawn = Arc<dyn Fn(Job) + Send + Sync>;

fn thread_per_job() -> Spawn {
    Arc::new(|job: Job| {
        if let Err(e) = std::thread::Builder::new().name("call".into()).spawn(job) {
            tracing::error!("cannot start a thread for a call: {e}");
        }
    })
}

/// Calls ended whose answer is kept in memory for callers re-attaching.
const ENDED: usize = 4096;

/// A call that changes states, begun here.
struct Running {
    /// Its position in the journal.
    key: u64,
    interrupt: Interrupt,
    /// Its answer, once over.
    done: Mutex<Option<Result<Response, ApiError>>>,
    /// Lines written.
    lines: AtomicU64,
}

#[derive(Default)]
struct Table {
    calls: HashMap<CallId, Arc<Running>>,
    ended: VecDeque<CallId>,
}

struct Inner {
    name: String,
    location: Location,
    journal: Journal,
    spawn: Spawn,
    /// Reads run on the thread that polls their answer (embedded locations) rather than as
    /// jobs (an agent, whose runtime must not wait for them).
    inline_reads: bool,
    table: Mutex<Table>,
    /// Calls that change states, begun and not ended.
    running: AtomicU64,
}

/// A location serving calls into its journal: an [`Endpoint`]. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Host {
    /// Serves `location` with a journal kept as `journal` says. Calls the journal shows
    /// begun and never ended (the process died during them) are ended now, their outcome
    /// unknown.
    pub fn new(location: Location, journal: &journal::Config) -> Result<Host, OpenError> {
        let name = location.config().name.clone();
        let (journal, unfinished) = Journal::open(&name, journal)?;
        for u in unfinished {
            let id =
                u.id.map(|i| i.to_string())
                    .unwrap_or_else(|| format!("at {}", u.key));
            tracing::warn!(
                location = name,
                call = id,
                "a call was running when its process ended"
            );
            journal.call_ended(
                u.key,
                0,
                0,
                &Err(ApiError::Unknown {
                    location: name.clone(),
                    message: "the process running the call ended during it: it may have partly run (the lifecycle's state says how far it went)".into(),
                }),
            );
        }
        Ok(Host {
            inner: Arc::new(Inner {
                name,
                location,
                journal,
                spawn: thread_per_job(),
                inline_reads: true,
                table: Mutex::new(Table::default()),
                running: AtomicU64::new(0),
            }),
        })
    }

    /// Serves `location` with its journal in its state directory (`STATE_DIR/journal`), or
    /// in memory when it has none.
    pub fn open(location: Location) -> Result<Host, OpenError> {
        let config = match &location.config().state_dir {
            Some(dir) => journal::Config::in_dir(dir.join("journal")),
            None => journal::Config::in_memory(),
        };
        Host::new(location, &config)
    }

    /// The same host, its calls (and reads) run by `spawn`.
    ///
    /// # Panics
    ///
    /// When the host is already shared (call it before cloning).
    pub fn spawning(mut self, spawn: Spawn) -> Host {
        let inner = Arc::get_mut(&mut self.inner)
            .unwrap_or_else(|| unreachable!("a host is given its spawner before it is shared"));
        inner.spawn = spawn;
        inner.inline_reads = false;
        self
    }

    /// The location served.
    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    /// Its journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// How many calls that change states are running.
    pub fn busy(&self) -> u64 {
        self.inner.running.load(Ordering::SeqCst)
    }

    fn read(&self, call: Call) -> CallStream {
        let inner = Arc::clone(&self.inner);
        let run = move || {
            let Call {
                request,
                caller,
                on_behalf_of,
                ..
            } = call;
            let result = request.clone().apply(
                &inner.location,
                &armonic_proto::Context::new(Arc::new(Discard)),
            );
            inner.journal.read_answered(
                caller.as_ref(),
                on_behalf_of.as_ref(),
                &request,
                result.as_ref().err(),
            );
            result
        };
        if self.inner.inline_reads {
            return answered_later(async move { run() });
        }
        let (tx, rx) = futures::channel::oneshot::channel();
        (self.inner.spawn)(Box::new(move || {
            let _ = tx.send(run());
        }));
        answered_later(async move {
            rx.await.unwrap_or_else(|_| {
                Err(ApiError::Agent {
                    message: "the read was dropped before it was answered".into(),
                })
            })
        })
    }

    /// The running (or recently ended) call `id`, or a new one begun for `call`.
    fn running(&self, call: &Call) -> Arc<Running> {
        let mut table = lock(&self.inner.table);
        if let Some(r) = table.calls.get(&call.id) {
            return Arc::clone(r);
        }
        if call.again {
            // A caller re-attaching to a call this process does not remember (it ended long
            // ago, or before a restart): the journal has it, or it never arrived.
            if let Some(key) = self.inner.journal.find_call(&call.id) {
                let r = Arc::new(Running {
                    key,
                    interrupt: Interrupt::default(),
                    done: Mutex::new(None),
                    lines: AtomicU64::new(0),
                });
                remember(&mut table, &call.id, &r);
                table.ended.push_back(call.id.clone());
                return r;
            }
        }
        let r = self.start(call);
        remember(&mut table, &call.id, &r);
        r
    }

    /// Begins `call`: its start in the journal, then its work as a job.
    fn start(&self, call: &Call) -> Arc<Running> {
        let inner = &self.inner;
        let interrupt = match &call.interrupt {
            Some(i) => inner.location.interrupt().joining(i),
            None => inner.location.interrupt().child(),
        };
        let caller = call.caller.clone().unwrap_or(Caller::Process {
            pid: std::process::id(),
        });
        let lifecycle = lifecycle_named(&call.request, &inner.location);
        let request = call
            .request
            .with_secrets_hidden(inner.location.secret_names());
        let key = inner.journal.call_started(crate::journal::CallStart {
            id: &call.id,
            caller: Some(&caller),
            on_behalf_of: call.on_behalf_of.as_ref(),
            deployment: call.deployment.as_ref(),
            lifecycle: lifecycle.as_ref(),
            request: &request,
            step: call.step.as_ref(),
            plan: call.plan.as_ref(),
        });
        let span = tracing::info_span!(
            "call",
            location = inner.name,
            call = %call.id,
            deployment = call.deployment.as_ref().map(ToString::to_string),
            method = call.request.method(),
        );
        tracing::info!(
            parent: &span,
            caller = %caller,
            on_behalf_of = call.on_behalf_of.as_deref().unwrap_or("-"),
            "{} {}",
            call.request.method(),
            call.request.address().map(ToString::to_string).unwrap_or_default()
        );
        inner.running.fetch_add(1, Ordering::SeqCst);
        let running = Arc::new(Running {
            key,
            interrupt: interrupt.clone(),
            done: Mutex::new(None),
            lines: AtomicU64::new(0),
        });
        let job = {
            let inner = Arc::clone(inner);
            let running = Arc::clone(&running);
            let request = call.request.clone();
            let deployment = call.deployment.as_ref().map(ToString::to_string);
            let made_for = made_for(call);
            let id = call.id.clone();
            move || {
                let _in = span.enter();
                let began = Instant::now();
                let sink = Arc::new(JournalSink {
                    journal: inner.journal.clone(),
                    running: Arc::clone(&running),
                });
                let cx = armonic_proto::Context {
                    logs: sink,
                    interrupt: Some(interrupt),
                    deployment,
                    caller: made_for,
                };
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    request.apply(&inner.location, &cx)
                }))
                .unwrap_or_else(|_| {
                    Err(ApiError::Agent {
                        message: "the call failed unexpectedly (a bug: see the agent's log)".into(),
                    })
                });
                let millis = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
                let lines = running.lines.load(Ordering::SeqCst);
                match &result {
                    Ok(_) => {
                        tracing::info!(millis, lines, "done")
                    }
                    Err(e) => {
                        tracing::info!(millis, lines, "failed: {e}")
                    }
                }
                *lock(&running.done) = Some(result.clone());
                {
                    let mut table = lock(&inner.table);
                    table.ended.push_back(id);
                    while table.ended.len() > ENDED {
                        if let Some(old) = table.ended.pop_front() {
                            table.calls.remove(&old);
                        }
                    }
                }
                // The end goes to the journal last: whoever reads it may drop the host at
                // once, and this job must not keep the location then.
                let journal = inner.journal.clone();
                let recorded = secrets_masked(&inner.location, &result);
                inner.running.fetch_sub(1, Ordering::SeqCst);
                drop(inner);
                journal.call_ended(running.key, lines, millis, &recorded);
            }
        };
        (inner.spawn)(Box::new(job));
        running
    }
}

/// `result` as the journal keeps it: the secrets the location was given masked in it (a
/// provide may return one; its caller gets it as it is).
fn secrets_masked(
    location: &Location,
    result: &Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    fn mask(location: &Location, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                if let std::borrow::Cow::Owned(m) = location.mask(s) {
                    *s = m;
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| mask(location, v)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|v| mask(location, v)),
            _ => {}
        }
    }
    if !location.knows_secrets() {
        return result.clone();
    }
    let Ok(mut json) = serde_json::to_value(result) else {
        return result.clone();
    };
    mask(location, &mut json);
    serde_json::from_value(json).unwrap_or_else(|_| result.clone())
}

fn remember(table: &mut Table, id: &CallId, r: &Arc<Running>) {
    table.calls.insert(id.clone(), Arc::clone(r));
}

/// The lifecycle of this location that a request's address names, if it names one.
fn lifecycle_named(request: &Request, location: &Location) -> Option<String> {
    let address = request.address()?;
    let names = location.lifecycle_names();
    address
        .literals()
        .find(|l| names.contains(l))
        .map(str::to_owned)
}

impl Endpoint for Host {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn call(&self, call: Call) -> CallStream {
        if let Some(l) = call.location.as_deref().filter(|l| *l != self.inner.name) {
            return armonic_proto::answered(Err(ApiError::Unreachable {
                location: l.to_owned(),
                message: format!("{} does not reach it", self.inner.name),
            }));
        }
        if !call.request.changes_state() {
            return self.read(call);
        }
        let running = self.running(&call);
        if let Some(i) = &call.interrupt {
            // A caller re-attaching may stop the call too.
            if i.is_stopping() {
                running.interrupt.request(None);
            }
        }
        Box::pin(CallEvents {
            cursor: Cursor::at(&self.inner.journal, running.key),
            location: self.inner.name.clone(),
            deployment: call.deployment.as_ref().map(ToString::to_string),
            next_seq: call.from_seq,
            running,
            out: VecDeque::new(),
            over: false,
            gapped: false,
        })
    }
}

/// The location `call` is made for: the one it says; else, for a call from another member
/// of the mesh (which says it when it is an agent), that member by name with no address;
/// else (a call made on this machine) this location.
fn made_for(call: &Call) -> Option<armonic_lifecycle::CallerLocation> {
    match (&call.caller_location, &call.caller) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(Caller::Peer { peer_id, name })) => Some(armonic_lifecycle::CallerLocation {
            name: name.clone().unwrap_or_else(|| peer_id.clone()),
            address: String::new(),
        }),
        (None, _) => None,
    }
}

/// The lines of a running call, into the journal.
struct JournalSink {
    journal: Journal,
    running: Arc<Running>,
}

impl LogSink for JournalSink {
    fn log(&self, record: &LogRecord) {
        let seq = self.running.lines.fetch_add(1, Ordering::SeqCst);
        self.journal.line(self.running.key, seq, record);
    }
}

/// A sink for what has no lines.
struct Discard;

impl LogSink for Discard {
    fn log(&self, _: &LogRecord) {}
}

/// A caller's view of one call: its lines and answer, read from the journal.
struct CallEvents {
    cursor: Cursor,
    location: String,
    deployment: Option<String>,
    /// The next line the caller wants.
    next_seq: u64,
    running: Arc<Running>,
    /// Events ready to give.
    out: VecDeque<Event>,
    over: bool,
    /// Whether records were lost for this reader: the end may be among them.
    gapped: bool,
}

/// Lines gathered for the caller: the number of the first, and the lines.
type Gathered = Option<(u64, LogBatch)>;

impl CallEvents {
    /// Line `seq` from `place`, saying `message`: gathered, unless the caller has it.
    fn line(&mut self, batch: &mut Gathered, seq: u64, place: &Record) {
        if seq < self.next_seq {
            return;
        }
        if seq > self.next_seq {
            self.flush(batch);
            self.out.push_back(Event::Missed {
                count: seq - self.next_seq,
            });
        }
        if let Record::Line {
            v, lc, st, p, m, ..
        } = place
        {
            batch
                .get_or_insert_with(|| (seq, LogBatch::new()))
                .1
                .push_parts(
                    *v,
                    &self.location,
                    lc,
                    st.as_deref(),
                    p.as_deref(),
                    self.deployment.as_deref(),
                    m.clone(),
                );
        }
        self.next_seq = seq + 1;
    }

    fn flush(&mut self, batch: &mut Gathered) {
        if let Some((seq, lines)) = batch.take() {
            self.out.push_back(Event::Lines { seq, lines });
        }
    }

    fn end(&mut self, lines: u64, result: Result<Response, ApiError>) {
        if lines > self.next_seq {
            self.out.push_back(Event::Missed {
                count: lines - self.next_seq,
            });
        }
        self.out.push_back(Event::Done(result));
        self.over = true;
    }

    fn take(&mut self, records: Vec<Arc<Record>>) {
        let key = self.running.key;
        let mut batch = None;
        for r in records {
            match &*r {
                Record::Line { c, s, .. } if *c == key => self.line(&mut batch, *s, &r),
                Record::End { c, lines, res, .. } if *c == key => {
                    self.flush(&mut batch);
                    // The answer as the call gave it: the journal's has secrets masked.
                    let answer = lock(&self.running.done).clone();
                    self.end(*lines, answer.unwrap_or_else(|| res.clone()));
                    return;
                }
                _ => {}
            }
        }
        self.flush(&mut batch);
    }
}

impl Stream for CallEvents {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Poll::Ready(Some(e));
            }
            if self.over {
                return Poll::Ready(None);
            }
            let step = match self.cursor.poll_step(cx) {
                Poll::Ready(s) => s,
                Poll::Pending => {
                    // Everything held was read: if the end was among what was lost, the
                    // answer kept in memory says it.
                    let done = self
                        .gapped
                        .then(|| lock(&self.running.done).clone())
                        .flatten();
                    match done {
                        Some(result) => {
                            let lines = self.running.lines.load(Ordering::SeqCst);
                            self.end(lines, result);
                            continue;
                        }
                        None => return Poll::Pending,
                    }
                }
            };
            match step {
                Step::Records(records) => self.take(records),
                // What the caller missed is counted from the next line it gets.
                Step::Gap { .. } => self.gapped = true,
            }
        }
    }
}

impl armonic_proto::serve::Service for Host {
    fn call(&self, call: Call) -> CallStream {
        Endpoint::call(self, call)
    }

    /// Reads this location's journal (a read of every location, or of another, is answered
    /// for this one only: a host knows no other).
    fn read(&self, read: armonic_proto::serve::ReadRequest) -> armonic_proto::serve::ReadStream {
        use armonic_proto::serve::ReadEvent;
        use futures::StreamExt;
        if let Some(l) = read.location.as_deref().filter(|l| *l != self.inner.name) {
            let error = ApiError::Unreachable {
                location: l.to_owned(),
                message: format!("{} does not reach it", self.inner.name),
            };
            return Box::pin(futures::stream::iter([ReadEvent::Ended(Some(error))]));
        }
        let location = self.inner.name.clone();
        let entries =
            crate::Entries::new(&self.inner.journal, read.query).map(move |found| match found {
                crate::Found::Entries(entries) => ReadEvent::Entries {
                    location: location.clone(),
                    entries,
                },
                crate::Found::Missed { count } => ReadEvent::Missed { count },
                crate::Found::CaughtUp => ReadEvent::CaughtUp,
            });
        Box::pin(entries.chain(futures::stream::iter([ReadEvent::Ended(None)])))
    }
}
