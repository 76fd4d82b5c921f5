//! The real stack on four real hosts: PostgreSQL on db1, the Guestbook on app1 and app2,
//! Nginx on web1, deployed from web1 by `armonic deploy //Nginx//start` through the agents
//! (systemd services of the project's package, finding each other by mDNS), then used over
//! HTTP from outside the hosts; undone from app1; deployed again and interrupted (its driver
//! killed) and undone; deployed again, interrupted, and finished from app1 by `resume`.
//! Without root or the container tools the test says why and
//! skips (fails under ARMONIC_REQUIRE_ALL_TESTS). Figures (deployment times, each agent's
//! memory) are printed.

use std::time::{Duration, Instant};

mod common;
use common::hosts::{Host, Hosts};
use common::text;

const HOSTS: [&str; 4] = ["db1", "app1", "app2", "web1"];
const RECORD: &str = "/root/stack.json";
/// A deployment of packages, configuration and services on four hosts, under load.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(900);

/// The answers of the questions `armonic deploy //Nginx//start` asks, in order.
const ANSWERS: &str = "\
y
web1
2
app1
app2
y
db1
y


y

y
y
db1
y


y

y
y
";

fn deploy(web1: &Host, args: &[&str], input: &str) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let mut argv = vec!["armonic", "--no-color", "deploy", "//Nginx//start"];
    argv.extend_from_slice(args);
    let out = web1.exec_with_input(&argv, input.as_bytes(), DEPLOY_TIMEOUT);
    (out, started.elapsed())
}

/// The agent's resident memory in the host, in KiB.
fn agent_rss_kib(h: &Host) -> u64 {
    let pid = h.agent_pid().expect("the agent runs");
    let status = h.check(&format!("cat /proc/{pid}/status"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// Nothing of the stack is left on the hosts: nothing listens on web1, the services are
/// stopped, their files and packages gone.
fn assert_removed(hosts: &Hosts, url: &str) {
    assert!(hosts.http_get(url).is_err(), "nothing listens on web1");
    for (host, gone) in [
        (
            "web1",
            "dpkg -s nginx-common nginx-light nginx 2>/dev/null | grep -q '^Status: install'; test $? = 1 && test ! -e /etc/armonic-nginx",
        ),
        (
            "app1",
            "test ! -e /etc/systemd/system/armonic-guestbook.service && test ! -e /etc/armonic-guestbook && ! systemctl is-active -q armonic-guestbook",
        ),
        (
            "db1",
            "dpkg -s postgresql-15 2>/dev/null | grep -q '^Status: install'; test $? = 1 && ! systemctl is-active -q postgresql@15-main",
        ),
    ] {
        let out = hosts[host].run(gone);
        assert!(
            out.status.success(),
            "{host} still has what was deployed: `{gone}`: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

/// Starts `armonic deploy //Nginx//start` from the saved answers on web1, in the background;
/// the process id of the driving command.
fn drive_in_background(web1: &Host) -> String {
    web1.check(&format!(
        "setsid armonic --no-color deploy //Nginx//start --answers {RECORD} --yes </dev/null >/root/drive.log 2>&1 & echo $!"
    ))
    .trim()
    .to_owned()
}

/// The deployments the journals know, as app1 lists them, oldest first.
fn deployments(app1: &Host) -> Vec<serde_json::Value> {
    let out = app1.armonic(&["--format", "json", "deployments"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// The deployment `id` as app1 lists it.
fn deployment(app1: &Host, id: &str) -> Option<serde_json::Value> {
    deployments(app1).into_iter().find(|d| d["id"] == id)
}

/// Drives a deployment of the stack from web1 in the background and kills (-9) the command
/// once `done` of its steps are done; the deployment's id.
fn drive_and_kill_after(hosts: &Hosts, done: u64) -> String {
    let app1 = &hosts["app1"];
    let known: Vec<serde_json::Value> = deployments(app1)
        .into_iter()
        .map(|d| d["id"].clone())
        .collect();
    let pid = drive_in_background(&hosts["web1"]);
    let mut id = String::new();
    hosts.wait_for(
        &format!("the new deployment to have {done} steps done"),
        DEPLOY_TIMEOUT,
        || {
            let list = deployments(app1);
            let new = list.iter().find(|d| !known.contains(&d["id"]));
            match new {
                Some(d) if d["done"].as_u64().unwrap_or(0) >= done => {
                    d["id"].as_str().unwrap().clone_into(&mut id);
                    true
                }
                _ => false,
            }
        },
    );
    hosts["web1"].check(&format!("kill -9 {pid}"));
    id
}

#[test]
fn the_real_stack_deploys_on_four_hosts_is_undone_from_another_host_and_finished_there_by_resume_after_its_driver_is_killed()
 {
    let Some(hosts) = Hosts::start(&HOSTS) else {
        return;
    };
    hosts.wait_for(
        "every agent to list the three others",
        Duration::from_secs(180),
        || {
            hosts
                .iter()
                .all(|h| h.live_peers().len() == HOSTS.len() - 1)
        },
    );
    let web1 = &hosts["web1"];

    // Cold: every question answered on the way, the answers saved.
    let (out, cold) = deploy(web1, &["--save", RECORD], ANSWERS);
    let (cold_out, cold_err) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "deployment failed:\n{cold_err}\n{}",
        hosts.diagnostics()
    );
    eprintln!("cold deployment of the stack: {:.1} s", cold.as_secs_f64());
    let url = format!("http://{}/", web1.address());
    assert!(cold_out.contains(&url), "{cold_out}");

    // Served through nginx, by both backends in turn, stored in PostgreSQL on db1.
    let posted = hosts
        .http_post(&url, &[("message", "hello from the stack")])
        .unwrap();
    assert!(posted.status == 303 || posted.status == 200, "{posted:?}");
    let mut served_by = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let r = hosts.http_get(&format!("{url}entries")).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.body.contains("hello from the stack"), "{r:?}");
        served_by.insert(r.header("X-Served-By").unwrap_or_default().to_owned());
    }
    assert_eq!(
        served_by.into_iter().collect::<Vec<_>>(),
        ["app1", "app2"],
        "both backends answer"
    );
    let stored = hosts["db1"].check(
        "runuser -u postgres -- psql -X -At -d guestbook -c \"SELECT count(*) FROM entries WHERE message = 'hello from the stack'\"",
    );
    assert_eq!(stored.trim(), "1");

    // Again, from the saved answers: every state is reached, nothing is entered.
    let (out, again) = deploy(web1, &["--answers", RECORD], "");
    let (again_out, again_err) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{again_err}");
    eprintln!("second deployment: {:.2} s", again.as_secs_f64());
    assert!(again_out.contains(&url), "{again_out}");
    assert!(
        again_err.contains("(1 call)")
            && again_err.contains("Every state these calls need is reached: nothing is entered"),
        "{again_err}"
    );
    assert!(again < Duration::from_secs(3), "second run took {again:?}");

    // The password PostgreSQL generated reached the backends, and no output, journal or
    // state file anywhere.
    let settings = hosts["app1"].check("cat /etc/armonic-guestbook/guestbook.json");
    let settings: serde_json::Value = serde_json::from_str(&settings).unwrap();
    let password = settings["database"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(password.len() >= 16, "{password}");
    for (what, output) in [
        ("the cold deployment's output", &cold_out),
        ("the cold deployment's log", &cold_err),
        ("the second deployment's output", &again_out),
        ("the second deployment's log", &again_err),
    ] {
        assert!(!output.contains(&password), "{what} holds the password");
    }
    assert!(cold_err.contains("password : \"********\""), "{cold_err}");
    for h in hosts.iter() {
        let journal = h.armonic(&["journal", "--format", "json"]);
        assert!(journal.status.success(), "{}", text(&journal.stderr));
        assert!(
            !text(&journal.stdout).contains(&password),
            "armonic journal of {} holds the password",
            h.name()
        );
        assert!(
            !h.agent_journal().contains(&password),
            "the agent's system journal of {} holds the password",
            h.name()
        );
        // Every file of the agent, of the system's logs, of root's home (the record) and of
        // the temporary directories; the pattern goes on stdin, not on a command line.
        let found = h.exec_with_input(
            &[
                "grep",
                "-rlF",
                "-f",
                "/dev/stdin",
                "/var/lib/armonic",
                "/var/log",
                "/root",
                "/etc/armonic",
                "/tmp",
                "/var/tmp",
            ],
            format!("{password}\n").as_bytes(),
            Duration::from_secs(120),
        );
        assert_eq!(
            text(&found.stdout),
            "",
            "files of {} holding the password",
            h.name()
        );
    }

    for h in hosts.iter() {
        eprintln!("agent of {}: {} KiB resident", h.name(), agent_rss_kib(h));
    }

    // Undone from another node than the one that drove it: every state the deployment
    // entered is left, the last entered first (services stopped, files removed, packages
    // purged); PostgreSQL's data goes with its packages, which is asked first.
    let id = cold_err
        .lines()
        .find_map(|l| {
            l.strip_prefix("Deployment ")
                .and_then(|l| l.split_once(": `armonic watch"))
        })
        .map(|(id, _)| id.to_owned())
        .expect("the deployment says its id");
    let app1 = &hosts["app1"];
    let refused = app1.armonic(&["undo", &id]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("leaving Installed of PostgreSQL on db1 is destructive"),
        "{}",
        text(&refused.stderr)
    );
    let started = Instant::now();
    let out = app1.armonic(&["undo", &id, "--yes"]);
    assert!(
        out.status.success(),
        "undo: {}\n{}",
        text(&out.stderr),
        hosts.diagnostics()
    );
    eprintln!(
        "undo of the stack from app1: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_removed(&hosts, &url);

    // Interrupted: the command driving it is killed (-9) while the Guestbooks install; what
    // it started finishes on its hosts; an undo from app1 takes back what completed.
    let interrupted = drive_and_kill_after(&hosts, 2);
    hosts.wait_for(
        "the interrupted deployment's running steps to end",
        DEPLOY_TIMEOUT,
        || deployment(app1, &interrupted).is_some_and(|d| d["state"] == "driver gone"),
    );
    let out = app1.armonic(&["undo", &interrupted, "--yes"]);
    assert!(
        out.status.success(),
        "undo of the interrupted deployment: {}\n{}",
        text(&out.stderr),
        hosts.diagnostics()
    );
    assert_removed(&hosts, &url);

    // Killed again mid-way, then finished from app1 by `resume`: the steps done are not run
    // again, the ones running are attached to, the stack serves.
    let id = drive_and_kill_after(&hosts, 2);
    let started = Instant::now();
    let out = app1.exec_within(
        &["armonic", "--no-color", "resume", &id, "--yes"],
        DEPLOY_TIMEOUT,
    );
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "resume failed:\n{err}\n{}",
        hosts.diagnostics()
    );
    eprintln!(
        "resume of the stack from app1 after its driver was killed: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        err.contains("PostgreSQL/Active/add_database on db1: done"),
        "{err}"
    );
    assert!(err.contains("Deployment done: 5 calls."), "{err}");
    let resumed = deployment(app1, &id).expect("listed");
    assert_eq!(resumed["state"], "done", "{resumed}");
    assert_eq!(resumed["driver"], "app1", "{resumed}");
    hosts
        .http_post(&url, &[("message", "hello again")])
        .unwrap();
    let r = hosts.http_get(&format!("{url}entries")).unwrap();
    assert!(r.status == 200 && r.body.contains("hello again"), "{r:?}");
}
