//! Command-line arguments.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// Deploy services described as lifecycles: list them, move them between states, call their
/// provides, and deploy a provide with everything it depends on.
///
/// Addresses select resources in the tree location/lifecycle/state/provide/require/variable:
/// `//WebServer//start`, `/web1/WebServer/Configured`, `WebSite//url`,
/// `//*[@ressource='provide']`. See docs/addresses.md.
#[derive(Debug, Parser)]
#[command(
    name = "armonic",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = "Examples:\n  \
    armonic --local provide-call //WebServer//start\n  \
    armonic --local state-goto //WebServer/Configured -R conf port:8080\n  \
    armonic --local --state-dir /tmp/armonic provide-call //WebServer//start\n  \
    armonic --local provide //WebSite//start -a")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Read options from this TOML file (command line and environment win over it)
    #[arg(long, value_name = "FILE", global = true, env = "ARMONIC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run an embedded agent in this process on the lifecycle directories (-L)
    #[arg(long, global = true)]
    pub local: bool,
    /// Lifecycle directory for --local (repeatable; default: the shipped lifecycles)
    #[arg(
        short = 'L',
        long = "lifecycle-dir",
        value_name = "DIR",
        global = true,
        env = "ARMONIC_LIFECYCLE_DIRS",
        value_delimiter = ':'
    )]
    pub lifecycle_dirs: Vec<PathBuf>,
    /// Keep states here across runs (nothing is saved without it); one armonic at a time
    /// uses a state directory
    #[arg(long, value_name = "DIR", global = true, env = "ARMONIC_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// When another armonic uses the state directory, wait for it instead of failing
    #[arg(long, global = true)]
    pub wait: bool,
    /// Validate and move states, but run no action (ARMONIC_SIMULATION=1 too)
    #[arg(
        long,
        global = true,
        env = "ARMONIC_SIMULATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub simulation: Option<bool>,
    /// On Ctrl-C or SIGTERM, seconds a running step gets to stop after SIGTERM before
    /// SIGKILL [default: 10]
    #[arg(
        long,
        value_name = "SECONDS",
        global = true,
        env = "ARMONIC_GRACE_PERIOD"
    )]
    pub grace_period: Option<f64>,
    /// An embedded location NAME (or NAME=ADDR) for --local; repeat it for several:
    /// listings cover them all, a call goes where its address matches (/NAME/...)
    #[arg(long = "location", value_name = "NAME[=ADDR]", global = true)]
    pub locations: Vec<String>,
    /// Location name, first step of absolute addresses [default: the host name]
    #[arg(long, value_name = "NAME", global = true)]
    pub name: Option<String>,
    /// Address services of this location are reached at (an IP address or a host name)
    /// [default: localhost; an agent in a mesh: this machine's, found from its interfaces]
    #[arg(long, value_name = "ADDR", global = true)]
    pub public_ip: Option<String>,
    /// Operating system to check states against, NAME or NAME:RELEASE (`any` matches every
    /// state) [default: detected]
    #[arg(long, value_name = "OS", global = true, env = "ARMONIC_OS_TYPE")]
    pub os_type: Option<String>,
    /// More output: -v engine events, -vv debug, -vvv trace
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output: only warnings and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// No colors in logs
    #[arg(long, global = true, env = "NO_COLOR", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,
    /// Output format of results (logs go to stderr)
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts: one JSON document on stdout, log lines as JSON on stderr.
    Json,
}

/// Values given on the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct ValueArgs {
    /// Values of a require: -R REQUIRE VAR:VALUE [VAR:VALUE...]; repeat -R for the next value set
    #[arg(short = 'R', long = "require", num_args = 2.., value_names = ["REQUIRE", "VAR:VALUE"], action = ArgAction::Append)]
    pub require: Vec<String>,
    /// Values as JSON: [["address", {"0": value}], ...] or {"address": value, ...}
    #[arg(long, value_name = "JSON", conflicts_with = "require")]
    pub json: Option<String>,
    /// Which path to take when several lead to the state (see `state -p`)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub path_idx: usize,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the location: name, OS, version, public address
    Status,
    /// List lifecycles
    Lifecycle {
        /// Lifecycles enclosing what this address matches
        #[arg(default_value = "//*[@ressource='lifecycle']")]
        xpath: String,
        /// With name and description
        #[arg(short, long)]
        long_description: bool,
    },
    /// List states
    State(StateArgs),
    /// Show the current state of lifecycles
    StateCurrent {
        /// Lifecycles enclosing what this address matches
        #[arg(default_value = "//*[@ressource='lifecycle']")]
        xpath: String,
    },
    /// Go to a state, entering (or leaving) the states on the way
    StateGoto {
        /// The state (an address matching exactly one state)
        uri: String,
        #[command(flatten)]
        values: ValueArgs,
    },
    /// List provides that can be called (their state is entered or reachable)
    Provide(ProvideArgs),
    /// Call a provide, entering its state first when needed; Ctrl-C stops it wherever it
    /// runs
    ProvideCall(ProvideCallArgs),
    /// Draw a lifecycle's state machine
    Plot(PlotArgs),
    /// Deploy a provide: resolve its dependencies across locations, ask what cannot be
    /// inferred, show the plan, run it and print what the provide returns
    #[command(after_help = "Examples:\n  \
        armonic --local deploy //WebSite//start --autofill\n  \
        armonic --local --location web1 --location web2 --location proxy deploy //Proxy//start --save proxy.json\n  \
        armonic --local --location web1 --location web2 --location proxy deploy //Proxy//start --answers proxy.json")]
    Deploy(DeployArgs),
    /// Run the agent of this machine: serve its lifecycles on the control socket in the
    /// state directory until SIGINT or SIGTERM
    #[command(after_help = "Examples:\n  \
        armonic agent\n  \
        armonic --state-dir /tmp/armonic -L ./lifecycles agent\n  \
        armonic --config /etc/armonic/armonic.toml agent\n  \
        armonic --state-dir /tmp/a2 agent --listen 127.0.0.1:7302 --peer 127.0.0.1:7301 --no-mdns")]
    Agent(AgentArgs),
    /// The demo: three agents in a mesh of their own on this machine's loopback, and the
    /// Proxy deployment (two WebSites on two agents, the Proxy on the third) through them
    Demo,
    /// Manage the mesh's swarm key
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Show the agents of the mesh: name, peer id, addresses, lifecycles, current states,
    /// last seen, live
    Mesh {
        /// Keep the table up to date until Ctrl-C
        #[arg(short, long)]
        watch: bool,
    },
    /// Follow a deployment from any agent of the mesh: the log lines of every call of it on
    /// every live agent, those written before included, until Ctrl-C
    Watch {
        /// The deployment id (`deploy` shows it; `--json` requires may carry one as `uuid`)
        deployment: String,
    },
    /// Show the journal of the agent: every call it ran, who asked it, its log lines and its
    /// outcome, and the reads it answered (its audit log)
    #[command(after_help = "Examples:\n  \
        armonic journal --deployment 3f2a...\n  \
        armonic journal --lifecycle WebServer --since 1h --no-lines\n  \
        armonic journal --follow\n  \
        armonic journal --agent web2 --caller root\n  \
        armonic journal --all --deployment 3f2a... --format json")]
    Journal(JournalArgs),
    /// Undo a deployment: leave, on each agent, the states it entered, the last entered
    /// first, asking before leaving a destructive state
    #[command(after_help = "Examples:\n  \
        armonic undo 3f2a... --dry-run\n  \
        armonic undo 3f2a... --yes")]
    Undo(UndoArgs),
    /// Finish a deployment whose driver is gone (killed, its machine lost), from any node:
    /// steps done are skipped, a step still running is attached to, the rest run
    #[command(after_help = "Examples:\n  \
        armonic resume 3f2a... --dry-run\n  \
        armonic resume 3f2a... --unknown rerun --yes\n\n\
        The plan is the one the deployment's calls carried, kept in the journal of every agent \
        it ran on (secrets left out: they are asked again, or read from --answers).")]
    Resume(ResumeArgs),
    /// List the deployments the journals of the live agents know: id, start, root, driver,
    /// steps that ran, and where each stands (running, done, failed, interrupted, unknown,
    /// driver gone)
    Deployments,
    /// Show what an address matches
    Xpath {
        /// The address
        xpath: String,
        /// Only the addresses, one per line
        #[arg(short, long)]
        uri: bool,
    },
}

/// Options of `state`.
#[derive(Debug, Args, Clone)]
pub struct StateArgs {
    /// States enclosing what this address matches
    #[arg(default_value = "//*[@ressource='state']")]
    pub xpath: String,
    /// With OS, provides and enter requires
    #[arg(short, long, conflicts_with_all = ["path", "requires_list"])]
    pub long_description: bool,
    /// The paths from the current state to each state
    #[arg(short, long, conflicts_with = "requires_list")]
    pub path: bool,
    /// What entering each state needs (the enter provides along the path)
    #[arg(short, long)]
    pub requires_list: bool,
}

/// Options of `provide`.
#[derive(Debug, Args, Clone)]
pub struct ProvideArgs {
    /// Provides this address matches
    #[arg(default_value = "//*[@ressource='provide']")]
    pub xpath: String,
    /// With label, tags, help and requires
    #[arg(short, long, conflicts_with_all = ["path", "all"])]
    pub long_description: bool,
    /// The paths to each provide's state
    #[arg(short, long, conflicts_with = "all")]
    pub path: bool,
    /// What calling each provide needs
    #[arg(short, long)]
    pub all: bool,
}

/// Options of `provide-call`.
#[derive(Debug, Args, Clone)]
pub struct ProvideCallArgs {
    /// The provide (an address matching exactly one provide)
    pub uri: String,
    #[command(flatten)]
    pub values: ValueArgs,
    /// Only validate the values; change nothing
    #[arg(short, long)]
    pub check: bool,
    /// Call it on every live location that offers it, at once, and show a table
    #[arg(long, conflicts_with = "check")]
    pub all: bool,
}

/// Options of `plot`.
#[derive(Debug, Args, Clone)]
pub struct PlotArgs {
    /// The lifecycle [default: every lifecycle]
    pub lifecycle: Option<String>,
    /// dot (Graphviz) or json (states, transitions and stack)
    #[arg(short = 'T', long = "type", value_enum, default_value_t = PlotType::Dot)]
    pub plot_type: PlotType,
    /// Only the states that can be reached from the current one
    #[arg(short, long)]
    pub reachable: bool,
}

/// Options of `deploy`.
#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    /// The provide to deploy, a generic address such as //WebSite//start
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    pub xpath: Option<String>,
    /// Manage every provide without asking
    #[arg(long)]
    pub manage: bool,
    /// Take every suggested value, default and location without asking
    #[arg(short, long)]
    pub autofill: bool,
    /// Replay the answers of a saved deployment record (questions it lacks are asked)
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Save every answer to FILE (owner-only), to replay with --answers; secrets (passwords,
    /// variables marked secret) are left out and asked again on replay
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Keep the values of secrets in the file of --save, in clear
    #[arg(long, requires = "save")]
    pub save_secrets: bool,
    /// Replay --answers even when they were saved for another address or format
    #[arg(long, requires = "answers")]
    pub force: bool,
    /// Print the plan and call nothing
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: write the plan to FILE (owner-only), bound to what each location it
    /// runs on has now, for `deploy --plan FILE`
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub save_plan: Option<PathBuf>,
    /// Apply exactly the plan in FILE (saved with --save-plan); refused, before anything
    /// runs, when a location it runs on changed since (its lifecycles or their states)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dry_run", "save", "manage", "autofill", "force"])]
    pub plan: Option<PathBuf>,
    /// Most steps running at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,
    /// Run the plan without asking for confirmation
    #[arg(short, long)]
    pub yes: bool,
}

/// Options of `undo`.
#[derive(Debug, Args, Clone)]
pub struct UndoArgs {
    /// The deployment to undo (`deploy` prints its id; `deployments` lists them)
    pub deployment: String,
    /// Show what would be left and leave nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Leave destructive states (whose leaving destroys data) without asking
    #[arg(short, long)]
    pub yes: bool,
}

/// What `resume` does with a step whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Unknown {
    /// Run it again (it may have partly run: its provide should bear running twice)
    Rerun,
    /// Count it done (check first that it did finish)
    Skip,
}

/// Options of `resume`.
#[derive(Debug, Args, Clone)]
pub struct ResumeArgs {
    /// The deployment to finish (`deployments` lists them)
    pub deployment: String,
    /// What to do with a step whose agent stopped during it (its outcome is unknown);
    /// asked at a terminal when not given
    #[arg(long, value_enum, value_name = "WHAT")]
    pub unknown: Option<Unknown>,
    /// Show what each step's journal says and what would run; run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Go on when the deployment was active a moment ago (its driver is taken for gone)
    #[arg(short, long)]
    pub yes: bool,
    /// The secrets of the steps still to run, from a record saved with --save-secrets
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Most steps running at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,
}

/// Options of `journal`.
#[derive(Debug, Args, Clone, Default)]
pub struct JournalArgs {
    /// Only the calls of this deployment
    #[arg(long, value_name = "ID")]
    pub deployment: Option<String>,
    /// Only this call
    #[arg(long, value_name = "ID")]
    pub call: Option<String>,
    /// Only calls on this lifecycle
    #[arg(long, value_name = "NAME")]
    pub lifecycle: Option<String>,
    /// Only calls (and reads) whose caller contains TEXT (a user, a peer's name or id, a JID)
    #[arg(long, value_name = "TEXT")]
    pub caller: Option<String>,
    /// Only entries since TIME: RFC 3339 (2026-12-06T10:00:00Z), or a time ago (10m, 2h, 1d)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only entries before TIME (as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep showing new entries as they come, until Ctrl-C
    #[arg(short, long)]
    pub follow: bool,
    /// Leave out the log lines of calls
    #[arg(long)]
    pub no_lines: bool,
    /// Show the reads too (listings, validations: who looked at what)
    #[arg(long)]
    pub reads: bool,
    /// The journal of this agent of the mesh rather than this machine's
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    pub agent: Option<String>,
    /// The journals of every live agent of the mesh, merged by time
    #[arg(long)]
    pub all: bool,
}

/// Options of the agent: how it joins the mesh (also from the configuration file).
#[derive(Debug, Args, Clone, Default)]
pub struct AgentArgs {
    /// Address to listen on for the mesh, /ip4/IP/tcp/PORT or IP:PORT (repeatable)
    /// [default: 0.0.0.0:7301]
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<String>,
    /// A peer to join, /ip4/IP/tcp/PORT or IP:PORT (repeatable); kept dialed
    #[arg(long, value_name = "ADDR")]
    pub peer: Vec<String>,
    /// Do not discover peers by mDNS on the LAN
    #[arg(long)]
    pub no_mdns: bool,
    /// A peer id allowed to change states here (repeatable); without any, every agent of
    /// the mesh may
    #[arg(long, value_name = "PEER_ID")]
    pub operator: Vec<String>,
    /// The mesh's swarm key [default: STATE_DIR/swarm.key, made on first start when
    /// missing; a key given here must exist]
    #[arg(long, value_name = "FILE")]
    pub swarm_key: Option<PathBuf>,
    /// How long a call this agent relays to another is re-attached to when their connection
    /// breaks, before its outcome is said unknown [default: 60]
    #[arg(long, value_name = "SECONDS")]
    pub reattach_for: Option<u64>,
    /// Most room the journal's files take, in bytes or with a unit (800MiB, 2G); the oldest
    /// go first [default: 512MiB]
    #[arg(long, value_name = "SIZE")]
    pub journal_max_size: Option<String>,
    /// Journal files whose newest entry is older than this are removed (12h, 30d, 1y)
    /// [default: 30d]
    #[arg(long, value_name = "AGE")]
    pub journal_max_age: Option<String>,
    /// Run alone, in no mesh
    #[arg(long, conflicts_with_all = ["listen", "peer", "no_mdns", "operator", "swarm_key", "reattach_for"])]
    pub no_mesh: bool,
}

/// What to do with keys.
#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Make a new swarm key: copy the file to every machine of the mesh
    Generate {
        /// Where to write it [default: STATE_DIR/swarm.key]
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Plot output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotType {
    /// Graphviz dot.
    Dot,
    /// JSON.
    Json,
}
