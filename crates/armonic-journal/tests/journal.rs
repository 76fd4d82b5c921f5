//! The journal and its host, with real commands: every call is kept with its caller, lines
//! and outcome, across restarts; readers go at their own pace and never hold up a step; a
//! caller re-attaching gets the rest of the call, which never runs twice.

use std::path::Path;
use std::time::{Duration, Instant};

use armonic_journal::{Config, Entries, Found, Host, Limits};
use armonic_lifecycle::{Interrupt, Location, OsType, format};
use armonic_proto::journal::{Query, What};
use armonic_proto::{
    ApiError, Call, CallId, Caller, DeploymentId, Endpoint, Event, Response, finish, method,
};
use futures::StreamExt;
use futures::executor::block_on;

const CHATTY: &str = r#"
name = "Chatty"
initial = "Off"
transitions = [["Off", "On"], ["On", "Off"]]
[states.Off]
[states.On.enter]
do = [{ run = "echo entering" }]
[states.On.provides.talk.requires.how.variables]
lines = { type = "int", default = 3 }
[states.On.provides.talk]
do = [{ run = 'seq 1 "$how_lines" | sed "s/^/line /"' }]
[states.On.provides.count.requires.where.variables]
file = { type = "str" }
[states.On.provides.count]
do = [{ run = 'echo run >> "$where_file"; sleep 1; echo counted' }]
[states.On.provides.nap]
do = [{ run = "sleep 30" }]
"#;

fn location(state: Option<&Path>) -> Location {
    let def = format::parse(CHATTY, Path::new("chatty.toml")).unwrap();
    let config = armonic_lifecycle::Config {
        name: "web2".into(),
        os: OsType::all(),
        state_dir: state.map(Path::to_owned),
        ..armonic_lifecycle::Config::default()
    };
    Location::builder(config).build(vec![def]).unwrap()
}

fn talk(lines: i64) -> Call {
    Call::new(method::ProvideCall {
        uri: "//Chatty//talk".parse().unwrap(),
        values: armonic_lifecycle::Values::new().set("//how/lines", lines),
        path_idx: 0,
    })
}

/// Waits until no call runs on `host` (30 s at most).
fn idle(host: &Host) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while host.busy() > 0 {
        assert!(Instant::now() < deadline, "calls still run");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every event of a call, to its end.
fn events(host: &Host, call: Call) -> Vec<Event> {
    block_on(host.call(call).collect())
}

/// What the commands of a call printed.
fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| match e {
            Event::Lines { lines, .. } => lines
                .iter()
                .filter(|r| r.level == armonic_lifecycle::Level::Process)
                .map(|r| r.message.to_owned())
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn entries(host: &Host, query: Query) -> Vec<armonic_proto::journal::Entry> {
    block_on(
        Entries::new(host.journal(), query)
            .filter_map(|f| async move {
                match f {
                    Found::Entries(e) => Some(e),
                    _ => None,
                }
            })
            .concat(),
    )
}

/// A host keeping its journal in `dir` with only 64 KiB of it in memory: readers soon fall
/// behind memory and read the files.
fn host_with_little_memory(dir: &std::path::Path) -> Host {
    let config = Config {
        memory: 64 * 1024,
        ..Config::in_dir(dir.join("journal"))
    };
    Host::new(location(Some(dir)), &config).unwrap()
}

#[test]
fn a_call_is_journaled_with_its_caller_lines_and_outcome_and_read_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let deployment = DeploymentId::new();
    let id = CallId::new();
    {
        let host = Host::open(location(Some(dir.path()))).unwrap();
        let mut call = talk(3).in_deployment(deployment.clone());
        call.id = id.clone();
        call.caller = Some(Caller::Peer {
            peer_id: "12D3KooWtest".into(),
            name: Some("web1".into()),
        });
        call.on_behalf_of = Some("alice@example.com".into());
        let got = events(&host, call);
        assert_eq!(
            messages(&got),
            ["entering", "line 1", "line 2", "line 3"],
            "{got:?}"
        );
        assert!(matches!(
            got.last(),
            Some(Event::Done(Ok(Response::ProvideCall(_))))
        ));
    }
    // A new process on the same state directory reads what the first one wrote.
    let host = Host::open(location(Some(dir.path()))).unwrap();
    let found = entries(
        &host,
        Query {
            deployment: Some(deployment),
            ..Query::default()
        },
    );
    let kinds: Vec<&str> = found
        .iter()
        .map(|e| match &e.what {
            What::Call { .. } => "call",
            What::Line { .. } => "line",
            What::End { .. } => "end",
            What::Read { .. } => "read",
            What::Agent { .. } => "agent",
        })
        .collect();
    let lines = kinds.iter().filter(|k| **k == "line").count();
    assert_eq!(kinds.first(), Some(&"call"));
    assert_eq!(kinds.last(), Some(&"end"));
    assert_eq!(kinds.len(), lines + 2);
    match &found[0].what {
        What::Call {
            id: got,
            caller,
            on_behalf_of,
            lifecycle,
            ..
        } => {
            assert_eq!(got, &id);
            assert_eq!(
                caller.as_ref().unwrap().to_string(),
                "peer web1 (12D3KooWtest)"
            );
            assert_eq!(on_behalf_of.as_deref(), Some("alice@example.com"));
            assert_eq!(lifecycle.as_deref(), Some("Chatty"));
        }
        other => panic!("{other:?}"),
    }
    match &found.last().unwrap().what {
        What::End {
            lines: counted,
            result,
            ..
        } => {
            assert_eq!(*counted, lines as u64);
            assert!(result.is_ok(), "{result:?}");
        }
        other => panic!("{other:?}"),
    }
    // By caller, by lifecycle, by time.
    let by_alice = entries(
        &host,
        Query {
            caller: Some("alice".into()),
            no_lines: true,
            ..Query::default()
        },
    );
    assert_eq!(by_alice.len(), 2, "{by_alice:?}");
    let later = entries(
        &host,
        Query {
            since_ms: Some(u64::MAX / 2),
            ..Query::default()
        },
    );
    assert!(later.is_empty());
}

#[test]
fn a_reader_that_does_not_read_never_holds_up_the_step_and_catches_up_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with_little_memory(dir.path());
    // The caller takes its stream but reads nothing until the step is over: a second call
    // on the lifecycle, which waits for the first to end, ends.
    // On is entered first: the call timed only calls the provide.
    let _ = events(&host, talk(1));
    let mut stream = host.call(talk(50_000));
    let second = events(&host, talk(1));
    assert!(
        matches!(second.last(), Some(Event::Done(Ok(_)))),
        "{second:?}"
    );
    // Now it reads: every line, in order, none missed (the files had them), then the answer.
    let mut seqs = Vec::new();
    let mut missed = 0;
    let result = block_on(async {
        while let Some(e) = stream.next().await {
            match e {
                Event::Lines { seq, lines } => {
                    seqs.extend(seq..seq + lines.len() as u64);
                }
                Event::Missed { count } => missed += count,
                Event::Done(r) => return Some(r),
            }
        }
        None
    });
    assert_eq!(missed, 0);
    // The lines, then the engine's line saying the provide was called.
    assert_eq!(seqs.len(), 50_000 + 1);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, no gap"
    );
    assert!(matches!(result, Some(Ok(_))), "{result:?}");
}

#[test]
fn a_reader_of_a_journal_kept_in_memory_is_told_how_many_lines_it_missed() {
    let config = Config {
        memory: 64 * 1024,
        ..Config::in_memory()
    };
    let host = Host::new(location(None), &config).unwrap();
    // On is entered first: the call timed only calls the provide.
    let _ = events(&host, talk(1));
    let mut stream = host.call(talk(20_000));
    // Another call on the lifecycle waits for the first (its lock), not for its reader.
    let second = events(&host, talk(1));
    assert!(
        matches!(second.last(), Some(Event::Done(Ok(_)))),
        "{second:?}"
    );
    let (mut lines, mut missed, mut done) = (0u64, 0u64, None);
    block_on(async {
        while let Some(e) = stream.next().await {
            match e {
                Event::Lines { lines: batch, .. } => lines += batch.len() as u64,
                Event::Missed { count } => missed += count,
                Event::Done(r) => done = Some(r),
            }
        }
    });
    assert!(missed > 0, "memory holds 64 KiB, not 20,000 lines");
    assert_eq!(lines + missed, 20_000 + 1, "every line is read or counted");
    assert!(matches!(done, Some(Ok(_))));
}

#[test]
fn a_caller_re_attaching_gets_the_rest_and_the_outcome_and_nothing_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::open(location(Some(dir.path()))).unwrap();
    let counter = dir.path().join("counter");
    let mut call = Call::new(method::ProvideCall {
        uri: "//Chatty//count".parse().unwrap(),
        values: armonic_lifecycle::Values::new().set("//where/file", counter.to_str().unwrap()),
        path_idx: 0,
    });
    // The first connection reads some lines and goes away.
    let mut first = host.call(call.clone());
    let got = block_on(first.next()).unwrap();
    let Event::Lines { seq: 0, lines } = &got else {
        panic!("{got:?}")
    };
    let read = lines.len() as u64;
    drop(first);
    // The caller comes back with the same call, wanting the lines it did not get.
    call.again = true;
    call.from_seq = read;
    let rest = events(&host, call.clone());
    let mut all = messages(&[got]);
    all.extend(messages(&rest));
    assert_eq!(all, ["entering", "counted"], "each line once");
    assert!(matches!(rest.last(), Some(Event::Done(Ok(_)))), "{rest:?}");
    // And once more after the end: the same answer, from the journal.
    let again = events(&host, call);
    assert!(matches!(again.last(), Some(Event::Done(Ok(_)))));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "run\n",
        "ran once"
    );
}

#[test]
fn a_call_stopped_by_its_caller_ends_interrupted_at_once() {
    let host = Host::open(location(None)).unwrap();
    let stop = Interrupt::new(Duration::from_secs(5));
    let call = Call::new(method::ProvideCall {
        uri: "//Chatty//nap".parse().unwrap(),
        values: Default::default(),
        path_idx: 0,
    })
    .stopped_by(stop.clone());
    let stream = host.call(call);
    let began = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop.request(Some(2));
    });
    let result = block_on(finish(stream, |_| {}));
    assert!(
        matches!(result, Err(ApiError::Interrupted { .. })),
        "{result:?}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "not the 30 s nap"
    );
}

#[test]
fn a_call_its_process_never_ended_is_ended_unknown_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let id = CallId::new();
    {
        let (journal, _) =
            armonic_journal::Journal::open("web2", &Config::in_dir(dir.path().join("journal")))
                .unwrap();
        journal.call_started(armonic_journal::CallStart {
            id: &id,
            caller: None,
            on_behalf_of: None,
            deployment: None,
            lifecycle: None,
            request: &talk(1).request,
            step: None,
            plan: None,
        });
        // The process dies here: no end.
    }
    let host = Host::open(location(Some(dir.path()))).unwrap();
    let found = entries(
        &host,
        Query {
            call: Some(id.clone()),
            ..Query::default()
        },
    );
    match &found.last().unwrap().what {
        What::End { result, .. } => {
            assert!(
                matches!(result, Err(ApiError::Unknown { .. })),
                "{result:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A caller re-attaching to it hears the same.
    let mut call = talk(1);
    call.id = id;
    call.again = true;
    let got = events(&host, call);
    assert!(
        matches!(got.last(), Some(Event::Done(Err(ApiError::Unknown { .. })))),
        "{got:?}"
    );
}

#[test]
fn old_files_are_removed_past_the_size_kept_and_a_late_reader_is_told_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        memory: 64 * 1024,
        limits: Limits {
            file_size: 64 * 1024,
            max_size: 256 * 1024,
            max_age: Duration::from_secs(3600),
        },
        ..Config::in_dir(dir.path().join("journal"))
    };
    let host = Host::new(location(Some(dir.path())), &config).unwrap();
    // On is entered first: the call timed only calls the provide.
    let _ = events(&host, talk(1));
    let mut stream = host.call(talk(30_000));
    let _ = events(&host, talk(1));
    idle(&host);
    let files: u64 = std::fs::read_dir(dir.path().join("journal"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(files <= 256 * 1024 + 64 * 1024 + 4096, "{files} bytes kept");
    let (mut lines, mut missed) = (0u64, 0u64);
    let done = block_on(async {
        while let Some(e) = stream.next().await {
            match e {
                Event::Lines { lines: batch, .. } => lines += batch.len() as u64,
                Event::Missed { count } => missed += count,
                Event::Done(r) => return Some(r),
            }
        }
        None
    });
    assert!(missed > 0);
    assert_eq!(lines + missed, 30_000 + 1);
    assert!(matches!(done, Some(Ok(_))));
}

#[test]
fn a_reader_going_back_and_forth_between_memory_and_the_files_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with_little_memory(dir.path());
    let _ = events(&host, talk(1));
    // A reader slower than the step: it falls behind memory, reads the files, catches up
    // with memory, falls behind again, while the step writes.
    let mut stream = host.call(talk(60_000));
    let (mut next, mut missed) = (0u64, 0u64);
    let mut done = None;
    block_on(async {
        while let Some(e) = stream.next().await {
            match e {
                Event::Lines { seq, lines } => {
                    assert_eq!(seq, next, "lines follow each other");
                    next += lines.len() as u64;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Event::Missed { count } => missed += count,
                Event::Done(r) => done = Some(r),
            }
        }
    });
    assert_eq!(missed, 0, "the files had every line");
    assert_eq!(next, 60_000 + 1);
    assert!(matches!(done, Some(Ok(_))));
}
