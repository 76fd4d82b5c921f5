//! The `build` command driven to its end by real terminal clients, profanity and poezio, as a
//! person would: each runs in a terminal of its own (tmux), keys are typed into it and its
//! screen is read. Against Prosody started by the test; the clients reach it on loopback.
//!
//! A client or tmux that is not installed skips its test (it says why), unless
//! `ARMONIC_REQUIRE_ALL_TESTS` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::client::{TestClient, is_presence};
use common::{DOMAIN, Kind, World, agent, skip};
use serde_json::json;
use xmpp_parsers::presence::Type as PresenceType;

/// How long a screen may take to show what is waited for (generous: the machine may be busy).
const SCREEN_WAIT: Duration = Duration::from_secs(60);

fn found(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
}

/// A terminal of its own: a tmux server on a socket of the test's, ended when dropped.
struct Terminal {
    socket: PathBuf,
}

impl Terminal {
    /// Runs `command` (a shell line) in a new 160×50 terminal.
    fn start(dir: &Path, command: &str) -> Terminal {
        let t = Terminal {
            socket: dir.join("tmux.sock"),
        };
        t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "160",
            "-y",
            "50",
            command,
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen as shown now.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }

    /// Types `text` as it is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Presses `key` (tmux's names: `Enter`, `Down`, `C-y`).
    fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "main", key]);
    }

    /// Waits until the screen satisfies `ok`, and returns it; fails the test with the screen
    /// after `SCREEN_WAIT`.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_within(SCREEN_WAIT, &ok)
            .unwrap_or_else(|screen| panic!("timed out waiting for {what}; the screen:\n{screen}"))
    }

    /// The screen once it satisfies `ok`, or the last one seen after `within`.
    fn wait_within(&self, within: Duration, ok: &impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return Ok(screen);
            }
            if Instant::now() >= deadline {
                return Err(screen);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // The client is killed with its process group first: a client that loses its
        // terminal may not end (poezio, hung up, spins on a closed terminal).
        let pane = self.tmux(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        if let Ok(pid) = pane.trim().parse::<i32>()
            && pid > 1
        {
            let group = nix::unistd::Pid::from_raw(-pid);
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.tmux(&["kill-server"]);
    }
}

/// Waits for the master's own client (`master@DOMAIN/master`), which offers the commands.
async fn master_online(c: &mut TestClient) {
    let jid = common::commands::master();
    c.take("the master online", |s| {
        is_presence(s, &jid, PresenceType::None)
    })
    .await;
}

/// Whether the deployment of the website is done on web1, as its agent says.
async fn website_active_on_web1(c: &mut TestClient) {
    let current = c
        .call(
            &agent("web1"),
            "state_current",
            json!({"args": ["//WebSite"], "kwargs": {}}),
            None,
        )
        .await
        .value();
    assert_eq!(
        current,
        json!([{"xpath": "/web1/WebSite/Active", "state": "Active"}])
    );
}

/// The text of profanity's last form on `screen`, without its time stamps.
fn last_form(screen: &str) -> String {
    let from = screen.rfind("Form title:").unwrap_or(0);
    screen[from..]
        .lines()
        .map(|l| l.get(11..).unwrap_or_default().trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// profanity: `/cmd exec build`, the provide typed in the first form's field, every other
/// form sent as proposed (`/form submit`), to "build completed".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn profanity_builds_the_website_through_the_build_command() {
    for program in ["tmux", "profanity"] {
        if !found(program) {
            skip(&format!(
                "{program} is not installed (apt-get install {program})"
            ));
            return;
        }
    }
    let Some(mut w) = World::start(Kind::Prosody).await else {
        return;
    };
    master_online(&mut w.master).await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join(".local/share/profanity");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(home.path().join(".config/profanity")).unwrap();
    std::fs::write(
        data.join("accounts"),
        format!(
            "[master@{DOMAIN}]\nenabled=true\njid=master@{DOMAIN}\nserver=127.0.0.1\nport={}\n\
             resource=profanity\npassword={}\ntls.policy=disable\n",
            w.server.port,
            common::PASSWORD
        ),
    )
    .unwrap();
    let h = home.path().display();
    let term = Terminal::start(
        home.path(),
        &format!(
            "env HOME={h} XDG_CONFIG_HOME={h}/.config XDG_DATA_HOME={h}/.local/share \
             profanity -a master@{DOMAIN}"
        ),
    );
    term.wait("profanity logged in", |s| {
        s.contains("logged in successfully")
    });
    // Right after logging in, profanity may still be setting up and drop a command typed
    // then: the command is typed again until its form shows (each try is a new session of
    // `build`; the last form on the screen is the one filled).
    let first_form = |s: &str| s.contains("Form title: Build a provide");
    let mut tries = 0;
    let screen = loop {
        tries += 1;
        term.type_text(&format!("/cmd exec build master@{DOMAIN}/master"));
        term.press("Enter");
        match term.wait_within(SCREEN_WAIT / 3, &first_form) {
            Ok(screen) => break screen,
            Err(screen) => assert!(
                tries < 3,
                "timed out waiting for the first form ({tries} tries); the screen:\n{screen}"
            ),
        }
    };
    // profanity names fields field1, field2…: the one labelled "Provide to build".
    let tag = screen
        .lines()
        .find_map(|l| {
            let at = l.find("] Provide to build")?;
            let start = l[..at].rfind('[')?;
            Some(l[start + 1..at].to_owned())
        })
        .unwrap_or_else(|| panic!("no field for the provide:\n{screen}"));
    term.type_text(&format!("/{tag} //WebSite//start"));
    term.press("Enter");
    term.wait("the field filled", |s| s.contains("Field updated"));
    let mut forms = Vec::new();
    for _ in 0..40 {
        let before = last_form(&term.screen());
        forms.push(before.clone());
        term.type_text("/form submit");
        term.press("Enter");
        let after = term.wait("the next form, or the end", |s| {
            s.contains("build completed") || last_form(s) != before
        });
        if after.contains("build completed") {
            assert!(
                after.contains("//WebSite//start is deployed"),
                "{after}\nforms:\n{}",
                forms.join("\n---\n")
            );
            website_active_on_web1(&mut w.master).await;
            drop(term);
            w.stop().await;
            return;
        }
    }
    panic!(
        "the build did not end; the forms:\n{}",
        forms.join("\n---\n")
    );
}

/// poezio runs only as a user other than root (it says "Please do not run poezio as root"):
/// as root, the test runs it as `nobody`.
fn as_plain_user(home: &Path, command: &str) -> String {
    if nix::unistd::geteuid().is_root() {
        let nobody = nix::unistd::Uid::from_raw(65534);
        let nogroup = nix::unistd::Gid::from_raw(65534);
        chown_all(home, nobody, nogroup);
        format!("setpriv --reuid=65534 --regid=65534 --clear-groups {command}")
    } else {
        command.to_owned()
    }
}

fn chown_all(path: &Path, uid: nix::unistd::Uid, gid: nix::unistd::Gid) {
    nix::unistd::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_all(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// The right side of poezio's screen (the current tab), without the tab list on the left.
fn poezio_tab(screen: &str) -> String {
    screen
        .lines()
        .map(|l| l.split_once('│').map_or("", |(_, tab)| tab).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// poezio: `/ad-hoc` on the master, `build` chosen in the list, the provide typed in the
/// first form, every other form sent as proposed (Ctrl+Y), to the result form.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poezio_builds_the_website_through_the_build_command() {
    for (program, package) in [
        ("tmux", "tmux"),
        ("poezio", "poezio"),
        ("setpriv", "util-linux"),
    ] {
        if !found(program) {
            skip(&format!(
                "{program} is not installed (apt-get install {package})"
            ));
            return;
        }
    }
    let Some(mut w) = World::start(Kind::Prosody).await else {
        return;
    };
    master_online(&mut w.master).await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/poezio");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("poezio.cfg"),
        format!(
            "[Poezio]\njid = master@{DOMAIN}\npassword = {}\nresource = poezio\n\
             custom_host = 127.0.0.1\ncustom_port = {}\nforce_encryption = false\nrooms =\n",
            common::PASSWORD,
            w.server.port
        ),
    )
    .unwrap();
    let h = home.path().display();
    let command = as_plain_user(
        home.path(),
        &format!(
            "env HOME={h} XDG_CONFIG_HOME={h}/.config XDG_DATA_HOME={h}/.local/share \
             XDG_CACHE_HOME={h}/.cache poezio"
        ),
    );
    let term = Terminal::start(home.path(), &command);
    term.wait("poezio logged in", |s| s.contains("Authentication success"));
    // "/" opens the command line of the roster tab (keys typed while poezio still sets up
    // the session are lost: typed again until the line shows them).
    let line = format!("/ad-hoc master@{DOMAIN}/master");
    let mut shown = false;
    for _ in 0..20 {
        term.type_text("/");
        std::thread::sleep(Duration::from_millis(300));
        term.type_text(&line[1..]);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && !shown {
            shown = term.screen().contains(&line);
            std::thread::sleep(Duration::from_millis(100));
        }
        if shown {
            break;
        }
        // Whatever was typed is cleared (Ctrl+U clears poezio's input line).
        term.press("Escape");
        term.press("C-u");
    }
    assert!(shown, "poezio takes no command:\n{}", term.screen());
    term.press("Enter");
    term.wait("the list of commands", |s| {
        s.contains("Get the list of provides") && s.contains("Build a provide")
    });
    // The list shows provides, then build: the second line is chosen. (Keys pressed while
    // the list is drawn may be lost: then provides is run, its result closed, and build
    // chosen again.)
    let mut chosen = false;
    for _ in 0..5 {
        term.wait("the list of commands", |s| {
            s.contains("Get the list of provides") && s.contains("Build a provide")
        });
        std::thread::sleep(Duration::from_millis(500));
        term.press("Down");
        std::thread::sleep(Duration::from_millis(300));
        term.press("Enter");
        let screen = term.wait("a form", |s| {
            s.contains("Provide to build") || s.contains("List of provides")
        });
        if screen.contains("Provide to build") {
            chosen = true;
            break;
        }
        term.press("C-g");
    }
    assert!(chosen, "build cannot be chosen:\n{}", term.screen());
    term.type_text("//WebSite//start");
    term.wait("the provide typed", |s| s.contains("//WebSite//start"));
    let mut forms = Vec::new();
    for _ in 0..40 {
        let before = poezio_tab(&term.screen());
        forms.push(before.clone());
        term.press("C-y");
        // The answered form's tab closes, then the next one opens (the list of commands
        // is shown in between).
        let after = term.wait("the next form", |s| {
            let tab = poezio_tab(s);
            tab != before && tab.contains("Ctrl+Y: send form")
        });
        let tab = poezio_tab(&after);
        if tab.contains("Deployment of //WebSite//start") {
            assert!(
                tab.contains("Succeeded") && tab.contains("True"),
                "{tab}\nforms:\n{}",
                forms.join("\n---\n")
            );
            website_active_on_web1(&mut w.master).await;
            drop(term);
            w.stop().await;
            return;
        }
    }
    panic!(
        "the build did not end; the forms:\n{}",
        forms.join("\n---\n")
    );
}
