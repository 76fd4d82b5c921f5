//! Answers of our API given back as the original agent returned them.

use armonic_proto::Response;
use serde_json::{Value as Json, json};

use super::call::Shape;
use super::{Fault, primitive};

/// The original's return value for an answer `response` to a call whose answer has `shape`.
pub fn shape(shape: &Shape, response: Response) -> Result<Json, Fault> {
    let list = |items: Vec<Json>| Ok(Json::Array(items));
    match (shape, response) {
        (Shape::Info, Response::Info(i)) => Ok(primitive::info(&i)),
        (Shape::Lifecycles { long: false }, Response::Lifecycle(l)) => {
            list(l.iter().map(|l| json!(l.xpath)).collect())
        }
        (Shape::Lifecycles { long: true }, Response::Lifecycle(l)) => {
            list(l.iter().map(primitive::lifecycle_long).collect())
        }
        (Shape::States { long: false }, Response::State(s)) => {
            list(s.iter().map(|s| json!(s.xpath)).collect())
        }
        (Shape::States { long: true }, Response::State(s)) => {
            list(s.iter().map(primitive::state).collect())
        }
        (Shape::Current, Response::StateCurrent(c)) => {
            list(c.iter().map(primitive::current).collect())
        }
        (Shape::Paths, Response::StateGotoPath(p) | Response::ProvideCallPath(p)) => {
            list(p.iter().map(primitive::paths).collect())
        }
        (Shape::GotoRequires { xpath }, Response::StateGotoRequires(p)) => Ok(json!({
            "xpath": xpath,
            "requires": p.iter().map(primitive::provide).collect::<Vec<_>>(),
        })),
        (Shape::Nothing, Response::StateGoto(_)) => Ok(Json::Null),
        (Shape::Provides, Response::Provide(p))
        | (Shape::CallRequires, Response::ProvideCallRequires(p)) => {
            list(p.iter().map(primitive::provide).collect())
        }
        (Shape::Validation { xpath }, Response::ProvideCallValidate(v)) => {
            Ok(primitive::validation(xpath, &v))
        }
        (Shape::Returned, Response::ProvideCall(v)) => Ok(v.map_or(Json::Null, |v| {
            serde_json::to_value(v).unwrap_or(Json::Null)
        })),
        (Shape::Dot, Response::ToDot(d)) => Ok(json!(d)),
        (Shape::Primitive, Response::ToPrimitive(l)) => Ok(primitive::lifecycle(&l)),
        (Shape::Uris, Response::Uri(u)) => Ok(json!(u)),
        (shape, other) => Err(Fault::new(
            "ProtocolError",
            format!(
                "the agent answered with {} where {shape:?} was expected",
                other.method()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armonic_lifecycle::Value;
    use armonic_lifecycle::info::{CurrentState, LifecycleInfo};
    use std::collections::BTreeMap;

    #[test]
    fn listings_give_absolute_xpaths_unless_asked_for_more() {
        let l = vec![LifecycleInfo {
            name: "WebServer".into(),
            xpath: "/vm/WebServer".into(),
            doc: Some("A web server".into()),
        }];
        assert_eq!(
            shape(
                &Shape::Lifecycles { long: false },
                Response::Lifecycle(l.clone())
            )
            .unwrap(),
            json!(["/vm/WebServer"])
        );
        assert_eq!(
            shape(&Shape::Lifecycles { long: true }, Response::Lifecycle(l)).unwrap(),
            json!([{"name": "WebServer", "xpath": "/vm/WebServer", "doc": "A web server"}])
        );
    }

    #[test]
    fn state_goto_returns_none_and_provide_call_what_the_provide_returned() {
        let moved = Response::StateGoto(vec![CurrentState {
            xpath: "/vm/WebServer/Active".into(),
            state: "Active".into(),
            lifecycle: "WebServer".into(),
        }]);
        assert_eq!(shape(&Shape::Nothing, moved).unwrap(), Json::Null);
        let url = Value::Map(BTreeMap::from([(
            "url".to_owned(),
            Value::from("http://vm:80"),
        )]));
        assert_eq!(
            shape(&Shape::Returned, Response::ProvideCall(Some(url))).unwrap(),
            json!({"url": "http://vm:80"})
        );
        assert_eq!(
            shape(&Shape::Returned, Response::ProvideCall(None)).unwrap(),
            Json::Null
        );
    }

    #[test]
    fn state_goto_requires_wraps_the_provides_with_the_xpath_given() {
        let got = shape(
            &Shape::GotoRequires {
                xpath: "//WebServer/Active".into(),
            },
            Response::StateGotoRequires(vec![]),
        )
        .unwrap();
        assert_eq!(got, json!({"xpath": "//WebServer/Active", "requires": []}));
    }

    #[test]
    fn current_states_and_uris_and_dot() {
        let c = Response::StateCurrent(vec![CurrentState {
            xpath: "/vm/WebServer/NotInstalled".into(),
            state: "NotInstalled".into(),
            lifecycle: "WebServer".into(),
        }]);
        assert_eq!(
            shape(&Shape::Current, c).unwrap(),
            json!([{"xpath": "/vm/WebServer/NotInstalled", "state": "NotInstalled"}])
        );
        assert_eq!(
            shape(
                &Shape::Uris,
                Response::Uri(vec!["WebServer/Active/start".into()])
            )
            .unwrap(),
            json!(["WebServer/Active/start"])
        );
        assert_eq!(
            shape(&Shape::Dot, Response::ToDot("digraph {}".into())).unwrap(),
            json!("digraph {}")
        );
    }

    #[test]
    fn an_unexpected_answer_is_a_fault_not_a_panic() {
        let e = shape(&Shape::Info, Response::ToDot("x".into())).unwrap_err();
        assert_eq!(e.code, "ProtocolError");
    }

    #[test]
    fn listings_that_match_nothing_were_empty_in_the_original() {
        assert_eq!(Shape::Provides.when_nothing_matches(), Some(json!([])));
        assert_eq!(Shape::Returned.when_nothing_matches(), None);
        assert_eq!(Shape::CallRequires.when_nothing_matches(), None);
        assert_eq!(
            Shape::Validation {
                xpath: "//x".into()
            }
            .when_nothing_matches(),
            None
        );
    }
}
