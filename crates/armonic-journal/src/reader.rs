//! Readers of a journal: each with its own cursor, at its own pace, like `journalctl -f`.
//!
//! A [`Cursor`] gives the records from a position on: from memory while it keeps up, from
//! the files when it fell behind, and says so when even the files no longer hold what it
//! wanted. On it: a call's own stream of events (`host.rs`) and [`Entries`], the entries a
//! [`Query`] selects.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use armonic_proto::journal::{Entry, Query};
use futures::Stream;

use crate::files::{self, DiskCursor, DiskRead};
use crate::journal::Journal;
use crate::record::{Meta, Record};

/// Most records handed over at once.
const BATCH: usize = 256;

/// What a cursor gives.
pub(crate) enum Step {
    /// Records, in order.
    Records(Vec<Arc<Record>>),
    /// Records up to (not including) this position are no longer held: the cursor moved
    /// past them.
    Gap { to: u64 },
}

/// A position in a journal, moving forward.
pub(crate) struct Cursor {
    journal: Journal,
    next: u64,
    disk: Option<DiskCursor>,
}

impl Cursor {
    /// A cursor at position `at`.
    pub fn at(journal: &Journal, at: u64) -> Cursor {
        Cursor {
            journal: journal.clone(),
            next: at,
            disk: None,
        }
    }

    /// The position of the next record it gives.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next records, or `Pending` (woken at the next record) when there are none.
    pub fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        let (tail_first, files) = {
            let state = self.journal.state();
            if self.next >= state.next {
                drop(state);
                self.journal.wait(cx.waker());
                // A record appended between the check and the wait must not be missed.
                if self.next >= self.journal.state().next {
                    return Poll::Pending;
                }
                return self.poll_step(cx);
            }
            let tail_first = state.tail.front().map_or(state.next, |s| s.record.n());
            if self.next >= tail_first {
                let skip = usize::try_from(self.next - tail_first).unwrap_or(usize::MAX);
                let batch: Vec<Arc<Record>> = state
                    .tail
                    .iter()
                    .skip(skip)
                    .take(BATCH)
                    .map(|s| Arc::clone(&s.record))
                    .collect();
                self.next += batch.len() as u64;
                self.disk = None;
                return Poll::Ready(Step::Records(batch));
            }
            (tail_first, state.files())
        };
        // Behind memory: the files, without holding the journal.
        match files::read(&files, &mut self.disk, self.next, tail_first, BATCH) {
            DiskRead::Records(records) if !records.is_empty() => {
                self.next = records.last().map_or(self.next, |r| r.n() + 1);
                Poll::Ready(Step::Records(records.into_iter().map(Arc::new).collect()))
            }
            DiskRead::Records(_) => {
                self.next = tail_first;
                Poll::Ready(Step::Gap { to: tail_first })
            }
            DiskRead::Gone { oldest } => {
                // Forward at least one, never past memory.
                self.next = oldest.clamp(self.next + 1, tail_first.max(self.next + 1));
                Poll::Ready(Step::Gap { to: self.next })
            }
        }
    }
}

/// What readers know of calls, as they meet them.
pub(crate) struct Metas {
    journal: Journal,
    known: HashMap<u64, Option<Arc<Meta>>>,
}

impl Metas {
    pub fn new(journal: &Journal) -> Metas {
        Metas {
            journal: journal.clone(),
            known: HashMap::new(),
        }
    }

    /// What is known of call `key`.
    pub fn get(&mut self, key: u64) -> Option<Arc<Meta>> {
        if self.known.len() > 4096 {
            self.known.clear();
        }
        self.known
            .entry(key)
            .or_insert_with(|| self.journal.meta(key))
            .clone()
    }
}

/// Whether the record `r` of call `meta` is one `q` selects.
fn selected(q: &Query, r: &Record, meta: Option<&Meta>) -> bool {
    let (t, caller_text, lifecycle, deployment, call) = match r {
        Record::Read {
            t,
            by,
            on_behalf_of,
            ..
        } => {
            if q.no_reads || q.deployment.is_some() || q.call.is_some() || q.lifecycle.is_some() {
                return false;
            }
            let who = format!(
                "{} {}",
                by.as_ref().map(ToString::to_string).unwrap_or_default(),
                on_behalf_of.clone().unwrap_or_default()
            );
            (*t, Some(who), None, None, None)
        }
        Record::Agent { t, .. } => {
            if q.deployment.is_some()
                || q.call.is_some()
                || q.lifecycle.is_some()
                || q.caller.is_some()
            {
                return false;
            }
            (*t, None, None, None, None)
        }
        Record::Open { .. } => return false,
        Record::Line { t, lc, .. } => {
            if q.no_lines {
                return false;
            }
            let Some(m) = meta else { return false };
            (
                *t,
                Some(caller_of(m)),
                Some(m.lifecycle.clone().unwrap_or_else(|| lc.clone())),
                m.deployment.clone(),
                Some(m.id.clone()),
            )
        }
        Record::Call { t, .. } | Record::End { t, .. } => {
            let Some(m) = meta else { return false };
            (
                *t,
                Some(caller_of(m)),
                m.lifecycle.clone(),
                m.deployment.clone(),
                Some(m.id.clone()),
            )
        }
    };
    if q.since_ms.is_some_and(|s| t < s) || q.until_ms.is_some_and(|u| t >= u) {
        return false;
    }
    if let Some(d) = &q.deployment {
        if deployment.as_ref() != Some(d) {
            return false;
        }
    }
    if let Some(c) = &q.call {
        if call.as_ref() != Some(c) {
            return false;
        }
    }
    if let Some(l) = &q.lifecycle {
        if lifecycle.as_deref() != Some(l.as_str()) {
            return false;
        }
    }
    if let Some(c) = &q.caller {
        if !caller_text.is_some_and(|w| w.contains(c.as_str())) {
            return false;
        }
    }
    true
}

fn caller_of(m: &Meta) -> String {
    format!(
        "{} {}",
        m.caller
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        m.on_behalf_of.clone().unwrap_or_default()
    )
}

/// What [`Entries`] gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Entries the query selects, in the journal's order.
    Entries(Vec<Entry>),
    /// Records the reader wanted were no longer held (it fell behind the files' limits).
    Missed {
        /// How many positions were skipped.
        count: u64,
    },
    /// Everything held when the read began was given: what follows is new.
    CaughtUp,
}

/// The entries of a journal a [`Query`] selects, from its oldest record (or, for a
/// deployment the journal remembers, from its first call) on; with `follow`, new ones as
/// they come, without end; else the stream ends once caught up.
pub struct Entries {
    cursor: Cursor,
    metas: Metas,
    query: Query,
    /// The position the journal had reached when the read began.
    end: u64,
    caught_up: bool,
    done: bool,
}

impl Entries {
    /// Reads `journal` as `query` says.
    pub fn new(journal: &Journal, query: Query) -> Entries {
        let from = query
            .deployment
            .as_ref()
            .and_then(|d| journal.first_of(d))
            .unwrap_or_else(|| journal.oldest());
        Entries {
            cursor: Cursor::at(journal, from),
            metas: Metas::new(journal),
            end: journal.state().next,
            query,
            caught_up: false,
            done: false,
        }
    }
}

impl Stream for Entries {
    type Item = Found;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Found>> {
        let me = &mut *self;
        loop {
            if me.done {
                return Poll::Ready(None);
            }
            if !me.caught_up && me.cursor.position() >= me.end {
                me.caught_up = true;
                if !me.query.follow {
                    me.done = true;
                }
                return Poll::Ready(Some(Found::CaughtUp));
            }
            let before = me.cursor.position();
            let step = match me.cursor.poll_step(cx) {
                Poll::Ready(s) => s,
                Poll::Pending => return Poll::Pending,
            };
            match step {
                Step::Gap { to } => {
                    let count = to.saturating_sub(before);
                    if count > 0 {
                        return Poll::Ready(Some(Found::Missed { count }));
                    }
                }
                Step::Records(records) => {
                    let location = me.cursor.journal.location().to_owned();
                    let mut out = Vec::new();
                    for r in records {
                        if !me.caught_up && r.n() >= me.end {
                            // Keep the line between old and new where it belongs.
                            me.cursor = Cursor::at(&me.cursor.journal, r.n());
                            break;
                        }
                        let meta = r.key().and_then(|k| me.metas.get(k));
                        if selected(&me.query, &r, meta.as_deref()) {
                            if let Some(e) = r.entry(&location, meta.as_deref()) {
                                out.push(e);
                            }
                        }
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Found::Entries(out)));
                    }
                }
            }
        }
    }
}
