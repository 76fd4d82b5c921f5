//! What the engine asks: ambiguous addresses, the context given with each question, proposals
//! linked with `from_xpath`, and answers of the wrong kind.

mod common;

use armonic_lifecycle::{MemorySink, Value};
use armonic_smart::{
    Abort, Answer, Autofill, Choice, Event, Frontend, Options, Question, Requirer, resolve,
};
use common::*;

#[test]
fn an_ambiguous_address_is_refused_unattended_with_every_match_listed() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let e = resolve(
        &mesh,
        "//start",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "deployment aborted: //start matches 3 provides on location vm: Proxy/Active/start, \
         WebServer/Active/start, WebSite/Active/start; give a more precise address, such as \
         //Proxy//start"
    );
}

#[test]
fn an_ambiguous_address_is_asked_when_someone_answers() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Script::keyed(vec![(
        "specialize //start",
        Answer::Choice("WebSite/Active/start".into()),
    )]);
    let plan = resolve(&mesh, "//start", &mut fe, &Options::default()).unwrap();
    assert_eq!(plan.root_xpath(), Some("WebSite/Active/start"));
    let Some(Question::Specialize {
        location, choices, ..
    }) = fe
        .asked
        .iter()
        .find(|q| matches!(q, Question::Specialize { .. }))
    else {
        panic!("no specialize question: {:?}", fe.questions())
    };
    assert_eq!(location, "vm");
    let offered: Vec<&str> = choices.iter().map(|c: &Choice| c.xpath.as_str()).collect();
    assert_eq!(
        offered,
        [
            "Proxy/Active/start",
            "WebServer/Active/start",
            "WebSite/Active/start"
        ]
    );
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
fn a_location_question_names_the_require_it_is_for_and_the_instance() {
    let logs = MemorySink::new();
    let files = [("front.toml", FRONT), ("back.toml", BACK)];
    let (_dir, mesh) = mesh_with_files(&files, &["a", "b"], &logs);
    let mut fe = Script::keyed(vec![
        ("location //Front//start", Answer::Location("a".into())),
        ("location //Back//serve", Answer::Location("b".into())),
        ("location //Back//serve", Answer::Location("b".into())),
        (
            "value Front/On/start/backs/weight",
            Answer::Value(Value::Int(1)),
        ),
        (
            "value Front/On/start/backs/weight",
            Answer::Value(Value::Int(2)),
        ),
        ("value Front/On/start/names/name", Answer::Value("x".into())),
        ("value Front/On/start/names/name", Answer::Value("y".into())),
    ]);
    resolve(&mesh, "//Front//start", &mut fe, &Options::default()).unwrap();
    let locations: Vec<(&str, Option<&Requirer>)> = fe
        .asked
        .iter()
        .filter_map(|q| match q {
            Question::Location {
                xpath, required_by, ..
            } => Some((xpath.as_str(), required_by.as_ref())),
            _ => None,
        })
        .collect();
    let back = |instance| Requirer {
        provide: "Front/On/start".into(),
        require: "backs".into(),
        instance,
        instances: 2,
    };
    assert_eq!(
        locations,
        [
            ("//Front//start", None),
            ("//Back//serve", Some(&back(0))),
            ("//Back//serve", Some(&back(1))),
        ]
    );
}

#[test]
fn value_questions_of_a_require_with_several_sets_say_which_set() {
    let logs = MemorySink::new();
    let files = [("front.toml", FRONT), ("back.toml", BACK)];
    let (_dir, mesh) = mesh_with_files(&files, &["a"], &logs);
    let mut fe = Script::keyed(vec![
        (
            "value Front/On/start/backs/weight",
            Answer::Value(Value::Int(1)),
        ),
        (
            "value Front/On/start/backs/weight",
            Answer::Value(Value::Int(2)),
        ),
        ("value Front/On/start/names/name", Answer::Value("x".into())),
        ("value Front/On/start/names/name", Answer::Value("y".into())),
    ]);
    resolve(&mesh, "//Front//start", &mut fe, &Options::default()).unwrap();
    let sets: Vec<(String, usize, usize)> = fe
        .asked
        .iter()
        .filter_map(|q| match q {
            Question::Value { variable, .. } => {
                Some((variable.name.clone(), variable.index, variable.sets))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        sets,
        [
            ("name".to_owned(), 0, 2),
            ("name".to_owned(), 1, 2),
            ("weight".to_owned(), 0, 2),
            ("weight".to_owned(), 1, 2),
        ]
    );
}

const APP: &str = r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
return = "{{ conf.name }}"
[states.On.provides.start.requires.conf.variables]
name = { type = "str", from_xpath = "Db/On/get/q/dbname" }
[states.On.provides.start.requires.db]
type = "local"
xpath = "//Db//get"
"#;

const DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.get.requires.q.variables]
dbname = { type = "str" }
"#;

#[test]
fn from_xpath_proposes_the_value_of_a_dependency_resolved_later() {
    let logs = MemorySink::new();
    let files = [("app.toml", APP), ("db.toml", DB)];
    let (_dir, mesh) = mesh_with_files(&files, &["vm"], &logs);
    let mut fe = Script::keyed(vec![(
        "value Db/On/get/q/dbname",
        Answer::Value("shop".into()),
    )]);
    let mut plan = resolve(&mesh, "//App//start", &mut fe, &Options::default()).unwrap();
    let proposed = fe.asked.iter().find_map(|q| match q {
        Question::Value { variable, .. } if variable.name == "name" => {
            Some(variable.suggestion.clone())
        }
        _ => None,
    });
    assert_eq!(proposed, Some(Some(Value::from("shop"))));
    assert_eq!(
        plan.execute(&mesh, &mut fe, 1).result,
        Some(Value::from("shop"))
    );
}

#[test]
fn from_xpath_links_that_loop_end_at_a_default() {
    let looped = r#"
name = "Loop"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.start]
return = "{{ conf.a }} {{ conf.b }}"
[states.On.provides.start.requires.conf.variables]
a = { type = "str", default = "x", from_xpath = "Loop/On/start/conf/b" }
b = { type = "str", default = "y", from_xpath = "Loop/On/start/conf/a" }
"#;
    let logs = MemorySink::new();
    let (_dir, mesh) = mesh_with_files(&[("loop.toml", looped)], &["vm"], &logs);
    // `a` is proposed the default of `b`, which is then proposed the value of `a`.
    let mut fe = Autofill::default();
    let mut plan = resolve(&mesh, "//Loop//start", &mut fe, &Options::default()).unwrap();
    assert_eq!(
        plan.execute(&mesh, &mut fe, 1).result,
        Some(Value::from("y y"))
    );
}

/// Answers the first question of each kind with an answer of another kind, then takes the
/// suggestions; keeps what the engine said about the wrong answers.
#[derive(Default)]
struct Contrary {
    seen: Vec<String>,
    said: Vec<String>,
}

impl Frontend for Contrary {
    fn ask(&mut self, q: &Question) -> Result<Answer, Abort> {
        if let Some(e) = q.error() {
            self.said.push(e.to_owned());
        }
        let kind = describe(q).split(' ').next().unwrap_or_default().to_owned();
        if !self.seen.contains(&kind) {
            self.seen.push(kind);
            return Ok(match q {
                Question::Manage { .. } => Answer::Location("web1".into()),
                Question::Location { .. } => Answer::Yes,
                Question::Multiplicity { .. } => Answer::Value(Value::Int(3)),
                Question::Value { .. } => Answer::Locations(vec!["a".into(), "b".into()]),
                Question::Call { .. } => Answer::Choice("X/Y/z".into()),
                Question::Specialize { .. } => Answer::Count(2),
            });
        }
        q.suggested().ok_or_else(|| Abort(describe(q)))
    }

    fn notify(&mut self, event: &Event) {
        if let Event::Notice(n) = event {
            self.said.push(n.clone());
        }
    }
}

#[test]
fn answers_of_the_wrong_kind_are_described_in_words() {
    let logs = MemorySink::new();
    let mesh = mesh(&["web1", "web2", "proxy"], &logs);
    let mut fe = Contrary::default();
    resolve(&mesh, "//Proxy//start", &mut fe, &Options::default()).unwrap();
    assert_eq!(
        fe.said,
        [
            "expected yes or no, not the location web1",
            "expected a location, not yes",
            "expected locations, not the value 3",
            "expected a value, not the locations a, b",
            "expected yes or no, not the provide X/Y/z",
        ]
    );

    // Only the choice between the matching provides gets a wrong answer.
    let mut fe = Contrary {
        seen: vec!["manage".into(), "location".into()],
        ..Contrary::default()
    };
    let e = resolve(&mesh, "//start", &mut fe, &Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "deployment aborted: expected a provide, not the number 2"
    );
}

const SHARED_DB: &str = r#"
name = "Db"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.provides.grant]
"#;

const SHARED_APP: &str = r#"
name = "App"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.db]
type = "external"
xpath = "//Db//grant"
[states.On.provides.start]
"#;

const SHARED_LB: &str = r#"
name = "Lb"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.apps]
type = "external"
xpath = "//App//start"
nargs = "2"
[states.On.provides.start]
"#;

/// Takes every suggestion, keeping each location question with what it proposed; puts the
/// root on `lb` and the first database on `db`.
#[derive(Default)]
struct Proposals(Vec<(String, Option<String>)>);

impl Frontend for Proposals {
    fn ask(&mut self, q: &Question) -> Result<Answer, Abort> {
        if let Question::Location {
            xpath, suggestion, ..
        } = q
        {
            self.0.push((xpath.clone(), suggestion.clone()));
            let dbs = self.0.iter().filter(|(x, _)| x == "//Db//grant").count();
            match xpath.as_str() {
                "//Lb//start" => return Ok(Answer::Location("lb".into())),
                "//Db//grant" if dbs == 1 => return Ok(Answer::Location("db".into())),
                _ => {}
            }
        }
        q.suggested().ok_or_else(|| Abort(describe(q)))
    }

    fn notify(&mut self, _: &Event) {}
}

#[test]
fn a_dependency_several_requirers_share_is_proposed_where_it_went_first() {
    let logs = MemorySink::new();
    let (_dir, mesh) = mesh_with_files(
        &[
            ("db.toml", SHARED_DB),
            ("app.toml", SHARED_APP),
            ("lb.toml", SHARED_LB),
        ],
        &["lb", "app1", "app2", "db"],
        &logs,
    );
    let mut fe = Proposals::default();
    let plan = resolve(&mesh, "//Lb//start", &mut fe, &Options::default()).unwrap();
    let placed: Vec<(String, String)> = plan
        .steps()
        .into_iter()
        .map(|s| (s.xpath, s.location))
        .collect();
    // The two applications spread; the second one's database is proposed where the first's
    // went.
    let db_questions: Vec<&Option<String>> =
        fe.0.iter()
            .filter(|(x, _)| x == "//Db//grant")
            .map(|(_, s)| s)
            .collect();
    assert_eq!(db_questions.len(), 2, "{:?}", fe.0);
    assert_eq!(db_questions[1].as_deref(), Some("db"), "{:?}", fe.0);
    let apps: Vec<&str> = placed
        .iter()
        .filter(|(x, _)| x.starts_with("App/"))
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(apps.len(), 2);
    assert_ne!(apps[0], apps[1], "{placed:?}");
    assert!(
        placed
            .iter()
            .filter(|(x, _)| x.starts_with("Db/"))
            .all(|(_, l)| l == "db"),
        "{placed:?}"
    );
}
