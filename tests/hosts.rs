//! Real hosts: Debian containers booting systemd, the project's package installed, its
//! agent running as a service in each, finding the others by mDNS on their LAN
//! (`common::hosts`). Without root or the container tools, the tests say why and skip (fail
//! under ARMONIC_REQUIRE_ALL_TESTS). One at a time (nextest group `hosts`): each boots
//! containers and takes a minute or more.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

mod common;
use common::hosts::{Host, Hosts, Setup};
use common::text;

const PEERS_TIMEOUT: Duration = Duration::from_secs(120);

/// The other hosts' names, sorted.
fn others(hosts: &Hosts, h: &Host) -> Vec<String> {
    let mut v: Vec<String> = hosts
        .names()
        .into_iter()
        .filter(|n| *n != h.name())
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn three_hosts_boot_with_the_package_and_their_agents_find_each_other_by_mdns() {
    let started = Instant::now();
    let Some(hosts) = Hosts::start(&["db1", "app1", "web1"]) else {
        return;
    };
    eprintln!("three hosts up in {:.1} s", started.elapsed().as_secs_f64());
    for h in hosts.iter() {
        assert!(h.agent_active(), "{}:\n{}", h.name(), h.agent_journal());
        assert_eq!(h.check("hostname").trim(), h.name());
    }
    hosts.wait_for("every agent to list the two others", PEERS_TIMEOUT, || {
        hosts.iter().all(|h| h.live_peers() == others(&hosts, h))
    });
    // With the shipped configuration: named after the host, mDNS, the key given.
    let journal = hosts["db1"].agent_journal();
    assert!(journal.contains("armonic agent db1 ready"), "{journal}");
    assert!(!journal.contains("No swarm key yet"), "{journal}");

    // Packages come from the local repository, with no network: web1 gets nginx (started
    // by its package, under the host's systemd) and curl.
    let web1 = &hosts["web1"];
    let installing = Instant::now();
    let out = web1.run("apt-get install -y -q nginx-light curl");
    eprintln!(
        "nginx-light and curl installed in {:.1} s",
        installing.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(web1.check("curl --version").starts_with("curl "));
    hosts.wait_for("nginx to answer on web1", Duration::from_secs(60), || {
        hosts
            .http_get("http://web1/")
            .is_ok_and(|r| r.status == 200)
    });
    let page = hosts
        .http_get("http://web1/index.nginx-debian.html")
        .unwrap();
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("Welcome to nginx"), "{page:?}");
    // A POST reaches it (nginx refuses it for a static file, which says it came).
    let posted = hosts
        .http_post("http://web1/", &[("name", "a b&c")])
        .unwrap();
    assert_eq!(posted.status, 405, "{posted:?}");
    // From one host to another, by name.
    let from_web1 = web1.check("curl -sS http://web1/ | head -c 200");
    assert!(from_web1.contains("nginx"), "{from_web1}");

    // Files written into a host.
    let db1 = &hosts["db1"];
    db1.write_file("/root/notes/hello.txt", b"hello\n", 0o640);
    assert_eq!(
        db1.check("cat /root/notes/hello.txt; stat -c %a /root/notes/hello.txt"),
        "hello\n640\n"
    );

    // kill_agent: SIGKILL, and systemd starts it again.
    let killed = db1.kill_agent();
    hosts.wait_for(
        "db1's agent to be restarted",
        Duration::from_secs(60),
        || db1.agent_pid().is_some_and(|p| p != killed) && db1.agent_active(),
    );
    hosts.wait_for("db1's agent back in the mesh", PEERS_TIMEOUT, || {
        db1.live_peers() == others(&hosts, db1)
            && hosts["app1"].live_peers().contains(&"db1".to_owned())
    });

    // stop_agent / start_agent: the others see it go and come back.
    db1.stop_agent();
    assert!(!db1.agent_active());
    hosts.wait_for("app1 to see db1 go", PEERS_TIMEOUT, || {
        !hosts["app1"].live_peers().contains(&"db1".to_owned())
    });
    db1.start_agent();
    hosts.wait_for("app1 to see db1 back", PEERS_TIMEOUT, || {
        hosts["app1"].live_peers().contains(&"db1".to_owned())
    });

    // freeze_agent: it stands still; the others take it for dead, and for live again
    // once it is thawed.
    let app1 = &hosts["app1"];
    app1.freeze_agent();
    let pid = app1.agent_pid().expect("app1's agent runs");
    let state = app1.check(&format!("grep '^State:' /proc/{pid}/status"));
    assert!(state.contains("stopped"), "{state:?}");
    hosts.wait_for(
        "web1 to take the frozen app1 for dead",
        PEERS_TIMEOUT,
        || !web1.live_peers().contains(&"app1".to_owned()),
    );
    app1.thaw_agent();
    hosts.wait_for("web1 to see the thawed app1", PEERS_TIMEOUT, || {
        web1.live_peers().contains(&"app1".to_owned())
    });

    // cut_link: unplugged, web1 is neither reached nor reaching; plugged back, it is.
    web1.cut_link();
    hosts.wait_for(
        "the others to lose web1, and web1 them",
        PEERS_TIMEOUT,
        || {
            !db1.live_peers().contains(&"web1".to_owned())
                && !app1.live_peers().contains(&"web1".to_owned())
                && web1.live_peers().is_empty()
        },
    );
    let cut = hosts.http_get_within("http://web1/", Duration::from_secs(3));
    assert!(cut.is_err(), "{cut:?}");
    web1.restore_link();
    hosts.wait_for(
        "every agent to list the two others again",
        PEERS_TIMEOUT,
        || hosts.iter().all(|h| h.live_peers() == others(&hosts, h)),
    );
    assert_eq!(hosts.http_get("http://web1/").unwrap().status, 200);
}

/// The names of the lifecycles `armonic --format json lifecycle` lists in `json`.
fn lifecycle_names(json: &[u8]) -> BTreeSet<String> {
    let v: serde_json::Value =
        serde_json::from_slice(json).unwrap_or_else(|e| panic!("{e}: {}", text(json)));
    v.as_array()
        .expect("a list")
        .iter()
        .map(|l| l["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn the_package_installs_and_its_agent_starts_on_a_fresh_host() {
    let setup = Setup {
        install_package: false,
        ..Setup::default()
    };
    let Some(hosts) = Hosts::start_with(&["fresh1"], setup) else {
        return;
    };
    let h = &hosts["fresh1"];
    assert!(!h.run("command -v armonic").status.success());

    let out = h.install_package();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // Its postinst enabled and started the agent, with the shipped configuration.
    assert_eq!(
        h.check("systemctl is-enabled armonic-agent.service").trim(),
        "enabled"
    );
    hosts.wait_for("the agent to answer", Duration::from_secs(60), || {
        h.agent_active() && h.armonic(&["lifecycle"]).status.success()
    });
    let status = h.check("dpkg-query -W -f '${Status} ${Version}' armonic");
    assert!(status.starts_with("install ok installed "), "{status}");
    let conffiles = h.check("dpkg-query -W -f '${Conffiles}' armonic");
    assert!(
        conffiles.contains("/etc/armonic/armonic.toml"),
        "{conffiles}"
    );

    // It lists the shipped lifecycles, those of this tree.
    let listed = h.armonic(&["--format", "json", "lifecycle"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let tree = std::process::Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "--format", "json", "-L"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles"))
        .arg("lifecycle")
        .env_remove("ARMONIC_CONFIG")
        .output()
        .unwrap();
    let shipped = lifecycle_names(&tree.stdout);
    assert!(!shipped.is_empty());
    assert_eq!(lifecycle_names(&listed.stdout), shipped);
    let xpaths = text(&h.armonic(&["lifecycle"]).stdout);
    assert!(xpaths.contains("/fresh1/"), "{xpaths}");
    for f in [
        "/usr/share/armonic/examples/proxy-answers.json",
        "/usr/share/doc/armonic/agent.md",
    ] {
        h.check(&format!("test -f {f}"));
    }
    let key = h.check("stat -c '%a' /var/lib/armonic/swarm.key");
    assert_eq!(key.trim(), "600", "the swarm key is owner-only");

    // Installed again (as an upgrade): the agent is restarted.
    let before = h.agent_pid().expect("the agent runs");
    let out = h.install_package();
    assert!(out.status.success(), "{}", text(&out.stderr));
    hosts.wait_for("the agent to be restarted", Duration::from_secs(60), || {
        h.agent_pid().is_some_and(|p| p != before) && h.agent_active()
    });

    // Removed: the agent stops, its state and configuration stay; purged: they go too.
    h.check("dpkg -r armonic");
    assert!(!h.agent_active());
    h.check("test ! -e /usr/bin/armonic");
    h.check("test -f /var/lib/armonic/swarm.key && test -f /etc/armonic/armonic.toml");
    h.check("dpkg -P armonic");
    h.check("test ! -e /var/lib/armonic && test ! -e /etc/armonic/armonic.toml");
}
