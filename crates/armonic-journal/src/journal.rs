//! The journal: appended to by the calls a location runs, read by anyone with a cursor.
//!
//! Recent records stay in memory (a bounded tail) for the readers following along; every
//! record also goes to the files (when the journal has a directory), written out at every
//! boundary of a call (its start and end) and at least every 100 ms, made durable by a
//! thread of its own as soon as a boundary asks. A reader that falls behind the tail reads
//! the files; one that falls behind the files is told what it missed. No reader ever holds
//! up a writer.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use armonic_lifecycle::LogRecord;
use armonic_proto::{ApiError, CallId, Caller, DeploymentId, Request, Response};

use crate::files::{self, Files, Limits, now_ms};
use crate::record::{self, Meta, Record};

/// How a journal is kept.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where its files go (`STATE_DIR/journal`); in memory only when `None`.
    pub dir: Option<PathBuf>,
    /// How much the files keep.
    pub limits: Limits,
    /// Bytes of recent records kept in memory for readers following along.
    pub memory: usize,
}

impl Config {
    /// A journal kept in `dir`, with the default limits.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Config {
        Config {
            dir: Some(dir.into()),
            ..Config::in_memory()
        }
    }

    /// A journal kept in memory only (its recent records, for the readers following along).
    pub fn in_memory() -> Config {
        Config {
            dir: None,
            limits: Limits::default(),
            memory: 2 * 1024 * 1024,
        }
    }
}

/// Why a journal cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the journal in {}: {source}", .dir.display())]
pub struct OpenError {
    /// The directory.
    pub dir: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// A record in memory, with its size as written.
pub(crate) struct Stored {
    pub record: Arc<Record>,
    size: usize,
}

/// Most calls whose meta is kept in memory once ended.
const METAS: usize = 4096;

pub(crate) struct State {
    /// The position of the next record.
    pub next: u64,
    pub tail: VecDeque<Stored>,
    tail_bytes: usize,
    files: Option<Files>,
    /// Calls begun and not ended.
    pub open: HashMap<u64, Arc<Meta>>,
    /// Calls recently ended, oldest first.
    ended: VecDeque<(u64, Arc<Meta>)>,
    /// Where each recent deployment's first call began.
    deployments: HashMap<DeploymentId, u64>,
    dirty: bool,
    sync_wanted: bool,
    last_flush: Instant,
    /// When files too old were last looked for.
    last_retain: Instant,
    /// Where a record is written before it goes to the file.
    scratch: Vec<u8>,
}

impl Shared {
    /// Records were appended: the readers waiting are woken now if `now` or if they were not
    /// for a while, else soon by the writer's thread.
    fn wake(&self, now: bool) {
        let mut waiting = lock(&self.waiting);
        if waiting.wakers.is_empty() {
            waiting.pending = false;
            return;
        }
        if now || waiting.last.elapsed() >= WAKE_EVERY {
            waiting.last = Instant::now();
            waiting.pending = false;
            let wakers = std::mem::take(&mut waiting.wakers);
            drop(waiting);
            for w in wakers {
                w.wake();
            }
        } else if !waiting.pending {
            waiting.pending = true;
            drop(waiting);
            self.work.notify_one();
        }
    }

    /// Whether readers wait for records already appended.
    fn wake_pending(&self) -> bool {
        lock(&self.waiting).pending
    }
}

impl State {
    /// The files, oldest first.
    pub(crate) fn files(&self) -> Vec<(u64, PathBuf)> {
        self.files.as_ref().map(Files::list).unwrap_or_default()
    }
}

pub(crate) struct Shared {
    pub location: String,
    pub state: Mutex<State>,
    memory: usize,
    /// Wakes the thread that writes out and makes durable.
    work: Condvar,
    /// Readers waiting for a record.
    waiting: Mutex<Waiting>,
}

/// Readers waiting for records, and when they were last woken: a step printing fast wakes
/// them every [`WAKE_EVERY`] at most, not at every line.
struct Waiting {
    wakers: Vec<Waker>,
    last: Instant,
    /// Records were appended since the last wake.
    pending: bool,
}

/// Least time between two wakes of the readers while records keep coming.
const WAKE_EVERY: Duration = Duration::from_millis(2);

/// A call as it begins, for [`Journal::call_started`].
#[derive(Debug, Clone, Copy)]
pub struct CallStart<'a> {
    /// Its id.
    pub id: &'a CallId,
    /// Who asked.
    pub caller: Option<&'a Caller>,
    /// Whom the caller said it acted for.
    pub on_behalf_of: Option<&'a String>,
    /// Its deployment.
    pub deployment: Option<&'a DeploymentId>,
    /// The lifecycle it calls, when known.
    pub lifecycle: Option<&'a String>,
    /// The request, secrets hidden.
    pub request: &'a Request,
    /// The step of its deployment it is.
    pub step: Option<&'a String>,
    /// Its deployment, whole.
    pub plan: Option<&'a Arc<armonic_proto::DeploymentDoc>>,
}

/// A journal: clonable handle.
#[derive(Clone)]
pub struct Journal {
    pub(crate) shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A call the journal found begun and not ended when it was opened: its process died
/// during it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    /// The call's position.
    pub key: u64,
    /// Its id, when its start is still in the files.
    pub id: Option<CallId>,
}

impl Journal {
    /// Opens the journal of location `location` as `config` says. Calls the files show begun
    /// and never ended (the process died during them) are returned, to be ended by the
    /// caller ([`Journal::call_ended`]) with what it knows.
    pub fn open(location: &str, config: &Config) -> Result<(Journal, Vec<Unfinished>), OpenError> {
        let (files, found) = match &config.dir {
            Some(dir) => {
                let (files, found) =
                    Files::open(dir, config.limits.clone()).map_err(|source| OpenError {
                        dir: dir.clone(),
                        source,
                    })?;
                (Some(files), found)
            }
            None => (None, files::Found::default()),
        };
        let mut open = HashMap::new();
        let mut unfinished = Vec::new();
        for (key, start) in found.open {
            let meta = match start {
                Some(r) => meta_of(&r),
                None => files
                    .as_ref()
                    .and_then(|f| files::find(&f.list(), key))
                    .and_then(|r| meta_of(&r)),
            };
            unfinished.push(Unfinished {
                key,
                id: meta.as_ref().map(|m| m.id.clone()),
            });
            if let Some(m) = meta {
                open.insert(key, Arc::new(m));
            }
        }
        let shared = Arc::new(Shared {
            location: location.to_owned(),
            state: Mutex::new(State {
                next: found.next,
                tail: VecDeque::new(),
                tail_bytes: 0,
                files,
                open,
                ended: VecDeque::new(),
                deployments: HashMap::new(),
                dirty: false,
                sync_wanted: false,
                last_flush: Instant::now(),
                last_retain: Instant::now(),
                scratch: Vec::new(),
            }),
            memory: config.memory.max(64 * 1024),
            work: Condvar::new(),
            waiting: Mutex::new(Waiting {
                wakers: Vec::new(),
                last: Instant::now(),
                pending: false,
            }),
        });
        let weak = Arc::downgrade(&shared);
        let spawned = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_out(&weak));
        if let Err(e) = spawned {
            tracing::warn!(
                "cannot start the journal's writer: records are written and readers woken at call boundaries only: {e}"
            );
        }
        Ok((Journal { shared }, unfinished))
    }

    /// A journal in memory only, for `location`.
    pub fn in_memory(location: &str) -> Journal {
        match Journal::open(location, &Config::in_memory()) {
            Ok((j, _)) => j,
            Err(e) => unreachable!("a journal in memory opens: {e}"),
        }
    }

    /// The location whose journal this is.
    pub fn location(&self) -> &str {
        &self.shared.location
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Appends `make(n, t)`; a boundary is written out at once and made durable soon.
    fn append(&self, boundary: bool, make: impl FnOnce(u64, u64) -> Record) -> u64 {
        let t = now_ms();
        let mut guard = self.state();
        let state = &mut *guard;
        let n = state.next;
        state.next += 1;
        let record = make(n, t);
        let size = if state.files.is_some() {
            record::write_line(&record, &mut state.scratch);
            state.scratch.len()
        } else {
            record.size_in_memory()
        };
        if let Some(files) = state.files.as_mut() {
            let open = &state.open;
            files.write(n, t, &state.scratch, || {
                let mut keys: Vec<u64> = open.keys().copied().collect();
                keys.sort_unstable();
                keys
            });
            if boundary {
                files.flush();
            }
        }
        if boundary {
            state.last_flush = Instant::now();
            state.sync_wanted = true;
        } else {
            state.dirty = true;
        }
        state.tail.push_back(Stored {
            record: Arc::new(record),
            size,
        });
        state.tail_bytes += size;
        if state.tail_bytes > self.shared.memory {
            // Down to three quarters at once: the files get what leaves memory first.
            if state.dirty {
                if let Some(files) = state.files.as_mut() {
                    files.flush();
                }
                state.dirty = false;
                state.last_flush = Instant::now();
            }
            while state.tail_bytes > self.shared.memory / 4 * 3 {
                let Some(old) = state.tail.pop_front() else {
                    break;
                };
                state.tail_bytes -= old.size;
            }
        }
        drop(guard);
        if boundary {
            self.shared.work.notify_one();
        }
        self.shared.wake(boundary);
        n
    }

    /// Wakes `waker` at the next record.
    pub(crate) fn wait(&self, waker: &Waker) {
        let mut waiting = lock(&self.shared.waiting);
        if !waiting.wakers.iter().any(|w| w.will_wake(waker)) {
            waiting.wakers.push(waker.clone());
        }
    }

    /// The start of a call: its record, and what lines and end will need of it. The
    /// deployment's plan is kept with the first call of the deployment this journal sees.
    pub fn call_started(&self, call: CallStart<'_>) -> u64 {
        let meta = Arc::new(Meta {
            id: call.id.clone(),
            deployment: call.deployment.cloned(),
            caller: call.caller.cloned(),
            on_behalf_of: call.on_behalf_of.cloned(),
            lifecycle: call.lifecycle.cloned(),
        });
        let first_of_deployment = call
            .deployment
            .is_some_and(|d| !self.state().deployments.contains_key(d));
        let key = self.append(true, |n, t| Record::Call {
            n,
            t,
            id: call.id.clone(),
            by: call.caller.cloned(),
            on_behalf_of: call.on_behalf_of.cloned(),
            dep: call.deployment.cloned(),
            lc: call.lifecycle.cloned(),
            req: call.request.clone(),
            step: call.step.cloned(),
            plan: call.plan.filter(|_| first_of_deployment).cloned(),
        });
        let mut state = self.state();
        state.open.insert(key, meta);
        if let Some(d) = call.deployment {
            if state.deployments.len() >= METAS {
                state.deployments.clear();
            }
            state.deployments.entry(d.clone()).or_insert(key);
        }
        key
    }

    /// Line `seq` of the call `key`.
    pub fn line(&self, key: u64, seq: u64, record: &LogRecord) {
        self.append(false, |n, t| Record::Line {
            n,
            t,
            c: key,
            s: seq,
            v: record.level,
            lc: record.lifecycle.clone(),
            st: record.state.clone(),
            p: record.provide.clone(),
            m: record.message.clone(),
        });
    }

    /// The call `key` ended after writing `lines` lines in `millis` ms, with `result`.
    pub fn call_ended(
        &self,
        key: u64,
        lines: u64,
        millis: u64,
        result: &Result<Response, ApiError>,
    ) {
        self.append(true, |n, t| Record::End {
            n,
            t,
            c: key,
            lines,
            ms: millis,
            res: result.clone(),
        });
        let mut state = self.state();
        if let Some(meta) = state.open.remove(&key) {
            state.ended.push_back((key, meta));
            if state.ended.len() > METAS {
                state.ended.pop_front();
            }
        }
    }

    /// A read was answered.
    pub fn read_answered(
        &self,
        caller: Option<&Caller>,
        on_behalf_of: Option<&String>,
        request: &Request,
        error: Option<&ApiError>,
    ) {
        self.append(false, |n, t| Record::Read {
            n,
            t,
            by: caller.cloned(),
            on_behalf_of: on_behalf_of.cloned(),
            m: request.method().to_owned(),
            a: request.address().map(ToString::to_string),
            err: error.map(|e| e.kind().to_owned()),
        });
    }

    /// Something of the agent itself (it started, stopped…).
    pub fn agent(&self, message: &str) {
        self.append(true, |n, t| Record::Agent {
            n,
            t,
            m: message.to_owned(),
        });
    }

    /// What is known of call `key`: from memory, else from the files.
    pub(crate) fn meta(&self, key: u64) -> Option<Arc<Meta>> {
        let list = {
            let state = self.state();
            if let Some(m) = state.open.get(&key) {
                return Some(Arc::clone(m));
            }
            if let Some((_, m)) = state.ended.iter().rev().find(|(k, _)| *k == key) {
                return Some(Arc::clone(m));
            }
            state.files.as_ref()?.list()
        };
        let meta = Arc::new(meta_of(&files::find(&list, key)?)?);
        let mut state = self.state();
        state.ended.push_front((key, Arc::clone(&meta)));
        if state.ended.len() > METAS {
            state.ended.pop_back();
        }
        Some(meta)
    }

    /// Where the first call of `deployment` began, when the journal remembers.
    pub(crate) fn first_of(&self, deployment: &DeploymentId) -> Option<u64> {
        self.state().deployments.get(deployment).copied()
    }

    /// The position of call `id` in the files, if they still hold its start.
    pub(crate) fn find_call(&self, id: &CallId) -> Option<u64> {
        let list = self.state().files.as_ref()?.list();
        files::find_call(&list, id.as_str()).map(|(n, _)| n)
    }

    /// The oldest position still held (in the files or in memory).
    pub(crate) fn oldest(&self) -> u64 {
        let state = self.state();
        state
            .files
            .as_ref()
            .and_then(|f| f.list().first().map(|(n, _)| *n))
            .or_else(|| state.tail.front().map(|s| s.record.n()))
            .unwrap_or(state.next)
    }

    /// Writes out and makes durable everything appended so far, now.
    pub fn sync(&self) {
        let handle = {
            let mut state = self.state();
            state.dirty = false;
            state.sync_wanted = false;
            state.files.as_mut().and_then(|f| {
                f.flush();
                f.sync_handle()
            })
        };
        if let Some(h) = handle {
            if let Err(e) = h.sync_data() {
                tracing::warn!("cannot make the journal durable: {e}");
            }
        }
    }
}

/// What a call's start record says of it.
fn meta_of(r: &Record) -> Option<Meta> {
    match r {
        Record::Call {
            id,
            by,
            on_behalf_of,
            dep,
            lc,
            ..
        } => Some(Meta {
            id: id.clone(),
            deployment: dep.clone(),
            caller: by.clone(),
            on_behalf_of: on_behalf_of.clone(),
            lifecycle: lc.clone(),
        }),
        _ => None,
    }
}

/// How long the writer waits for more boundaries before making the file durable.
const GROUP_COMMIT: Duration = Duration::from_millis(2);

/// How long lines may stay in the writer's buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// How often a quiet journal looks for files past their age (a busy one does whenever it
/// begins a file).
const RETAIN_EVERY: Duration = Duration::from_secs(3600);

/// The journal's own thread: writes out what is buffered at least every [`FLUSH_EVERY`],
/// makes the file durable as soon as a boundary asks, and wakes the readers a flood of lines
/// left waiting. Ends with the journal.
fn write_out(shared: &Weak<Shared>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.wake_pending() {
            std::thread::sleep(WAKE_EVERY);
            shared.wake(true);
        }
        let handle = {
            let state = lock(&shared.state);
            let wait = if shared.wake_pending() {
                WAKE_EVERY
            } else {
                FLUSH_EVERY
            };
            let (mut state, _) = shared
                .work
                .wait_timeout(state, wait)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.dirty && state.last_flush.elapsed() >= FLUSH_EVERY {
                state.dirty = false;
                state.last_flush = Instant::now();
                if let Some(f) = state.files.as_mut() {
                    f.flush();
                }
            }
            if state.last_retain.elapsed() >= RETAIN_EVERY {
                state.last_retain = Instant::now();
                if let Some(f) = state.files.as_mut() {
                    f.retain();
                }
            }
            if state.sync_wanted {
                state.sync_wanted = false;
                state.files.as_ref().and_then(Files::sync_handle)
            } else {
                None
            }
        };
        if let Some(h) = handle {
            // Boundaries close together (a short call's start and end) share one flush to
            // the disk: the few calls that end within this wait are made durable together.
            std::thread::sleep(GROUP_COMMIT);
            shared.state.lock().map(|mut s| s.sync_wanted = false).ok();
            if let Err(e) = h.sync_data() {
                tracing::warn!("cannot make the journal durable: {e}");
            }
        }
    }
}

impl Drop for Journal {
    /// What is buffered is written out whenever a handle goes, so that a process ending
    /// soon after loses nothing of it.
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.try_lock() {
            if state.dirty {
                state.dirty = false;
                if let Some(f) = state.files.as_mut() {
                    f.flush();
                }
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = state.files.as_mut() {
            f.flush();
            if let Some(h) = f.sync_handle() {
                let _ = h.sync_data();
            }
        }
    }
}
