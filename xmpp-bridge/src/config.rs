//! The bridge's configuration: the XMPP server and accounts, who may change states, and how
//! it joins the mesh; and the TOML file it may be read from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use xmpp_parsers::jid::BareJid;

/// The resource every agent's JID is given, as the original agents forced it.
pub const AGENT_RESOURCE: &str = "agent";

/// The resource of the master's client, which offers the ad-hoc commands, as the original
/// master's.
pub const MASTER_RESOURCE: &str = "master";

/// The default XMPP client port.
pub const DEFAULT_PORT: u16 = 5222;

/// What the bridge needs to run.
#[derive(Clone)]
pub struct Config {
    /// The XMPP server's host name or address.
    pub host: String,
    /// Its client port.
    pub port: u16,
    /// Log in over STARTTLS, checking the server's certificate against the system's trusted
    /// ones (false: plain text, for a server on the same machine).
    pub tls: bool,
    /// The XMPP domain: agents are `<location>@<domain>/agent`.
    pub domain: String,
    /// The domain of the rooms logs go to (`logs.<domain>`).
    pub muc_domain: String,
    /// The master account every agent subscribes to (`master@<domain>`).
    pub master: BareJid,
    /// The master account's password: with it the bridge logs in as `<master>/master` and
    /// offers the ad-hoc commands `provides` and `build`.
    pub master_password: Option<String>,
    /// The password of every agent account without one of its own.
    pub password: Option<String>,
    /// Passwords of agent accounts, by location name.
    pub passwords: BTreeMap<String, String>,
    /// Create agent accounts by in-band registration (XEP-0077) before logging in.
    pub register: bool,
    /// Bare JIDs allowed to change states (`state_goto`, `provide_call`).
    pub allow: Vec<BareJid>,
    /// How the bridge joins the mesh.
    pub mesh: armonic_mesh::Config,
    /// Longest wait for an agent's login before trying again.
    pub login_timeout: Duration,
    /// Longest wait for a caller to acknowledge a result, or for a room to be joined.
    pub reply_timeout: Duration,
    /// Most calls one agent runs at once; more are refused as `Busy`.
    pub max_calls: usize,
    /// How often the mesh's live locations are looked at.
    pub watch_every: Duration,
    /// Longest a build session waits for its next form before it is given up.
    pub build_idle_timeout: Duration,
    /// The XMPP server's stanza size limit, in bytes: no stanza the bridge sends is larger
    /// (a server closes the stream of a client that sends one). Prosody's and ejabberd's
    /// default, 256 KiB, unless set lower on the server.
    pub stanza_limit: usize,
}

impl Config {
    /// A configuration for `domain` with the defaults: the server is the domain on port 5222,
    /// rooms on `logs.<domain>`, the master `master@<domain>`, nobody allowed to change states.
    pub fn new(domain: &str, mesh: armonic_mesh::Config) -> Result<Config, ConfigError> {
        let master = BareJid::new(&format!("master@{domain}")).map_err(|e| ConfigError::Jid {
            what: "domain",
            value: domain.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Config {
            host: domain.to_owned(),
            port: DEFAULT_PORT,
            tls: true,
            domain: domain.to_owned(),
            muc_domain: format!("logs.{domain}"),
            master,
            master_password: None,
            password: None,
            passwords: BTreeMap::new(),
            register: false,
            allow: Vec::new(),
            mesh,
            login_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(30),
            max_calls: 32,
            watch_every: Duration::from_millis(500),
            build_idle_timeout: Duration::from_secs(30 * 60),
            stanza_limit: crate::limits::DEFAULT_STANZA_LIMIT,
        })
    }

    /// The password of the account of `location`.
    pub fn password_of(&self, location: &str) -> Option<&str> {
        self.passwords
            .get(location)
            .or(self.password.as_ref())
            .map(String::as_str)
    }

    /// Whether `jid` may change states.
    pub fn may_change_states(&self, jid: &BareJid) -> bool {
        self.allow.contains(jid)
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not a valid JID.
    #[error("{what} '{value}' is not a valid JID: {reason}")]
    Jid {
        /// Which setting.
        what: &'static str,
        /// As given.
        value: String,
        /// Why.
        reason: String,
    },
    /// The configuration file cannot be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Parses a bare JID setting.
pub fn bare_jid(what: &'static str, value: &str) -> Result<BareJid, ConfigError> {
    let invalid = |reason: String| ConfigError::Jid {
        what,
        value: value.to_owned(),
        reason,
    };
    let jid = BareJid::new(value).map_err(|e| invalid(e.to_string()))?;
    if jid.node().is_none() {
        return Err(invalid("it has no user part (user@domain)".into()));
    }
    Ok(jid)
}

/// The configuration file (`--config`, TOML). Every key is optional; the command line wins.
///
/// ```toml
/// host = "xmpp.example.com"
/// tls = true
/// domain = "example.com"
/// jid_master = "master@example.com"
/// agent_password = "secret"
/// master_password = "master secret"
/// allow = ["admin@example.com"]
/// peers = ["/ip4/10.0.0.2/tcp/7301"]
///
/// [agents.web1]
/// password = "another secret"
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// XMPP server host.
    pub host: Option<String>,
    /// XMPP server port.
    pub port: Option<u16>,
    /// STARTTLS (default true).
    pub tls: Option<bool>,
    /// XMPP domain.
    pub domain: Option<String>,
    /// Master JID.
    pub jid_master: Option<String>,
    /// Rooms' domain.
    pub muc_domain: Option<String>,
    /// Default agent password.
    pub agent_password: Option<String>,
    /// The master account's password (the ad-hoc commands).
    pub master_password: Option<String>,
    /// In-band registration of agent accounts.
    pub register: Option<bool>,
    /// JIDs allowed to change states.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The bridge's state directory (its mesh identity).
    pub state_dir: Option<PathBuf>,
    /// The mesh's key file.
    pub swarm_key: Option<PathBuf>,
    /// Mesh peers to dial.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Mesh addresses to listen on.
    #[serde(default)]
    pub listen: Vec<String>,
    /// mDNS discovery.
    pub mdns: Option<bool>,
    /// The XMPP server's stanza size limit, in bytes.
    pub stanza_limit: Option<usize>,
    /// Per-agent settings, by location name.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentFile>,
}

/// Settings of one agent account in the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// The account's password.
    pub password: Option<String>,
}

impl FileConfig {
    /// Reads and parses `path`.
    pub fn read(path: &std::path::Path) -> Result<FileConfig, ConfigError> {
        let error = |reason: String| ConfigError::File {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        toml::from_str(&text).map_err(|e| error(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh() -> armonic_mesh::Config {
        armonic_mesh::Config::new(
            armonic_mesh::Identity::ephemeral(),
            armonic_mesh::SwarmKey::random().unwrap(),
        )
    }

    #[test]
    fn defaults_follow_the_original_clients() {
        let c = Config::new("example.com", mesh()).unwrap();
        assert_eq!(c.host, "example.com");
        assert_eq!(c.port, 5222);
        assert_eq!(c.muc_domain, "logs.example.com");
        assert_eq!(c.master.to_string(), "master@example.com");
        assert!(c.allow.is_empty());
    }

    #[test]
    fn an_agents_own_password_wins_over_the_common_one() {
        let mut c = Config::new("example.com", mesh()).unwrap();
        assert_eq!(c.password_of("web1"), None);
        c.password = Some("common".into());
        c.passwords.insert("web1".into(), "own".into());
        assert_eq!(c.password_of("web1"), Some("own"));
        assert_eq!(c.password_of("web2"), Some("common"));
    }

    #[test]
    fn allowed_jids_must_be_bare_accounts() {
        assert!(bare_jid("--allow", "admin@example.com").is_ok());
        assert!(bare_jid("--allow", "example.com").is_err());
        assert!(bare_jid("--allow", "a@b@c").is_err());
    }

    #[test]
    fn the_file_takes_agents_passwords_and_refuses_unknown_keys() {
        let f: FileConfig = toml::from_str(
            "domain = \"example.com\"\nallow = [\"a@example.com\"]\n[agents.web1]\npassword = \"x\"\n",
        )
        .unwrap();
        assert_eq!(f.domain.as_deref(), Some("example.com"));
        assert_eq!(f.agents["web1"].password.as_deref(), Some("x"));
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
    }
}
