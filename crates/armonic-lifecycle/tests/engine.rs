//! Behaviours beyond the original suite: the bugs of the original that are fixed, actions,
//! built-ins, simulation, persistence and loading.

mod common;

use std::sync::Arc;

use armonic_lifecycle::{CallOptions, Error, Level, Value, Values, load_dirs};
use common::*;

const TWO_CONFS: &str = r#"
name = "T"
initial = "A"
transitions = [["A", "X"], ["X", "Y"]]
[states.A]
[states.X.enter]
do = [{ log = "X port {{ conf.port }}" }]
[states.X.enter.requires.conf.variables]
port = { type = "port", default = 1 }
[states.Y.enter]
do = [{ log = "Y port {{ conf.port }}" }]
[states.Y.enter.requires.conf.variables]
port = { type = "port", default = 2 }
[states.Y.provides.show]
return = "{{ states.X.conf.port }}-{{ states.Y.conf.port }}"
"#;

#[test]
fn values_are_routed_by_their_address_not_by_variable_name() {
    let h = location(&[TWO_CONFS]);
    let r = h
        .loc
        .provide_call(
            "//T/Y/show",
            &Values::new().set("//T/Y/enter/conf/port", 20),
            &opts(),
        )
        .unwrap();
    assert_eq!(h.info_lines(), ["X port 1", "Y port 20"]);
    assert_eq!(r, Some(Value::from("1-20")));
}

#[test]
fn a_generic_address_sets_every_variable_it_selects() {
    let h = location(&[TWO_CONFS]);
    h.loc
        .state_goto("//T/Y", &Values::new().set("//conf/port", 7), &opts())
        .unwrap();
    assert_eq!(h.info_lines(), ["X port 7", "Y port 7"]);
}

#[test]
fn values_of_entered_states_stay_available_to_later_actions() {
    let h = location(&[TWO_CONFS]);
    h.loc
        .state_goto("//T/X", &Values::new().set("//T/X//port", 11), &opts())
        .unwrap();
    let r = h
        .loc
        .provide_call("//T/Y/show", &Values::new(), &opts())
        .unwrap();
    assert_eq!(r, Some(Value::from("11-2")));
}

#[test]
fn every_validation_error_is_reported_at_once_with_its_address() {
    let h = location(&[TWO_CONFS]);
    let v = Values::new()
        .set("//T/X//port", 70000)
        .set("//T/Y//port", "abc");
    let Err(Error::Validation(errors)) = h.loc.state_goto("//T/Y", &v, &opts()) else {
        panic!()
    };
    let got: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.xpath.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "/vm/T/X/enter/conf/port",
                "port value must be at most 65535"
            ),
            ("/vm/T/Y/enter/conf/port", "port must be an int")
        ]
    );
    assert_eq!(h.current("T"), "A");
}

#[test]
fn a_value_for_no_variable_at_all_is_an_error() {
    let h = location(&[TWO_CONFS]);
    let e = h
        .loc
        .state_goto("//T/Y", &Values::new().set("//conf/prot", 1), &opts())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "value address //conf/prot matches no variable"
    );
}

#[test]
fn an_int_given_as_text_reaches_actions_as_an_int() {
    let h = location(&[TWO_CONFS]);
    h.loc
        .state_goto("//T/X", &Values::new().set("//T/X//port", "8080"), &opts())
        .unwrap();
    let def = h.loc.to_primitive("T").unwrap();
    assert_eq!(def.stack, ["A", "X"]);
    let r = h
        .loc
        .provide_call("//T/Y/show", &Values::new(), &opts())
        .unwrap();
    assert_eq!(r, Some(Value::from("8080-2")));
}

const NARGS: &str = r#"
name = "N"
initial = "A"
[states.A.provides.p]
return = "{{ r | length }}:{% for s in r %}{{ s.v }},{% endfor %}"
[states.A.provides.p.requires.r]
nargs = "*"
variables.v = { type = "str", required = false }
"#;

#[test]
fn value_indexes_are_honoured_even_when_sparse() {
    let h = location(&[NARGS]);
    let v = Values::new()
        .set_at("//r/v", 2, "c")
        .set_at("//r/v", 0, "a");
    let r = h.loc.provide_call("//N//p", &v, &opts()).unwrap();
    assert_eq!(r, Some(Value::from("3:a,None,c,")));
}

#[test]
fn a_failed_validation_leaves_nothing_behind_for_the_next_call() {
    let h = location(&[TWO_CONFS]);
    assert!(
        h.loc
            .state_goto(
                "//T/Y",
                &Values::new().set("//T/X//port", 5).set("//T/Y//port", -1),
                &opts()
            )
            .is_err()
    );
    h.loc
        .state_goto("//T/Y", &Values::new().set("//T/Y//port", 3), &opts())
        .unwrap();
    assert_eq!(h.info_lines(), ["X port 1", "Y port 3"]);
}

#[test]
fn optional_variables_may_be_left_empty() {
    let h = location(&[r#"
name = "O"
initial = "A"
[states.A.provides.p]
return = "ok"
[states.A.provides.p.requires.r.variables]
h = { type = "host", required = false }
i = { type = "int", required = false }
pw = { type = "password", required = false }
"#]);
    assert_eq!(
        h.loc
            .provide_call("//O//p", &Values::new(), &opts())
            .unwrap(),
        Some(Value::from("ok"))
    );
}

#[test]
fn going_to_a_sibling_branch_leaves_states_first() {
    let h = location(&[r#"
name = "B"
initial = "A"
transitions = [["A", "B"], ["A", "D"]]
[states.A]
[states.B]
leave.do = [{ log = "leaving B" }]
[states.D]
enter.do = [{ log = "entering D" }]
"#]);
    h.loc.state_goto("//B/B", &Values::new(), &opts()).unwrap();
    h.loc.state_goto("//B/D", &Values::new(), &opts()).unwrap();
    assert_eq!(h.loc.stack("B").unwrap(), ["A", "D"]);
    assert_eq!(h.info_lines(), ["leaving B", "entering D"]);
}

#[test]
fn cyclic_lifecycles_are_walked_safely() {
    let h = location(&[r#"
name = "C"
initial = "A"
transitions = [["A", "B"], ["B", "C"], ["C", "A"], ["C", "B"], ["B", "Z"]]
[states.A]
[states.B]
[states.C]
[states.Z]
"#]);
    h.loc.state_goto("//C/C", &Values::new(), &opts()).unwrap();
    assert_eq!(h.loc.stack("C").unwrap(), ["A", "B", "C"]);
    h.loc.state_goto("//C/Z", &Values::new(), &opts()).unwrap();
    assert_eq!(h.loc.stack("C").unwrap(), ["A", "B", "Z"]);
}

#[test]
fn unreachable_states_give_a_clear_error() {
    let h = location(&[r#"
name = "U"
initial = "A"
transitions = [["A", "B"], ["C", "B"]]
[states.A]
[states.B]
[states.C]
"#]);
    let e = h
        .loc
        .state_goto("//U/C", &Values::new(), &opts())
        .unwrap_err();
    assert_eq!(e.to_string(), "no path to go to state C of U from A");
    let e = h
        .loc
        .state_goto(
            "//U/B",
            &Values::new(),
            &CallOptions {
                path_idx: 3,
                ..opts()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "path 3 does not exist to go to state B of U (there are 1)"
    );
}

#[test]
fn addresses_must_name_exactly_one_resource_to_be_called() {
    let h = location(&[TWO_CONFS, NARGS]);
    let e = h
        .loc
        .provide_call("//nothing", &Values::new(), &opts())
        .unwrap_err();
    assert_eq!(e.to_string(), "//nothing matches nothing");
    let e = h
        .loc
        .state_goto("//*[@ressource='state']", &Values::new(), &opts())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("//*[@ressource='state'] matches several resources: /vm/T/A, "),
        "{e}"
    );
    let e = h
        .loc
        .provide_call("//T/X", &Values::new(), &opts())
        .unwrap_err();
    assert_eq!(e.to_string(), "//T/X is a state, not a provide");
    let e = h
        .loc
        .provide_call("//T/X/enter", &Values::new(), &opts())
        .unwrap_err();
    assert!(matches!(e, Error::EnterNotCallable { .. }));
    let e = h
        .loc
        .provide_call("//T/[", &Values::new(), &opts())
        .unwrap_err();
    assert!(
        e.to_string().starts_with("address '//T/[' is not valid"),
        "{e}"
    );
}

#[test]
fn property_like_queries_never_fail_on_non_resources() {
    let h = location(&[TWO_CONFS]);
    let names: Vec<String> = h
        .loc
        .state("//T/*")
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["A", "X", "Y"]);
}

const SHELL: &str = r#"
name = "S"
initial = "A"
transitions = [["A", "B"]]
[states.A]
[states.B.enter]
do = [{ run = "echo \"port=$conf_port\"; echo \"name=$ARMONIC_LIFECYCLE/$ARMONIC_STATE\"; echo \"url=http://x:$conf_port\" > \"$ARMONIC_RETURN\"" }]
[states.B.enter.requires.conf.variables]
port = { type = "port", default = 80 }
[states.B.provides.json]
do = [{ run = "printf '{\"n\": %s, \"l\": [1, 2]}' \"$(echo \"$ARMONIC_CONTEXT\" | grep -c B)\" > \"$ARMONIC_RETURN\"" }]
return = { extra = "yes" }
[states.B.provides.fail]
do = [{ run = "echo doing; echo 'first problem' >&2; echo 'disk full' >&2; exit 4" }]
[states.B.provides.slow]
do = [{ run = "sleep 20", timeout = "300ms" }]
"#;

#[test]
fn shell_steps_get_values_in_their_environment_and_stream_their_output() {
    let h = location(&[SHELL]);
    h.loc
        .state_goto("//S/B", &Values::new().set("//conf/port", 8080), &opts())
        .unwrap();
    assert_eq!(h.logs.messages(Level::Process), ["port=8080", "name=S/B"]);
}

#[test]
fn shell_steps_return_json_merged_with_templated_values() {
    let h = location(&[SHELL]);
    let r = h
        .loc
        .provide_call("//S//json", &Values::new(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(r.to_string(), r#"{"extra":"yes","l":[1,2],"n":1}"#);
}

#[test]
fn a_failing_command_reports_its_status_and_the_end_of_its_stderr() {
    let h = location(&[SHELL]);
    let e = h
        .loc
        .provide_call("//S//fail", &Values::new(), &opts())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("provide /vm/S/B/fail failed: `echo doing;"),
        "{msg}"
    );
    assert!(
        msg.contains("exited with status 4: first problem\ndisk full"),
        "{msg}"
    );
}

#[test]
fn a_command_past_its_timeout_is_killed() {
    let h = location(&[SHELL]);
    let start = std::time::Instant::now();
    let e = h
        .loc
        .provide_call("//S//slow", &Values::new(), &opts())
        .unwrap_err();
    assert!(e.to_string().contains("timed out after 0.3s"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn simulation_validates_and_moves_states_but_runs_nothing() {
    let mut cfg = config("debian", None);
    cfg.simulation = true;
    let h = with_config(&[SHELL], cfg);
    assert!(matches!(
        h.loc
            .state_goto("//S/B", &Values::new().set("//conf/port", 0.5), &opts()),
        Err(Error::Validation(_))
    ));
    let r = h
        .loc
        .provide_call("//S//fail", &Values::new(), &opts())
        .unwrap();
    assert_eq!(r, None);
    assert_eq!(h.loc.stack("S").unwrap(), ["A", "B"]);
    assert!(h.logs.messages(Level::Process).is_empty());
    assert_eq!(
        h.logs.messages(Level::Warning),
        [
            "Provide call enter of B is simulated",
            "Provide call fail of B is simulated"
        ]
    );
}

#[test]
fn validation_can_be_skipped_for_one_call() {
    let h = location(&[TWO_CONFS]);
    let o = CallOptions {
        skip_validation: true,
        ..opts()
    };
    h.loc
        .state_goto("//T/X", &Values::new().set("//T/X//port", 99999), &o)
        .unwrap();
    assert_eq!(h.info_lines(), ["X port 99999"]);
}

const BUILTINS: &str = r#"
name = "Web"
initial = "Off"
transitions = [["Off", "Installed"], ["Installed", "Running"]]
[states.Off]
[states.Installed]
packages = ["nginx", "curl"]
[states.Running]
services = ["nginx"]
[states.Running.enter.requires.site.variables]
dir = { type = "str" }
[[states.Running.files]]
path = "{{ site.dir }}/site.conf"
template = "root {{ site.dir }};\n"
mode = "0640"
[states.Running.provides.refresh]
flags = { reload = true }
"#;

#[test]
fn builtins_install_packages_write_files_and_manage_services() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Arc::new(RecordingRunner::default());
    let h = with_runner(&[BUILTINS], runner.clone());
    let d = dir.path().display().to_string();
    h.loc
        .state_goto(
            "//Web/Running",
            &Values::new().set("//site/dir", d.as_str()),
            &opts(),
        )
        .unwrap();
    h.loc
        .provide_call("//Web//refresh", &Values::new(), &opts())
        .unwrap();
    h.loc
        .state_goto("//Web/Off", &Values::new(), &opts())
        .unwrap();
    assert_eq!(
        runner.lines(),
        [
            "apt-get install --assume-yes --no-install-recommends nginx curl",
            "systemctl start nginx.service",
            "systemctl reload nginx.service",
            "systemctl stop nginx.service",
            "apt-get remove --assume-yes --purge nginx curl",
        ]
    );
    let conf = dir.path().join("site.conf");
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        format!("root {d};\n")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn a_failed_apt_install_updates_the_package_lists_and_tries_once_more() {
    let runner = Arc::new(RecordingRunner {
        fail_on: Some("apt-get install".into()),
        fail_once: true,
        ..Default::default()
    });
    let h = with_runner(&[BUILTINS], runner.clone());
    h.loc
        .state_goto("//Web/Installed", &Values::new(), &opts())
        .unwrap();
    assert_eq!(
        runner.lines(),
        [
            "apt-get install --assume-yes --no-install-recommends nginx curl",
            "apt-get update",
            "apt-get install --assume-yes --no-install-recommends nginx curl",
        ]
    );
    let warnings = h.logs.messages(Level::Warning);
    assert_eq!(
        warnings,
        [
            "`apt-get install --assume-yes --no-install-recommends nginx curl` failed: updating \
          the package lists (apt-get update), then trying once more"
        ]
    );

    // Failing again, it fails for good, with what apt said.
    let runner = Arc::new(RecordingRunner {
        fail_on: Some("apt-get install".into()),
        ..Default::default()
    });
    let h = with_runner(&[BUILTINS], runner.clone());
    let e = h
        .loc
        .state_goto("//Web/Installed", &Values::new(), &opts())
        .unwrap_err();
    assert!(e.to_string().contains("exited with status 1: boom"), "{e}");
    assert_eq!(runner.lines().len(), 3);
    assert_eq!(h.loc.stack("Web").unwrap(), ["Off"]);
}

#[test]
fn a_failing_builtin_stops_the_path_at_its_state() {
    let runner = Arc::new(RecordingRunner {
        fail_on: Some("systemctl start".into()),
        ..Default::default()
    });
    let h = with_runner(&[BUILTINS], runner);
    let e = h.loc.state_goto(
        "//Web/Running",
        &Values::new().set("//site/dir", "/nonexistent-armonic"),
        &opts(),
    );
    let e = e.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("entering state Running of Web failed"),
        "{e}"
    );
    assert_eq!(h.loc.stack("Web").unwrap(), ["Off", "Installed"]);
}

#[test]
fn state_and_values_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = with_config(&[TWO_CONFS], config("debian", Some(dir.path())));
        h.loc
            .state_goto("//T/Y", &Values::new().set("//T/X//port", 42), &opts())
            .unwrap();
    }
    let h = with_config(&[TWO_CONFS], config("debian", Some(dir.path())));
    assert_eq!(h.loc.stack("T").unwrap(), ["A", "X", "Y"]);
    let r = h
        .loc
        .provide_call("//T/Y/show", &Values::new(), &opts())
        .unwrap();
    assert_eq!(r, Some(Value::from("42-2")));
    assert!(h.info_lines().is_empty(), "restoring runs no enter action");
}

#[test]
fn a_corrupt_state_file_is_reported_and_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lifecycles")).unwrap();
    std::fs::write(dir.path().join("lifecycles/T.json"), "{not json").unwrap();
    std::fs::write(
        dir.path().join("lifecycles/Gone.json"),
        r#"{"format":1,"lifecycle":"Gone","stack":["A"],"entered":{}}"#,
    )
    .unwrap();
    let h = with_config(&[TWO_CONFS], config("debian", Some(dir.path())));
    let issues = h.loc.restore_issues();
    assert_eq!(issues.len(), 2);
    let t = issues.iter().find(|i| i.lifecycle == "T").unwrap();
    assert!(t.message.contains("not a valid state file"));
    let moved = t.moved_to.as_ref().unwrap();
    assert_eq!(std::fs::read_to_string(moved).unwrap(), "{not json");
    assert_eq!(h.current("T"), "A");
    let gone = issues.iter().find(|i| i.lifecycle == "Gone").unwrap();
    assert!(gone.moved_to.is_none() && dir.path().join("lifecycles/Gone.json").exists());
}

#[test]
fn a_state_file_naming_unknown_states_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lifecycles")).unwrap();
    std::fs::write(
        dir.path().join("lifecycles/T.json"),
        r#"{"format":1,"lifecycle":"T","stack":["A","Q"]}"#,
    )
    .unwrap();
    let h = with_config(&[TWO_CONFS], config("debian", Some(dir.path())));
    assert_eq!(
        h.loc.restore_issues()[0].message,
        "saved stack names unknown state Q"
    );
    assert_eq!(h.current("T"), "A");
}

#[test]
fn one_broken_file_does_not_stop_the_others_from_loading() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), TWO_CONFS).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "name = \"B\"\ninitial = \"A\"\n[states.A]\ntypo = 1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("c.toml"), TWO_CONFS).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let catalog = load_dirs(&[dir.path(), &dir.path().join("missing")]);
    assert_eq!(catalog.lifecycles.len(), 1);
    let errors: Vec<String> = catalog.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3);
    assert!(
        errors[0].contains("b.toml:4:1: unknown field `typo`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("c.toml: lifecycle T is already defined in"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("cannot read lifecycle directory"),
        "{}",
        errors[2]
    );
}

// ---- the shipped demo lifecycles -----------------------------------------------------------

fn demo() -> Harness {
    let catalog = load_dirs(&[concat!(env!("CARGO_MANIFEST_DIR"), "/../../lifecycles")]);
    assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
    let logs = armonic_lifecycle::MemorySink::new();
    let loc = armonic_lifecycle::Location::builder(config("debian", None))
        .sink(Arc::new(logs.clone()))
        .build(catalog.lifecycles)
        .unwrap();
    Harness { loc, logs }
}

#[test]
fn webserver_start_logs_the_original_lines_and_returns_its_url() {
    let h = demo();
    let r = h
        .loc
        .provide_call("//WebServer//start", &Values::new(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(
        h.info_lines(),
        [
            "Installation of webserver packages...",
            "Configuration of webserver service...",
            "Webserver listening on port 80",
            "Activation of webserver service..."
        ]
    );
    assert_eq!(r.to_string(), r#"{"url":"http://localhost:80"}"#);
}

#[test]
fn webserver_validation_error_uses_the_original_message() {
    let h = demo();
    let v = Values::new()
        .set("//document_root/path", "/x")
        .set("//conf/port", 99999);
    let r = h
        .loc
        .provide_call_validate("//WebServer/Configured/create_document_root", &v, 0)
        .unwrap();
    let errors: Vec<(String, String)> = r
        .error_list()
        .into_iter()
        .map(|e| (e.xpath, e.message))
        .collect();
    assert_eq!(
        errors,
        [(
            "/vm/WebServer/Configured/enter/conf/port".to_owned(),
            "port value must be at most 65535".to_owned()
        )]
    );
}

#[test]
fn website_start_needs_the_url_its_webserver_returns() {
    let h = demo();
    let v = h
        .loc
        .provide_call_validate(
            "//WebSite//start",
            &Values::new().set("//WebSite//document_root/path", "/a"),
            0,
        )
        .unwrap();
    assert!(v.errors);
    let enter = v
        .provide("enter")
        .unwrap()
        .require("document_root")
        .unwrap();
    assert_eq!(enter.kind.as_str(), "local");
    assert_eq!(
        enter.provide_xpath.as_deref(),
        Some("//WebServer/Configured/create_document_root")
    );
    assert_eq!(
        enter.variable("path", 0).unwrap().value,
        Some(Value::from("/a"))
    );
    let web = v.provide("start").unwrap().require("webserver").unwrap();
    assert_eq!(
        web.variable("url", 0).unwrap().error.as_deref(),
        Some("url is required")
    );
    let r = h
        .loc
        .provide_call(
            "//WebSite//start",
            &Values::new().set("//WebSite//webserver/url", "http://localhost:80"),
            &opts(),
        )
        .unwrap();
    assert_eq!(r.unwrap().to_string(), r#"{"url":"http://localhost:80"}"#);
    assert_eq!(
        h.info_lines(),
        [
            "Appling template...",
            "Activation of webserver service...",
            "Start website"
        ]
    );
}

#[test]
fn proxy_logs_the_value_sets_of_its_websites() {
    let h = demo();
    let v = Values::new()
        .set_at("//Proxy//websites/host", 0, "10.0.0.1")
        .set_at("//Proxy//websites/url", 0, "http://a")
        .set_at("//Proxy//websites/host", 1, "web2")
        .set_at("//Proxy//websites/url", 1, "http://b");
    h.loc.provide_call("//Proxy//start", &v, &opts()).unwrap();
    assert_eq!(
        h.info_lines(),
        [
            "[{'host': '10.0.0.1', 'url': 'http://a'}, {'host': 'web2', 'url': 'http://b'}]",
            "Activation of proxy service...",
            "up"
        ]
    );
}

#[test]
fn provide_listing_hides_enter_and_unreachable_provides() {
    let h = demo();
    let names: Vec<String> = h
        .loc
        .provide("//WebServer//*")
        .unwrap()
        .into_iter()
        .map(|p| p.xpath)
        .collect();
    assert_eq!(
        names,
        [
            "/vm/WebServer/Configured/create_document_root",
            "/vm/WebServer/Active/start"
        ]
    );
    let dot = h.loc.to_dot("WebServer", false).unwrap();
    assert!(dot.contains("\"Installed\" -> \"Configured\";"), "{dot}");
    assert!(
        dot.contains("{ create_document_root\\l | {document_root\\l} }"),
        "{dot}"
    );
}

#[test]
fn simulation_does_not_require_values_that_dependencies_return() {
    let catalog = load_dirs(&[concat!(env!("CARGO_MANIFEST_DIR"), "/../../lifecycles")]);
    let mut cfg = config("debian", None);
    cfg.simulation = true;
    let loc = armonic_lifecycle::Location::builder(cfg)
        .build(catalog.lifecycles)
        .unwrap();
    assert_eq!(
        loc.provide_call("//WebSite//start", &Values::new(), &opts())
            .unwrap(),
        None
    );
    // An invalid returned value is still refused.
    let e = loc.provide_call(
        "//WebSite//start",
        &Values::new().set("//webserver/url", "not a url"),
        &opts(),
    );
    assert!(matches!(e, Err(Error::Validation(_))));
}
