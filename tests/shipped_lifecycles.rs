//! The lifecycles shipped to deploy real software (PostgreSQL, Guestbook, Nginx): they load
//! with their templates checked, have the states and provides docs/shipped-lifecycles.md
//! describes, keep their secrets secret, and a deployment of the whole stack resolves. What
//! their commands do on a Debian host is exercised by the tests booting real hosts.

use std::path::{Path, PathBuf};
use std::process::Command;

use armonic_lifecycle::LifecycleDef;
use armonic_lifecycle::model::{Nargs, ProvideDef, RequireDef, RequireKind, StateDef, Step};
use armonic_lifecycle::variable::{VarType, VariableDef};
use armonic_lifecycle::{Value, load_dirs};

const STATES: [&str; 4] = ["NotInstalled", "Installed", "Configured", "Active"];

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lifecycles")
}

/// The shipped lifecycle named `name`, loaded as an agent loads it: the whole directory,
/// where no file may be refused.
fn shipped(name: &str) -> LifecycleDef {
    let catalog = load_dirs(&[shipped_dir()]);
    assert!(
        catalog.errors.is_empty(),
        "shipped lifecycles refused: {:#?}",
        catalog.errors
    );
    catalog
        .lifecycles
        .into_iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no shipped lifecycle {name}"))
}

fn state<'a>(l: &'a LifecycleDef, name: &str) -> &'a StateDef {
    l.state(name)
        .unwrap_or_else(|| panic!("{} has no state {name}", l.name))
}

fn provide<'a>(l: &'a LifecycleDef, state_name: &str, name: &str) -> &'a ProvideDef {
    state(l, state_name)
        .provide(name)
        .unwrap_or_else(|| panic!("{}/{state_name} has no provide {name}", l.name))
}

fn require<'a>(p: &'a ProvideDef, name: &str) -> &'a RequireDef {
    p.require(name)
        .unwrap_or_else(|| panic!("provide {} has no require {name}", p.name))
}

fn variable<'a>(r: &'a RequireDef, name: &str) -> &'a VariableDef {
    r.variable(name)
        .unwrap_or_else(|| panic!("require {} has no variable {name}", r.name))
}

fn names(vars: &[VariableDef]) -> Vec<&str> {
    vars.iter().map(|v| v.name.as_str()).collect()
}

/// The state machine every one of the three has: a chain from NotInstalled to Active.
fn assert_installed_configured_active(l: &LifecycleDef) {
    let names: Vec<&str> = l.states.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, STATES, "{}", l.name);
    assert_eq!(l.states[l.initial].name, "NotInstalled", "{}", l.name);
    let chain: Vec<(usize, usize)> = (0..3).map(|i| (i, i + 1)).collect();
    assert_eq!(l.transitions, chain, "{}", l.name);
}

/// The last step of a state's enter, which must be a wait for states starting a service.
fn last_enter_step(s: &StateDef) -> Option<&Step> {
    s.enter.action.steps.last()
}

fn is_wait(step: Option<&Step>) -> bool {
    matches!(step, Some(Step::Run { retry: Some(_), .. }))
}

fn command(step: Option<&Step>) -> String {
    step.map(Step::describe).unwrap_or_default()
}

#[test]
fn the_three_lifecycles_load_with_every_template_checked() {
    // A template naming an unknown value or filter would have refused its file: loading the
    // directory with no error is the check.
    for name in ["PostgreSQL", "Guestbook", "Nginx"] {
        let l = shipped(name);
        assert_installed_configured_active(&l);
        assert!(l.doc.is_some(), "{name} has no doc");
        assert!(
            l.source
                .as_deref()
                .is_some_and(|p| p.starts_with(shipped_dir())),
            "{name} from {:?}",
            l.source
        );
    }
}

#[test]
fn no_secret_of_a_shipped_lifecycle_has_a_default() {
    for l in load_dirs(&[shipped_dir()]).lifecycles {
        for s in &l.states {
            for p in s.all_provides() {
                for r in &p.requires {
                    for v in r.variables.iter().filter(|v| v.secret) {
                        assert!(
                            v.default.is_none(),
                            "{}/{}/{}/{}/{} is a secret with a default",
                            l.name,
                            s.name,
                            p.name,
                            r.name,
                            v.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_state_starting_a_service_ends_its_enter_waiting_for_it_to_answer() {
    for name in ["PostgreSQL", "Guestbook", "Nginx"] {
        let l = shipped(name);
        let starting: Vec<&StateDef> = l
            .states
            .iter()
            .filter(|s| !s.builtins.services.is_empty())
            .collect();
        assert_eq!(
            starting.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["Active"],
            "{name}: the services start in Active only"
        );
        for s in starting {
            assert!(
                is_wait(last_enter_step(s)),
                "{name}/{}: the enter ends with {:?}",
                s.name,
                last_enter_step(s)
            );
        }
    }
}

#[test]
fn what_entering_writes_or_starts_leaving_undoes() {
    for name in ["PostgreSQL", "Guestbook", "Nginx"] {
        let l = shipped(name);
        for s in &l.states {
            // Packages and services are undone by their built-ins; files and the steps
            // around them by the state's own leave.
            if !s.builtins.files.is_empty() {
                assert!(
                    !s.leave.steps.is_empty(),
                    "{name}/{} writes files and leaves nothing",
                    s.name
                );
            }
        }
        assert!(
            !state(&l, "Installed").builtins.packages.is_empty(),
            "{name} installs no package"
        );
    }
}

#[test]
fn postgresql_gives_a_database_and_a_secret_password_to_the_address_of_its_caller() {
    let l = shipped("PostgreSQL");
    assert_eq!(
        state(&l, "Installed").builtins.packages,
        ["postgresql", "postgresql-15"]
    );
    assert_eq!(
        state(&l, "Active").builtins.services,
        ["postgresql@15-main"]
    );
    let wait = command(last_enter_step(state(&l, "Active")));
    assert!(wait.starts_with("pg_isready"), "{wait}");
    let conf = &state(&l, "Configured").builtins.files;
    assert_eq!(conf.len(), 1);
    assert_eq!(conf[0].path, "/etc/postgresql/15/main/conf.d/armonic.conf");
    assert!(
        conf[0].template.contains("listen_addresses"),
        "{}",
        conf[0].template
    );

    let add = provide(&l, "Active", "add_database");
    assert_eq!(add.action.secret_returns, ["password"]);
    let db = require(add, "db");
    assert_eq!(db.kind, RequireKind::Simple);
    assert_eq!(names(&db.variables), ["database", "user"]);
    let steps = &add.action.steps;
    assert!(
        steps
            .iter()
            .any(|s| s.describe().contains("ARMONIC_CALLER_ADDRESS")),
        "the access rule is for the caller's address"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.describe().contains("$ARMONIC_RETURN")),
        "the password is returned through $ARMONIC_RETURN"
    );
    let Some(Value::Map(returned)) = &add.action.returns else {
        panic!("add_database returns {:?}", add.action.returns)
    };
    let mut keys: Vec<&str> = returned.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["database", "host", "port", "user"]);
}

#[test]
fn database_and_role_names_are_plain_identifiers() {
    let l = shipped("PostgreSQL");
    let db = require(provide(&l, "Active", "add_database"), "db");
    let g = shipped("Guestbook");
    let args = require(provide(&g, "Configured", "enter"), "database");
    for v in [
        variable(db, "database"),
        variable(db, "user"),
        variable(args, "database"),
        variable(args, "user"),
    ] {
        for good in ["guestbook", "app_2", "_x", &"a".repeat(63)] {
            assert!(
                v.check(&Value::from(good)).is_ok(),
                "{} refuses {good}",
                v.name
            );
        }
        for bad in [
            "",
            "Guestbook",
            "2app",
            "a b",
            "x\"y",
            "x;drop",
            "x\n",
            "gb-1",
            &"a".repeat(64),
        ] {
            assert!(
                v.check(&Value::from(bad)).is_err(),
                "{} accepts {bad:?}",
                v.name
            );
        }
    }
}

#[test]
fn guestbook_asks_postgresql_for_its_database_and_returns_its_backend_url() {
    let l = shipped("Guestbook");
    assert_eq!(
        state(&l, "Installed").builtins.packages,
        ["python3-flask", "python3-psycopg2", "gunicorn"]
    );
    let installed: Vec<&str> = state(&l, "Installed")
        .builtins
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert!(
        installed.contains(&"/opt/armonic-guestbook/app.py"),
        "{installed:?}"
    );
    // The application itself, read from guestbook/ beside the lifecycle file.
    let app = &state(&l, "Installed").builtins.files[0].template;
    assert!(app.contains("X-Served-By"), "{app}");

    let enter = provide(&l, "Configured", "enter");
    let database = require(enter, "database");
    assert!(
        matches!(&database.kind, RequireKind::External(d) if d.xpath == "//PostgreSQL//add_database"),
        "{:?}",
        database.kind
    );
    // `host`, the database's location, comes first, filled by the deployment.
    assert_eq!(names(database.provide_args()), ["host", "database", "user"]);
    for v in &database.provide_args()[1..] {
        assert_eq!(v.default, Some(Value::from("guestbook")), "{}", v.name);
    }
    assert_eq!(names(database.provide_ret()), ["port", "password"]);
    let password = variable(database, "password");
    assert_eq!(password.ty, VarType::Password);
    assert!(password.secret);
    let port = variable(require(enter, "http"), "port");
    assert_eq!(port.default, Some(Value::from(8000)));

    // The settings file holds the password; it is readable by the application's group only.
    let settings = state(&l, "Configured")
        .builtins
        .files
        .iter()
        .find(|f| f.template.contains("database.password"))
        .expect("a file holds the password");
    assert_eq!(settings.mode, 0o640);
    // Nothing after Configured reads the password: it is not kept across agent restarts.
    let active = state(&l, "Active");
    for p in active.all_provides() {
        for step in &p.action.steps {
            assert!(!step.describe().contains("password"), "{step:?}");
        }
        assert!(
            !format!("{:?}", p.action.returns).contains("password"),
            "{:?}",
            p.action.returns
        );
    }
    for step in l.states.iter().flat_map(|s| &s.leave.steps) {
        assert!(!step.describe().contains("password"), "{step:?}");
    }
    assert_eq!(state(&l, "Active").builtins.services, ["armonic-guestbook"]);
    let start = provide(&l, "Active", "start");
    let Some(Value::Map(returned)) = &start.action.returns else {
        panic!("start returns {:?}", start.action.returns)
    };
    assert!(returned.contains_key("url"));
}

#[test]
fn nginx_balances_any_number_of_guestbook_backends() {
    let l = shipped("Nginx");
    let backends = require(provide(&l, "Configured", "enter"), "backends");
    assert!(
        matches!(&backends.kind, RequireKind::External(d) if d.xpath == "//Guestbook//start"),
        "{:?}",
        backends.kind
    );
    assert_eq!(backends.nargs, Nargs::Any);
    assert_eq!(names(backends.provide_ret()), ["url"]);
    assert_eq!(variable(backends, "url").ty, VarType::Url);
    let candidate = &state(&l, "Configured").builtins.files[0];
    assert!(
        candidate.template.contains("{%- for b in backends %}"),
        "{}",
        candidate.template
    );
    // The configuration is tested before it replaces the one in use.
    let enter = command(state(&l, "Configured").enter.action.steps.first());
    let tested = enter.find("nginx -t").expect("nginx -t");
    let reloaded = enter.find("reload").expect("a reload");
    assert!(tested < reloaded, "{enter}");
    assert_eq!(state(&l, "Active").builtins.services, ["nginx"]);
    provide(&l, "Active", "start");
}

#[test]
fn a_deployment_of_the_balancer_resolves_down_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_armonic"))
        .args(["--local", "--no-color", "--os-type", "debian:12", "-L"])
        .arg(shipped_dir())
        .arg("--state-dir")
        .arg(dir.path())
        .args([
            "--location",
            "db=10.0.0.2",
            "--location",
            "lb=10.0.0.5",
            "--location",
            "web1=10.0.0.3",
            "deploy",
            "//Nginx//start",
            "--dry-run",
            "--autofill",
        ])
        .env_remove("ARMONIC_STATE_DIR")
        .env_remove("ARMONIC_LIFECYCLE_DIRS")
        .env_remove("ARMONIC_CONFIG")
        .output()
        .expect("armonic runs");
    let plan = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for line in [
        "Nginx/Active/start on",
        "Guestbook/Active/start on",
        "PostgreSQL/Active/add_database on",
        "Guestbook/Configured/enter/database/database = \"guestbook\"",
        "Guestbook/Configured/enter/database/password = returned by",
        "Nginx/Configured/enter/backends/url = returned by",
    ] {
        assert!(
            plan.contains(line) || err.contains(line),
            "no {line:?} in the plan:\n{plan}{err}"
        );
    }
}
