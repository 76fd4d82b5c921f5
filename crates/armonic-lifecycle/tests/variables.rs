//! The original `variable_tests.py`, ported to `VariableDef::check` (values are coerced to the
//! variable's type and validated in one step).

use armonic_lifecycle::Value;
use armonic_lifecycle::variable::{Pattern, VarType, VariableDef};

fn v(ty: VarType) -> VariableDef {
    VariableDef::new("v", ty)
}

#[test]
fn strings_render_scalars_as_text() {
    let s = v(VarType::Str).with_default("default1");
    assert_eq!(
        s.check(s.default.as_ref().unwrap()),
        Ok(Value::from("default1"))
    );
    assert_eq!(s.check(&Value::Int(1)), Ok(Value::from("1")));
    assert_eq!(s.check(&Value::Int(45)), Ok(Value::from("45")));
    assert_eq!(
        s.check(&Value::from("default3")),
        Ok(Value::from("default3"))
    );
}

#[test]
fn ints_accept_digits_and_reject_words() {
    let i = v(VarType::Int).with_default(10i64);
    assert_eq!(i.check(&Value::Int(20)), Ok(Value::Int(20)));
    assert_eq!(i.check(&Value::from("30")), Ok(Value::Int(30)));
    assert_eq!(i.check(&Value::from("foo")), Err("v must be an int".into()));
    assert_eq!(i.check(&Value::from("bar")), Err("v must be an int".into()));
}

#[test]
fn floats_accept_decimals() {
    let f = v(VarType::Float);
    assert_eq!(f.check(&Value::Float(10.2)), Ok(Value::Float(10.2)));
    assert_eq!(f.check(&Value::from("20.4500")), Ok(Value::Float(20.45)));
    assert_eq!(f.check(&Value::Int(30)), Ok(Value::Float(30.0)));
    assert_eq!(
        f.check(&Value::from("foo")),
        Err("v must be a float".into())
    );
}

#[test]
fn bools_map_the_original_spellings_and_reject_others() {
    let b = v(VarType::Bool);
    for t in ["True", "y", "Y"] {
        assert_eq!(b.check(&Value::from(t)), Ok(Value::Bool(true)));
    }
    for f in ["False", "n", "N"] {
        assert_eq!(b.check(&Value::from(f)), Ok(Value::Bool(false)));
    }
    assert!(b.check(&Value::from("foo")).is_err());
    assert!(b.check(&Value::Int(34)).is_err());
}

#[test]
fn lists_hold_values_of_their_inner_type() {
    let l = v(VarType::List(Box::new(VariableDef::new("i", VarType::Str))));
    assert_eq!(
        l.check(&Value::from(vec![1i64])),
        Ok(Value::from(vec!["1"]))
    );
    assert_eq!(
        l.check(&Value::from(vec!["foo", "bar"])),
        Ok(Value::from(vec!["foo", "bar"]))
    );
}

#[test]
fn list_elements_are_validated() {
    let mut inner = VariableDef::new("i", VarType::Int);
    inner.rules.max = Some(Value::Int(5));
    let l = v(VarType::List(Box::new(inner)));
    assert!(l.check(&Value::from(vec!["foo", "bar"])).is_err());
    assert_eq!(
        l.check(&Value::from(vec![1i64, 2, 3])),
        Ok(Value::from(vec![1i64, 2, 3]))
    );
    assert!(l.check(&Value::from(vec![1i64, 22, 35])).is_err());
}

#[test]
fn lists_of_lists() {
    let inner = VariableDef::new(
        "inner",
        VarType::List(Box::new(VariableDef::new("s", VarType::Str))),
    );
    let l = v(VarType::List(Box::new(inner)));
    let value = Value::List(vec![
        Value::from(vec!["v1", "v2"]),
        Value::from(vec!["test", "str"]),
    ]);
    assert_eq!(l.check(&value), Ok(value.clone()));
    let value = Value::List(vec![
        Value::from(vec!["str1"]),
        Value::from(vec!["str2", "str3"]),
        Value::from(vec!["str4"]),
    ]);
    assert_eq!(l.check(&value), Ok(value.clone()));
    assert_eq!(
        l.check(&Value::List(vec![Value::from("x")])),
        Err("0 must be a list (instead of str)".into())
    );
}

#[test]
fn required_strings_need_a_value() {
    assert_eq!(
        VariableDef::new("str", VarType::Str).check(&Value::Null),
        Err("str is required".into())
    );
}

#[test]
fn ports_are_bounded() {
    let p = VariableDef::new("port", VarType::Port);
    assert!(p.check(&Value::Int(300_000)).is_err());
    assert!(p.check(&Value::Int(-20)).is_err());
}

#[test]
fn hostname_pattern() {
    let h = VariableDef::new("host", VarType::Hostname);
    assert!(h.check(&Value::from("45")).is_err());
    assert!(h.check(&Value::from("test45")).is_ok());
}

#[test]
fn custom_validation_is_written_as_rules() {
    let mut only_foo = v(VarType::Str);
    only_foo.rules.choices = vec![Value::from("foo")];
    assert!(only_foo.check(&Value::from("bar")).is_err());
    assert!(only_foo.check(&Value::from("foo")).is_ok());
    let mut five = v(VarType::Int);
    five.rules.min = Some(Value::Int(5));
    five.rules.max = Some(Value::Int(5));
    assert!(five.check(&Value::Int(2)).is_err());
    assert!(five.check(&Value::Int(3)).is_err());
    assert!(five.check(&Value::Int(5)).is_ok());
    let mut pat = v(VarType::Str);
    pat.rules.pattern = Some(Pattern::new("foo$", None).unwrap());
    assert_eq!(
        pat.check(&Value::from("bar")),
        Err("v must match foo$ (current value is bar)".into())
    );
}
