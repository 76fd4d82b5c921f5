//! Where commands go: the agent of this machine, over its control socket, or embedded
//! locations in this process (`--local`). Both answer the same calls the same way, as
//! streams of log lines and an answer; a command sends a method and gets its own answer
//! back ([`Backend::ask`], [`Backend::call`]).

use std::sync::Arc;

use anyhow::{Context, Result};
use armonic_journal::Host;
use armonic_lifecycle::{Address, Interrupt, LogSink};
use armonic_proto::serve::{ReadEvent, ReadRequest, ReadStream, Service};
use armonic_proto::{
    ApiError, At, Call, Caller, Endpoint, EndpointExt, Event, Listed, Router, finish, method,
};
use armonic_smart::{Agent, Embedded, Mesh};
use futures::StreamExt;

use crate::cli::{Format, Global};
use crate::logs::StderrSink;
use crate::report::Usage;
use crate::settings::Settings;

/// The locations commands reach.
pub struct Backend {
    endpoint: Arc<dyn Endpoint>,
    reads: Reads,
    mesh: Box<dyn Mesh>,
    logs: Arc<dyn LogSink>,
    interrupt: Interrupt,
    /// Whether more than one location answers (log lines then name theirs).
    pub several: bool,
    /// The runtime the agent's connections run on, when this process made it.
    _runtime: Option<tokio::runtime::Runtime>,
}

/// Where journal reads go.
enum Reads {
    /// The agent, which reads its own journal and the mesh's.
    Agent(Arc<armonic_agent::Client>),
    /// The journals of the embedded locations.
    Local(Vec<Host>),
}

/// A mesh of one agent reached through its control socket: every location it serves.
struct Remote {
    endpoint: Arc<dyn Endpoint>,
    locations: Vec<String>,
}

impl Mesh for Remote {
    fn locations(&self) -> Vec<String> {
        self.locations.clone()
    }

    fn agent(&self, location: &str) -> Option<Agent> {
        self.locations.iter().any(|l| l == location).then(|| {
            Agent::new(Arc::new(At::new(Arc::clone(&self.endpoint), location)) as Arc<dyn Endpoint>)
        })
    }

    fn offering(&self, xpath: &str) -> Option<Vec<String>> {
        let xpath = Address::parse(xpath).ok()?;
        self.endpoint.ask(method::Offering { xpath }).ok()
    }
}

/// A runtime for the agent's connections: one thread, so that a command's own thread may
/// wait on them.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("armonic-io")
        .enable_all()
        .build()
        .context("cannot start the runtime of the agent's connections")
}

impl Backend {
    /// Connects to the agent, or starts the embedded locations with `--local`.
    pub fn open(g: &Global, settings: &Settings, interrupt: &Interrupt) -> Result<Backend> {
        let mut sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
        if g.local {
            let locations = crate::local::locations(g, settings, interrupt)?;
            let several = locations.len() > 1;
            sink.show_location = several;
            let embedded = Embedded::new(locations)?;
            let hosts = embedded
                .locations()
                .iter()
                .filter_map(|n| embedded.host(n).cloned())
                .collect();
            return Ok(Backend {
                endpoint: Arc::new(Router::new(embedded.endpoints())),
                reads: Reads::Local(hosts),
                mesh: Box::new(embedded),
                logs: Arc::new(sink),
                interrupt: interrupt.clone(),
                several,
                _runtime: None,
            });
        }
        let state_dir = settings
            .state_dir
            .clone()
            .unwrap_or_else(armonic_agent::default_state_dir);
        let rt = runtime()?;
        let mut backend = Backend::connect(
            &armonic_agent::socket_path(&state_dir),
            sink,
            interrupt,
            rt.handle().clone(),
        )?;
        backend._runtime = Some(rt);
        Ok(backend)
    }

    /// Commands through the agent listening at `socket`, its connections on `runtime`; log
    /// lines go to `sink`.
    pub fn connect(
        socket: &std::path::Path,
        mut sink: StderrSink,
        interrupt: &Interrupt,
        runtime: tokio::runtime::Handle,
    ) -> Result<Backend> {
        let client = Arc::new(armonic_agent::Client::connect(socket, runtime)?);
        let endpoint: Arc<dyn Endpoint> = Arc::clone(&client) as Arc<dyn Endpoint>;
        let locations: Vec<String> = endpoint
            .ask(method::Locations {})?
            .into_iter()
            .map(|i| i.name)
            .collect();
        let several = locations.len() > 1;
        sink.show_location = several;
        Ok(Backend {
            mesh: Box::new(Remote {
                endpoint: Arc::clone(&endpoint),
                locations,
            }),
            endpoint,
            reads: Reads::Agent(client),
            logs: Arc::new(sink),
            interrupt: interrupt.clone(),
            several,
            _runtime: None,
        })
    }

    /// Asks `method` (a read) and waits for its answer.
    pub fn ask<M: Listed>(&self, method: M) -> Result<M::Answer, ApiError> {
        self.endpoint.ask(method)
    }

    /// Makes a call of `method` as `dress` makes it (its deployment…): its log lines are
    /// shown as they come, Ctrl-C stops it wherever it runs, and its answer comes back.
    pub fn call<M: Listed>(
        &self,
        method: M,
        dress: impl FnOnce(Call) -> Call,
    ) -> Result<M::Answer, ApiError> {
        let call = dress(Call::new(method.request())).stopped_by(self.interrupt.clone());
        futures::executor::block_on(self.stream(call)).and_then(M::answer)
    }

    /// Reads `call`'s events to its answer, showing its lines.
    pub async fn stream(&self, call: Call) -> Result<armonic_proto::Response, ApiError> {
        let id = call.id.clone();
        let logs = Arc::clone(&self.logs);
        finish(self.endpoint.call(call), move |e| match e {
            Event::Lines { lines, .. } => {
                for r in lines.records() {
                    logs.log(&r);
                }
            }
            Event::Missed { count } => eprintln!(
                "warning: {count} log lines were not shown (this terminal fell too far behind); `armonic journal --call {id}` has them"
            ),
            Event::Done(_) => {}
        })
        .await
    }

    /// Reads journals as `read` says.
    pub fn read(&self, read: ReadRequest) -> Result<ReadStream> {
        match &self.reads {
            Reads::Agent(client) => Ok(client.read(read)),
            Reads::Local(hosts) => {
                if read.all || read.location.is_some() {
                    // Every embedded location is read: they are all here.
                    let sources: Vec<ReadStream> = hosts
                        .iter()
                        .filter(|h| read.location.as_deref().is_none_or(|l| l == h.name()))
                        .map(|h| {
                            Service::read(
                                h,
                                ReadRequest {
                                    location: None,
                                    all: false,
                                    ..read.clone()
                                },
                            )
                        })
                        .collect();
                    if sources.is_empty() {
                        anyhow::bail!(Usage(format!(
                            "no embedded location is named {}",
                            read.location.unwrap_or_default()
                        )));
                    }
                    return Ok(Box::pin(futures::stream::select_all(sources)));
                }
                match hosts.as_slice() {
                    [one] => Ok(Service::read(one, read)),
                    _ => Ok(Box::pin(futures::stream::select_all(
                        hosts.iter().map(|h| Service::read(h, read.clone())),
                    ))),
                }
            }
        }
    }

    /// Every entry `query` selects in the journals of the live agents (every embedded
    /// location with `--local`), given to `each` with its location, until all are read;
    /// entries no longer kept, and journals that could not be read, are said on stderr,
    /// followed by `lost` (what that means). The locations whose journal could not be read
    /// are returned.
    pub fn journal_entries(
        &self,
        query: armonic_proto::journal::Query,
        lost: &str,
        mut each: impl FnMut(&str, armonic_proto::journal::Entry),
    ) -> Result<Vec<String>> {
        let mut unread = Vec::new();
        let read = ReadRequest {
            query,
            location: None,
            all: true,
            caller: me(),
        };
        let mut failed = None;
        follow(self.read(read)?, &self.interrupt, |event| {
            match event {
                ReadEvent::Entries { location, entries } => {
                    for e in entries {
                        each(&location, e);
                    }
                }
                ReadEvent::Missed { count } => {
                    eprintln!("warning: {count} journal entries were no longer kept: {lost}");
                }
                ReadEvent::Unread { location, error } => {
                    eprintln!(
                        "warning: the journal of {location} could not be read ({error}): {lost}"
                    );
                    unread.push(location);
                }
                ReadEvent::CaughtUp => {}
                ReadEvent::Ended(error) => failed = error,
            }
            Ok(())
        })?;
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(unread),
        }
    }

    /// The name of the agent commands go through (empty with `--local`, several locations).
    pub fn agent_name(&self) -> &str {
        self.endpoint.name()
    }

    /// Whether commands go through the agent (not `--local`).
    pub fn through_agent(&self) -> bool {
        matches!(self.reads, Reads::Agent(_))
    }

    /// Where log lines are shown.
    pub fn logs(&self) -> &Arc<dyn LogSink> {
        &self.logs
    }

    /// The locations, for deployments.
    pub fn mesh(&self) -> &dyn Mesh {
        &*self.mesh
    }
}

/// Who a read of journals is for: this process.
pub fn me() -> Caller {
    Caller::Process {
        pid: std::process::id(),
    }
}

/// The events of a read, each given to `each`, until it ends or `stop` says so.
pub fn follow(
    stream: ReadStream,
    interrupt: &Interrupt,
    mut each: impl FnMut(ReadEvent) -> Result<()>,
) -> Result<()> {
    futures::executor::block_on(async {
        let mut stream = stream;
        loop {
            let stage = interrupt.stage();
            if stage != armonic_lifecycle::Stage::Running {
                return Ok(());
            }
            let next = futures::future::select(stream.next(), interrupt.changed(stage)).await;
            match next {
                futures::future::Either::Left((Some(event), _)) => {
                    let over = matches!(event, ReadEvent::Ended(_));
                    each(event)?;
                    if over {
                        return Ok(());
                    }
                }
                futures::future::Either::Left((None, _)) => return Ok(()),
                futures::future::Either::Right(_) => return Ok(()),
            }
        }
    })
}

/// An address typed on the command line (a bad one is a bad argument).
pub fn address(text: &str) -> Result<Address> {
    Address::parse(text).map_err(|e| Usage(e.to_string()).into())
}
