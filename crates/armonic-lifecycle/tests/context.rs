//! What actions see: the template context, the environment of commands and the saved state,
//! at every step of a walk.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use armonic_lifecycle::{
    CommandOutcome, CommandRunner, CommandSpec, Location, MemorySink, Supervision, Value, Values,
};
use common::*;

const STATES: &str = r#"
name = "T"
initial = "A"
transitions = [["A", "B"], ["B", "C"], ["C", "D"]]
[states.A]
[states.B.enter.requires.conf.variables]
port = { type = "port", default = 80 }
[states.C.enter.requires.peers]
nargs = "*"
variables.host = { type = "str" }
[states.D]
[states.C.provides.show]
return = { map = "{{ states }}", length = "{{ states | length }}", items = "{% for name, reqs in states | items %}{{ name }}={{ reqs }};{% endfor %}", keys = "{{ states | list }}", sorted = "{{ states | dictsort }}", empty = "{{ states.A }}", port = "{{ states['B'].conf.port }}", defined = "{{ states.D is defined }}-{{ states.C is mapping }}-{{ states is mapping }}" }
"#;

fn show(h: &mut Harness) -> Value {
    let values =
        Values::new()
            .set("//C/enter/peers/host", "p0")
            .set_at("//C/enter/peers/host", 1, "p1");
    h.loc
        .provide_call("//T/C/show", &values, &opts())
        .unwrap()
        .unwrap()
}

#[test]
fn templates_see_every_entered_state_by_name_even_those_without_requires() {
    let mut h = location(&[STATES]);
    let Value::Map(shown) = show(&mut h) else {
        panic!("a map is returned")
    };
    let text = |k: &str| shown[k].to_plain_string();
    let all =
        "{'A': {}, 'B': {'conf': {'port': 80}}, 'C': {'peers': [{'host': 'p0'}, {'host': 'p1'}]}}";
    assert_eq!(text("map"), all);
    assert_eq!(text("length"), "3");
    assert_eq!(
        text("items"),
        "A={};B={'conf': {'port': 80}};C={'peers': [{'host': 'p0'}, {'host': 'p1'}]};"
    );
    assert_eq!(text("keys"), "['A', 'B', 'C']");
    assert_eq!(
        text("sorted"),
        "[('A', {}), ('B', {'conf': {'port': 80}}), ('C', {'peers': [{'host': 'p0'}, {'host': 'p1'}]})]"
    );
    assert_eq!(text("empty"), "{}");
    assert_eq!(text("port"), "80");
    assert_eq!(text("defined"), "False-True-True");
}

const COMMANDS: &str = r#"
name = "T"
initial = "A"
transitions = [["A", "B"], ["B", "C"], ["C", "D"], ["D", "E"]]
[states.A]
[states.B.enter.requires.conf.variables]
port = { type = "port", default = 80 }
[states.C]
[states.D]
[states.E]
enter.do = [{ run = "echo E" }]
leave.do = [{ run = "echo leaving E" }]
"#;

/// Keeps, for every command, `ARMONIC_CONTEXT` and the saved state of `T` as they were when
/// it ran.
#[derive(Default)]
struct Witness {
    state_file: Option<PathBuf>,
    seen: Mutex<Vec<(String, String)>>,
}

impl CommandRunner for Witness {
    fn run(&self, spec: &CommandSpec, _: &mut Supervision<'_>) -> std::io::Result<CommandOutcome> {
        let context = spec
            .env
            .iter()
            .find(|(k, _)| k == "ARMONIC_CONTEXT")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let saved = self
            .state_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .unwrap_or_default();
        self.seen.lock().unwrap().push((context, saved));
        Ok(CommandOutcome {
            code: Some(0),
            timed_out: false,
            interrupted: false,
            stderr_tail: vec![],
            output_left_open: false,
        })
    }
}

fn witnessed(dir: &std::path::Path) -> (Location, Arc<Witness>) {
    let witness = Arc::new(Witness {
        state_file: Some(dir.join("lifecycles/T.json")),
        ..Witness::default()
    });
    let loc = Location::builder(config("debian:12", Some(dir)))
        .sink(Arc::new(MemorySink::new()))
        .runner(witness.clone())
        .build(vec![parse(COMMANDS)])
        .unwrap();
    (loc, witness)
}

fn stack_of(saved: &str) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(saved).unwrap();
    serde_json::from_value(json["stack"].clone()).unwrap()
}

#[test]
fn commands_get_the_whole_context_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let (loc, witness) = witnessed(dir.path());
    loc.state_goto("//T/E", &Values::new(), &opts()).unwrap();
    let seen = witness.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let context: serde_json::Value = serde_json::from_str(&seen[0].0).unwrap();
    assert_eq!(
        context["states"],
        serde_json::json!({"A": {}, "B": {"conf": {"port": 80}}, "C": {}, "D": {}})
    );
    assert_eq!(context["state"], "E");
    assert_eq!(context["provide"], "enter");
    assert_eq!(context["location"]["name"], "vm");
}

#[test]
fn the_saved_state_is_current_whenever_a_command_runs_and_when_the_call_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (loc, witness) = witnessed(dir.path());
    loc.state_goto("//T/E", &Values::new(), &opts()).unwrap();
    loc.state_goto("//T/C", &Values::new(), &opts()).unwrap();
    let seen = witness.seen.lock().unwrap().clone();
    // Entering E: everything below it is saved; leaving E: E is still entered.
    assert_eq!(stack_of(&seen[0].1), ["A", "B", "C", "D"]);
    assert_eq!(stack_of(&seen[1].1), ["A", "B", "C", "D", "E"]);
    let saved = std::fs::read_to_string(dir.path().join("lifecycles/T.json")).unwrap();
    assert_eq!(stack_of(&saved), ["A", "B", "C"]);
    let context: serde_json::Value = serde_json::from_str(&seen[1].0).unwrap();
    assert_eq!(
        context["states"],
        serde_json::json!({"A": {}, "B": {"conf": {"port": 80}}, "C": {}, "D": {}, "E": {}})
    );
}

#[test]
fn a_state_left_is_gone_from_the_context_until_entered_again() {
    let dir = tempfile::tempdir().unwrap();
    let (loc, witness) = witnessed(dir.path());
    loc.state_goto("//T/E", &Values::new(), &opts()).unwrap();
    loc.state_goto("//T/A", &Values::new(), &opts()).unwrap();
    let again = Values::new().set("//T/B//port", 81);
    loc.state_goto("//T/E", &again, &opts()).unwrap();
    let seen = witness.seen.lock().unwrap().clone();
    let states = |k: usize| {
        let context: serde_json::Value = serde_json::from_str(&seen[k].0).unwrap();
        context["states"].clone()
    };
    assert_eq!(seen.len(), 3);
    assert_eq!(
        states(1),
        serde_json::json!({"A": {}, "B": {"conf": {"port": 80}}, "C": {}, "D": {}, "E": {}})
    );
    assert_eq!(
        states(2),
        serde_json::json!({"A": {}, "B": {"conf": {"port": 81}}, "C": {}, "D": {}})
    );
    assert_eq!(stack_of(&seen[2].1), ["A", "B", "C", "D"]);
}

const GRANT: &str = r#"
name = "G"
initial = "A"
transitions = [["A", "B"]]
[states.A]
[states.B.provides.grant]
do = [{ run = "echo \"$ARMONIC_CALLER_NAME at $ARMONIC_CALLER_ADDRESS\"" }]
return = { rule = "host all all {{ caller.address }}/32 scram-sha-256", for = "{{ caller.name }}" }
"#;

#[test]
fn a_call_made_for_another_location_sees_that_location_as_its_caller() {
    let h = location(&[GRANT]);
    let options = armonic_lifecycle::CallOptions {
        caller: Some(armonic_lifecycle::CallerLocation {
            name: "app1".into(),
            address: "10.1.2.3".into(),
        }),
        ..opts()
    };
    let r = h
        .loc
        .provide_call("//G//grant", &Values::new(), &options)
        .unwrap()
        .unwrap();
    assert_eq!(
        r.to_string(),
        r#"{"for":"app1","rule":"host all all 10.1.2.3/32 scram-sha-256"}"#
    );
    assert_eq!(
        h.logs.messages(armonic_lifecycle::Level::Process),
        ["app1 at 10.1.2.3"]
    );
}

#[test]
fn a_call_made_for_no_other_location_has_its_own_location_as_caller() {
    let h = location(&[GRANT]);
    let r = h
        .loc
        .provide_call("//G//grant", &Values::new(), &opts())
        .unwrap()
        .unwrap();
    assert_eq!(
        r.to_string(),
        r#"{"for":"vm","rule":"host all all localhost/32 scram-sha-256"}"#
    );
}

#[test]
fn caller_is_a_reserved_require_name_and_its_fields_are_checked_when_the_file_loads() {
    let parse = |text: &str| {
        armonic_lifecycle::format::parse(text, std::path::Path::new("x.toml"))
            .err()
            .map(|e| e.to_string())
    };
    let e = parse(
        "name = \"X\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n[states.B.enter.requires.caller.variables]\nx = {}\n",
    )
    .unwrap();
    assert!(e.contains("require name 'caller' is reserved"), "{e}");
    let e = parse(
        "name = \"X\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n[states.B.provides.p]\nreturn = { a = \"{{ caller.port }}\" }\n",
    )
    .unwrap();
    assert!(e.contains("caller.port"), "{e}");
    assert!(
        parse("name = \"X\"\ninitial = \"A\"\ntransitions = [[\"A\", \"B\"]]\n[states.A]\n[states.B.leave]\ndo = [{ log = \"{{ caller.name }} {{ caller.address }}\" }]\n").is_none()
    );
}
