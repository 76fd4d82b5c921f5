//! A call of the original API (`method` and its arguments) as a request of ours.

use armonic_lifecycle::{Address, Kind, Values};
use armonic_proto::{DeploymentId, Request, method as m};
use serde_json::Value as Json;

use super::Fault;
use super::args::{Param, Params, index, json_type, opt, req, text, truthy};
use crate::limits;

/// How the answer to a request is given back in the original's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// `info`: `{"os-type", "os-release", "version", "public-ip"}`.
    Info,
    /// `lifecycle`: absolute xpaths, or `{name, xpath, doc}` with `long_description`.
    Lifecycles {
        /// `long_description` was given.
        long: bool,
    },
    /// `state`: absolute xpaths, or state primitives with `doc`.
    States {
        /// `doc` was given.
        long: bool,
    },
    /// `state_current`: `[{xpath, state}]`.
    Current,
    /// `state_goto_path`, `provide_call_path`: `[{xpath, paths: [[[state, "enter"]…]…]}]`.
    Paths,
    /// `state_goto_requires`: `{xpath (as given), requires: [provide primitives]}`.
    GotoRequires {
        /// The address as given.
        xpath: String,
    },
    /// `state_goto`: nothing (`null`).
    Nothing,
    /// `provide`: provide primitives.
    Provides,
    /// `provide_call_requires`: provide primitives (of one provide's call: no listing).
    CallRequires,
    /// `provide_call_validate`: `{xpath (as given), errors, requires}`.
    Validation {
        /// The address as given.
        xpath: String,
    },
    /// `provide_call`: what the provide returned.
    Returned,
    /// `to_dot`: the Graphviz text.
    Dot,
    /// `to_primitive`: the lifecycle primitive.
    Primitive,
    /// `uri`: addresses.
    Uris,
}

impl Shape {
    /// What the original answered when the address matched nothing: listings were empty.
    pub fn when_nothing_matches(&self) -> Option<Json> {
        match self {
            Shape::Lifecycles { .. }
            | Shape::States { .. }
            | Shape::Current
            | Shape::Paths
            | Shape::Provides
            | Shape::Uris => Some(Json::Array(Vec::new())),
            _ => None,
        }
    }
}

/// What a call of the original API asks of a location.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// One request; its answer is given back in `shape`.
    One {
        /// The request.
        request: Request,
        /// How to shape its answer.
        shape: Shape,
        /// The deployment it belongs to (state changes).
        deployment: Option<DeploymentId>,
    },
    /// The XML of what an address matches: `xpath` (every match, a list) or `to_xml` (exactly
    /// one, a string).
    Xml {
        /// The address.
        xpath: Address,
        /// `to_xml`: one element, as a string.
        single: bool,
    },
}

/// The methods the bridge answers: the original agent's exposed API, plus `to_primitive`,
/// which the original defined but forgot to expose.
pub const METHODS: &[&str] = &[
    "info",
    "lifecycle",
    "state",
    "state_current",
    "state_goto_path",
    "state_goto_requires",
    "state_goto",
    "provide",
    "provide_call_path",
    "provide_call_requires",
    "provide_call_validate",
    "provide_call",
    "to_dot",
    "to_primitive",
    "uri",
    "xpath",
    "to_xml",
];

impl Call {
    /// Whether it changes states on the location (and is limited to allowed callers): as
    /// its request says, by the rule its method declares in the agent API (never a list of
    /// names kept here).
    pub fn changes_state(&self) -> bool {
        match self {
            Call::One { request, .. } => request.changes_state(),
            Call::Xml { .. } => false,
        }
    }

    /// Reads a call of `method` with `params`; `deployment` is the call's `<deployment_id>`.
    pub fn parse(method: &str, params: Params, deployment: Option<&str>) -> Result<Call, Fault> {
        let one = |request: Request, shape| {
            Ok(Call::One {
                request,
                shape,
                deployment: None,
            })
        };
        match method {
            "info" => {
                params.bind(method, &[])?;
                one(m::Info {}.into(), Shape::Info)
            }
            "lifecycle" => {
                let b = params.bind(method, &[req(&["xpath"]), opt(&["long_description"])])?;
                let long = truthy(b[1].as_ref());
                one(
                    m::Lifecycle {
                        xpath: address(method, "xpath", &b[0])?,
                    }
                    .into(),
                    Shape::Lifecycles { long },
                )
            }
            "state" => {
                let b = params.bind(method, &[req(&["xpath", "state_xpath"]), opt(&["doc"])])?;
                let long = truthy(b[1].as_ref());
                one(
                    m::State {
                        xpath: address(method, "xpath", &b[0])?,
                    }
                    .into(),
                    Shape::States { long },
                )
            }
            "state_current" => {
                let b = params.bind(method, &[req(&["xpath", "lifecycle_xpath"])])?;
                one(
                    m::StateCurrent {
                        xpath: address(method, "xpath", &b[0])?,
                    }
                    .into(),
                    Shape::Current,
                )
            }
            "state_goto_path" => {
                let b = params.bind(method, &[req(&["state_xpath", "xpath"])])?;
                one(
                    m::StateGotoPath {
                        xpath: address(method, "state_xpath", &b[0])?,
                    }
                    .into(),
                    Shape::Paths,
                )
            }
            "state_goto_requires" => {
                let b = params.bind(
                    method,
                    &[req(&["state_xpath_uri", "xpath"]), opt(&["path_idx"])],
                )?;
                let uri = address(method, "state_xpath_uri", &b[0])?;
                one(
                    m::StateGotoRequires {
                        uri: uri.clone(),
                        path_idx: index(method, "path_idx", b[1].as_ref())?,
                    }
                    .into(),
                    Shape::GotoRequires {
                        xpath: uri.to_string(),
                    },
                )
            }
            "state_goto" | "provide_call" | "provide_call_validate" => {
                let first: &[&str] = if method == "state_goto" {
                    &["state_xpath_uri", "xpath"]
                } else {
                    &["provide_xpath_uri", "xpath"]
                };
                let sig: [Param; 3] = [req(first), opt(&["requires"]), opt(&["path_idx"])];
                let b = params.bind(method, &sig)?;
                let uri = address(method, first[0], &b[0])?;
                let submitted = requires(method, b[1].as_ref())?;
                let path_idx = index(method, "path_idx", b[2].as_ref())?;
                let deployment = deployment
                    .map(DeploymentId::from_text)
                    .or_else(|| submitted.uuid.map(DeploymentId::from_text))
                    .unwrap_or_default();
                let changes = |request: Request, shape| {
                    Ok(Call::One {
                        request,
                        shape,
                        deployment: Some(deployment.clone()),
                    })
                };
                match method {
                    "state_goto" => changes(
                        m::StateGoto {
                            uri,
                            values: submitted.values,
                            path_idx,
                        }
                        .into(),
                        Shape::Nothing,
                    ),
                    "provide_call" => changes(
                        m::ProvideCall {
                            uri,
                            values: submitted.values,
                            path_idx,
                        }
                        .into(),
                        Shape::Returned,
                    ),
                    _ => one(
                        m::ProvideCallValidate {
                            uri: uri.clone(),
                            values: submitted.values,
                            path_idx,
                        }
                        .into(),
                        Shape::Validation {
                            xpath: uri.to_string(),
                        },
                    ),
                }
            }
            "provide" | "provide_call_path" => {
                let b = params.bind(method, &[req(&["provide_xpath", "xpath"])])?;
                let xpath = address(method, "provide_xpath", &b[0])?;
                if method == "provide" {
                    one(m::Provide { xpath }.into(), Shape::Provides)
                } else {
                    one(m::ProvideCallPath { xpath }.into(), Shape::Paths)
                }
            }
            "provide_call_requires" => {
                let b = params.bind(
                    method,
                    &[req(&["provide_xpath_uri", "xpath"]), opt(&["path_idx"])],
                )?;
                one(
                    m::ProvideCallRequires {
                        uri: address(method, "provide_xpath_uri", &b[0])?,
                        path_idx: index(method, "path_idx", b[1].as_ref())?,
                    }
                    .into(),
                    Shape::CallRequires,
                )
            }
            "to_dot" => {
                let b = params.bind(method, &[req(&["lf_name", "module"]), opt(&["reachable"])])?;
                one(
                    m::ToDot {
                        lifecycle: lifecycle_name(method, &b[0])?,
                        reachable: truthy(b[1].as_ref()),
                    }
                    .into(),
                    Shape::Dot,
                )
            }
            "to_primitive" => {
                let b = params.bind(method, &[req(&["lf_name", "module"]), opt(&["reachable"])])?;
                one(
                    m::ToPrimitive {
                        lifecycle: lifecycle_name(method, &b[0])?,
                    }
                    .into(),
                    Shape::Primitive,
                )
            }
            "uri" => {
                let b = params.bind(
                    method,
                    &[opt(&["xpath"]), opt(&["relative"]), opt(&["resource"])],
                )?;
                // The original's default, "//", was never a valid address.
                let xpath = match &b[0] {
                    None => address(method, "xpath", &Some(Json::from("//")))?,
                    some => address(method, "xpath", some)?,
                };
                let kind = match &b[2] {
                    None | Some(Json::Null) => None,
                    Some(v) => {
                        let name = text(method, "resource", v)?;
                        Some(Kind::parse(name).ok_or_else(|| {
                            Fault::new(
                                "ValueError",
                                format!(
                                    "unknown resource '{name}' (location, lifecycle, state, \
                                     provide, require or variable)"
                                ),
                            )
                        })?)
                    }
                };
                one(
                    m::Uri {
                        xpath,
                        relative: truthy(b[1].as_ref()),
                        kind,
                    }
                    .into(),
                    Shape::Uris,
                )
            }
            "xpath" => {
                let b = params.bind(method, &[req(&["xpath"])])?;
                Ok(Call::Xml {
                    xpath: address(method, "xpath", &b[0])?,
                    single: false,
                })
            }
            "to_xml" => {
                let b = params.bind(method, &[opt(&["xpath"])])?;
                match &b[0] {
                    None | Some(Json::Null) => Err(Fault::type_error(
                        "to_xml() needs an xpath matching one element",
                    )),
                    some => Ok(Call::Xml {
                        xpath: address(method, "xpath", some)?,
                        single: true,
                    }),
                }
            }
            _ => Err(Fault::not_exposed(method)),
        }
    }
}

/// The fault of an address that cannot be read. The input is quoted once, shortened (the
/// parser's reason, which may quote a part of it again, is shortened too).
fn invalid_address(xpath: &str, reason: &str) -> Fault {
    Fault::new(
        "XpathInvalidExpression",
        format!(
            "xpath {} is not valid: {}",
            limits::quote(xpath),
            limits::cut(&elide_quotes(reason), limits::QUOTED_CHARS)
        ),
    )
}

/// `reason` with every quoted part longer than a few words left out (`'…'`): a part of the
/// input it quotes again.
fn elide_quotes(reason: &str) -> String {
    const LONGEST: usize = 40;
    let mut out = String::with_capacity(reason.len().min(1024));
    let mut rest = reason;
    while let Some(open) = rest.find('\'') {
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        match after.find('\'') {
            Some(close) if close > LONGEST => {
                out.push_str("…'");
                rest = &after[close + 1..];
            }
            Some(close) => {
                out.push_str(&after[..=close]);
                rest = &after[close + 1..];
            }
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An address argument, parsed.
fn address(method: &str, name: &str, value: &Option<Json>) -> Result<Address, Fault> {
    let value = value.as_ref().unwrap_or(&Json::Null);
    let text = text(method, name, value)?;
    Address::parse(text).map_err(|e| invalid_address(text, &e.reason))
}

/// A lifecycle name argument (`WebServer` or `/location/WebServer`).
fn lifecycle_name(method: &str, value: &Option<Json>) -> Result<String, Fault> {
    let value = value.as_ref().unwrap_or(&Json::Null);
    Ok(text(method, "lf_name", value)?.to_owned())
}

/// Values submitted with a call, and the deployment id they may carry.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Submitted {
    pub values: Values,
    pub uuid: Option<String>,
}

const REQUIRES_FORMS: &str = "requires takes [[xpath, {index: value}], ...], \
     [[[xpath, {index: value}], ...], {\"source\": ..., \"uuid\": ...}] or {xpath: value}";

/// The `requires` argument in any of the original's forms:
/// `[[xpath, {idx: value}] | [xpath, value], …]`, the same wrapped with the deployment
/// information `[entries, {"source", "uuid"}]`, or a map `{xpath: value}` (the original's
/// `state_goto` defaulted to `{}`).
pub(crate) fn requires(method: &str, value: Option<&Json>) -> Result<Submitted, Fault> {
    let invalid = |why: String| {
        Fault::new(
            "ValidationError",
            format!("{method}(): {REQUIRES_FORMS}: {why}"),
        )
    };
    let entries = |json: Json| -> Result<Values, Fault> {
        // serde's reason may quote a value given: shortened.
        serde_json::from_value(json).map_err(|e| invalid(limits::cut(&e.to_string(), 300)))
    };
    match value {
        None | Some(Json::Null) => Ok(Submitted::default()),
        Some(Json::Object(map)) => Ok(Submitted {
            values: map.iter().fold(Values::new(), |v, (k, x)| {
                v.set(k.clone(), armonic_lifecycle::Value::from_json(x.clone()))
            }),
            uuid: None,
        }),
        Some(Json::Array(items)) => {
            // Wrapped: the first element is itself the list of entries (or empty), not an
            // entry (whose first element is an address).
            let wrapped = matches!(
                items.first(),
                Some(Json::Array(first)) if first.first().is_none_or(Json::is_array)
            );
            if !wrapped {
                return Ok(Submitted {
                    values: entries(Json::Array(items.clone()))?,
                    uuid: None,
                });
            }
            if items.len() > 2 {
                return Err(invalid(format!("{} elements, at most 2", items.len())));
            }
            let values = entries(items[0].clone())?;
            let uuid = match items.get(1) {
                None | Some(Json::Null) => None,
                Some(Json::Object(info)) => info
                    .get("uuid")
                    .or_else(|| info.get("id"))
                    .and_then(Json::as_str)
                    .map(str::to_owned),
                Some(other) => {
                    return Err(invalid(format!(
                        "the deployment information must be a dict, not {}",
                        json_type(other)
                    )));
                }
            };
            Ok(Submitted { values, uuid })
        }
        Some(other) => Err(invalid(format!("not {}", json_type(other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(method: &str, params: Json) -> Result<Call, Fault> {
        Call::parse(
            method,
            Params::parse(&params.to_string()).unwrap(),
            Some("d-1"),
        )
    }

    fn request(method: &str, params: Json) -> Request {
        match call(method, params).unwrap() {
            Call::One { request, .. } => request,
            other => panic!("{other:?}"),
        }
    }

    fn values(json: Json) -> Values {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn provide_call_takes_the_originals_argument_names() {
        let c = call(
            "provide_call",
            json!({"args": [], "kwargs": {
                "requires": [["//conf/port", {"0": 8080}]],
                "provide_xpath_uri": "//WebServer//start",
                "path_idx": 0
            }}),
        )
        .unwrap();
        let Call::One {
            request,
            deployment,
            ..
        } = c
        else {
            panic!("{c:?}")
        };
        assert_eq!(
            request,
            Request::from(m::ProvideCall {
                uri: "//WebServer//start".parse().unwrap(),
                values: values(json!([["//conf/port", {"0": 8080}]])),
                path_idx: 0,
            })
        );
        assert_eq!(deployment, Some(DeploymentId::from_text("d-1")));
    }

    #[test]
    fn requires_are_read_in_every_form_of_the_original() {
        let expected = values(json!([["//conf/port", {"0": 8080}]]));
        for form in [
            json!([["//conf/port", {"0": 8080}]]),
            json!([["//conf/port", 8080]]),
            json!([[["//conf/port", {"0": 8080}]], {"source": null, "uuid": "u-1"}]),
            json!([[["//conf/port", {"0": 8080}]]]),
            json!({"//conf/port": 8080}),
        ] {
            let s = requires("provide_call", Some(&form)).unwrap();
            assert_eq!(s.values, expected, "{form}");
        }
        let wrapped = requires(
            "provide_call",
            Some(&json!([[["//a/b", {"1": "x"}]], {"source": "//X", "uuid": "u-1"}])),
        )
        .unwrap();
        assert_eq!(wrapped.uuid.as_deref(), Some("u-1"));
        assert_eq!(
            requires("m", Some(&json!({}))).unwrap(),
            Submitted::default()
        );
        assert_eq!(
            requires("m", Some(&json!([]))).unwrap(),
            Submitted::default()
        );
        assert_eq!(
            requires("m", Some(&json!([[], {}]))).unwrap(),
            Submitted::default()
        );
    }

    #[test]
    fn malformed_requires_are_validation_errors() {
        for bad in [
            json!("text"),
            json!([["//a", {"x": 1}]]),
            json!([[["//a", 1]], {}, {}]),
            json!([[["//a", 1]], "info"]),
            json!([[1, 2]]),
        ] {
            let e = requires("provide_call", Some(&bad)).unwrap_err();
            assert_eq!(e.code, "ValidationError", "{bad}: {e}");
        }
    }

    #[test]
    fn the_deployment_comes_from_the_stanza_then_from_the_requires() {
        let params = |p: Json| Params::parse(&p.to_string()).unwrap();
        let with_uuid = json!({"args": ["//WebServer/Active", [[], {"uuid": "u-2"}]]});
        let deployment = |c: Call| match c {
            Call::One {
                request: Request::StateGoto(_),
                deployment: Some(deployment),
                ..
            } => deployment,
            other => panic!("{other:?}"),
        };
        let from_stanza =
            Call::parse("state_goto", params(with_uuid.clone()), Some("d-9")).unwrap();
        assert_eq!(deployment(from_stanza).as_str(), "d-9");
        let from_requires = Call::parse("state_goto", params(with_uuid), None).unwrap();
        assert_eq!(deployment(from_requires).as_str(), "u-2");
        let fresh = Call::parse("state_goto", params(json!({"args": ["//A"]})), None).unwrap();
        assert!(!deployment(fresh).as_str().is_empty());
    }

    #[test]
    fn every_method_reads_its_arguments() {
        let x = |s: &str| -> Address { s.parse().unwrap() };
        let cases: Vec<(&str, Json, Request)> = vec![
            ("info", json!({}), m::Info {}.into()),
            (
                "lifecycle",
                json!({"args": ["//*[@ressource='lifecycle']"]}),
                m::Lifecycle {
                    xpath: x("//*[@ressource='lifecycle']"),
                }
                .into(),
            ),
            (
                "state",
                json!({"kwargs": {"xpath": "//WebServer/*", "doc": true}}),
                m::State {
                    xpath: x("//WebServer/*"),
                }
                .into(),
            ),
            (
                "state_current",
                json!({"args": ["//WebServer"]}),
                m::StateCurrent {
                    xpath: x("//WebServer"),
                }
                .into(),
            ),
            (
                "state_goto_path",
                json!({"kwargs": {"state_xpath": "//Active"}}),
                m::StateGotoPath {
                    xpath: x("//Active"),
                }
                .into(),
            ),
            (
                "state_goto_requires",
                json!({"args": ["//WebServer/Active", 1]}),
                m::StateGotoRequires {
                    uri: x("//WebServer/Active"),
                    path_idx: 1,
                }
                .into(),
            ),
            (
                "provide",
                json!({"kwargs": {"provide_xpath": "//start"}}),
                m::Provide {
                    xpath: x("//start"),
                }
                .into(),
            ),
            (
                "provide_call_path",
                json!({"args": ["//start"]}),
                m::ProvideCallPath {
                    xpath: x("//start"),
                }
                .into(),
            ),
            (
                "provide_call_requires",
                json!({"kwargs": {"provide_xpath_uri": "//WebSite//start", "path_idx": 0}}),
                m::ProvideCallRequires {
                    uri: x("//WebSite//start"),
                    path_idx: 0,
                }
                .into(),
            ),
            (
                "provide_call_validate",
                json!({"args": ["//WebSite//start", [[["//path", "/a"]]]]}),
                m::ProvideCallValidate {
                    uri: x("//WebSite//start"),
                    values: values(json!([["//path", {"0": "/a"}]])),
                    path_idx: 0,
                }
                .into(),
            ),
            (
                "to_dot",
                json!({"args": ["WebServer"], "kwargs": {"reachable": 1}}),
                m::ToDot {
                    lifecycle: "WebServer".into(),
                    reachable: true,
                }
                .into(),
            ),
            (
                "to_primitive",
                json!({"args": ["WebServer"]}),
                m::ToPrimitive {
                    lifecycle: "WebServer".into(),
                }
                .into(),
            ),
            (
                "uri",
                json!({"kwargs": {"xpath": "//start", "relative": true, "resource": "provide"}}),
                m::Uri {
                    xpath: x("//start"),
                    relative: true,
                    kind: Some(Kind::Provide),
                }
                .into(),
            ),
        ];
        for (method, params, expected) in cases {
            assert_eq!(
                request(method, params.clone()),
                expected,
                "{method} {params}"
            );
        }
        assert_eq!(
            call("xpath", json!({"args": ["//start"]})).unwrap(),
            Call::Xml {
                xpath: x("//start"),
                single: false
            }
        );
        assert_eq!(
            call("to_xml", json!({"args": ["/*"]})).unwrap(),
            Call::Xml {
                xpath: x("/*"),
                single: true
            }
        );
    }

    #[test]
    fn shapes_follow_the_options_of_listings() {
        let shape = |m: &str, p: Json| match call(m, p).unwrap() {
            Call::One { shape, .. } => shape,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            shape(
                "lifecycle",
                json!({"args": ["//*"], "kwargs": {"long_description": true}})
            ),
            Shape::Lifecycles { long: true }
        );
        assert_eq!(
            shape("state", json!({"args": ["//*"]})),
            Shape::States { long: false }
        );
        assert_eq!(
            shape("state_goto_requires", json!({"args": ["//Active"]})),
            Shape::GotoRequires {
                xpath: "//Active".into()
            }
        );
    }

    #[test]
    fn bad_arguments_are_faults_with_the_originals_classes() {
        let code = |m: &str, p: Json| call(m, p).unwrap_err().code;
        assert_eq!(code("frobnicate", json!({})), "MethodNotExposed");
        assert_eq!(code("_dispatch", json!({})), "MethodNotExposed");
        assert_eq!(code("provide", json!({"args": [42]})), "TypeError");
        assert_eq!(
            code("provide", json!({"args": ["//a[x"]})),
            "XpathInvalidExpression"
        );
        assert_eq!(code("uri", json!({})), "XpathInvalidExpression");
        assert_eq!(
            code("uri", json!({"args": ["//a", false, "thing"]})),
            "ValueError"
        );
        assert_eq!(code("to_xml", json!({})), "TypeError");
        assert_eq!(code("info", json!({"args": [1]})), "TypeError");
        assert_eq!(
            code("provide_call", json!({"args": ["//a", [], -1]})),
            "TypeError"
        );
    }

    /// The original's positional arguments naming what `request` is about.
    fn args_of(request: &Request) -> Json {
        use armonic_proto::Route;
        let args = match request.route() {
            Route::Listing(a) | Route::Resource(a) => vec![Json::from(a.to_string())],
            Route::Lifecycle(name) => vec![Json::from(name)],
            Route::Here | Route::Everywhere => Vec::new(),
        };
        json!({"args": args, "kwargs": {}})
    }

    #[test]
    fn a_call_changes_states_exactly_when_its_method_says_so_in_the_api() {
        let mut changing = Vec::new();
        for request in Request::examples() {
            let name = request.method();
            match call(name, args_of(&request)) {
                Ok(c) => {
                    assert!(METHODS.contains(&name), "{name}");
                    assert_eq!(c.changes_state(), request.changes_state(), "{name}");
                    if c.changes_state() {
                        changing.push(name);
                    }
                }
                Err(fault) => {
                    assert_eq!(fault.code, "MethodNotExposed", "{name}: {fault}");
                    assert!(!METHODS.contains(&name), "{name}");
                }
            }
        }
        assert_eq!(changing, ["state_goto", "provide_call"]);
        let xml = call("to_xml", json!({"args": ["//WebServer"]})).unwrap();
        assert!(!xml.changes_state());
    }
}
