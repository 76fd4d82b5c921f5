//! Whatever a lifecycle file holds, loading it returns a lifecycle or an error, never a panic;
//! and a lifecycle that loads can be used: a location starts on it, lists and describes it,
//! finds its paths and checks values for its provides.
//!
//! Three sources of files: any text, the shipped lifecycles mutated, and lifecycles generated
//! as TOML tables (well-formed, so that what follows parsing is reached) with random numbers,
//! names and references. Case counts are set so that the whole file runs in a few seconds.

use std::path::Path;
use std::sync::Arc;

use armonic_lifecycle::{
    CommandOutcome, CommandRunner, CommandSpec, Config, LifecycleDef, Location, MemorySink, OsType,
    Supervision, Values, format,
};
use proptest::prelude::*;

/// The shipped lifecycles, the starting points of mutations.
const SHIPPED: [&str; 3] = [
    include_str!("../../../lifecycles/webserver.toml"),
    include_str!("../../../lifecycles/website.toml"),
    include_str!("../../../lifecycles/proxy.toml"),
];

/// A starting point using every numeric key, for mutations to replace its numbers.
const NUMBERS: &str = r#"
name = "Numbers"
initial = "Off"
transitions = [["Off", "Installed"], ["Installed", "On"]]
[states.Off]
[states.Installed]
implementations = ["Apt"]
[states.Apt]
os = ["debian:12"]
packages = ["nginx"]
files = [{ path = "/srv/{{ conf.name }}", template = "{{ conf.port }}", mode = "0644" }]
[states.Apt.enter]
do = [{ run = "true", timeout = 90 }, { run = "true", timeout = "500ms" }, { run = "true", timeout = 1.5 }]
[states.Apt.enter.requires.conf]
nargs = "1"
variables.port = { type = "port", default = 80, min = 1, max = 65535 }
variables.name = { type = "str", default = "site", min_length = 1, max_length = 64, pattern = "[a-z]{1,16}$" }
[states.On.provides.start.requires.pool]
nargs = "3"
variables.weight = { type = "float", default = 1.5, min = 0.5, max = 10.0, choices = [1.5, 2.0] }
variables.hosts = { type = "list", items = { type = "int", max = 5 }, max_length = 4 }
[states.On.provides.start]
do = [{ run = "true", timeout = "1h" }, { log = "{{ pool | length }}" }]
return = { count = 3, ratio = 0.25 }
"#;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Loads `text`; when it loads, uses what it loaded. Checks that an error points into the file.
fn load_and_use(text: &str) {
    match format::parse(text, Path::new("/nonexistent/fuzz.toml")) {
        Ok(def) => use_model(def),
        Err(e) => {
            let lines = text.split('\n').count();
            if let Some(line) = e.line {
                assert!(line >= 1 && line <= lines, "line {line} of {lines}: {e}");
                assert!(e.column.is_some_and(|c| c >= 1), "{e}");
            }
            assert!(!e.message.is_empty());
        }
    }
}

/// Refuses every command: nothing a generated file says runs on this machine.
struct NoCommands;

impl CommandRunner for NoCommands {
    fn run(&self, _: &CommandSpec, _: &mut Supervision<'_>) -> std::io::Result<CommandOutcome> {
        Err(std::io::Error::other("commands are not run here"))
    }
}

/// Starts a location on `def` and asks it everything a reader may ask. Errors are answers;
/// only a panic fails. A lifecycle with built-ins (files, packages, services) is used in
/// simulation, so that nothing is written or installed; others walk their paths for real,
/// rendering their templates, with commands refused.
fn use_model(def: LifecycleDef) {
    let name = def.name.clone();
    let builtins = def.states.iter().any(|s| !s.builtins.is_empty());
    let states: Vec<String> = def.states.iter().map(|s| s.name.clone()).collect();
    let provides: Vec<String> = def
        .states
        .iter()
        .flat_map(|s| {
            let name = &name;
            s.provides
                .iter()
                .map(move |p| format!("//{name}/{}/{}", s.name, p.name))
        })
        .collect();
    let config = Config {
        name: "fuzz".into(),
        os: OsType::all(),
        simulation: builtins,
        ..Config::default()
    };
    let loc = match Location::builder(config)
        .runner(Arc::new(NoCommands))
        .sink(Arc::new(MemorySink::new()))
        .build(vec![def])
    {
        Ok(loc) => loc,
        // The initial state's enter may fail (a template on values it does not have).
        Err(_) => return,
    };
    let json = |v: &dyn erased::Json| v.check();
    json(&loc.info());
    json(
        &loc.to_primitive(&name)
            .expect("a loaded lifecycle is described"),
    );
    loc.to_dot(&name, false)
        .expect("a loaded lifecycle is drawn");
    loc.to_dot(&name, true)
        .expect("a loaded lifecycle is drawn");
    for xpath in [
        format!("//{name}"),
        "//*".to_owned(),
        format!("//{name}//*"),
    ] {
        if let Ok(found) = loc.xpath(xpath.as_str()) {
            json(&found);
        }
        let _ = loc.uri(xpath.as_str(), false, None);
        let _ = loc.lifecycle(xpath.as_str()).map(|l| json(&l));
        let _ = loc.state(xpath.as_str()).map(|s| json(&s));
        let _ = loc.provide(xpath.as_str()).map(|p| json(&p));
    }
    for state in &states {
        let xpath = format!("//{name}/{state}");
        let _ = loc.state_goto_path(xpath.as_str()).map(|p| json(&p));
        let _ = loc.state_goto_requires(xpath.as_str(), 0).map(|p| json(&p));
        let _ = loc.state_goto(xpath.as_str(), &Values::new(), &Default::default());
    }
    for xpath in &provides {
        let _ = loc
            .provide_call_requires(xpath.as_str(), 0)
            .map(|p| json(&p));
        let _ = loc
            .provide_call_validate(xpath.as_str(), &Values::new(), 0)
            .map(|v| json(&v));
        let _ = loc.provide_call(xpath.as_str(), &Values::new(), &Default::default());
    }
    let _ = loc.state_current(format!("//{name}").as_str());
}

/// What the API answers is sent as JSON: it must serialise.
mod erased {
    pub trait Json {
        fn check(&self);
    }
    impl<T: serde::Serialize> Json for T {
        fn check(&self) {
            serde_json::to_string(self).expect("answers serialise");
        }
    }
}

// ---- any text --------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn any_text_loads_or_is_refused(text in any::<String>()) {
        load_and_use(&text);
    }

    #[test]
    fn text_made_of_toml_punctuation_loads_or_is_refused(
        text in "[a-zA-Z0-9_.=\"'\\[\\]{}, \n#:+-]{0,300}",
    ) {
        load_and_use(&text);
    }
}

// ---- the shipped lifecycles, mutated ---------------------------------------------------

/// Pieces a mutation inserts: numbers at and beyond every bound, punctuation, keys.
fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e300".to_owned()),
        Just("-1e300".to_owned()),
        Just("nan".to_owned()),
        Just("-inf".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("\"200000000\"".to_owned()),
        Just(format!("\"{}s\"", "9".repeat(400))),
        Just("\n[states.Extra]\n".to_owned()),
        Just("\ntimeout = 1e300\n".to_owned()),
        Just("\nnargs = \"*\"\n".to_owned()),
        Just("{{ conf.port }}".to_owned()),
        Just(
            "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}"
                .to_owned()
        ),
        Just("{{ states.Installed.x.y }}".to_owned()),
        Just("{%".to_owned()),
        Just("\"".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("=".to_owned()),
        Just(",".to_owned()),
        Just("\n".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "[a-zA-Z_]{1,8}",
        any::<String>(),
    ]
}

/// Numbers a mutation puts in place of another: at and beyond every bound.
fn number_snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "1e300",
            "-1e300",
            "inf",
            "nan",
            "9223372036854775807",
            "-9223372036854775808",
            "0",
            "-1",
            "1e-9",
            "1001",
            "200000000",
            "9007199254740993",
            "65537",
            "0.0",
        ])
        .prop_map(str::to_owned),
        Just("9".repeat(400)),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, usize, String),
    /// Replaces the n-th number of the text.
    Number(usize, String),
    /// Copies line `a` in place of line `b`.
    Line(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        1 => (at, snippet()).prop_map(|(p, s)| Mutation::Insert(p, s)),
        1 => (at, 0usize..40).prop_map(|(p, n)| Mutation::Delete(p, n)),
        1 => (at, 0usize..10, snippet()).prop_map(|(p, n, s)| Mutation::Replace(p, n, s)),
        3 => (at, number_snippet()).prop_map(|(n, s)| Mutation::Number(n, s)),
        1 => (at, at).prop_map(|(a, b)| Mutation::Line(a, b)),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn mutate(text: &mut String, m: &Mutation) {
    match m {
        Mutation::Insert(p, s) => {
            let p = boundary(text, *p);
            text.insert_str(p, s);
        }
        Mutation::Delete(p, n) | Mutation::Replace(p, n, _) => {
            let start = boundary(text, *p);
            let end = boundary(text, start + n).max(start);
            let with = match m {
                Mutation::Replace(_, _, s) => s.as_str(),
                _ => "",
            };
            text.replace_range(start..end, with);
        }
        Mutation::Number(n, s) => {
            let bytes = text.as_bytes();
            let numbers: Vec<(usize, usize)> = (0..bytes.len())
                .filter(|&i| {
                    bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit())
                })
                .map(|i| {
                    let len = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                    (i, i + len)
                })
                .collect();
            if !numbers.is_empty() {
                let (start, end) = numbers[n % numbers.len()];
                text.replace_range(start..end, s);
            }
        }
        Mutation::Line(a, b) => {
            let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
            let (a, b) = (a % lines.len(), b % lines.len());
            lines[b] = lines[a].clone();
            *text = lines.join("\n");
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn mutated_lifecycles_load_or_are_refused(
        file in prop::sample::select(vec![SHIPPED[0], SHIPPED[1], SHIPPED[2], NUMBERS, NUMBERS, NUMBERS]),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut text = file.to_owned();
        for m in &mutations {
            mutate(&mut text, m);
        }
        load_and_use(&text);
    }
}

#[test]
fn the_starting_points_of_mutations_load_and_can_be_used() {
    for text in SHIPPED.into_iter().chain([NUMBERS]) {
        let def = format::parse(text, Path::new("/nonexistent/shipped.toml")).unwrap();
        use_model(def);
    }
}

// ---- generated lifecycles --------------------------------------------------------------
//
// Mostly valid, each part sometimes wild: a file has many parts, and one wrong part is
// enough to refuse it, so wild parts are rare enough that about a third of the files load
// and go on to be used.

use toml::{Table, Value as Toml};

/// `valid` 49 times out of 50, `wild` otherwise.
fn mostly<T: std::fmt::Debug>(
    valid: impl Strategy<Value = T> + 'static,
    wild: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![49 => valid, 1 => wild].boxed()
}

/// Names: mostly valid and shared, so that references meet; some invalid or reserved.
fn name() -> BoxedStrategy<String> {
    mostly(
        prop::sample::select(vec!["A", "B", "C", "D", "conf", "port", "x"]).prop_map(str::to_owned),
        prop_oneof![
            prop::sample::select(vec![
                "", "1x", "a.b", "states", "location", "enter", "leave", "host", "é", "A B", "-",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z_][a-zA-Z0-9_-]{0,6}",
        ],
    )
}

/// Numbers across every range, finite or not.
fn number() -> impl Strategy<Value = Toml> {
    prop_oneof![
        prop::sample::select(vec![
            0i64,
            1,
            -1,
            2,
            80,
            1000,
            1001,
            65535,
            65536,
            604800,
            604801,
            9_007_199_254_740_992,
            9_007_199_254_740_993,
            i64::MAX,
            i64::MIN,
        ])
        .prop_map(Toml::Integer),
        any::<i64>().prop_map(Toml::Integer),
        prop::sample::select(vec![
            0.0f64,
            0.001,
            0.5,
            1e-9,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            604800.0,
            9_007_199_254_740_992.0,
        ])
        .prop_map(Toml::Float),
        any::<f64>().prop_map(Toml::Float),
    ]
}

/// Numbers as a file may also write them: as text, with or without a unit.
fn number_or_text() -> impl Strategy<Value = Toml> {
    prop_oneof![
        number(),
        (
            any::<u64>(),
            prop::sample::select(vec!["", "s", "ms", "m", "h", "d", "x"])
        )
            .prop_map(|(n, u)| Toml::String(format!("{n}{u}"))),
        prop::sample::select(vec![
            "*",
            "?",
            "0",
            "1",
            "1000",
            "1001",
            "200000000",
            "99999999999999999999",
            "-3",
            ".",
            "1e3s",
            "0.0001ms",
            "7 h",
        ])
        .prop_map(|s| Toml::String(s.to_owned())),
        Just(Toml::String(format!("{}s", "9".repeat(400)))),
        any::<bool>().prop_map(Toml::Boolean),
    ]
}

/// A count as a file writes it (nargs, lengths, timeouts): mostly sensible.
fn count(valid: Vec<Toml>) -> BoxedStrategy<Toml> {
    mostly(prop::sample::select(valid), number_or_text())
}

/// Templates: plain text, names of the context (known or not), loops, filters.
fn template() -> BoxedStrategy<String> {
    // Names every context has, and now and then names that depend on the file (a require
    // `conf`, a state `A`).
    let known = prop_oneof![
        9 => prop::sample::select(vec![
            "location.name", "location.public_ip", "lifecycle", "state", "provide", "flags",
            "deployment", "range(3)", "states",
        ]),
        1 => prop::sample::select(vec!["conf.port", "conf", "states.A"]),
    ];
    let unknown = prop::sample::select(vec![
        "x",
        "states.B.x.port",
        "states.Z",
        "location.nope",
        "A.port[0]",
        "conf.nope",
    ]);
    mostly(
        prop_oneof![
            "[a-z ]{0,10}",
            known.clone().prop_map(|n| format!("value {{{{ {n} }}}}")),
            known
                .clone()
                .prop_map(|n| format!("{{% for i in [{n}] %}}{{{{ i }}}}{{% endfor %}}")),
            known.prop_map(|n| format!("{{{{ {n} | tojson }}}}")),
        ],
        prop_oneof![
            unknown.clone().prop_map(|n| format!("value {{{{ {n} }}}}")),
            unknown.prop_map(|n| format!("{{{{ {n} | nofilter }}}}")),
            Just(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
                    .to_owned()
            ),
            Just("{{ oops".to_owned()),
            Just("{% if %}".to_owned()),
        ],
    )
}

/// Any TOML value, nested a little.
fn value() -> impl Strategy<Value = Toml> {
    let leaf = prop_oneof![
        number(),
        template().prop_map(Toml::String),
        any::<bool>().prop_map(Toml::Boolean),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Toml::Array),
            prop::collection::vec((name(), inner), 0..4)
                .prop_map(|kv| Toml::Table(kv.into_iter().collect())),
        ]
    })
}

/// A free-form table (`extra`, `flags`), its values anything.
fn free() -> impl Strategy<Value = Toml> {
    prop::collection::vec((name(), value()), 0..3).prop_map(named)
}

/// A table of the keys that are present.
fn table(entries: Vec<(&str, Option<Toml>)>) -> Toml {
    Toml::Table(
        entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

fn strings(items: Vec<String>) -> Toml {
    Toml::Array(items.into_iter().map(Toml::String).collect())
}

fn named(items: Vec<(String, Toml)>) -> Toml {
    Toml::Table(items.into_iter().collect::<Table>())
}

fn int(i: i64) -> Toml {
    Toml::Integer(i)
}

fn text(s: &str) -> Toml {
    Toml::String(s.to_owned())
}

fn variable() -> impl Strategy<Value = Toml> {
    let ty = mostly(
        prop::sample::select(vec![
            "str",
            "int",
            "float",
            "bool",
            "list",
            "port",
            "host",
            "hostname",
            "url",
            "password",
            "armonic_host",
            "armonic_hosts",
            "armonic_this_host",
            "armonic_first_instance",
        ]),
        Just("nope"),
    );
    let pattern = mostly(
        prop::sample::select(vec!["[a-z]+$", ".*", "[0-9]{1,5}", "/srv/[a-z0-9_-]+$"]),
        prop::sample::select(vec!["(", "\\w{200}", "a{1000}{1000}"]),
    );
    let bound = || {
        prop::option::weighted(
            0.2,
            count(vec![int(0), int(1), int(10), int(65535), Toml::Float(2.5)]),
        )
    };
    let length = || prop::option::weighted(0.2, count(vec![int(0), int(1), int(8), int(100)]));
    let rules = (
        bound(),
        bound(),
        length(),
        length(),
        prop::option::weighted(0.2, pattern),
        prop::option::weighted(0.1, prop::collection::vec(value(), 0..3)),
    );
    let shown = (
        prop::option::weighted(0.1, value()),
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.2, any::<bool>()),
        prop::option::weighted(0.1, mostly(Just("pre-%s".to_owned()), template())),
        prop::option::weighted(0.1, "//[A-Z]//[a-z]{1,3}"),
        prop::option::weighted(
            0.1,
            prop::sample::select(vec!["int", "str", "list", "port"]),
        ),
        prop::option::weighted(0.1, free()),
    );
    (ty, rules, shown).prop_map(
        |(ty, (min, max, min_length, max_length, pattern, choices), shown)| {
            let (default, required, secret, modifier, from_xpath, items, extra) = shown;
            table(vec![
                ("type", Some(text(ty))),
                ("min", min),
                ("max", max),
                ("min_length", min_length),
                ("max_length", max_length),
                ("pattern", pattern.map(text)),
                ("choices", choices.map(Toml::Array)),
                ("default", default),
                ("required", required.map(Toml::Boolean)),
                ("secret", secret.map(Toml::Boolean)),
                ("modifier", modifier.map(Toml::String)),
                ("from_xpath", from_xpath.map(Toml::String)),
                (
                    "items",
                    items
                        .filter(|_| ty == "list")
                        .map(|t| table(vec![("type", Some(text(t)))])),
                ),
                ("extra", extra),
            ])
        },
    )
}

fn require() -> impl Strategy<Value = Toml> {
    let kind = mostly(
        prop::sample::select(vec!["simple", "simple", "local", "external"]),
        Just("nope"),
    );
    let xpath = mostly(
        prop::sample::select(vec!["//A//p", "//B/C/p", "//X//start"]),
        prop::sample::select(vec!["not an address", "//", ""]),
    );
    let nargs = count(vec![
        text("1"),
        text("2"),
        text("?"),
        text("*"),
        int(3),
        text("1000"),
    ]);
    let variables = || prop::collection::vec((name(), variable()), 0..3).prop_map(named);
    (
        kind,
        xpath,
        prop::option::weighted(0.3, nargs),
        variables(),
        variables(),
        prop::option::weighted(0.1, free()),
    )
        .prop_map(|(kind, xpath, nargs, variables, ret, extra)| {
            let simple = kind == "simple";
            // Returned values are named apart from the arguments.
            let ret = match ret {
                Toml::Table(t) => named(
                    t.into_iter()
                        .map(|(k, v)| (format!("{k}_ret"), v))
                        .collect(),
                ),
                other => other,
            };
            table(vec![
                ("type", Some(text(kind))),
                ("xpath", (!simple).then(|| text(xpath))),
                ("nargs", nargs),
                (
                    (if simple { "variables" } else { "provide_args" }),
                    Some(variables),
                ),
                ("provide_ret", (!simple).then_some(ret)),
                ("extra", extra),
            ])
        })
}

fn step() -> impl Strategy<Value = Toml> {
    let timeout = count(vec![
        int(1),
        Toml::Float(0.5),
        text("90s"),
        text("500ms"),
        text("1h"),
    ]);
    let level = mostly(
        prop::sample::select(vec!["info", "debug", "warning"]),
        Just("nope"),
    );
    prop_oneof![
        200 => (template(), prop::option::weighted(0.2, level)).prop_map(|(log, level)| {
            table(vec![("log", Some(Toml::String(log))), ("level", level.map(text))])
        }),
        100 => (
            prop::option::weighted(0.5, timeout),
            prop::option::weighted(0.2, template()),
            prop::option::weighted(0.1, "/[a-z]{0,5}"),
        )
            .prop_map(|(timeout, env, cwd)| {
                table(vec![
                    ("run", Some(text("true"))),
                    ("timeout", timeout),
                    ("env", env.map(|e| table(vec![("VALUE", Some(Toml::String(e)))]))),
                    ("cwd", cwd.map(Toml::String)),
                ])
            }),
        1 => prop_oneof![
            Just(table(vec![("log", Some(text("x"))), ("run", Some(text("true")))])),
            Just(table(vec![("log", Some(text("x"))), ("timeout", Some(int(1)))])),
        ],
    ]
}

fn steps() -> impl Strategy<Value = Toml> {
    prop::collection::vec(step(), 0..3).prop_map(Toml::Array)
}

fn provide() -> impl Strategy<Value = Toml> {
    (
        prop::collection::vec((name(), require()), 0..3),
        steps(),
        prop::option::weighted(0.3, value()),
        prop::option::weighted(0.1, free()),
        prop::option::weighted(0.1, free()),
    )
        .prop_map(|(requires, steps, returns, flags, extra)| {
            table(vec![
                ("requires", Some(named(requires))),
                ("do", Some(steps)),
                ("return", returns),
                ("flags", flags),
                ("extra", extra),
            ])
        })
}

fn file() -> impl Strategy<Value = Toml> {
    let source = mostly(
        Just(None),
        prop::option::of(prop::sample::select(vec![
            "missing.txt",
            "/dev/zero",
            "/dev/null",
            "/",
        ])),
    );
    let mode = mostly(
        prop::sample::select(vec!["0644", "0o755", "7777", "0600"]),
        prop::sample::select(vec!["10000", "+644", "77777777777", "", "abc", "0o0o7"]),
    );
    (
        template(),
        template(),
        source,
        prop::option::weighted(0.5, mode),
    )
        .prop_map(|(path, template, source, mode)| {
            table(vec![
                ("path", Some(Toml::String(format!("/srv/{path}")))),
                (
                    "template",
                    source.is_none().then_some(Toml::String(template)),
                ),
                ("source", source.map(text)),
                ("mode", mode.map(text)),
            ])
        })
}

fn state() -> impl Strategy<Value = Toml> {
    let os = mostly(
        prop::sample::select(vec!["debian", "ubuntu:22.04", "all", "fedora"]),
        Just(""),
    )
    .prop_map(str::to_owned);
    let action = || prop::option::weighted(0.2, steps().prop_map(|s| table(vec![("do", Some(s))])));
    let actions = (
        prop::option::weighted(0.6, provide()),
        action(),
        action(),
        prop::collection::vec((name(), provide()), 0..3),
    );
    let builtins = (
        prop::option::weighted(0.2, prop::collection::vec(os, 0..2)),
        prop::option::weighted(0.05, prop::collection::vec(name(), 1..3)),
        prop::option::weighted(0.1, prop::collection::vec(file(), 0..2)),
        prop::option::weighted(
            0.05,
            mostly(prop::sample::select(vec!["apt", "dnf"]), Just("zypper")),
        ),
        prop::bool::weighted(0.05),
    );
    (actions, builtins).prop_map(
        |((enter, leave, cross, provides), (os, implementations, files, manager, packages))| {
            table(vec![
                ("os", os.map(strings)),
                ("implementations", implementations.map(strings)),
                ("enter", enter),
                ("leave", leave),
                ("cross", cross),
                ("provides", Some(named(provides))),
                ("files", files.map(Toml::Array)),
                ("package_manager", manager.map(text)),
                ("packages", packages.then(|| strings(vec!["nginx".into()]))),
            ])
        },
    )
}

/// A lifecycle whose states form a chain from the initial one, with more transitions
/// between them; now and then a transition or the initial state names something else.
fn lifecycle() -> impl Strategy<Value = String> {
    (
        name(),
        prop::collection::vec((name(), state()), 1..6),
        prop::collection::vec((any::<usize>(), any::<usize>()), 0..6),
        prop::option::weighted(0.05, (name(), name())),
    )
        .prop_map(|(lifecycle, states, pairs, stray)| {
            let mut states = states;
            let mut seen = std::collections::HashSet::new();
            states.retain(|(n, _)| seen.insert(n.clone()));
            let names: Vec<String> = states.iter().map(|(n, _)| n.clone()).collect();
            let pick = |i: usize| names[i % names.len()].clone();
            let mut transitions: Vec<Toml> = names
                .windows(2)
                .map(|w| strings(w.to_vec()))
                .chain(
                    pairs
                        .into_iter()
                        .map(|(a, b)| strings(vec![pick(a), pick(b)])),
                )
                .collect();
            // The initial state is entered with no values and has no alternatives.
            if let Toml::Table(first) = &mut states[0].1 {
                if stray.is_none() {
                    first.remove("implementations");
                    if let Some(Toml::Table(enter)) = first.get_mut("enter") {
                        enter.remove("requires");
                    }
                }
            }
            let mut initial = names[0].clone();
            if let Some((from, to)) = stray {
                transitions.push(strings(vec![from, to.clone()]));
                initial = to;
            }
            let doc = table(vec![
                ("name", Some(Toml::String(lifecycle))),
                ("initial", Some(Toml::String(initial))),
                ("transitions", Some(Toml::Array(transitions))),
                ("states", Some(named(states))),
            ]);
            toml::to_string(&doc).unwrap_or_default()
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn generated_lifecycles_load_or_are_refused_and_what_loads_can_be_used(text in lifecycle()) {
        load_and_use(&text);
    }
}
