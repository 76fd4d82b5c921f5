//! Multi-host tests: real Debian hosts booting systemd, each in a container of its own
//! (systemd-nspawn) on a LAN of their own, with the project's package installed and its
//! agent running as `armonic-agent.service`.
//!
//! ```ignore
//! let Some(hosts) = Hosts::start(&["db1", "app1", "web1"]) else { return };
//! let out = hosts["db1"].armonic(&["lifecycle"]);
//! ```
//!
//! What it takes: root, `systemd-nspawn` (systemd-container), `debootstrap`,
//! `dpkg-scanpackages` (dpkg-dev), `dpkg-deb`, `ip`, `nsenter` and `setpriv`
//! (util-linux), `flock`. Without them a test skips saying why, or fails when
//! `ARMONIC_REQUIRE_ALL_TESTS` is set ([`super::skip`]).
//!
//! - **The image** (`tests/hosts/image.sh`): Debian bookworm with systemd, built once with
//!   debootstrap and cached in `/var/cache/armonic-tests/image-HASH` (about 2-3 minutes the
//!   first time), with a local apt repository of the packages of `tests/hosts/packages`:
//!   the only apt source the hosts have (`apt-get install postgresql` works there, with no
//!   network).
//! - **A host** boots the image read-only under an overlay whose upper layer is its own
//!   (`/var/tmp/armonic-hosts/<id>/<name>/upper`), in a network namespace of its own, with
//!   `/srv/armonic-repo` (the repository) and `/srv/armonic-deb` (the package) bound
//!   read-only. Its host name is its name; every host and `client` are in its `/etc/hosts`.
//!   Before it boots, the package built from this tree (`scripts/package-deb.sh`) is
//!   installed and the test's swarm key written to `/var/lib/armonic/swarm.key`, so the
//!   agent starts at boot with the shipped configuration (mDNS on).
//! - **The LAN**: a bridge in a namespace of its own, joining the hosts and a `client`
//!   namespace (from which [`Hosts::http_get`] and [`Hosts::http_post`] talk to the hosts),
//!   on a subnet 10.X.Y.0/24 chosen at random; the bridge forwards multicast, so the agents
//!   find each other by mDNS. Nothing is added to the machine's own network.
//! - **Names**: everything a run makes is named `armh<PID>x<N>` (the test process, its
//!   count): namespaces `<id>-<host>`, `<id>-lan`, `<id>-client`; machines `<id>-<host>`;
//!   cgroups `armonic-tests/<id>-<host>` (each container gets its own, or their systemds
//!   would share one); `/var/tmp/armonic-hosts/<id>`.
//! - **Teardown**: dropping [`Hosts`] (a test that panics too) powers the hosts off, kills
//!   what is left after 60 s, and removes the namespaces, cgroups and files. A test process
//!   that dies without dropping it (killed, timed out) stops its containers anyway: nspawn
//!   gets SIGTERM when the thread that started it ends (so start and drop [`Hosts`] on one
//!   thread), and the next start removes whatever a dead process left.
//!
//! Every wait is bounded and generous: a host may take a minute to boot beside busy
//! processes on two cores.

mod cleanup;
mod net;
mod run;

pub use net::HttpResponse;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::text;
use cleanup::{PREFIX, WORK_ROOT};

/// Where the image and its repository are cached.
pub const CACHE: &str = "/var/cache/armonic-tests";

/// How long a command in a host may run unless said otherwise.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment of commands run in a host.
const HOST_ENV: [&str; 5] = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "TERM=dumb",
    "DEBIAN_FRONTEND=noninteractive",
];

/// The agent's unit.
pub const AGENT: &str = "armonic-agent.service";

/// Why the hosts cannot be made on this machine.
#[derive(Debug, Clone)]
pub struct Skip(pub String);

impl Skip {
    /// Says why the test skips, or fails it under `ARMONIC_REQUIRE_ALL_TESTS`.
    pub fn report(&self) {
        super::skip(&self.0);
    }
}

/// How the hosts are made ([`Hosts::start_with`]).
#[derive(Clone)]
pub struct Setup {
    /// Install the project's package before the hosts boot, so that their agents start
    /// with them. Default: true. Without it, [`Host::install_package`] installs it.
    pub install_package: bool,
    /// The text of each host's `/etc/armonic/armonic.toml`, from its name and address,
    /// instead of the package's. Default: none (the package's: the name is the host name).
    pub agent_config: Option<fn(&str, Ipv4Addr) -> String>,
    /// How long a host may take to boot (until systemd says it is running). Default: 180 s.
    pub boot_timeout: Duration,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            install_package: true,
            agent_config: None,
            boot_timeout: Duration::from_secs(180),
        }
    }
}

/// A peer as `armonic mesh` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its name (its location).
    pub name: String,
    /// Its peer id.
    pub peer_id: String,
    /// Whether it is live.
    pub live: bool,
    /// Whether it is the agent answering.
    pub local: bool,
}

/// One booted host.
pub struct Host {
    name: String,
    machine: String,
    namespace: String,
    bridge: String,
    port: String,
    address: Ipv4Addr,
    dir: PathBuf,
    package: String,
    nspawn: Option<Child>,
    leader: u32,
    cgroups: Vec<PathBuf>,
}

/// Hosts booted for a test, on a LAN of their own; dropping them removes everything.
pub struct Hosts {
    id: String,
    work: PathBuf,
    bridge: String,
    client: String,
    subnet: [u8; 3],
    package: PathBuf,
    swarm_key: PathBuf,
    hosts: Vec<Host>,
    namespaces: Vec<String>,
}

fn have_all() -> Result<(), Skip> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Skip(
            "multi-host tests need root (containers, network namespaces)".into(),
        ));
    }
    let tools = [
        ("systemd-nspawn", "systemd-container"),
        ("debootstrap", "debootstrap"),
        ("dpkg-scanpackages", "dpkg-dev"),
        ("dpkg-deb", "dpkg"),
        ("ip", "iproute2"),
        ("nsenter", "util-linux"),
        ("setpriv", "util-linux"),
        ("flock", "util-linux"),
    ];
    for (tool, package) in tools {
        if !run::have(tool) {
            return Err(Skip(format!(
                "multi-host tests need {tool} (package {package})"
            )));
        }
    }
    if cleanup::cgroup_roots().is_empty() {
        return Err(Skip("multi-host tests need /sys/fs/cgroup".into()));
    }
    Ok(())
}

/// The cached image (after building it if needed): (its root, its repository).
fn image() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hosts/image.sh");
    let started = Instant::now();
    // Its progress goes to the test's standard error; building takes minutes, waiting for
    // another process's build as long.
    let mut child = Command::new("bash")
        .arg(&script)
        .arg(CACHE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bash runs");
    let deadline = started + Duration::from_secs(45 * 60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for image.sh") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} took more than 45 minutes", script.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("piped"), &mut out)
        .expect("image.sh's output");
    assert!(status.success(), "{} failed: {status}", script.display());
    let dir = PathBuf::from(out.trim());
    assert!(
        dir.join("root").is_dir() && dir.join("repo/Packages").is_file(),
        "image.sh printed {out:?}"
    );
    if started.elapsed() > Duration::from_secs(5) {
        eprintln!(
            "hosts: image {} ready in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    (dir.join("root"), dir.join("repo"))
}

/// The pid (as the machine sees it) of the container's init, a child of nspawn `nspawn`
/// that is pid 1 in its own namespace.
fn find_leader(nspawn: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(nspawn) {
            continue;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let inner_one = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .map(|ids| ids.split_whitespace().collect::<Vec<_>>())
            .is_some_and(|ids| ids.len() >= 2 && ids.last() == Some(&"1"));
        if inner_one {
            return Some(pid);
        }
    }
    None
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Hosts {
    /// Boots hosts `names` with the package installed and their agents running, or says why
    /// it cannot ([`Skip::report`]) and gives `None`. Panics if something fails on the way.
    pub fn start(names: &[&str]) -> Option<Hosts> {
        Hosts::start_with(names, Setup::default())
    }

    /// [`Hosts::start`] with `setup`.
    pub fn start_with(names: &[&str], setup: Setup) -> Option<Hosts> {
        match Hosts::try_start(names, setup) {
            Ok(hosts) => Some(hosts),
            Err(skip) => {
                skip.report();
                None
            }
        }
    }

    /// Boots hosts `names` as `setup` says; `Err` when this machine cannot (not root, a tool
    /// missing). Panics if something fails on the way (what was made is removed).
    pub fn try_start(names: &[&str], setup: Setup) -> Result<Hosts, Skip> {
        have_all()?;
        for (i, n) in names.iter().enumerate() {
            assert!(
                !n.is_empty()
                    && n.len() <= 20
                    && n.starts_with(|c: char| c.is_ascii_lowercase())
                    && n.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "host name {n:?}: lowercase letters, digits and '-', at most 20"
            );
            assert!(
                *n != "client" && !names[..i].contains(n),
                "host name {n:?} taken"
            );
        }
        cleanup::remove_leftovers();
        static MADE: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{PREFIX}{}x{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::SeqCst)
        );
        let work = Path::new(WORK_ROOT).join(&id);
        std::fs::create_dir_all(&work).expect("work directory");
        let subnet = net::random_subnet();
        // From here on, dropping `hosts` removes what was made, on success or panic.
        let mut hosts = Hosts {
            bridge: format!("{id}-lan"),
            client: format!("{id}-client"),
            package: PathBuf::new(),
            swarm_key: work.join("swarm.key"),
            id,
            work,
            subnet,
            hosts: Vec::new(),
            namespaces: Vec::new(),
        };
        let (image, repo) = image();
        hosts.build_package();
        super::swarm_key(&hosts.swarm_key);
        hosts.make_lan(names);

        let etc_hosts = hosts.etc_hosts(names);
        for h in &hosts.hosts {
            h.prepare(&etc_hosts, &hosts.swarm_key);
        }
        let shared = vec![
            format!("--bind-ro={}:/srv/armonic-repo", repo.display()),
            format!(
                "--bind-ro={}:/srv/armonic-deb",
                hosts.package.parent().expect("a directory").display()
            ),
        ];
        if setup.install_package {
            let started = Instant::now();
            let installs: Vec<Child> = hosts
                .hosts
                .iter()
                .map(|h| h.install_offline(&image, &shared))
                .collect();
            for (h, child) in hosts.hosts.iter().zip(installs) {
                let out = wait_bounded(child, COMMAND_TIMEOUT);
                assert!(
                    out.status.success(),
                    "{}: dpkg -i of the package failed: {}{}",
                    h.name,
                    text(&out.stdout),
                    text(&out.stderr)
                );
            }
            eprintln!(
                "hosts: package installed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        if let Some(config) = setup.agent_config {
            for h in &hosts.hosts {
                let file = h.upper().join("etc/armonic/armonic.toml");
                std::fs::create_dir_all(file.parent().expect("a directory")).expect("made");
                std::fs::write(&file, config(&h.name, h.address)).expect("written");
            }
        }
        let started = Instant::now();
        for h in &mut hosts.hosts {
            h.boot(&image, &shared);
        }
        for h in &mut hosts.hosts {
            h.wait_booted(started, setup.boot_timeout);
        }
        Ok(hosts)
    }

    /// Builds the package of this tree's binary into the work directory.
    fn build_package(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package-deb.sh");
        let out_dir = self.work.join("deb");
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .args(["--binary", env!("CARGO_BIN_EXE_armonic"), "--out"])
            .arg(&out_dir)
            .args(["--compression", "none"]);
        let out = run::output_within(cmd, None, COMMAND_TIMEOUT).expect("bash runs");
        assert!(
            out.status.success(),
            "{} failed: {}",
            script.display(),
            text(&out.stderr)
        );
        self.package = PathBuf::from(text(&out.stdout).trim());
        assert!(self.package.is_file(), "{}", text(&out.stdout));
    }

    /// The bridge, the client's namespace and each host's.
    fn make_lan(&mut self, names: &[&str]) {
        self.namespaces.push(self.bridge.clone());
        net::make_bridge(&self.bridge).expect("the LAN's bridge");
        self.namespaces.push(self.client.clone());
        net::attach(&self.bridge, "client", &self.client, self.client_address())
            .expect("the client's namespace");
        for (i, name) in names.iter().enumerate() {
            let namespace = format!("{}-{name}", self.id);
            let port = format!("h{i}");
            let address = self.address_of(10 + i as u8);
            self.namespaces.push(namespace.clone());
            net::attach(&self.bridge, &port, &namespace, address)
                .unwrap_or_else(|e| panic!("{name}'s namespace: {e}"));
            let machine = format!("{}-{name}", self.id);
            self.hosts.push(Host {
                name: (*name).to_owned(),
                cgroups: cleanup::cgroups_of(&machine),
                machine,
                namespace,
                bridge: self.bridge.clone(),
                port,
                address,
                dir: self.work.join(name),
                package: self
                    .package
                    .file_name()
                    .expect("a file")
                    .to_string_lossy()
                    .into_owned(),
                nspawn: None,
                leader: 0,
            });
        }
    }

    fn address_of(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.subnet[0], self.subnet[1], self.subnet[2], last)
    }

    /// `/etc/hosts` of every host: each host and the client by name.
    fn etc_hosts(&self, names: &[&str]) -> String {
        let mut s = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        s.push_str(&format!("{}\tclient\n", self.client_address()));
        for (i, n) in names.iter().enumerate() {
            s.push_str(&format!("{}\t{n}\n", self.address_of(10 + i as u8)));
        }
        s
    }

    /// The host named `name` (panics if there is none).
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// Every host, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter()
    }

    /// The hosts' names, in the order given.
    pub fn names(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| h.name.as_str()).collect()
    }

    /// This run's name (`armh<PID>x<N>`), the prefix of everything it made.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run's work directory (`/var/tmp/armonic-hosts/<id>`): the package, the swarm
    /// key, each host's upper layer and console log. Removed when the hosts are dropped.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The package installed (`/srv/armonic-deb/<its file name>` in every host).
    pub fn package(&self) -> &Path {
        &self.package
    }

    /// The swarm key every host has in `/var/lib/armonic/swarm.key`.
    pub fn swarm_key(&self) -> &Path {
        &self.swarm_key
    }

    /// The client's network namespace (`ip netns exec` it to reach the hosts).
    pub fn client_namespace(&self) -> &str {
        &self.client
    }

    /// The client's address on the LAN (10.X.Y.2; the hosts are 10.X.Y.10 and on).
    pub fn client_address(&self) -> Ipv4Addr {
        self.address_of(2)
    }

    /// The address of `host`: an IPv4 address, or a host's name.
    pub fn resolve(&self, host: &str) -> Option<Ipv4Addr> {
        host.parse().ok().or_else(|| {
            self.hosts
                .iter()
                .find(|h| h.name == host)
                .map(|h| h.address)
        })
    }

    /// Waits until `f` holds, checking every 250 ms, at most `timeout`; panics saying
    /// `what` (and printing [`Hosts::diagnostics`]) if it never does. Says (on stderr) and
    /// returns how long it took.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
        let started = Instant::now();
        loop {
            if f() {
                let took = started.elapsed();
                eprintln!("hosts: {what}: {:.1} s", took.as_secs_f64());
                return took;
            }
            if started.elapsed() >= timeout {
                eprintln!("{}", self.diagnostics());
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// What each host says of itself: failed units, the agent's state and the end of its
    /// journal.
    pub fn diagnostics(&self) -> String {
        let mut s = String::new();
        for h in &self.hosts {
            let failed = h.run_within(
                "systemctl --failed --no-legend --plain; systemctl is-active armonic-agent.service",
                Duration::from_secs(20),
            );
            let journal = h.exec_within(
                &[
                    "journalctl",
                    "--no-pager",
                    "-o",
                    "short-precise",
                    "-n",
                    "40",
                    "-u",
                    AGENT,
                ],
                Duration::from_secs(20),
            );
            s.push_str(&format!(
                "==== {} ({}): failed units and agent state:\n{}{}\n==== its agent's journal:\n{}\n",
                h.name,
                h.address,
                text(&failed.stdout),
                text(&failed.stderr),
                text(&journal.stdout)
            ));
        }
        s
    }

    fn http(
        &self,
        url: &str,
        timeout: Duration,
        request: impl FnOnce(&str, &str) -> Vec<u8>,
    ) -> Result<HttpResponse, String> {
        let (host, port, path) = net::split_url(url)?;
        let ip = self
            .resolve(&host)
            .ok_or_else(|| format!("{url}: no host {host}"))?;
        net::exchange(
            &self.client,
            SocketAddr::from((ip, port)),
            request(&host, &path),
            timeout,
        )
    }

    /// GET `url` (`http://HOST[:PORT]/PATH`, HOST an address or a host's name) from the
    /// client's namespace, HTTP/1.0; bounded (30 s to connect, 30 s without data).
    pub fn http_get(&self, url: &str) -> Result<HttpResponse, String> {
        self.http_get_within(url, Duration::from_secs(30))
    }

    /// [`Hosts::http_get`], `timeout` to connect and `timeout` without data.
    pub fn http_get_within(&self, url: &str, timeout: Duration) -> Result<HttpResponse, String> {
        self.http(url, timeout, |host, path| {
            format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
        })
    }

    /// POST `form` (fields, URL-encoded) to `url`, like [`Hosts::http_get`].
    pub fn http_post(&self, url: &str, form: &[(&str, &str)]) -> Result<HttpResponse, String> {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", net::form_encode(k), net::form_encode(v)))
            .collect();
        let body = body.join("&");
        self.http(url, Duration::from_secs(30), |host, path| {
            format!(
                "POST {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
    }
}

impl std::ops::Index<&str> for Hosts {
    type Output = Host;

    fn index(&self, name: &str) -> &Host {
        self.host(name)
    }
}

/// Waits for `child` at most `timeout` (then kills it), with what it printed.
fn wait_bounded(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().expect("its output"),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                return child.wait_with_output().expect("its output");
            }
        }
    }
}

impl Host {
    /// Its name, which is its host name and the agent's location name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address on the LAN.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// Its network namespace (as `ip netns` names it).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The pid of its init (systemd) as the machine sees it.
    pub fn leader(&self) -> u32 {
        self.leader
    }

    /// The upper layer of its overlay: what it wrote (read it, do not write it while the
    /// host runs).
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// What its console printed (systemd's boot and shutdown).
    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default()
    }

    /// The files of the host before it boots: host name, hosts, swarm key.
    fn prepare(&self, etc_hosts: &str, key: &Path) {
        let upper = self.upper();
        std::fs::create_dir_all(upper.join("etc")).expect("made");
        std::fs::write(upper.join("etc/hostname"), format!("{}\n", self.name)).expect("written");
        std::fs::write(upper.join("etc/hosts"), etc_hosts).expect("written");
        let state = upper.join("var/lib/armonic");
        std::fs::create_dir_all(&state).expect("made");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).expect("mode");
        std::fs::copy(key, state.join("swarm.key")).expect("copied");
        std::fs::set_permissions(
            state.join("swarm.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("mode");
        for g in &self.cgroups {
            std::fs::create_dir_all(g).expect("cgroup made");
        }
    }

    /// systemd-nspawn on the image and this host's upper layer, in the host's own cgroups,
    /// sent SIGTERM (an orderly shutdown) if the thread that starts it ends.
    fn nspawn(&self, image: &Path, machine: &str, args: &[String]) -> Command {
        let groups: Vec<String> = self
            .cgroups
            .iter()
            .map(|g| format!("'{}'", g.display()))
            .collect();
        let script = format!(
            "for g in {}; do echo $$ > \"$g/cgroup.procs\" || exit 1; done; exec \"$@\"",
            groups.join(" ")
        );
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "TERM", "--", "sh", "-c", &script, "sh"])
            .args([
                "systemd-nspawn",
                "--register=no",
                "--keep-unit",
                "--quiet",
                "--read-only",
            ])
            .arg(format!("--directory={}", image.display()))
            .arg(format!(
                "--overlay={}:{}:/",
                image.display(),
                self.upper().display()
            ))
            .arg(format!("--machine={machine}"))
            .args(args)
            .env("SYSTEMD_COLORS", "0")
            .env("TERM", "dumb");
        cmd
    }

    /// `dpkg -i` of the package in the host, not booted (its postinst enables the agent).
    fn install_offline(&self, image: &Path, shared: &[String]) -> Child {
        let mut args = shared.to_vec();
        args.extend(
            [
                "--console=pipe",
                "--private-network",
                "dpkg",
                "-i",
                "--force-confold",
            ]
            .map(String::from),
        );
        args.push(format!("/srv/armonic-deb/{}", self.package));
        self.nspawn(image, &format!("{}-dpkg", self.machine), &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("systemd-nspawn runs")
    }

    /// Boots the host (does not wait).
    fn boot(&mut self, image: &Path, shared: &[String]) {
        let mut args = shared.to_vec();
        args.extend([
            "--boot".to_owned(),
            format!("--hostname={}", self.name),
            format!("--network-namespace-path=/run/netns/{}", self.namespace),
            // Its own namespace's network is its to configure.
            "--capability=CAP_NET_ADMIN".to_owned(),
            "--console=read-only".to_owned(),
        ]);
        let log = std::fs::File::create(self.dir.join("console.log")).expect("console log");
        let child = self
            .nspawn(image, &self.machine, &args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("console log"))
            .stderr(log)
            .spawn()
            .expect("systemd-nspawn runs");
        self.nspawn = Some(child);
    }

    /// Waits until systemd in the host says it is running (or degraded, said).
    fn wait_booted(&mut self, started: Instant, timeout: Duration) {
        let mut state = String::from("(no init yet)");
        loop {
            let child = self.nspawn.as_mut().expect("booted");
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{}: systemd-nspawn ended ({status}) while booting:\n{}",
                    self.name,
                    tail(&self.console(), 40)
                );
            }
            if self.leader == 0 {
                self.leader = find_leader(child.id()).unwrap_or(0);
            }
            if self.leader != 0 {
                let out =
                    self.exec_within(&["systemctl", "is-system-running"], Duration::from_secs(20));
                state = text(&out.stdout).trim().to_owned();
                if state == "running" || state == "degraded" {
                    break;
                }
            }
            assert!(
                started.elapsed() < timeout,
                "{} did not boot in {timeout:?} (systemd says {state:?}):\n{}",
                self.name,
                tail(&self.console(), 40)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        eprintln!(
            "hosts: {} ({}) booted in {:.1} s",
            self.name,
            self.address,
            started.elapsed().as_secs_f64()
        );
        if state == "degraded" {
            let failed = self.run_within(
                "systemctl --failed --no-legend --plain",
                Duration::from_secs(20),
            );
            eprintln!(
                "hosts: {}: units failed: {}",
                self.name,
                text(&failed.stdout).trim()
            );
        }
    }

    /// A command running `argv` in the host: every namespace of its init, root, a plain
    /// environment. For commands to spawn; [`Host::exec`] runs one to its end.
    pub fn command(&self, argv: &[&str]) -> Command {
        assert!(self.leader != 0, "{} is not booted", self.name);
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.leader.to_string(), "-a", "--", "env", "-i"])
            .args(HOST_ENV)
            .args(argv);
        cmd
    }

    /// Runs `argv` in the host, at most `timeout` (then killed), with what it printed.
    pub fn exec_within(&self, argv: &[&str], timeout: Duration) -> Output {
        run::output_within(self.command(argv), None, timeout).expect("nsenter runs")
    }

    /// Runs `argv` in the host with `input` on its standard input, at most `timeout`.
    pub fn exec_with_input(&self, argv: &[&str], input: &[u8], timeout: Duration) -> Output {
        run::output_within(self.command(argv), Some(input.to_vec()), timeout).expect("nsenter runs")
    }

    /// Runs `argv` in the host, at most [`COMMAND_TIMEOUT`].
    pub fn exec(&self, argv: &[&str]) -> Output {
        self.exec_within(argv, COMMAND_TIMEOUT)
    }

    /// Runs shell `script` (`sh -c`) in the host, at most `timeout`.
    pub fn run_within(&self, script: &str, timeout: Duration) -> Output {
        self.exec_within(&["sh", "-c", script], timeout)
    }

    /// Runs shell `script` (`sh -c`) in the host, at most [`COMMAND_TIMEOUT`].
    pub fn run(&self, script: &str) -> Output {
        self.run_within(script, COMMAND_TIMEOUT)
    }

    /// Runs shell `script` in the host and gives its standard output; panics, with what it
    /// printed, unless it succeeds.
    pub fn check(&self, script: &str) -> String {
        let out = self.run(script);
        assert!(
            out.status.success(),
            "{}: `{script}` failed ({}): {}{}",
            self.name,
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Writes `contents` to `path` in the host (directories made), with `mode`.
    pub fn write_file(&self, path: &str, contents: &[u8], mode: u32) {
        let mode = format!("{mode:o}");
        let out = run::output_within(
            self.command(&["install", "-D", "-m", &mode, "/dev/stdin", path]),
            Some(contents.to_vec()),
            COMMAND_TIMEOUT,
        )
        .expect("nsenter runs");
        assert!(
            out.status.success(),
            "{}: cannot write {path}: {}",
            self.name,
            text(&out.stderr)
        );
    }

    /// Runs `armonic ARGS` in the host (through its agent unless `--local`).
    pub fn armonic(&self, args: &[&str]) -> Output {
        let mut argv = vec!["armonic", "--no-color"];
        argv.extend_from_slice(args);
        self.exec(&argv)
    }

    /// The mesh as the host's agent lists it (`armonic mesh`), or why it did not answer.
    pub fn mesh(&self) -> Result<Vec<Peer>, String> {
        let out = self.exec_within(
            &["armonic", "--no-color", "--format", "json", "mesh"],
            Duration::from_secs(60),
        );
        if !out.status.success() {
            return Err(format!("{}{}", text(&out.stdout), text(&out.stderr)));
        }
        let peers: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{e}: {}", text(&out.stdout)))?;
        Ok(peers
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| Peer {
                        name: p["name"].as_str().unwrap_or_default().to_owned(),
                        peer_id: p["peer_id"].as_str().unwrap_or_default().to_owned(),
                        live: p["live"] == true,
                        local: p["local"] == true,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The names of the live peers the host's agent lists, itself left out, sorted; none if
    /// it does not answer.
    pub fn live_peers(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .mesh()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.live && !p.local)
            .map(|p| p.name)
            .collect();
        names.sort();
        names
    }

    /// The journal of `unit` in the host.
    pub fn journal(&self, unit: &str) -> String {
        let out = self.exec_within(
            &[
                "journalctl",
                "--no-pager",
                "-o",
                "short-precise",
                "-u",
                unit,
            ],
            Duration::from_secs(60),
        );
        text(&out.stdout)
    }

    /// The journal of the agent's unit in the host.
    pub fn agent_journal(&self) -> String {
        self.journal(AGENT)
    }

    /// Whether systemd says the agent's unit is active.
    pub fn agent_active(&self) -> bool {
        let out = self.exec_within(&["systemctl", "is-active", AGENT], Duration::from_secs(60));
        text(&out.stdout).trim() == "active"
    }

    /// The agent's main pid, as the host sees it, if it runs.
    pub fn agent_pid(&self) -> Option<u32> {
        let out = self.exec_within(
            &["systemctl", "show", "-P", "MainPID", AGENT],
            Duration::from_secs(60),
        );
        text(&out.stdout).trim().parse().ok().filter(|p| *p != 0)
    }

    fn systemctl(&self, args: &[&str]) {
        let mut argv = vec!["systemctl"];
        argv.extend_from_slice(args);
        let out = self.exec(&argv);
        assert!(
            out.status.success(),
            "{}: {} failed: {}",
            self.name,
            argv.join(" "),
            text(&out.stderr)
        );
    }

    /// Stops the agent's unit (SIGTERM: an orderly stop).
    pub fn stop_agent(&self) {
        self.systemctl(&["stop", AGENT]);
    }

    /// Starts the agent's unit.
    pub fn start_agent(&self) {
        self.systemctl(&["start", AGENT]);
    }

    /// SIGKILL to the agent's main process; gives its pid (in the host). systemd restarts
    /// it 2 s later (`Restart=on-failure`).
    pub fn kill_agent(&self) -> u32 {
        let pid = self
            .agent_pid()
            .unwrap_or_else(|| panic!("{}: the agent does not run", self.name));
        // The shell's kill: the image has no procps.
        self.check(&format!("kill -KILL {pid}"));
        pid
    }

    /// SIGSTOP to every process of the agent's unit: it stands still, its connections
    /// open (as a frozen machine).
    pub fn freeze_agent(&self) {
        self.systemctl(&["kill", "--signal=SIGSTOP", AGENT]);
    }

    /// SIGCONT to every process of the agent's unit.
    pub fn thaw_agent(&self) {
        self.systemctl(&["kill", "--signal=SIGCONT", AGENT]);
    }

    /// Unplugs the host from the LAN: the bridge's end of its link goes down (nothing
    /// reaches it or leaves it; its own interface keeps its address).
    pub fn cut_link(&self) {
        net::ip(&["-n", &self.bridge, "link", "set", &self.port, "down"]).expect("link down");
    }

    /// Plugs the host back in.
    pub fn restore_link(&self) {
        net::ip(&["-n", &self.bridge, "link", "set", &self.port, "up"]).expect("link up");
    }

    /// `dpkg -i` of the package in the booted host.
    pub fn install_package(&self) -> Output {
        let deb = format!("/srv/armonic-deb/{}", self.package);
        self.exec(&["dpkg", "-i", "--force-confold", &deb])
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if std::thread::panicking() && self.hosts.iter().any(|h| h.leader != 0) {
            eprintln!("{}", self.diagnostics());
        }
        let started = Instant::now();
        // Power off: nspawn, sent SIGTERM, has the init of its container shut it down.
        for h in &self.hosts {
            if let Some(child) = &h.nspawn {
                let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for h in &mut self.hosts {
            let Some(mut child) = h.nspawn.take() else {
                continue;
            };
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    _ => {
                        eprintln!("hosts: {} did not power off in time: killed", h.name);
                        if h.leader != 0 {
                            let _ = kill(Pid::from_raw(h.leader as i32), Signal::SIGKILL);
                        }
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        eprintln!(
            "hosts: powered off in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        for h in &self.hosts {
            for g in &h.cgroups {
                cleanup::remove_cgroup(g);
            }
            cleanup::remove_propagate(&h.machine);
            cleanup::remove_propagate(&format!("{}-dpkg", h.machine));
        }
        for ns in self.namespaces.iter().rev() {
            net::remove_namespace(ns);
        }
        cleanup::remove_tree(&self.work);
        eprintln!("hosts: removed in {:.1} s", started.elapsed().as_secs_f64());
    }
}
