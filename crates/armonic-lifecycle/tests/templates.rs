//! Templates: what they may name (checked when files load), the filters they may use, and the
//! budget that bounds what one rendering may do.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use armonic_lifecycle::{Value, Values, format};
use common::*;

/// A lifecycle whose provide `p` returns `template`, with a require `conf` of two variables.
fn returning(template: &str) -> String {
    format!(
        r#"
name = "T"
initial = "A"
[states.A.provides.p]
return = {template:?}
[states.A.provides.p.requires.conf.variables]
port = {{ type = "port", default = 80 }}
names = {{ type = "list", default = ["a", "b"] }}
"#
    )
}

#[test]
fn tojson_renders_values_as_json() {
    let h = location(&[&returning("{{ conf | tojson }}")]);
    let r = h
        .loc
        .provide_call("//T//p", &Values::new(), &opts())
        .unwrap();
    let Some(Value::Str(json)) = r else {
        panic!("{r:?}")
    };
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, serde_json::json!({"port": 80, "names": ["a", "b"]}));
}

#[test]
fn a_runaway_template_fails_fast_and_names_the_template() {
    let nest = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
    let h = location(&[&format!(
        r#"
name = "R"
initial = "A"
[states.A.provides.p]
do = [{{ log = {nest:?} }}]
"#
    )]);
    let start = Instant::now();
    let e = h
        .loc
        .provide_call("//R//p", &Values::new(), &opts())
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let text = e.to_string();
    assert!(text.contains("log message"), "{text}");
    assert!(text.contains("budget"), "{text}");
}

/// A configuration file as lifecycles write them: loops over value sets, conditions, filters.
const NGINX: &str = r#"# Managed by armonic: {{ lifecycle }}/{{ state }} on {{ location.name }}
{% for site in sites %}
upstream {{ site.name }} {
{%- for backend in site.backends %}
    server {{ backend }}:{{ site.port }} max_fails=3 fail_timeout=30s;
{%- endfor %}
}

server {
    listen {{ conf.port }};
    server_name {{ site.name }}.example.com{% if site.aliases %} {{ site.aliases | join(" ") }}{% endif %};
    root {{ conf.root }}/{{ site.name | lower }};
    access_log /var/log/nginx/{{ site.name }}.log;
    location / {
        proxy_pass http://{{ site.name }};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    {%- for path in site.paths %}
    location {{ path }} { try_files $uri $uri/ =404; }
    {%- endfor %}
}
{% endfor %}
"#;

#[test]
fn a_realistic_file_template_renders_well_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let lifecycle = format!(
        r#"
name = "Proxy"
initial = "Off"
transitions = [["Off", "On"]]
[states.Off]
[states.On.enter.requires.conf.variables]
port = {{ type = "port", default = 80 }}
root = {{ type = "str", default = "/srv/www" }}
[states.On.enter.requires.sites]
nargs = "*"
variables.name = {{ type = "str" }}
variables.port = {{ type = "port", default = 8080 }}
variables.backends = {{ type = "list" }}
variables.aliases = {{ type = "list", required = false }}
variables.paths = {{ type = "list", required = false }}
[[states.On.files]]
path = "{dir}/nginx.conf"
template = {NGINX:?}
"#,
        dir = dir.path().display()
    );
    let mut values = Values::new();
    // 50 sites of 10 backends each: a large proxy, as big as such files get.
    for i in 0..50 {
        let backends: Vec<String> = (0..10).map(|b| format!("10.0.{i}.{b}")).collect();
        values = values
            .set_at("//sites/name", i, format!("site{i}"))
            .set_at("//sites/backends", i, backends)
            .set_at("//sites/aliases", i, vec![format!("www.site{i}.org")])
            .set_at("//sites/paths", i, vec!["/static", "/media", "/api"]);
    }
    let h = location(&[&lifecycle]);
    let start = Instant::now();
    h.loc.state_goto("//Proxy/On", &values, &opts()).unwrap();
    let elapsed = start.elapsed();
    let written = std::fs::read_to_string(dir.path().join("nginx.conf")).unwrap();
    assert_eq!(written.matches("max_fails=3").count(), 500);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

// ---- what templates may name, checked when files load ---------------------------------------

const STATES: &str = r#"
name = "L"
initial = "A"
transitions = [["A", "X"], ["X", "Y"]]
[states.A]
[states.X.enter.requires.conf.variables]
port = { type = "port", default = 80 }
[states.X.enter.requires.pool]
nargs = "*"
variables.host = { type = "host" }
[states.Y.provides.p]
"#;

/// Loads `STATES` with the provide `p` given `extra` (TOML lines under `[states.Y.provides.p]`).
fn load_with(extra: &str) -> Result<armonic_lifecycle::LifecycleDef, armonic_lifecycle::LoadError> {
    format::parse(&format!("{STATES}{extra}\n"), Path::new("l.toml"))
}

fn refused(extra: &str) -> String {
    match load_with(extra) {
        Ok(_) => panic!("{extra} loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unknown_top_level_name_is_refused_where_the_step_is_written() {
    let e = refused(r#"do = [{ log = "{{ cnf.port }}" }]"#);
    assert!(e.starts_with("l.toml:12:7: "), "{e}");
    assert!(e.contains("unknown name 'cnf'"), "{e}");
}

#[test]
fn a_variable_the_require_does_not_have_is_refused() {
    let e = refused(
        "do = [{ log = \"{{ own.prot }}\" }]\nrequires.own.variables.port = { type = \"port\" }",
    );
    assert!(e.contains("'own.prot'"), "{e}");
    assert!(e.contains("port"), "{e}");
}

#[test]
fn states_are_checked_against_the_lifecycle_and_their_enter_requires() {
    for (name, bad) in [
        ("states.Z.conf.port", "'states.Z'"),
        ("states.A.conf", "'states.A.conf'"),
        ("states.X.other.port", "'states.X.other'"),
        ("states.X.conf.prot", "'states.X.conf.prot'"),
    ] {
        let e = refused(&format!("return = \"{{{{ {name} }}}}\""));
        assert!(e.contains(bad), "{name}: {e}");
    }
    load_with(r#"return = "{{ states.X.conf.port }} {{ states.X.pool | length }} {{ states.X.pool[0].host }}""#)
        .unwrap();
}

#[test]
fn an_unknown_filter_test_or_function_is_refused_even_in_a_branch_never_taken() {
    for (template, kind) in [
        (
            "{% if false %}{{ lifecycle | shout }}{% endif %}",
            "unknown filter 'shout'",
        ),
        (
            "{% if false %}{{ lifecycle is loud }}{% endif %}",
            "unknown test 'loud'",
        ),
        (
            "{% for s in states.X.pool %}{{ shout(s.host) }}{% endfor %}",
            "unknown name 'shout'",
        ),
    ] {
        let e = refused(&format!("do = [{{ log = {template:?} }}]"));
        assert!(e.contains(kind), "{template}: {e}");
    }
}

#[test]
fn every_kind_of_template_is_checked() {
    for extra in [
        r#"do = [{ run = "true", env = { P = "{{ nope }}" } }]"#,
        r#"return = { url = ["{{ nope }}"] }"#,
    ] {
        assert!(refused(extra).contains("'nope'"), "{extra}");
    }
    for table in [
        "[states.Y.leave]\ndo = [{ log = \"{{ conf.port }}\" }]",
        "[states.Y.cross]\ndo = [{ log = \"{{ conf.port }}\" }]",
        "[[states.Y.files]]\npath = \"/tmp/{{ nope }}\"\ntemplate = \"\"",
        "[[states.Y.files]]\npath = \"/tmp/x\"\ntemplate = \"{{ nope }}\"",
    ] {
        let e = refused(table);
        assert!(e.contains("unknown name"), "{table}: {e}");
    }
}

#[test]
fn names_the_context_has_are_accepted_and_render() {
    let template = "{% set n = namespace(c=0) %}{% set g = \"hi\" %}\
        {{ lifecycle }}/{{ state }}/{{ provide }} {{ location.name }} {{ location.public_ip }} \
        {{ location.os_type }} {{ location.os_release }} {{ deployment }} {{ flags.reload }} \
        {% for i in range(2) %}{{ loop.index }}{% set n.c = n.c + i %}{% endfor %}{{ n.c }} \
        {{ g }} {{ own.port }} {{ own | tojson }} {{ states.X.conf.port }} \
        {% for s in states.X.pool %}{{ s.host }}{% endfor %}{{ states | length }}";
    let file = format!(
        "{STATES}flags = {{ reload = true }}\nreturn = {template:?}\nrequires.own.variables.port = {{ type = \"port\", default = 1 }}\n"
    );
    let h = location(&[&file]);
    let v = Values::new().set_at("//X//pool/host", 0, "h0");
    let r = h.loc.provide_call("//L//p", &v, &opts()).unwrap();
    assert_eq!(
        r,
        Some(Value::from(
            "L/Y/p vm localhost debian 12 None True 121 hi 1 {\"port\": 1} 80 h03"
        ))
    );
}
