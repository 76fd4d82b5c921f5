//! The command line, and the configuration it makes with the configuration file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use armonic_xmpp_bridge::config::{DEFAULT_PORT, bare_jid};
use armonic_xmpp_bridge::{Config, FileConfig};
use clap::Parser;

/// Makes every live agent of the Armonic mesh reachable over XMPP as an original armonic
/// agent: `<location>@<domain>/agent`.
#[derive(Debug, Parser)]
#[command(
    name = "armonic-xmpp-bridge",
    version,
    after_help = "Example, with Prosody set up as in docs/xmpp.md, on a machine of the mesh:\n\n  \
        armonic-xmpp-bridge --jid-master master@armonic.example.com \\\n      \
        --allow master@armonic.example.com --register --peer 127.0.0.1:7301 --no-mdns\n\n\
        Passwords come from --agent-password / ARMONIC_XMPP_AGENT_PASSWD (asked for at a \
        terminal) and --master-password / ARMONIC_XMPP_MASTER_PASSWD."
)]
pub struct Args {
    /// Configuration file (TOML); the command line wins over it.
    #[arg(short, long, value_name = "FILE", env = "ARMONIC_XMPP_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// XMPP server address (default: the domain).
    #[arg(short = 'H', long, env = "ARMONIC_XMPP_HOST")]
    pub host: Option<String>,
    /// XMPP server port.
    #[arg(short = 'P', long, env = "ARMONIC_XMPP_PORT")]
    pub port: Option<u16>,
    /// Log in in plain text, without STARTTLS (only for a server on this machine or a
    /// trusted network: passwords then travel in clear).
    #[arg(long)]
    pub no_tls: bool,
    /// XMPP domain of the agents' accounts (default: the master's).
    #[arg(long, env = "ARMONIC_XMPP_DOMAIN")]
    pub domain: Option<String>,
    /// The master account agents subscribe to (default: master@<domain>).
    #[arg(long, value_name = "JID", env = "ARMONIC_XMPP_JID_MASTER")]
    pub jid_master: Option<String>,
    /// Domain of the rooms log lines go to (default: logs.<domain>).
    #[arg(long, env = "ARMONIC_XMPP_MUC_DOMAIN")]
    pub muc_domain: Option<String>,
    /// Password of the agents' accounts (asked for on a terminal when none is configured).
    #[arg(long, env = "ARMONIC_XMPP_AGENT_PASSWD", hide_env_values = true)]
    pub agent_password: Option<String>,
    /// Password of the master's account: the bridge then logs in as <master>/master too and
    /// offers the ad-hoc commands `provides` and `build` (XEP-0050).
    #[arg(long, env = "ARMONIC_XMPP_MASTER_PASSWD", hide_env_values = true)]
    pub master_password: Option<String>,
    /// Create the agents' accounts by in-band registration (XEP-0077).
    #[arg(long)]
    pub register: bool,
    /// A bare JID allowed to change states (state_goto, provide_call) and to run the `build`
    /// command; repeatable. Anyone may read.
    #[arg(long, value_name = "JID")]
    pub allow: Vec<String>,
    /// The bridge's state directory (its identity in the mesh).
    #[arg(long, value_name = "DIR", env = "ARMONIC_XMPP_BRIDGE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The mesh's key file (default: swarm.key in the state directory, then in the agent's).
    #[arg(long, value_name = "FILE")]
    pub swarm_key: Option<PathBuf>,
    /// A mesh peer to dial (`/ip4/IP/tcp/PORT` or `IP:PORT`); repeatable.
    #[arg(long, value_name = "ADDR")]
    pub peer: Vec<String>,
    /// Mesh address to listen on (default: any port of every interface); repeatable.
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Do not discover mesh peers by mDNS.
    #[arg(long)]
    pub no_mdns: bool,
    /// How long a call whose connection to its agent broke is re-attached to, in seconds,
    /// before its outcome is said unknown.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub reattach_for: u64,
    /// Longest a read may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub query_timeout: u64,
    /// The XMPP server's stanza size limit, in bytes (default 262144, Prosody's and
    /// ejabberd's): no stanza the bridge sends is larger.
    #[arg(long, value_name = "BYTES")]
    pub stanza_limit: Option<usize>,
    /// More details (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn pick<T: Clone>(args: &[T], file: &[T]) -> Vec<T> {
    if args.is_empty() { file } else { args }.to_vec()
}

/// The swarm key: as given, else in the bridge's state directory, else in the agent's.
fn swarm_key_path(given: Option<PathBuf>, state_dir: &Path) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    let own = state_dir.join(armonic_mesh::SWARM_KEY);
    if own.exists() {
        return own;
    }
    state_dir
        .parent()
        .map_or(own.clone(), |p| p.join(armonic_mesh::SWARM_KEY))
}

/// Reads a password on the terminal without echoing it.
fn prompt_password(prompt: &str) -> Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("cannot turn echo off")?;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The bridge's configuration: command line over environment over the file.
pub fn config(args: Args) -> Result<Config> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let master = args.jid_master.clone().or(file.jid_master.clone());
    let domain = match args.domain.clone().or(file.domain.clone()) {
        Some(d) => d,
        None => match &master {
            Some(m) => bare_jid("--jid-master", m)?.domain().to_string(),
            None => bail!("give the XMPP domain (--domain) or the master's JID (--jid-master)"),
        },
    };
    let state_dir = args
        .state_dir
        .clone()
        .or(file.state_dir.clone())
        .unwrap_or_else(|| armonic_agent::default_state_dir().join("xmpp-bridge"));
    // Its identity in the mesh is kept there: nobody else may be able to put one of theirs.
    armonic_lifecycle::safefs::private_dir(&state_dir)
        .with_context(|| format!("refusing state directory {}", state_dir.display()))?;
    let key = swarm_key_path(
        args.swarm_key.clone().or(file.swarm_key.clone()),
        &state_dir,
    );
    let swarm_key = armonic_mesh::SwarmKey::read(&key)?;
    let identity = armonic_mesh::Identity::load(&state_dir.join(armonic_mesh::IDENTITY))?;
    let mut mesh = armonic_mesh::Config::new(identity, swarm_key);
    let listen = pick(&args.listen, &file.listen);
    mesh.listen = if listen.is_empty() {
        vec!["/ip4/0.0.0.0/tcp/0".into()]
    } else {
        listen
    };
    mesh.peers = pick(&args.peer, &file.peers);
    mesh.mdns = !args.no_mdns && file.mdns.unwrap_or(true);
    mesh.reattach_for = Duration::from_secs(args.reattach_for);
    mesh.query_timeout = Duration::from_secs(args.query_timeout);

    let mut config = Config::new(&domain, mesh)?;
    if let Some(host) = args.host.clone().or(file.host.clone()) {
        config.host = host;
    }
    config.port = args.port.or(file.port).unwrap_or(DEFAULT_PORT);
    config.tls = !args.no_tls && file.tls.unwrap_or(true);
    if let Some(m) = &master {
        config.master = bare_jid("--jid-master", m)?;
    }
    if let Some(muc) = args.muc_domain.clone().or(file.muc_domain.clone()) {
        config.muc_domain = muc;
    }
    config.register = args.register || file.register.unwrap_or(false);
    if let Some(limit) = args.stanza_limit.or(file.stanza_limit) {
        if limit < armonic_xmpp_bridge::limits::MIN_STANZA_LIMIT {
            bail!(
                "--stanza-limit {limit} is too small: at least {} bytes",
                armonic_xmpp_bridge::limits::MIN_STANZA_LIMIT
            );
        }
        config.stanza_limit = limit;
    }
    config.allow = pick(&args.allow, &file.allow)
        .iter()
        .map(|j| bare_jid("--allow", j))
        .collect::<Result<_, _>>()?;
    config.passwords = file
        .agents
        .into_iter()
        .filter_map(|(name, a)| a.password.map(|p| (name, p)))
        .collect();
    config.master_password = args
        .master_password
        .clone()
        .or(file.master_password.clone());
    config.password = args.agent_password.clone().or(file.agent_password.clone());
    if config.password.is_none() && std::io::stdin().is_terminal() {
        config.password = Some(prompt_password("Password of the agents' XMPP accounts: ")?);
    }
    if config.password.is_none() && config.passwords.is_empty() {
        bail!(
            "no password for the agents' accounts: give --agent-password, \
             ARMONIC_XMPP_AGENT_PASSWD or [agents.NAME] passwords in --config"
        );
    }
    Ok(config)
}
