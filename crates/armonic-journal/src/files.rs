//! The journal's files: `DIR/<first position>.jsonl`, one record per line, a new file when
//! the current one is full and at every start of the agent; the oldest removed when the
//! files take more than their share of the disk or are older than kept.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::{self, Record};

/// How much the journal keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// A file is closed and a new one begun past this size.
    pub file_size: u64,
    /// The oldest files are removed while all of them take more than this.
    pub max_size: u64,
    /// Files whose newest entry is older than this are removed.
    pub max_age: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            file_size: 16 * 1024 * 1024,
            max_size: 512 * 1024 * 1024,
            max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One file.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// The position of its first record.
    pub first: u64,
    pub path: PathBuf,
    pub size: u64,
    /// When its newest record was written (ms).
    pub newest: u64,
}

/// What the files said when they were opened.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The position after the last record.
    pub next: u64,
    /// Calls begun and not ended: their start records (when in the newest file) or only
    /// their positions.
    pub open: Vec<(u64, Option<Record>)>,
}

/// The files of a journal, and the one being written.
pub(crate) struct Files {
    dir: PathBuf,
    segments: Vec<Segment>,
    writer: BufWriter<File>,
    /// A second handle on the current file, to make it durable without the writer's lock.
    sync: File,
    limits: Limits,
}

fn name_of(first: u64) -> String {
    format!("{first:020}.jsonl")
}

fn first_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".jsonl")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Reads the records of `path`, calling `each` with each line that has a position; a line
/// cut short (the end of a file written when its process died) is skipped.
fn scan(path: &Path, mut each: impl FnMut(u64, &[u8])) -> std::io::Result<()> {
    let mut r = BufReader::new(File::open(path)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            return Ok(());
        }
        if let Some(n) = record::position(&line) {
            each(n, &line);
        }
    }
}

impl Files {
    /// Opens the journal in `dir` (made, owner-only, if missing): finds its files and what
    /// the newest one left open, and begins a new file.
    pub fn open(dir: &Path, limits: Limits) -> std::io::Result<(Files, Found)> {
        // Private, as the state directory it lives in: nobody else may add or swap files.
        armonic_lifecycle::safefs::private_dir(dir)?;
        let mut segments: Vec<Segment> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let Some(first) = first_of(&path) else {
                continue;
            };
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            let newest = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            segments.push(Segment {
                first,
                path,
                size: meta.len(),
                newest,
            });
        }
        segments.sort_by_key(|s| s.first);
        let mut found = Found::default();
        if let Some(last) = segments.last() {
            found.next = last.first;
            let mut open: Vec<(u64, Option<Record>)> = Vec::new();
            scan(&last.path, |n, line| {
                found.next = found.next.max(n + 1);
                match record::kind(line) {
                    Some("call") => {
                        if let Ok(r) = serde_json::from_slice::<Record>(line) {
                            open.push((n, Some(r)));
                        }
                    }
                    Some("end") | Some("open") => {
                        if let Ok(r) = serde_json::from_slice::<Record>(line) {
                            match r {
                                Record::End { c, .. } => open.retain(|(k, _)| *k != c),
                                Record::Open { calls, .. } => {
                                    open.extend(calls.into_iter().map(|c| (c, None)));
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            })?;
            found.open = open;
        }
        let (writer, sync, segment) = Files::create(dir, found.next)?;
        segments.retain(|s| s.first != segment.first);
        segments.push(segment);
        let mut files = Files {
            dir: dir.to_owned(),
            segments,
            writer,
            sync,
            limits,
        };
        files.retain();
        Ok((files, found))
    }

    fn create(dir: &Path, first: u64) -> std::io::Result<(BufWriter<File>, File, Segment)> {
        let path = dir.join(name_of(first));
        // A file of that name holding no record (a run that wrote nothing) is replaced.
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            std::fs::remove_file(&path)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)?;
        let sync = file.try_clone()?;
        Ok((
            BufWriter::with_capacity(64 * 1024, file),
            sync,
            Segment {
                first,
                path,
                size: 0,
                newest: now_ms(),
            },
        ))
    }

    /// Writes `line` (record `n`, of time `t`) to the current file, beginning a new one first
    /// when the current one is full (`open`: the calls running then, for its first line).
    pub fn write(&mut self, n: u64, t: u64, line: &[u8], open: impl FnOnce() -> Vec<u64>) {
        let full = self
            .segments
            .last()
            .is_some_and(|s| s.size >= self.limits.file_size);
        if full {
            if let Err(e) = self.rotate(n, t, open()) {
                tracing::warn!("cannot begin a new journal file: {e}");
            }
        }
        if let Err(e) = self.writer.write_all(line) {
            tracing::warn!("cannot write the journal: {e}");
        }
        if let Some(s) = self.segments.last_mut() {
            s.size += line.len() as u64;
            s.newest = t;
        }
    }

    fn rotate(&mut self, n: u64, t: u64, open: Vec<u64>) -> std::io::Result<()> {
        self.writer.flush()?;
        let _ = self.sync.sync_data();
        let (writer, sync, segment) = Files::create(&self.dir, n)?;
        self.writer = writer;
        self.sync = sync;
        self.segments.push(segment);
        let header = record::to_line(&Record::Open { n, t, calls: open });
        // The header shares its position with the record that follows: readers skip it.
        self.writer.write_all(&header)?;
        if let Some(s) = self.segments.last_mut() {
            s.size += header.len() as u64;
        }
        self.retain();
        Ok(())
    }

    /// Removes the oldest files (never the current one) while they take too much room or
    /// are too old.
    pub fn retain(&mut self) {
        let now = now_ms();
        let max_age = u64::try_from(self.limits.max_age.as_millis()).unwrap_or(u64::MAX);
        loop {
            if self.segments.len() < 2 {
                return;
            }
            let total: u64 = self.segments.iter().map(|s| s.size).sum();
            let oldest = &self.segments[0];
            let too_old = now.saturating_sub(oldest.newest) > max_age;
            if total <= self.limits.max_size && !too_old {
                return;
            }
            match std::fs::remove_file(&oldest.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(
                        "cannot remove old journal file {}: {e}",
                        oldest.path.display()
                    );
                    return;
                }
            }
            self.segments.remove(0);
        }
    }

    /// Writes what is buffered to the file (the kernel has it: a crash of the process loses
    /// nothing of it).
    pub fn flush(&mut self) {
        if let Err(e) = self.writer.flush() {
            tracing::warn!("cannot write the journal: {e}");
        }
    }

    /// A handle on the current file, to make it durable (`sync_data`) without holding the
    /// journal.
    pub fn sync_handle(&self) -> Option<File> {
        self.sync.try_clone().ok()
    }

    /// The files, oldest first, for readers.
    pub fn list(&self) -> Vec<(u64, PathBuf)> {
        self.segments
            .iter()
            .map(|s| (s.first, s.path.clone()))
            .collect()
    }
}

/// Reads records of a journal's files in order, from a position on.
pub(crate) struct DiskCursor {
    /// The first position of the file open.
    file_first: u64,
    reader: BufReader<File>,
    line: Vec<u8>,
    /// `line` is a whole line read and not given yet (it was past what was asked).
    held: bool,
}

/// What a read from the files gave.
pub(crate) enum DiskRead {
    /// Records from the position asked, in order (possibly none: nothing more on disk).
    Records(Vec<Record>),
    /// The files no longer hold the position asked: they begin at this one.
    Gone { oldest: u64 },
}

/// Reads up to `max` records of `files` (oldest first) from position `from` up to (not
/// including) `until`, going on with `cursor` when it is where `from` is. Positions the
/// files do not hold (removed, or never written whole) are [`DiskRead::Gone`].
pub(crate) fn read(
    files: &[(u64, PathBuf)],
    cursor: &mut Option<DiskCursor>,
    from: u64,
    until: u64,
    max: usize,
) -> DiskRead {
    let Some(&(oldest, _)) = files.first() else {
        return DiskRead::Gone { oldest: until };
    };
    if from < oldest {
        return DiskRead::Gone { oldest };
    }
    // The file holding `from`: the last one beginning at or before it.
    let mut index = files.partition_point(|(first, _)| *first <= from) - 1;
    let mut out = Vec::new();
    loop {
        let (first, path) = &files[index];
        if cursor.as_ref().is_none_or(|c| c.file_first != *first) {
            match File::open(path) {
                Ok(f) => {
                    *cursor = Some(DiskCursor {
                        file_first: *first,
                        reader: BufReader::with_capacity(64 * 1024, f),
                        line: Vec::new(),
                        held: false,
                    });
                }
                Err(_) => {
                    // Removed under us.
                    *cursor = None;
                    let next = files.get(index + 1).map_or(until, |(f, _)| *f);
                    return if out.is_empty() {
                        DiskRead::Gone { oldest: next }
                    } else {
                        DiskRead::Records(out)
                    };
                }
            }
        }
        let Some(c) = cursor.as_mut() else {
            return DiskRead::Records(out);
        };
        let at_end = loop {
            if out.len() >= max {
                return DiskRead::Records(out);
            }
            if !std::mem::take(&mut c.held) {
                c.line.clear();
                match c.reader.read_until(b'\n', &mut c.line) {
                    Ok(0) | Err(_) => break true,
                    Ok(_) => {}
                }
                if c.line.last() != Some(&b'\n') {
                    break true;
                }
            }
            let Some(n) = record::position(&c.line) else {
                continue;
            };
            let wanted = out.last().map_or(from, |r: &Record| r.n() + 1);
            if n < wanted || record::kind(&c.line) == Some("open") {
                continue;
            }
            if n >= until {
                // Kept for the next read, which begins there.
                c.held = true;
                return DiskRead::Records(out);
            }
            if let Ok(r) = serde_json::from_slice::<Record>(&c.line) {
                out.push(r);
            }
        };
        if at_end {
            *cursor = None;
            match files.get(index + 1) {
                Some(_) => index += 1,
                None if out.is_empty() => return DiskRead::Gone { oldest: until },
                None => return DiskRead::Records(out),
            }
        }
    }
}

/// The record at position `n` in `files`, if they still hold it.
pub(crate) fn find(files: &[(u64, PathBuf)], n: u64) -> Option<Record> {
    let index = files
        .partition_point(|(first, _)| *first <= n)
        .checked_sub(1)?;
    let mut found = None;
    let _ = scan(&files[index].1, |at, line| {
        if at == n && found.is_none() && record::kind(line) != Some("open") {
            found = serde_json::from_slice::<Record>(line).ok();
        }
    });
    found
}

/// The position of the call with id `id` in the newest files, if they hold its start (a
/// slow search, for a caller re-attaching to a call the agent no longer has in memory: after
/// a restart of the agent; a call older than the two newest files is not looked for).
pub(crate) fn find_call(files: &[(u64, PathBuf)], id: &str) -> Option<(u64, Record)> {
    let needle = format!("\"id\":\"{id}\"");
    for (_, path) in files.iter().rev().take(2) {
        let mut found = None;
        let _ = scan(path, |n, line| {
            if found.is_none()
                && record::kind(line) == Some("call")
                && line.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                found = serde_json::from_slice::<Record>(line).ok().map(|r| (n, r));
            }
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(n: u64) -> Record {
        Record::Agent {
            n,
            t: 0,
            m: format!("entry {n}"),
        }
    }

    #[test]
    fn a_read_stopped_at_a_limit_goes_on_from_there_with_the_same_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let (mut files, _) = Files::open(dir.path(), Limits::default()).unwrap();
        for n in 0..10 {
            files.write(n, 0, &record::to_line(&agent(n)), Vec::new);
        }
        files.flush();
        let list = files.list();
        let mut cursor = None;
        let first = match read(&list, &mut cursor, 0, 5, 100) {
            DiskRead::Records(r) => r.iter().map(Record::n).collect::<Vec<_>>(),
            DiskRead::Gone { .. } => panic!("gone"),
        };
        assert_eq!(first, [0, 1, 2, 3, 4]);
        // The limit moved on: the next read begins where the first stopped, line 5 included.
        let second = match read(&list, &mut cursor, 5, 10, 100) {
            DiskRead::Records(r) => r.iter().map(Record::n).collect::<Vec<_>>(),
            DiskRead::Gone { .. } => panic!("gone"),
        };
        assert_eq!(second, [5, 6, 7, 8, 9]);
    }

    #[test]
    fn positions_no_file_holds_any_more_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (mut files, _) = Files::open(dir.path(), Limits::default()).unwrap();
        let _ = std::fs::remove_file(files.list()[0].1.clone());
        files.flush();
        let mut cursor = None;
        assert!(matches!(
            read(&files.list(), &mut cursor, 0, 3, 100),
            DiskRead::Gone { .. }
        ));
    }
}
