//! Our result types as the original's `to_primitive()` dictionaries: relative xpaths,
//! `label`/`help`/`tags` inside `extra`, `nargs` as a string, the original's type names.

use armonic_lifecycle::address::relative;
use armonic_lifecycle::info::{
    CurrentState, Info, LifecycleDetail, LifecycleInfo, Paths, ProvideInfo, RequireInfo,
    RequireType, StateInfo, Validation, VariableInfo,
};
use armonic_lifecycle::os::OsType;
use armonic_lifecycle::paths::Move;
use serde_json::{Map, Value as Json, json};

fn to_json<T: serde::Serialize>(value: &T) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// `info()`: `{"os-type", "os-release", "version", "public-ip"}`.
pub fn info(i: &Info) -> Json {
    json!({
        "os-type": i.os_type,
        "os-release": i.os_release,
        "version": i.version,
        "public-ip": i.public_ip,
    })
}

/// The original's name of a variable type: its finer types were plain `int` or `str`.
pub fn type_name(ours: &str) -> &str {
    match ours {
        "port" => "int",
        "hostname" | "url" | "password" => "str",
        other => other,
    }
}

/// Types whose original class was a `VString`, the only ones with a `modifier`.
fn is_string_type(ours: &str) -> bool {
    matches!(
        ours,
        "str" | "host" | "hostname" | "url" | "password" | "armonic_host" | "armonic_this_host"
    )
}

fn extra(map: &indexmap::IndexMap<String, armonic_lifecycle::Value>) -> Map<String, Json> {
    map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()
}

/// A variable: `{extra, name, xpath, required, type, default, value, error, modifier,
/// from_xpath}`.
pub fn variable(v: &VariableInfo) -> Json {
    json!({
        "extra": extra(&v.extra),
        "name": v.name,
        "xpath": relative(&v.xpath),
        "required": v.required,
        "type": type_name(&v.ty),
        "default": v.default.as_ref().map(to_json),
        "value": v.value.as_ref().map(to_json),
        "error": v.error,
        "modifier": is_string_type(&v.ty).then_some("%s"),
        "from_xpath": v.from_xpath,
    })
}

fn variables(vs: &[VariableInfo]) -> Json {
    Json::Array(vs.iter().map(variable).collect())
}

/// A require: `{extra, name, xpath, nargs, nargs_min, nargs_max, variables, variables_skel,
/// type}`, and for local and external ones `provide_xpath`, `provide_args`, `provide_ret`.
pub fn require(r: &RequireInfo) -> Json {
    let mut out = Map::new();
    out.insert("extra".into(), Json::Object(extra(&r.extra)));
    out.insert("name".into(), json!(r.name));
    out.insert("xpath".into(), json!(relative(&r.xpath)));
    out.insert("nargs".into(), json!(r.nargs.to_string()));
    out.insert("nargs_min".into(), json!(r.nargs_min));
    out.insert("nargs_max".into(), json!(r.nargs_max));
    out.insert(
        "variables".into(),
        Json::Array(r.variables.iter().map(|set| variables(set)).collect()),
    );
    out.insert("variables_skel".into(), variables(&r.variables_skel));
    out.insert("type".into(), json!(r.kind.as_str()));
    if r.kind != RequireType::Simple {
        out.insert("provide_xpath".into(), json!(r.provide_xpath));
        out.insert("provide_args".into(), variables(&r.provide_args));
        out.insert("provide_ret".into(), variables(&r.provide_ret));
    }
    Json::Object(out)
}

/// A provide: `{extra, name, xpath, requires, flags}`; `label`, `help` and `tags` live in
/// `extra`, as in the original.
pub fn provide(p: &ProvideInfo) -> Json {
    let mut ext = Map::new();
    if let Some(label) = &p.label {
        ext.insert("label".into(), json!(label));
    }
    if let Some(help) = &p.help {
        ext.insert("help".into(), json!(help));
    }
    if !p.tags.is_empty() {
        ext.insert("tags".into(), json!(p.tags));
    }
    ext.extend(extra(&p.extra));
    json!({
        "extra": ext,
        "name": p.name,
        "xpath": relative(&p.xpath),
        "requires": p.requires.iter().map(require).collect::<Vec<_>>(),
        "flags": extra(&p.flags),
    })
}

/// The supported OS of a state: `[{name, release}]`; every OS is the original's `all`/`all`.
fn supported_os(os: &[OsType]) -> Json {
    if os.is_empty() {
        return json!([{"name": "all", "release": "all"}]);
    }
    Json::Array(
        os.iter()
            .map(|o| json!({"name": o.name, "release": o.release}))
            .collect(),
    )
}

/// A state: `{name, xpath, supported_os_type, provides, provide_enter}`.
pub fn state(s: &StateInfo) -> Json {
    json!({
        "name": s.name,
        "xpath": relative(&s.xpath),
        "supported_os_type": supported_os(&s.supported_os),
        "provides": s.provides.iter().map(provide).collect::<Vec<_>>(),
        "provide_enter": provide(&s.enter),
    })
}

/// A lifecycle: `{name, xpath, states, transitions}` (the xpath relative: the name).
pub fn lifecycle(l: &LifecycleDetail) -> Json {
    json!({
        "name": l.name,
        "xpath": relative(&l.xpath),
        "states": l.states.iter().map(state).collect::<Vec<_>>(),
        "transitions": l.transitions.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
    })
}

/// `lifecycle(xpath, long_description=True)`: `{name, xpath, doc}` with absolute xpaths.
pub fn lifecycle_long(l: &LifecycleInfo) -> Json {
    json!({"name": l.name, "xpath": l.xpath, "doc": l.doc})
}

/// Paths: `{xpath, paths: [[[state, "enter"|"leave"], …], …]}`.
pub fn paths(p: &Paths) -> Json {
    let paths: Vec<Json> = p
        .paths
        .iter()
        .map(|path| {
            Json::Array(
                path.iter()
                    .map(|m| {
                        let action = match m.action {
                            Move::Enter => "enter",
                            Move::Leave => "leave",
                        };
                        json!([&*m.state, action])
                    })
                    .collect(),
            )
        })
        .collect();
    json!({"xpath": p.xpath, "paths": paths})
}

/// A current state: `{xpath, state}`.
pub fn current(c: &CurrentState) -> Json {
    json!({"xpath": c.xpath, "state": c.state})
}

/// `provide_call_validate`: `{xpath (as given), errors, requires}`.
pub fn validation(given: &str, v: &Validation) -> Json {
    json!({
        "xpath": given,
        "errors": v.errors,
        "requires": v.requires.iter().map(provide).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use armonic_lifecycle::info::PathMove;
    use armonic_lifecycle::{Nargs, Value};
    use indexmap::IndexMap;

    fn port(value: Option<i64>, error: Option<&str>) -> VariableInfo {
        VariableInfo {
            name: "port".into(),
            xpath: "/vm/WebServer/Configured/enter/conf/port".into(),
            ty: "port".into(),
            default: Some(Value::Int(80)),
            value: value.map(Value::Int),
            required: true,
            error: error.map(str::to_owned),
            from_xpath: None,
            extra: IndexMap::new(),
            choices: vec![],
            min: None,
            max: None,
            pattern: None,
            secret: false,
        }
    }

    fn conf(value: Option<i64>, error: Option<&str>) -> RequireInfo {
        RequireInfo {
            name: "conf".into(),
            xpath: "/vm/WebServer/Configured/enter/conf".into(),
            kind: RequireType::Simple,
            nargs: Nargs::Exactly(1),
            nargs_min: 1,
            nargs_max: 1,
            provide_xpath: None,
            provide_args: vec![],
            provide_ret: vec![],
            variables: vec![vec![port(value, error)]],
            variables_skel: vec![port(Some(80), None)],
            extra: IndexMap::new(),
        }
    }

    fn enter() -> ProvideInfo {
        ProvideInfo {
            name: "enter".into(),
            xpath: "/vm/WebServer/Configured/enter".into(),
            label: None,
            help: None,
            tags: vec![],
            extra: IndexMap::new(),
            flags: IndexMap::new(),
            requires: vec![conf(Some(80), None)],
            secret_returns: vec![],
            destructive: false,
        }
    }

    fn start() -> ProvideInfo {
        ProvideInfo {
            name: "start".into(),
            xpath: "/vm/WebServer/Active/start".into(),
            label: Some("Fake webserver activation".into()),
            help: None,
            tags: vec!["demo".into()],
            extra: IndexMap::new(),
            flags: IndexMap::new(),
            requires: vec![],
            secret_returns: vec![],
            destructive: false,
        }
    }

    #[test]
    fn info_uses_the_originals_dashed_keys() {
        let i = Info {
            name: "vm".into(),
            os_type: "debian".into(),
            os_release: Some("12".into()),
            version: "0.1.0".into(),
            public_ip: "10.0.0.1".into(),
        };
        assert_eq!(
            info(&i),
            json!({"os-type": "debian", "os-release": "12", "version": "0.1.0", "public-ip": "10.0.0.1"})
        );
    }

    #[test]
    fn provides_are_the_originals_primitives_as_observed() {
        // §2.10 of the reference: provide_call_requires("//WebServer//start") at the start.
        let expected = json!([
            {"extra": {}, "name": "enter", "xpath": "WebServer/Configured/enter", "flags": {},
             "requires": [{"extra": {}, "name": "conf", "xpath": "WebServer/Configured/enter/conf",
                           "type": "simple", "nargs": "1", "nargs_min": 1, "nargs_max": 1,
                           "variables": [[{"xpath": "WebServer/Configured/enter/conf/port",
                                           "from_xpath": null, "name": "port", "extra": {},
                                           "default": 80, "required": true, "value": 80,
                                           "error": null, "modifier": null, "type": "int"}]],
                           "variables_skel": [{"xpath": "WebServer/Configured/enter/conf/port",
                                               "from_xpath": null, "name": "port", "extra": {},
                                               "default": 80, "required": true, "value": 80,
                                               "error": null, "modifier": null, "type": "int"}]}]},
            {"xpath": "WebServer/Active/start", "requires": [], "flags": {}, "name": "start",
             "extra": {"tags": ["demo"], "label": "Fake webserver activation"}}
        ]);
        let got = Json::Array(vec![provide(&enter()), provide(&start())]);
        assert_eq!(got, expected);
    }

    #[test]
    fn local_requires_carry_their_provide_and_its_arguments() {
        let mut path = port(None, None);
        path.name = "path".into();
        path.ty = "str".into();
        path.default = None;
        path.xpath = "/vm/WebSite/Templated/enter/document_root/path".into();
        path.from_xpath =
            Some("WebServer/Configured/create_document_root/document_root/path".into());
        let r = RequireInfo {
            name: "document_root".into(),
            xpath: "/vm/WebSite/Templated/enter/document_root".into(),
            kind: RequireType::Local,
            nargs: Nargs::Any,
            nargs_min: 0,
            nargs_max: Nargs::UNLIMITED,
            provide_xpath: Some("//WebServer/Configured/create_document_root".into()),
            provide_args: vec![path.clone()],
            provide_ret: vec![],
            variables: vec![],
            variables_skel: vec![path],
            extra: IndexMap::new(),
        };
        let p = require(&r);
        assert_eq!(p["type"], "local");
        assert_eq!(p["nargs"], "*");
        assert_eq!(p["nargs_min"], 0);
        assert_eq!(p["nargs_max"], 1000);
        assert_eq!(
            p["provide_xpath"],
            "//WebServer/Configured/create_document_root"
        );
        assert_eq!(p["provide_args"][0]["modifier"], "%s");
        assert_eq!(
            p["provide_args"][0]["from_xpath"],
            "WebServer/Configured/create_document_root/document_root/path"
        );
        assert_eq!(p["provide_ret"], json!([]));
        assert_eq!(p["variables"], json!([]));
        assert_eq!(
            p["variables_skel"][0]["xpath"],
            "WebSite/Templated/enter/document_root/path"
        );
        // A simple require has no provide keys.
        assert!(require(&conf(None, None)).get("provide_xpath").is_none());
    }

    #[test]
    fn paths_are_pairs_of_state_and_move() {
        let p = Paths {
            xpath: "/vm/WebServer/Active".into(),
            paths: vec![vec![
                PathMove {
                    state: "Installed".into(),
                    action: Move::Enter,
                },
                PathMove {
                    state: "Configured".into(),
                    action: Move::Leave,
                },
            ]],
        };
        assert_eq!(
            paths(&p),
            json!({"xpath": "/vm/WebServer/Active", "paths": [[["Installed", "enter"], ["Configured", "leave"]]]})
        );
    }

    #[test]
    fn validation_keeps_the_xpath_as_given_with_values_and_errors() {
        let mut enter = enter();
        enter.requires = vec![conf(Some(99999), Some("port value must be at most 65535"))];
        let v = Validation {
            xpath: "/vm/WebServer/Active/start".into(),
            errors: true,
            requires: vec![enter, start()],
        };
        let got = validation("//WebServer//start", &v);
        assert_eq!(got["xpath"], "//WebServer//start");
        assert_eq!(got["errors"], true);
        let var = &got["requires"][0]["requires"][0]["variables"][0][0];
        assert_eq!(var["value"], 99999);
        assert_eq!(var["error"], "port value must be at most 65535");
    }

    #[test]
    fn states_carry_their_enter_provide_and_supported_systems() {
        let s = StateInfo {
            name: "Configured".into(),
            xpath: "/vm/WebServer/Configured".into(),
            doc: None,
            supported_os: vec![],
            enter: enter(),
            provides: vec![],
            destructive: false,
        };
        let p = state(&s);
        assert_eq!(p["xpath"], "WebServer/Configured");
        assert_eq!(
            p["supported_os_type"],
            json!([{"name": "all", "release": "all"}])
        );
        assert_eq!(p["provide_enter"]["name"], "enter");
        assert_eq!(p["provides"], json!([]));
        let debian = StateInfo {
            supported_os: vec![OsType::parse("debian")],
            ..s
        };
        assert_eq!(
            state(&debian)["supported_os_type"],
            json!([{"name": "debian", "release": null}])
        );
    }

    #[test]
    fn finer_types_are_given_the_originals_names() {
        assert_eq!(type_name("port"), "int");
        assert_eq!(type_name("hostname"), "str");
        assert_eq!(type_name("url"), "str");
        assert_eq!(type_name("password"), "str");
        assert_eq!(type_name("armonic_host"), "armonic_host");
        assert_eq!(type_name("list"), "list");
    }
}
