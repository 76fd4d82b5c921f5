//! Costs that must grow with the size of what is walked or looked up, not with its square.
//!
//! Each test times the same work at two sizes, four times apart, and checks the ratio: about
//! 4 when linear, 16 when quadratic. The best of a few runs is kept, so a busy machine does
//! not make it fail.

mod common;

use std::time::{Duration, Instant};

use armonic_lifecycle::{LifecycleDef, Location, Values};
use common::*;

/// The shortest of three runs of `work` on a fresh `setup()`.
fn best<T>(setup: impl Fn() -> T, work: impl Fn(&mut T)) -> Duration {
    (0..3)
        .map(|_| {
            let mut x = setup();
            let start = Instant::now();
            work(&mut x);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn assert_near_linear(small: Duration, large: Duration) {
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    assert!(
        ratio < 8.0,
        "4 times the size took {ratio:.1} times as long ({small:?}, then {large:?})"
    );
}

/// `s0 → s1 → … → s{n-1}`, each state logging its name when entered.
fn chain(n: usize) -> LifecycleDef {
    let mut text = String::from("name = \"Chain\"\ninitial = \"s0\"\ntransitions = [\n");
    for i in 1..n {
        text.push_str(&format!("  [\"s{}\", \"s{i}\"],\n", i - 1));
    }
    text.push_str("]\n");
    for i in 0..n {
        text.push_str(&format!(
            "[states.s{i}]\nenter.do = [{{ log = \"entering {{{{ state }}}}\" }}]\n"
        ));
    }
    parse(&text)
}

fn on(defs: Vec<LifecycleDef>) -> Location {
    Location::builder(config("debian:12", None))
        .sink(std::sync::Arc::new(armonic_lifecycle::MemorySink::new()))
        .build(defs)
        .unwrap()
}

#[test]
fn goto_along_a_long_chain_is_near_linear() {
    let time = |n: usize| {
        let def = chain(n);
        best(
            || on(vec![def.clone()]),
            |loc| {
                let last = format!("//Chain/s{}", n - 1);
                loc.state_goto(&last, &Values::new(), &opts()).unwrap();
            },
        )
    };
    assert_near_linear(time(1_000), time(4_000));
}

#[test]
fn calls_on_a_location_with_many_lifecycles_are_near_linear() {
    let lifecycle = |i: usize| {
        parse(&format!(
            "name = \"L{i}\"\ninitial = \"Off\"\ntransitions = [[\"Off\", \"On\"]]\n[states.Off]\n\
             [states.On.provides.start]\nreturn = {{ v = \"{i}\" }}\n"
        ))
    };
    let time = |n: usize| {
        let defs: Vec<LifecycleDef> = (0..n).map(lifecycle).collect();
        best(
            || on(defs.clone()),
            |loc| {
                for i in 0..n {
                    let ret = loc
                        .provide_call(&format!("//L{i}//start"), &Values::new(), &opts())
                        .unwrap();
                    assert!(ret.is_some());
                }
            },
        )
    };
    assert_near_linear(time(500), time(2_000));
}
