//! Deployment records: what they hold and which ones a replay accepts.

mod common;

use std::collections::BTreeMap;

use armonic_lifecycle::{MemorySink, Value};
use armonic_smart::{Answer, Autofill, Error, Options, Record, resolve};
use common::*;

fn website_record() -> Record {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let plan = resolve(
        &mesh,
        "//WebSite//start",
        &mut Autofill::default(),
        &Options::default(),
    )
    .unwrap();
    plan.record
}

fn replaying(record: Record, force: bool) -> Options {
    Options {
        replay: Some(record),
        force,
        ..Options::default()
    }
}

#[test]
fn a_record_of_another_root_is_refused_unless_forced() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let options = replaying(website_record(), false);
    let e = resolve(
        &mesh,
        "//WebServer//start",
        &mut Script::keyed(vec![]),
        &options,
    )
    .unwrap_err();
    assert!(matches!(e, Error::OtherRoot { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "the record answers //WebSite//start, not //WebServer//start: replay it with that \
         address or add --force"
    );

    let options = replaying(website_record(), true);
    let plan = resolve(
        &mesh,
        "//WebServer//start",
        &mut Script::keyed(vec![]),
        &options,
    );
    assert_eq!(plan.unwrap().root_xpath(), Some("WebServer/Active/start"));
}

#[test]
fn a_record_of_an_unknown_format_is_refused_unless_forced() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut record = website_record();
    record.armonic_deployment = Some(armonic_smart::FORMAT + 1);
    let options = replaying(record.clone(), false);
    let e = resolve(
        &mesh,
        "//WebSite//start",
        &mut Script::keyed(vec![]),
        &options,
    )
    .unwrap_err();
    assert!(matches!(e, Error::UnknownFormat { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "unknown record format version {} (this armonic reads version {}): add --force to \
             replay it anyway",
            armonic_smart::FORMAT + 1,
            armonic_smart::FORMAT
        )
    );

    let options = replaying(record, true);
    let mut silent = Script::new(vec![]);
    resolve(&mesh, "//WebSite//start", &mut silent, &options).unwrap();
    assert!(silent.asked.is_empty(), "{:?}", silent.questions());
}

#[test]
fn linked_arguments_are_recorded_with_the_value_they_take() {
    let logs = MemorySink::new();
    let mesh = mesh(&["vm"], &logs);
    let mut fe = Script::keyed(vec![(
        "value WebServer/Configured/create_document_root/document_root/path",
        Answer::Value("/srv/site/".into()),
    )]);
    let plan = resolve(&mesh, "//WebSite//start", &mut fe, &Options::default()).unwrap();
    let recorded: BTreeMap<String, &BTreeMap<String, Value>> = plan
        .record
        .variables
        .iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(
        recorded.get("node_0/WebSite/Templated/enter/document_root/path"),
        Some(&&BTreeMap::from([(
            "0".to_owned(),
            Value::from("/srv/site/")
        )]))
    );

    // The record replays without a question.
    let mut silent = Script::new(vec![]);
    let replay = resolve(
        &mesh,
        "//WebSite//start",
        &mut silent,
        &replaying(plan.record.clone(), false),
    )
    .unwrap();
    assert!(silent.asked.is_empty(), "{:?}", silent.questions());
    assert_eq!(replay.steps(), plan.steps());

    // When the document root is no longer created, the WebSite's own value comes from the
    // record; only the port, which the WebServer's start now needs, is asked.
    let mut record = plan.record.clone();
    for (key, manage) in &mut record.manage {
        if key.node == "node_0_0" {
            *manage = false;
        }
    }
    let mut fe = Script::new(vec![(
        "value WebServer/Configured/enter/conf/port",
        Answer::Value(Value::Int(80)),
    )]);
    let replay = resolve(
        &mesh,
        "//WebSite//start",
        &mut fe,
        &replaying(record, false),
    )
    .unwrap();
    assert!(fe.answers.is_empty());
    assert!(
        replay
            .render()
            .contains("WebSite/Templated/enter/document_root/path = \"/srv/site/\""),
        "{}",
        replay.render()
    );
}
