//! End-to-end tests of `armonic deploy` on embedded locations, driven through stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod common;
use common::text;

fn deploy(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "--no-color"])
        .args(args)
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_LIFECYCLE_DIRS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armonic runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("answers written");
    child.wait_with_output().expect("armonic ends")
}

/// Log lines of the given kinds, in order.
fn lines_with(stderr: &str, prefix: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn website_transcript_asks_and_logs_like_the_original() {
    let o = deploy(
        &["--name", "vm", "deploy", "//WebSite//start"],
        "y\ny\n8080\n\"/var/www/website/\"\ny\ny\ny\ny\n",
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(text(&o.stdout), "{\"url\": \"http://localhost:8080\"}\n");
    let asking = err.split("Deployment of").next().unwrap();
    let questions: Vec<&str> = asking
        .lines()
        .filter(|l| l.contains("? ") || l.contains(" = "))
        .collect();
    assert_eq!(
        questions,
        [
            "Do you want to configure and call '//WebSite//start' [Y/n]? y",
            "  Do you want to configure and call '//WebServer/Configured/create_document_root' [Y/n]? y",
            "  port (WebServer/Configured/enter/conf/port) [80] = 8080",
            "  path (WebServer/Configured/create_document_root/document_root/path) [\"/var/www/website/\"] = \"/var/www/website/\"",
            "  Call //WebServer/Configured/create_document_root [Y/n]? y",
            "  Do you want to configure and call '//WebServer//start' [Y/n]? y",
            "  Call //WebServer//start [Y/n]? y",
            "Call //WebSite//start [Y/n]? y",
        ]
    );
    assert_eq!(
        lines_with(&err, "INFO"),
        [
            "INFO     [WebServer] Installation of webserver packages...",
            "INFO     [WebServer] Configuration of webserver service...",
            "INFO     [WebServer] Webserver listening on port 8080",
            "INFO     [WebServer] Creating document_root '/var/www/website/'...",
            "INFO     [WebServer] Activation of webserver service...",
            "INFO     [smart] Provide 'WebServer/Active/start' returns:",
            "INFO     [smart] - url : \"http://localhost:8080\"",
            "INFO     [WebSite] Appling template...",
            "INFO     [WebSite] Activation of webserver service...",
            "INFO     [WebSite] Start website",
            "INFO     [smart] Provide 'WebSite/Active/start' returns:",
            "INFO     [smart] - url : \"http://localhost:8080\"",
        ]
    );
    assert!(
        err.contains("Values returned by 'WebSite/Active/start':"),
        "{err}"
    );
}

#[test]
fn website_unattended_then_replayed_from_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("website.json");
    let record = record.to_str().unwrap();
    let o = deploy(
        &["deploy", "//WebSite//start", "--autofill", "--save", record],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "{\"url\": \"http://localhost:80\"}\n");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(saved["armonic_deployment"], 1);
    assert_eq!(saved["root"], "//WebSite//start");
    // No input at all: a question would abort the replay.
    let o = deploy(&["deploy", "//WebSite//start", "--answers", record], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "{\"url\": \"http://localhost:80\"}\n");
}

const PROXY_LOCATIONS: [&str; 6] = [
    "--location",
    "web1",
    "--location",
    "web2",
    "--location",
    "proxy",
];

#[test]
fn proxy_on_a_third_location_in_front_of_two_websites_and_its_replay() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("proxy.json");
    let record = record.to_str().unwrap();
    let mut args = PROXY_LOCATIONS.to_vec();
    args.extend(["deploy", "--manage", "//Proxy//start", "--save", record]);
    let website = "\n\ny\ny\ny\n";
    // The Proxy's own port (default) comes after its WebSites, then its call.
    let answers = format!("2\n2\n0\n1\n{website}{website}\ny\n");
    let o = deploy(&args, &answers);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let expected = "INFO     [proxy/Proxy] [{'host': 'web1', 'url': 'http://web1:80'}, {'host': 'web2', 'url': 'http://web2:80'}]";
    assert!(err.contains(expected), "{err}");
    assert!(
        err.contains("INFO     [web1/WebSite] Start website"),
        "{err}"
    );
    assert!(
        err.contains("INFO     [web2/WebSite] Start website"),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "{\"url\": \"http://proxy:80\"}\n");

    let mut args = PROXY_LOCATIONS.to_vec();
    args.extend(["deploy", "//Proxy//start", "--answers", record]);
    let o = deploy(&args, "");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(expected), "{err}");
}

#[test]
fn dry_run_prints_the_plan_and_calls_nothing() {
    let o = deploy(
        &[
            "--name",
            "vm",
            "deploy",
            "//WebSite//start",
            "--autofill",
            "--dry-run",
        ],
        "",
    );
    let out = text(&o.stdout);
    assert!(o.status.success());
    assert!(
        out.starts_with(
            "Deployment of //WebSite//start (3 calls)\nnode_0 WebSite/Active/start on vm\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "    enters: Installed, Configured\n    WebServer/Configured/enter/conf/port = 80\n"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("Order: node_0_0, node_0_1, node_0\n"),
        "{out}"
    );
    assert!(lines_with(&text(&o.stderr), "INFO").is_empty());
}

#[test]
fn end_of_input_aborts_cleanly() {
    let o = deploy(&["deploy", "//WebSite//start"], "y\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).ends_with("error: deployment aborted: end of input\n"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        lines_with(&text(&o.stderr), "INFO").is_empty(),
        "nothing ran"
    );
}

#[test]
fn a_declined_root_deploys_nothing() {
    let o = deploy(&["deploy", "//WebSite//start"], "n\n");
    assert!(o.status.success());
    assert!(text(&o.stderr).contains("Nothing to deploy: //WebSite//start was declined."));
}

#[test]
fn json_output_lists_steps_and_result() {
    let o = deploy(
        &["--format", "json", "deploy", "//WebSite//start", "-a"],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(v["result"]["url"], "http://localhost:80");
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    assert_eq!(v["steps"][2]["status"]["status"], "done");
}

#[test]
fn a_failing_step_is_reported_with_what_never_started() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        "name = \"Base\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n[states.On.provides.start]\ndo = [{ run = \"echo no disk >&2; exit 2\" }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("top.toml"),
        "name = \"Top\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n[states.On.provides.start.requires.base]\ntype = \"local\"\nxpath = \"//Base//start\"\n",
    )
    .unwrap();
    let o = deploy(
        &[
            "-L",
            dir.path().to_str().unwrap(),
            "--name",
            "vm",
            "deploy",
            "//Top//start",
            "-a",
        ],
        "",
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    // By location, each step with the time it took when it ran.
    assert!(
        err.contains("Deployment failed:\n  vm\n    FAILED      node_0_0 Base/On/start ("),
        "{err}"
    );
    assert!(
        err.contains(
            " s): provide /vm/Base/On/start failed: `echo no disk >&2; exit 2` exited with status \
             2: no disk\n    not started node_0 Top/On/start\n"
        ),
        "{err}"
    );
    assert_eq!(text(&o.stdout), "");
}

#[test]
fn a_simulated_deployment_runs_every_step_and_returns_nothing() {
    let o = deploy(&["--simulation", "deploy", "//WebSite//start", "-a"], "");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Deployment done: 3 calls.\n  vm\n    done        node_0_0 WebServer/Configured/create_document_root ("), "{err}");
    assert!(lines_with(&err, "INFO     [WebServer]").is_empty(), "{err}");
    assert_eq!(text(&o.stdout), "null\n");
}

#[test]
fn answers_given_before_an_abort_are_saved_and_resume_the_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("partial.json");
    let record = record.to_str().unwrap();
    let o = deploy(
        &["deploy", "//WebSite//start", "--save", record],
        "y\ny\n8080\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("The answers given so far are kept"),
        "{}",
        text(&o.stderr)
    );
    // Resuming asks only what is left: the path onwards.
    let o = deploy(
        &["deploy", "//WebSite//start", "--answers", record],
        "\ny\ny\ny\ny\n",
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        !err.contains("Do you want to configure and call '//WebSite//start'"),
        "{err}"
    );
    assert!(!err.contains("port (WebServer"), "{err}");
    assert_eq!(text(&o.stdout), "{\"url\": \"http://localhost:8080\"}\n");
}

#[test]
fn the_demo_record_deploys_the_proxy_without_a_question_and_prints_its_url() {
    let mut args = PROXY_LOCATIONS.to_vec();
    let record = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/proxy-answers.json");
    args.extend(["deploy", "//Proxy//start", "--answers", record]);
    let o = deploy(&args, "");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let asking = err.split("Deployment of").next().unwrap();
    assert_eq!(asking, "", "nothing is asked");
    assert_eq!(text(&o.stdout), "{\"url\": \"http://proxy:80\"}\n");
}

#[test]
fn an_ambiguous_address_fails_unattended_in_one_line() {
    // An answer on stdin must not be read: unattended means no question at all.
    let o = deploy(&["--name", "vm", "deploy", "//start", "--autofill"], "2\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: deployment aborted: //start matches 5 provides on location vm: \
         Guestbook/Active/start, Nginx/Active/start, Proxy/Active/start, WebServer/Active/start, \
         WebSite/Active/start; give a more precise address, such as //Guestbook//start\n"
    );
    assert_eq!(text(&o.stdout), "");
}

#[test]
fn a_saved_record_is_announced_once() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("website.json");
    let record = record.to_str().unwrap();
    let o = deploy(
        &["deploy", "//WebSite//start", "--autofill", "--save", record],
        "",
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches(&format!("Deployment values written in {record}\n"))
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn a_record_of_another_root_is_refused_and_force_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("website.json");
    let record = record.to_str().unwrap();
    let o = deploy(
        &["deploy", "//WebSite//start", "--autofill", "--save", record],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));

    let saved = std::fs::read_to_string(record).unwrap();
    let o = deploy(
        &[
            "deploy",
            "//WebServer//start",
            "--answers",
            record,
            "--save",
            record,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: the record answers //WebSite//start, not //WebServer//start: replay it with \
         that address or add --force\n"
    );
    assert_eq!(
        std::fs::read_to_string(record).unwrap(),
        saved,
        "a refused record is kept as it was"
    );

    let o = deploy(
        &[
            "deploy",
            "//WebServer//start",
            "--answers",
            record,
            "--force",
            "--autofill",
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "{\"url\": \"http://localhost:80\"}\n");
}

const FRONT: &str = r#"
name = "Front"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start.requires.backs]
type = "external"
xpath = "//Back//serve"
nargs = "2"
provide_args.weight = { type = "int" }
[states.On.provides.start.requires.names]
nargs = "2"
variables.name = { type = "str" }
"#;

const BACK: &str = r#"
name = "Back"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.serve]
"#;

#[test]
fn prompts_name_the_require_of_a_location_and_number_value_sets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("front.toml"), FRONT).unwrap();
    std::fs::write(dir.path().join("back.toml"), BACK).unwrap();
    let o = deploy(
        &[
            "-L",
            dir.path().to_str().unwrap(),
            "--location",
            "a",
            "--location",
            "b",
            "deploy",
            "//Front//start",
        ],
        "y\n0\n1\n1\ny\ny\ny\ny\nx\ny\n1\n2\ny\n",
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let asking = err.split("Deployment of").next().unwrap();
    let prompts: Vec<&str> = asking
        .lines()
        .filter(|l| l.contains("Choose the location") || l.contains(" = "))
        .collect();
    assert_eq!(
        prompts,
        [
            "Choose the location of '//Front//start':",
            "  Choose the location of '//Back//serve' (required by Front/On/start, require backs, instance 1 of 2):",
            "  Choose the location of '//Back//serve' (required by Front/On/start, require backs, instance 2 of 2):",
            "name [set 1] (Front/On/start/names/name) = x",
            "name [set 2] (Front/On/start/names/name) = y",
            "weight [set 1] (Front/On/start/backs/weight) = 1",
            "weight [set 2] (Front/On/start/backs/weight) = 2",
        ]
    );
}

const DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.grant]
do = [{ run = "echo \"rule for $ARMONIC_CALLER_NAME at $ARMONIC_CALLER_ADDRESS\"" }]
return = { allowed = "{{ caller.address }}", caller = "{{ caller.name }}" }
"#;

const APP: &str = r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.db]
type = "external"
xpath = "//Db//grant"
provide_ret.allowed = { type = "str" }
provide_ret.caller = { type = "str" }
[states.On.provides.start]
return = { allowed = "{{ states.On.db.allowed }}", caller = "{{ states.On.db.caller }}" }
"#;

/// `//App//start` deployed unattended on locations app1 (10.9.0.2) and db1 (10.9.0.3),
/// lifecycles `db` and `app`.
fn deploy_app_and_db(db: &str, app: &str) -> Output {
    deploy_app_and_db_with(db, app, &[])
}

/// [`deploy_app_and_db`] with global options `before` the command.
fn deploy_app_and_db_with(db: &str, app: &str, before: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.toml"), db).unwrap();
    std::fs::write(dir.path().join("app.toml"), app).unwrap();
    let mut args = vec!["-L", dir.path().to_str().unwrap()];
    args.extend_from_slice(before);
    args.extend([
        "--location",
        "app1=10.9.0.2",
        "--location",
        "db1=10.9.0.3",
        "deploy",
        "//App//start",
        "--autofill",
    ]);
    deploy(&args, "")
}

#[test]
fn a_dependency_is_called_for_the_location_that_requires_it() {
    let o = deploy_app_and_db(DB, APP);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The database is told who its consumer is: app1, with app1's address, not the driver.
    assert!(err.contains("rule for app1 at 10.9.0.2"), "{err}");
    assert_eq!(
        text(&o.stdout),
        "{\"allowed\": \"10.9.0.2\", \"caller\": \"app1\"}\n"
    );
}

const KEEPER_DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.grant]
secret_returns = ["password"]
do = [{ run = "echo 'password=Gen3rated-Pw-42' > \"$ARMONIC_RETURN\"" }]
return = { user = "app", token = "T0ken-Of-App-7" }
"#;

const KEEPER_APP: &str = r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.db]
type = "external"
xpath = "//Db//grant"
provide_ret.password = { type = "password" }
provide_ret.user = { type = "str" }
provide_ret.token = { type = "str", secret = true }
[states.On.enter]
do = [{ run = "test \"$db_password\" = Gen3rated-Pw-42 && test \"$db_token\" = T0ken-Of-App-7" }]
[states.On.provides.start]
return = { user = "{{ states.On.db.user }}" }
"#;

#[test]
fn a_deployment_shows_no_secret_a_dependency_returns() {
    let o = deploy_app_and_db(KEEPER_DB, KEEPER_APP);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The consumer got both (its step checked them); what the deployment shows has neither:
    // one the provide says is a secret, one the consumer takes into a secret variable.
    assert!(err.contains("- password : \"********\""), "{err}");
    assert!(err.contains("- token : \"********\""), "{err}");
    assert!(err.contains("- user : \"app\""), "{err}");
    for secret in ["Gen3rated-Pw-42", "T0ken-Of-App-7"] {
        assert!(!err.contains(secret), "{err}");
        assert!(!text(&o.stdout).contains(secret), "{}", text(&o.stdout));
    }
    // Nor does the JSON outcome of each step.
    let o = deploy_app_and_db_with(KEEPER_DB, KEEPER_APP, &["--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("\"password\": \"********\""), "{out}");
    for secret in ["Gen3rated-Pw-42", "T0ken-Of-App-7"] {
        assert!(!out.contains(secret), "{out}");
    }
}
