//! Agents as real processes in a mesh on loopback (explicit peers, no mDNS), and the command
//! line through any of them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::mesh::Mesh;
use common::{Signal, eventually, text};

#[test]
fn a_third_agent_deploys_on_a_live_location_that_offers_the_provide_and_shows_its_logs() {
    let mesh = Mesh::start(&["web1", "web2", "driver"]);
    let out = mesh.run("driver", &["deploy", "//WebSite//start", "--autofill"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    // --autofill takes the first location offering the provide, by name: driver.
    assert_eq!(
        text(&out.stdout),
        "{\"url\": \"http://driver:80\"}\n",
        "{err}"
    );
    assert!(
        err.contains("INFO     [driver/WebSite] Start website"),
        "{err}"
    );
    let out = mesh.run(
        "driver",
        &["deploy", "//WebSite//start", "--answers", "/dev/null"],
    );
    assert!(!out.status.success());
}

#[test]
fn commands_reach_any_agent_of_the_mesh_through_the_local_one() {
    let mesh = Mesh::start(&["web1", "web2", "driver"]);
    let out = mesh.run("driver", &["provide-call", "/web2/WebServer//start"]);
    assert_eq!(
        text(&out.stdout),
        "{\"url\": \"http://web2:80\"}\n",
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("[web2/WebServer] Activation of webserver service..."));
    let out = mesh.run("web1", &["state-current", "//WebServer"]);
    let current = text(&out.stdout);
    assert!(current.contains("/web2/WebServer/Active"), "{current}");
    assert!(
        current.contains("/web1/WebServer/NotInstalled"),
        "{current}"
    );
    let out = mesh.run("driver", &["status"]);
    let status = text(&out.stdout);
    for name in ["web1", "web2", "driver"] {
        assert!(status.contains(&format!("name        {name}")), "{status}");
    }
    // The mesh hears of web2's new state as its catalogue spreads.
    eventually("the driver to see web2's WebServer active", || {
        text(&mesh.run("driver", &["mesh"]).stdout).contains("WebServer=Active")
    });
    let out = mesh.run("driver", &["mesh"]);
    let table = text(&out.stdout);
    assert!(table.starts_with("NAME "), "{table}");
    assert!(
        table.lines().next().unwrap().contains(" PEER ID "),
        "{table}"
    );
    assert!(table.contains("WebServer=Active"), "{table}");
    // The agent asked is listed too, marked.
    assert!(
        table.lines().any(|l| l.starts_with("driver (here) ")),
        "{table}"
    );
}

#[test]
fn provide_call_all_calls_every_live_location_that_offers_it() {
    let mesh = Mesh::start(&["web1", "web2", "web3"]);
    let out = mesh.run("web1", &["provide-call", "--all", "//WebServer//start"]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(table.lines().count(), 4, "{table}");
    for name in ["web1", "web2", "web3"] {
        assert!(
            table.lines().any(|l| l.starts_with(name)
                && l.ends_with(&format!("{{\"url\": \"http://{name}:80\"}}"))),
            "{table}"
        );
    }
}

/// Starts `provide-call /web2/Slow/On/go` through web1, waits for its step to run on web2,
/// and kills web2 (and the step it left running): the call, and the step's process group.
fn kill_web2_mid_step(mesh: &mut Mesh) -> std::process::Child {
    let call = mesh
        .cmd("web1")
        .args(["provide-call", "/web2/Slow/On/go"])
        .spawn()
        .unwrap();
    let web2_state = mesh.state("web2").join("lifecycles/Slow.json");
    eventually("the step to run on web2", || {
        std::fs::read_to_string(&web2_state).is_ok_and(|s| s.contains("process_group"))
    });
    let pgid: u32 = {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&web2_state).unwrap()).unwrap();
        s["in_progress"]["process_group"].as_u64().unwrap() as u32
    };
    mesh.child("web2").kill().unwrap();
    mesh.child("web2").wait().unwrap();
    // The step web2 was running outlives it: its group is killed too, as a reboot would.
    common::signal_group(pgid, Signal::SIGKILL);
    call
}

#[test]
fn an_agent_killed_mid_step_and_restarted_settles_the_calls_outcome_from_its_journal() {
    let mut mesh = Mesh::start(&["web1", "web2"]);
    let call = kill_web2_mid_step(&mut mesh);
    // web2 comes back: web1, re-attaching all along, hears from web2's journal what became
    // of the call.
    mesh.spawn("web2");
    let out = call.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the outcome on web2 is unknown"), "{err}");
    assert!(err.contains("may have partly run"), "{err}");
    assert!(
        !err.contains("unreachable"),
        "web2 was reached again: {err}"
    );
    eventually("web1 to see web2 again", || mesh.live("web1") == ["web2"]);
    let out = mesh.run("web1", &["state-current", "/web2/Slow"]);
    assert_eq!(
        text(&out.stdout),
        "Slow  /web2/Slow/Off\n",
        "{}",
        text(&out.stderr)
    );
    // web2's journal says who asked, and how it ended.
    let out = mesh.run("web2", &["journal", "--lifecycle", "Slow", "--no-lines"]);
    let journal = text(&out.stdout);
    assert!(
        journal.contains("provide_call /web2/Slow/On/go by peer web1"),
        "{journal}"
    );
    assert!(journal.contains("failed (unknown)"), "{journal}");
}

#[test]
fn an_agent_that_stays_away_mid_step_leaves_the_outcome_unknown_and_the_mesh_working() {
    let mut mesh = Mesh::start(&["web1", "web2"]);
    // web1 re-attaches for 3 s only.
    mesh.child("web1").kill().unwrap();
    mesh.child("web1").wait().unwrap();
    mesh.spawn_with("web1", &["--reattach-for", "3"]);
    eventually("web1 to see web2", || mesh.live("web1") == ["web2"]);
    let call = kill_web2_mid_step(&mut mesh);
    let out = call.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the outcome on web2 is unknown"), "{err}");
    assert!(err.contains("did not come back within 3 s"), "{err}");
    // The rest of the mesh keeps working; web2, named, is unreachable, not unknown.
    let out = mesh.run("web1", &["provide-call", "//WebServer//start"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually("web1 to see web2 gone", || mesh.live("web1").is_empty());
    let out = mesh.run("web1", &["state-current", "/web2/Slow"]);
    let err = text(&out.stderr);
    assert!(err.contains("location web2 is unreachable"), "{err}");
}

#[test]
fn a_frozen_agent_is_seen_gone_within_seconds_and_back_when_it_wakes() {
    let mesh = Mesh::start(&["web1", "web2"]);
    let pid = mesh.agents[1].1.id();
    common::signal(pid, Signal::SIGSTOP);
    let start = Instant::now();
    eventually("web1 to see web2 gone", || mesh.live("web1").is_empty());
    let noticed = start.elapsed();
    common::signal(pid, Signal::SIGCONT);
    assert!(
        noticed < Duration::from_secs(5),
        "noticed after {noticed:?}"
    );
    eventually("web1 to see web2 back", || mesh.live("web1") == ["web2"]);
}

#[test]
fn a_frozen_agent_is_seen_gone_by_those_not_watching_it_too_once_its_watchers_tell_them() {
    // With five peers, each agent watches three: two of the others do not probe the frozen
    // agent and only learn of its silence from its watchers (then confirm it themselves).
    let names = ["a1", "a2", "a3", "a4", "a5", "a6"];
    let mesh = Mesh::start(&names);
    let frozen = "a4";
    let others: Vec<&str> = names.iter().copied().filter(|n| *n != frozen).collect();
    let pid = mesh.pid(frozen);
    common::signal(pid, Signal::SIGSTOP);
    let start = Instant::now();
    for name in &others {
        eventually(&format!("{name} to see {frozen} gone"), || {
            !mesh.live(name).iter().any(|n| n == frozen)
        });
    }
    let noticed = start.elapsed();
    common::signal(pid, Signal::SIGCONT);
    // About 3.3 s on an idle machine (the mesh bench measures it); the bound leaves room for
    // a loaded one, and for the `armonic mesh` commands that ask.
    assert!(
        noticed < Duration::from_secs(10),
        "noticed by all after {noticed:?}"
    );
    for name in names {
        eventually(&format!("{name} to see the whole mesh again"), || {
            mesh.live(name).len() == names.len() - 1
        });
    }
}

#[test]
fn the_demo_deploys_the_proxy_on_three_agents_and_exits_cleanly() {
    let out = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--no-color", "demo"])
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(text(&out.stdout), "{\"url\": \"http://proxy:80\"}\n");
    for line in [
        "INFO     [web1/WebSite] Start website",
        "INFO     [web2/WebSite] Start website",
        "INFO     [proxy/Proxy] Activation of proxy service...",
        "Deployment done: 7 calls.",
    ] {
        assert!(err.contains(line), "{line}: {err}");
    }
}
