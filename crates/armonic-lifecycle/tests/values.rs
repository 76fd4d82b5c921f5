//! Submitted values: how their keys are read, where they may land, and the bounds that
//! validation puts on them.

mod common;

use armonic_lifecycle::variable::{VarType, VariableDef};
use armonic_lifecycle::{Error, Value, Values};
use common::*;

const CONF: &str = r#"
name = "S"
initial = "A"
[states.A.provides.p]
return = "{{ conf.port }}"
[states.A.provides.p.requires.conf.variables]
port = { type = "port", default = 80 }
name = { type = "str", default = "x" }
[states.A.provides.many]
return = "{{ sets | length }}"
[states.A.provides.many.requires.sets]
nargs = "2"
variables.v = { type = "str", default = "d" }
"#;

#[test]
fn port_bounds_are_inclusive_and_the_messages_say_so() {
    let port = VariableDef::new("port", VarType::Port);
    assert_eq!(port.check(&Value::Int(0)), Ok(Value::Int(0)));
    assert_eq!(port.check(&Value::Int(65535)), Ok(Value::Int(65535)));
    assert_eq!(
        port.check(&Value::Int(65536)),
        Err("port value must be at most 65535".into())
    );
    assert_eq!(
        port.check(&Value::Int(-1)),
        Err("port value must be at least 0".into())
    );
}

#[test]
fn a_float_is_not_an_int_even_when_it_is_whole() {
    let one_e3: Value = serde_json::from_str("1e3").unwrap();
    for ty in [VarType::Int, VarType::Port] {
        let v = VariableDef::new("n", ty);
        assert_eq!(v.check(&one_e3), Err("n must be an int".into()));
        assert_eq!(
            v.check(&Value::Float(8080.0)),
            Err("n must be an int".into())
        );
        assert_eq!(v.check(&Value::from("8080")), Ok(Value::Int(8080)));
    }
}

#[test]
fn set_index_keys_must_be_plain_numbers() {
    for bad in ["0 ", " 0", "x", "+1", "-1", ""] {
        let json = format!(r#"[["//conf/port", {{"{bad}": 81}}]]"#);
        let e = serde_json::from_str::<Values>(&json).unwrap_err();
        assert!(
            e.to_string().contains("is not a value set index"),
            "{bad:?}: {e}"
        );
    }
    let ok: Values = serde_json::from_str(r#"[["//conf/port", {"1": 81}]]"#).unwrap();
    assert_eq!(ok.0[0].values.get(&1), Some(&Value::Int(81)));
}

#[test]
fn an_address_with_surrounding_spaces_is_refused_not_trimmed() {
    let h = location(&[CONF]);
    for bad in ["//conf/port ", " //conf/port"] {
        let e = h
            .loc
            .provide_call("//S//p", &Values::new().set(bad, 81), &opts())
            .unwrap_err();
        assert!(matches!(e, Error::Address(_)), "{bad:?}: {e}");
        assert!(e.to_string().contains("spaces"), "{e}");
    }
}

#[test]
fn an_index_beyond_the_requires_nargs_is_an_error_naming_address_index_and_nargs() {
    let h = location(&[CONF]);
    let e = h
        .loc
        .provide_call(
            "//S//many",
            &Values::new().set_at("//sets/v", 2, "z"),
            &opts(),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "value //sets/v has set index 2, but require /vm/S/A/many/sets takes nargs 2 (indexes 0 to 1)"
    );
    let v = h
        .loc
        .provide_call_validate("//S//many", &Values::new().set_at("//sets/v", 2, "z"), 0);
    assert!(matches!(v, Err(Error::ValueIndex { index: 2, .. })));
    assert_eq!(
        h.loc
            .provide_call(
                "//S//many",
                &Values::new().set_at("//sets/v", 1, "z"),
                &opts()
            )
            .unwrap(),
        Some(Value::from("2"))
    );
}

#[test]
fn a_value_larger_than_64_kib_is_a_validation_error_listed_with_the_others() {
    let h = location(&[CONF]);
    let big = "a".repeat(300 * 1024);
    let v = Values::new()
        .set("//conf/name", big.as_str())
        .set("//conf/port", 70000);
    let r = h.loc.provide_call_validate("//S//p", &v, 0).unwrap();
    let errors: Vec<(String, String)> = r
        .error_list()
        .into_iter()
        .map(|e| (e.xpath, e.message))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "/vm/S/A/p/conf/port".to_owned(),
                "port value must be at most 65535".to_owned()
            ),
            (
                "/vm/S/A/p/conf/name".to_owned(),
                "name is too large: 307200 bytes, at most 65536".to_owned()
            ),
        ]
    );
}

#[test]
fn a_list_is_measured_as_a_whole() {
    let list = VariableDef::new(
        "l",
        VarType::List(Box::new(VariableDef::new("i", VarType::Str))),
    );
    let item = "b".repeat(1000);
    let many = Value::List((0..100).map(|_| Value::from(item.as_str())).collect());
    let e = list.check(&many).unwrap_err();
    assert!(e.starts_with("l is too large: "), "{e}");
    assert!(e.ends_with(" bytes, at most 65536"), "{e}");
    let few = Value::List((0..10).map(|_| Value::from(item.as_str())).collect());
    assert_eq!(list.check(&few), Ok(few.clone()));
}

#[test]
fn a_require_of_any_number_of_sets_takes_at_most_a_thousand() {
    const ANY: &str = r#"
name = "S"
initial = "A"
[states.A.provides.many]
return = "{{ sets | length }}"
[states.A.provides.many.requires.sets]
nargs = "*"
variables.v = { type = "str", default = "d" }
"#;
    let h = location(&[ANY]);
    let far = h.loc.provide_call_validate(
        "//S//many",
        &Values::new().set_at("//sets/v", 99_998, "z"),
        0,
    );
    assert!(
        matches!(far, Err(Error::ValueIndex { index: 99_998, .. })),
        "{far:?}"
    );
    assert_eq!(
        h.loc
            .provide_call(
                "//S//many",
                &Values::new().set_at("//sets/v", 999, "z"),
                &opts()
            )
            .unwrap(),
        Some(Value::from("1000"))
    );
}
