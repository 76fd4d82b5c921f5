//! Reads of several journals as one (`armonic watch`, `armonic journal --all`): what each
//! journal held when the read began, merged in time order, then new entries as they come.

use std::collections::VecDeque;
use std::time::Duration;

use armonic_proto::journal::Entry;
use armonic_proto::serve::{ReadEvent, ReadStream};
use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};

/// What one source said, or that it ended.
type Said = (usize, Option<ReadEvent>);

struct Merge {
    sources: SelectAll<BoxStream<'static, Said>>,
    /// Sources that said all they held, or ended.
    caught: Vec<bool>,
    ended: Vec<bool>,
    /// Entries held when the read began, until every source gave them.
    backlog: Vec<(String, Entry)>,
    missed: u64,
    live: bool,
    deadline: tokio::time::Instant,
    /// Whose journal each source reads.
    names: Vec<String>,
    /// Whether the read follows the journals (or ends once they gave what they held).
    follow: bool,
    out: VecDeque<ReadEvent>,
    over: bool,
}

/// `sources` (each named by whose journal it reads) as one read: their backlogs merged by
/// time once each has caught up, then, when the read follows, their new entries as they
/// come. A source that fails is said ([`ReadEvent::Unread`]) and left out. Once `wait` has
/// passed, a read that follows takes a slower source's entries as they come; one that does
/// not says the sources that have not caught up unread and ends: a frozen agent does not
/// hold up the others.
pub(crate) fn merged(
    sources: Vec<(String, ReadStream)>,
    wait: Duration,
    follow: bool,
) -> ReadStream {
    let n = sources.len();
    let mut all = SelectAll::new();
    let mut names = Vec::with_capacity(n);
    for (i, (name, s)) in sources.into_iter().enumerate() {
        names.push(name);
        all.push(
            s.map(move |e| (i, Some(e)))
                .chain(futures::stream::once(futures::future::ready((i, None))))
                .boxed(),
        );
    }
    let merge = Merge {
        sources: all,
        caught: vec![false; n],
        ended: vec![false; n],
        backlog: Vec::new(),
        missed: 0,
        live: false,
        deadline: tokio::time::Instant::now() + wait,
        names,
        follow,
        out: VecDeque::new(),
        over: false,
    };
    Box::pin(futures::stream::unfold(merge, |mut m| async move {
        m.next().await.map(|e| (e, m))
    }))
}

impl Merge {
    async fn next(&mut self) -> Option<ReadEvent> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Some(e);
            }
            if self.over {
                return None;
            }
            let said = if self.live {
                self.sources.next().await
            } else {
                match tokio::time::timeout_at(self.deadline, self.sources.next()).await {
                    Ok(s) => s,
                    Err(_) => {
                        if !self.follow {
                            for i in 0..self.names.len() {
                                if !self.caught[i] && !self.ended[i] {
                                    self.ended[i] = true;
                                    self.out.push_back(ReadEvent::Unread {
                                        location: self.names[i].clone(),
                                        error: "its agent did not answer in time".into(),
                                    });
                                }
                            }
                            self.flush();
                            self.out.push_back(ReadEvent::Ended(None));
                            self.over = true;
                            continue;
                        }
                        self.flush();
                        continue;
                    }
                }
            };
            let Some((i, event)) = said else {
                self.flush();
                self.out.push_back(ReadEvent::Ended(None));
                self.over = true;
                continue;
            };
            match event {
                Some(ReadEvent::Entries { location, entries }) => {
                    if self.live {
                        self.out.push_back(ReadEvent::Entries { location, entries });
                    } else {
                        self.backlog
                            .extend(entries.into_iter().map(|e| (location.clone(), e)));
                    }
                }
                Some(ReadEvent::Missed { count }) => {
                    if self.live {
                        self.out.push_back(ReadEvent::Missed { count });
                    } else {
                        self.missed += count;
                    }
                }
                Some(ReadEvent::CaughtUp) => self.caught[i] = true,
                Some(ReadEvent::Unread { location, error }) => {
                    self.out.push_back(ReadEvent::Unread { location, error });
                }
                Some(ReadEvent::Ended(error)) => {
                    if let Some(e) = error {
                        tracing::info!("a journal could not be read: {e}");
                        self.out.push_back(ReadEvent::Unread {
                            location: self.names[i].clone(),
                            error: e.to_string(),
                        });
                    }
                    self.ended[i] = true;
                }
                None => self.ended[i] = true,
            }
            if !self.live && self.caught.iter().zip(&self.ended).all(|(c, e)| *c || *e) {
                self.flush();
            }
        }
    }

    /// Gives the backlog, merged by time, and says the read caught up.
    fn flush(&mut self) {
        if self.live {
            return;
        }
        self.live = true;
        if self.missed > 0 {
            self.out.push_back(ReadEvent::Missed { count: self.missed });
        }
        let mut backlog = std::mem::take(&mut self.backlog);
        backlog.sort_by(|(la, a), (lb, b)| (a.time_ms, la, a.n).cmp(&(b.time_ms, lb, b.n)));
        let mut batch: Option<(String, Vec<Entry>)> = None;
        for (location, entry) in backlog {
            match &mut batch {
                Some((l, entries)) if *l == location => entries.push(entry),
                _ => {
                    if let Some((location, entries)) = batch.take() {
                        self.out.push_back(ReadEvent::Entries { location, entries });
                    }
                    batch = Some((location, vec![entry]));
                }
            }
        }
        if let Some((location, entries)) = batch {
            self.out.push_back(ReadEvent::Entries { location, entries });
        }
        self.out.push_back(ReadEvent::CaughtUp);
    }
}
