//! Deployments of the shipped demo lifecycles on embedded locations.

mod common;

use armonic_lifecycle::{MemorySink, Value};
use armonic_smart::{Answer, Autofill, Error, Key, Options, Question, Record, Status, resolve};
use common::*;

fn website_answers() -> Vec<(&'static str, Answer)> {
    vec![
        ("manage //WebSite//start", Answer::Yes),
        (
            "manage //WebServer/Configured/create_document_root",
            Answer::Yes,
        ),
        (
            "value WebServer/Configured/enter/conf/port",
            Answer::Value(Value::Int(8080)),
        ),
        (
            "value WebServer/Configured/create_document_root/document_root/path",
            Answer::Value(Value::from("/var/www/website/")),
        ),
        (
            "call //WebServer/Configured/create_document_root",
            Answer::Yes,
        ),
        ("manage //WebServer//start", Answer::Yes),
        ("call //WebServer//start", Answer::Yes),
        ("call //WebSite//start", Answer::Yes),
    ]
}

#[test]
fn website_asks_the_original_questions_in_the_original_order() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Script::new(website_answers());
    let mut plan = resolve(&mesh, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    assert!(fe.answers.is_empty());
    // The document root proposed to the WebServer is the one the WebSite declares.
    let path_q = fe.asked.iter().find_map(|q| match q {
        Question::Value { variable, .. } if variable.name == "path" => Some(variable.clone()),
        _ => None,
    });
    assert_eq!(
        path_q.unwrap().suggestion,
        Some(Value::from("/var/www/website/"))
    );
    let outcome = plan.execute(&mesh, &mut fe, 4);
    assert!(outcome.succeeded, "{outcome:?}");
    assert_eq!(outcome.result, Some(url("http://localhost:8080")));
    assert_eq!(
        fe.logs(),
        [
            "vm: Installation of webserver packages...",
            "vm: Configuration of webserver service...",
            "vm: Webserver listening on port 8080",
            "vm: Creating document_root '/var/www/website/'...",
            "vm: Activation of webserver service...",
            "vm: Appling template...",
            "vm: Activation of webserver service...",
            "vm: Start website",
        ]
    );
    let order: Vec<&str> = outcome.steps.iter().map(|s| s.xpath.as_str()).collect();
    assert_eq!(
        order,
        [
            "WebServer/Configured/create_document_root",
            "WebServer/Active/start",
            "WebSite/Active/start"
        ]
    );
}

#[test]
fn website_unattended_returns_the_webservers_url_and_its_record_replays() {
    let logs = MemorySink::new();
    let mesh1 = mesh(&["vm"], &logs);
    let mut fe = Autofill::default();
    let mut plan = resolve(&mesh1, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    let outcome = plan.execute(&mesh1, &mut fe, 4);
    assert_eq!(outcome.result, Some(url("http://localhost:80")));
    let record = plan.record.clone();
    // The port, the WebServer's path and the WebSite's path that takes its value.
    assert_eq!(record.variables.len(), 3, "{record:?}");
    assert_eq!(
        record.provide_ret,
        [(
            Key::new("node_0", "WebSite/Active/start/webserver/url"),
            "node_0_1/WebServer/Active/start/return/url".to_owned()
        )]
    );

    // Replay on fresh locations: no question at all.
    let text = serde_json::to_string_pretty(&record).unwrap();
    let record: Record = serde_json::from_str(&text).unwrap();
    let mesh2 = mesh(&["vm"], &logs);
    let mut silent = Script::new(vec![]);
    let options = Options {
        replay: Some(record),
        ..Options::default()
    };
    let mut plan2 = resolve(&mesh2, "//WebSite//start", &mut silent, &options).unwrap();
    assert!(silent.asked.is_empty(), "{:?}", silent.questions());
    assert_eq!(plan2.steps(), plan.steps());
    assert_eq!(
        plan2.execute(&mesh2, &mut silent, 4).result,
        Some(url("http://localhost:80"))
    );
}

#[test]
fn the_original_website_record_replays() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/armonic-deployment-website.json"
    ))
    .unwrap();
    let record: Record = serde_json::from_str(&text).unwrap();
    let logs = MemorySink::new();
    let mesh = mesh(&["localhost"], &logs);
    // The original had no call section: only the calls are asked.
    let mut fe = Script::new(vec![
        (
            "call //WebServer/Configured/create_document_root",
            Answer::Yes,
        ),
        ("call //WebServer//start", Answer::Yes),
        ("call //WebSite//start", Answer::Yes),
    ]);
    let options = Options {
        replay: Some(record),
        ..Options::default()
    };
    let mut plan = resolve(&mesh, "//WebSite//start", &mut fe, &options).unwrap();
    assert_eq!(
        plan.execute(&mesh, &mut fe, 2).result,
        Some(url("http://localhost:80"))
    );
}

fn proxy_answers() -> Script {
    Script::keyed(vec![
        ("location //Proxy//start", Answer::Location("proxy".into())),
        (
            "multiplicity Proxy/Configured/enter/websites",
            Answer::Locations(vec!["web1".into(), "web2".into()]),
        ),
    ])
}

#[test]
fn proxy_with_two_websites_on_two_locations() {
    let logs = MemorySink::new();
    let mesh = mesh(&["web1", "web2", "proxy"], &logs);
    let mut fe = proxy_answers();
    let mut plan = resolve(&mesh, "//Proxy//start", &mut fe, &Options::default()).unwrap();
    let locations: Vec<(String, String)> = plan
        .steps()
        .into_iter()
        .map(|s| (s.node, s.location))
        .collect();
    assert_eq!(
        locations,
        [
            ("node_0_0_0", "web1"),
            ("node_0_0_1", "web1"),
            ("node_0_0", "web1"),
            ("node_0_1_0", "web2"),
            ("node_0_1_1", "web2"),
            ("node_0_1", "web2"),
            ("node_0", "proxy")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let outcome = plan.execute(&mesh, &mut fe, 4);
    assert!(outcome.succeeded, "{outcome:?}");
    assert!(fe.logs().contains(
        &"proxy: [{'host': 'web1', 'url': 'http://web1:80'}, {'host': 'web2', 'url': 'http://web2:80'}]".to_owned()
    ));
    assert_eq!(outcome.result, Some(url("http://proxy:80")));
    let multiplicity = &plan.record.multiplicity;
    assert_eq!(
        multiplicity[0].0.to_string(),
        "node_0/Proxy/Configured/enter/websites"
    );
    assert_eq!(multiplicity[0].1, serde_json::json!(["web1", "web2"]));
    let hosts = &plan.record.variables_host;
    assert_eq!(
        hosts[0].0.to_string(),
        "node_0/Proxy/Configured/enter/websites/host"
    );

    // The record replays to the same deployment on fresh locations.
    let mesh2 = common::mesh(&["web1", "web2", "proxy"], &logs);
    let mut silent = Script::new(vec![]);
    let options = Options {
        replay: Some(plan.record.clone()),
        ..Options::default()
    };
    let mut plan2 = resolve(&mesh2, "//Proxy//start", &mut silent, &options).unwrap();
    assert_eq!(plan2.steps(), plan.steps());
    assert!(plan2.execute(&mesh2, &mut silent, 4).succeeded);
}

#[test]
fn the_original_proxy_record_replays() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/armonic-deployment-proxy.json"
    ))
    .unwrap();
    let record: Record = serde_json::from_str(&text).unwrap();
    let logs = MemorySink::new();
    let mesh = mesh(&["localhost", "127.0.0.1"], &logs);
    let mut fe = Script::keyed(vec![]);
    let options = Options {
        replay: Some(record),
        ..Options::default()
    };
    let mut plan = resolve(&mesh, "//Proxy//start", &mut fe, &options).unwrap();
    // The original's Proxy had no port: that value is asked (here, proposed) besides calls.
    let asked: Vec<String> = fe
        .questions()
        .into_iter()
        .filter(|q| !q.starts_with("call ") && q != "value Proxy/Configured/enter/conf/port")
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
    let outcome = plan.execute(&mesh, &mut fe, 4);
    assert!(outcome.succeeded);
    assert!(fe.logs().contains(
        &"localhost: [{'host': 'localhost', 'url': 'http://localhost:80'}, {'host': '127.0.0.1', 'url': 'http://127.0.0.1:80'}]".to_owned()
    ), "{:?}", fe.logs());
}

#[test]
fn a_declined_root_plans_nothing() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Script::new(vec![("manage //WebSite//start", Answer::No)]);
    let mut plan = resolve(&mesh, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    assert!(plan.is_empty());
    let outcome = plan.execute(&mesh, &mut fe, 2);
    assert_eq!(outcome.result, None);
    assert!(outcome.steps.is_empty());
}

#[test]
fn a_declined_call_makes_its_returned_value_a_question() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Script::keyed(vec![
        ("call //WebServer//start", Answer::No),
        (
            "value WebSite/Active/start/webserver/url",
            Answer::Value(Value::from("http://elsewhere:81")),
        ),
    ]);
    let mut plan = resolve(&mesh, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    assert!(fe.keyed.is_empty(), "both scripted questions were asked");
    let outcome = plan.execute(&mesh, &mut fe, 2);
    assert_eq!(outcome.result, Some(url("http://elsewhere:81")));
    assert_eq!(outcome.steps.len(), 2);
}

#[test]
fn a_refused_value_is_asked_again_with_its_error() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Script::new(vec![
        ("manage //WebServer//start", Answer::Yes),
        (
            "value WebServer/Configured/enter/conf/port",
            Answer::Value(Value::from("abc")),
        ),
        (
            "value WebServer/Configured/enter/conf/port",
            Answer::Value(Value::Int(81)),
        ),
        ("call //WebServer//start", Answer::Yes),
    ]);
    let mut plan = resolve(&mesh, "//WebServer//start", &mut fe, &Options::default()).unwrap();
    let Question::Value { variable, .. } = &fe.asked[2] else {
        panic!()
    };
    assert_eq!(variable.error.as_deref(), Some("port must be an int"));
    assert_eq!(
        plan.execute(&mesh, &mut fe, 1).result,
        Some(url("http://localhost:81"))
    );
}

#[test]
fn unknown_provides_are_clear_errors() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let e = resolve(
        &mesh,
        "//Nothing//start",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no provide matches //Nothing//start on location vm"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{LIFECYCLES}/website.toml"),
        dir.path().join("website.toml"),
    )
    .unwrap();
    let mesh = mesh_of(dir.path().to_str().unwrap(), &["vm"], &logs);
    let e = resolve(
        &mesh,
        "//WebSite//start",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    assert_eq!(
        e.to_string(),
        "no provide matches //WebServer/Configured/create_document_root on location vm (required by WebSite/Active/start)"
    );
}

#[test]
fn resolving_calls_nothing() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    logs.clear();
    resolve(
        &mesh,
        "//WebSite//start",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap();
    assert!(logs.records().is_empty(), "{:?}", logs.records());
    // The location's journal shows reads, and no call that changes states.
    let journal = mesh.host("vm").unwrap().journal();
    let found = futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(
        armonic_journal::Entries::new(journal, armonic_proto::journal::Query::default()),
    ));
    let mut reads = 0;
    for f in found {
        if let armonic_journal::Found::Entries(entries) = f {
            for e in entries {
                match e.what {
                    armonic_proto::journal::What::Read { .. } => reads += 1,
                    other => panic!("resolving made a call: {other:?}"),
                }
            }
        }
    }
    assert!(reads > 0, "the resolver's reads are journaled");
    assert_eq!(
        mesh.location("vm").unwrap().stack("WebServer").unwrap(),
        ["NotInstalled"]
    );
}

#[test]
fn unattended_runs_give_up_instead_of_guessing() {
    let need = "name = \"Need\"\ninitial = \"A\"\n[states.A.provides.go.requires.r.variables]\nsecret = { type = \"str\" }\n";
    let logs = MemorySink::new();
    let (_dir, mesh) = mesh_with_files(&[("need.toml", need)], &["vm"], &logs);
    let e = resolve(
        &mesh,
        "//Need//go",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "deployment aborted: nothing to answer unattended: value of secret (Need/A/go/r/secret)"
    );
}

const CHAIN: &str = r#"
name = "Base"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
do = [{ run = "echo base failed >&2; exit 3" }]
"#;

const TOP: &str = r#"
name = "Top"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
return = "top"
[states.On.provides.start.requires.base]
type = "local"
xpath = "//Base//start"
[states.On.provides.start.requires.other]
type = "local"
xpath = "//Other//start"
"#;

const OTHER: &str = r#"
name = "Other"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
return = { v = "other" }
"#;

#[test]
fn a_failed_step_stops_its_dependents_and_the_summary_says_so() {
    let logs = MemorySink::new();
    let files = [
        ("base.toml", CHAIN),
        ("top.toml", TOP),
        ("other.toml", OTHER),
    ];
    let (_dir, mesh) = mesh_with_files(&files, &["vm"], &logs);
    let mut fe = Autofill::default();
    let mut plan = resolve(&mesh, "//Top//start", &mut fe, &Options::default()).unwrap();
    let outcome = plan.execute(&mesh, &mut fe, 1);
    assert!(!outcome.succeeded);
    let statuses: Vec<(&str, &Status)> = outcome
        .steps
        .iter()
        .map(|s| (s.xpath.as_str(), &s.status))
        .collect();
    assert_eq!(statuses[0].0, "Base/On/start");
    assert!(
        matches!(statuses[0].1, Status::Failed { error } if error.contains("exited with status 3: base failed"))
    );
    assert_eq!(statuses[1], ("Other/On/start", &Status::NotStarted));
    assert_eq!(statuses[2], ("Top/On/start", &Status::NotStarted));
    assert_eq!(outcome.result, None);
}

#[test]
fn local_requires_with_nargs_star_create_one_child_per_instance() {
    let many = r#"
name = "Many"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
return = "{{ others | length }} {{ others[2].v }}"
[states.On.provides.start.requires.others]
type = "local"
xpath = "//Other//start"
nargs = "*"
provide_ret.v = { type = "str" }
"#;
    let logs = MemorySink::new();
    let (_dir, mesh) = mesh_with_files(
        &[("other.toml", OTHER), ("many.toml", many)],
        &["vm"],
        &logs,
    );
    let mut fe = Script::keyed(vec![(
        "multiplicity Many/On/start/others",
        Answer::Count(3),
    )]);
    let mut plan = resolve(&mesh, "//Many//start", &mut fe, &Options::default()).unwrap();
    let nodes: Vec<String> = plan.steps().into_iter().map(|s| s.node).collect();
    assert_eq!(nodes, ["node_0_0", "node_0_1", "node_0_2", "node_0"]);
    assert_eq!(
        plan.execute(&mesh, &mut fe, 2).result,
        Some(Value::from("3 other"))
    );
    assert_eq!(
        plan.record.multiplicity,
        [(
            Key::new("node_0", "Many/On/start/others"),
            serde_json::json!(3)
        )]
    );
}

const CLUSTER: &str = r#"
name = "Cluster"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
return = "{{ members | map(attribute='who') | join(' ') }}"
[states.On.provides.start.requires.members]
type = "external"
xpath = "//Member//join"
nargs = "*"
provide_ret.who = { type = "str" }
"#;

const MEMBER: &str = r#"
name = "Member"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.join]
return = { who = "{{ r.me }}:{{ r.peers | join(',') }}" }
[states.On.provides.join.requires.r.variables]
me = { type = "armonic_this_host" }
peers = { type = "armonic_hosts" }
"#;

#[test]
fn hosts_of_a_group_and_of_the_node_itself_are_filled_in() {
    let logs = MemorySink::new();
    let files = [("cluster.toml", CLUSTER), ("member.toml", MEMBER)];
    let (_dir, mesh) = mesh_with_files(&files, &["a", "b", "c"], &logs);
    let mut fe = Script::keyed(vec![
        ("location //Cluster//start", Answer::Location("a".into())),
        (
            "multiplicity Cluster/On/start/members",
            Answer::Locations(vec!["b".into(), "c".into(), "a".into()]),
        ),
    ]);
    let mut plan = resolve(&mesh, "//Cluster//start", &mut fe, &Options::default()).unwrap();
    let values: Vec<String> = fe
        .questions()
        .into_iter()
        .filter(|q| q.starts_with("value"))
        .collect();
    assert!(values.is_empty(), "hosts are never asked: {values:?}");
    let outcome = plan.execute(&mesh, &mut fe, 3);
    assert_eq!(outcome.result, Some(Value::from("b:b,c,a c:b,c,a a:b,c,a")));
}

#[test]
fn a_record_replays_on_a_tree_that_gained_a_node() {
    let logs = MemorySink::new();
    let mesh1 = mesh(&["vm"], &logs);
    let mut fe = Autofill::default();
    let plan = resolve(&mesh1, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    let record = plan.record.clone();

    // The WebSite now also needs a Cache before it starts: a new first dependency.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{LIFECYCLES}/webserver.toml"),
        dir.path().join("webserver.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cache.toml"),
        "name = \"Cache\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n[states.On.provides.start]\n",
    )
    .unwrap();
    let website = std::fs::read_to_string(format!("{LIFECYCLES}/website.toml")).unwrap().replace(
        "[states.Templated.enter.requires.document_root]",
        "[states.Templated.enter.requires.cache]\ntype = \"local\"\nxpath = \"//Cache//start\"\n\n[states.Templated.enter.requires.document_root]",
    );
    std::fs::write(dir.path().join("website.toml"), website).unwrap();
    let mesh2 = mesh_of(dir.path().to_str().unwrap(), &["vm"], &logs);
    let mut fe = Script::keyed(vec![]);
    let options = Options {
        replay: Some(record),
        ..Options::default()
    };
    let mut plan2 = resolve(&mesh2, "//WebSite//start", &mut fe, &options).unwrap();
    // Only the new node is asked about; the others replay under their new ids.
    assert_eq!(
        fe.questions(),
        ["manage //Cache//start", "call //Cache//start"]
    );
    let mapping: Vec<(&str, &str)> = plan2
        .record
        .mapping
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        mapping,
        [("node_0_0", "node_0_1"), ("node_0_1", "node_0_2")]
    );
    let outcome = plan2.execute(&mesh2, &mut fe, 2);
    assert_eq!(outcome.result, Some(url("http://localhost:80")));
}

#[test]
fn a_dependency_cycle_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for (name, dep) in [("A", "B"), ("B", "A")] {
        std::fs::write(
            dir.path().join(format!("{name}.toml")),
            format!(
                "name = \"{name}\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
                 [states.On.provides.start.requires.dep]\ntype = \"local\"\nxpath = \"//{dep}//start\"\n"
            ),
        )
        .unwrap();
    }
    let logs = MemorySink::new();
    let mesh = mesh_of(dir.path().to_str().unwrap(), &["vm"], &logs);
    let e = resolve(
        &mesh,
        "//A//start",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "dependency cycle: A/On/start on vm requires itself (A/On/start -> B/On/start -> A/On/start)"
    );
}

/// Lifecycle `N_i` of a binary tree of `n`: `start` requires, locally, the `start` of
/// `N_{2i+1}` and `N_{2i+2}` and returns what the left one returned; a leaf returns its name.
fn tree_file(i: usize, n: usize) -> String {
    let mut text = format!(
        "name = \"N_{i}\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
         [states.On.provides.start]\n"
    );
    if 2 * i + 2 < n {
        text.push_str("return = { v = \"{{ left.v }}\" }\n");
        for (name, child) in [("left", 2 * i + 1), ("right", 2 * i + 2)] {
            text.push_str(&format!(
                "[states.On.provides.start.requires.{name}]\ntype = \"local\"\n\
                 xpath = \"//N_{child}//start\"\nprovide_ret.v = {{ type = \"str\" }}\n"
            ));
        }
    } else {
        text.push_str(&format!("return = {{ v = \"leaf {i}\" }}\n"));
    }
    text
}

#[test]
fn a_tree_of_lifecycles_on_one_location_runs_in_plan_order_and_returns_its_leftmost_leaf() {
    let n = 15;
    let texts: Vec<(String, String)> = (0..n)
        .map(|i| (format!("n{i}.toml"), tree_file(i, n)))
        .collect();
    let files: Vec<(&str, &str)> = texts
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    for parallelism in [1, 4] {
        let logs = MemorySink::new();
        let (_dir, mesh) = mesh_with_files(&files, &["vm"], &logs);
        let mut fe = Autofill::default();
        let mut plan = resolve(&mesh, "//N_0//start", &mut fe, &Options::default()).unwrap();
        let order: Vec<String> = plan.steps().into_iter().map(|s| s.xpath).collect();
        assert_eq!(order.len(), n);
        assert_eq!(order.last().map(String::as_str), Some("N_0/On/start"));
        let outcome = plan.execute(&mesh, &mut fe, parallelism);
        assert!(outcome.succeeded);
        assert_eq!(
            outcome.result,
            Some(Value::Map([("v".to_owned(), Value::from("leaf 7"))].into()))
        );
        if parallelism == 1 {
            let started: Vec<String> = fe
                .events
                .iter()
                .filter_map(|e| match e {
                    armonic_smart::Event::StepStarted { xpath, .. } => Some(xpath.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(started, order);
        }
    }
}

#[test]
fn a_deployment_whose_states_are_reached_says_it_enters_nothing() {
    const REACHED: &str = "Every state these calls need is reached";
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Autofill::default();
    let mut plan = resolve(&mesh, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    assert!(!plan.render().contains(REACHED), "{}", plan.render());
    assert!(plan.execute(&mesh, &mut fe, 4).result.is_some());
    // Again: the states are reached, only the root's provide is called.
    let again = resolve(&mesh, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    let text = again.render();
    assert!(text.contains(REACHED), "{text}");
    assert!(!text.contains("enters:"), "{text}");
}
