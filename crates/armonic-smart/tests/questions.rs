//! What the engine asks: ambiguous addresses.

mod common;

use armonic_lifecycle::MemorySink;
use armonic_smart::{Answer, Autofill, Choice, Options, Question, resolve};
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
