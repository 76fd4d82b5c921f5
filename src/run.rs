//! Runs one command on an embedded location.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use armonic_lifecycle::info::ProvideInfo;
use armonic_lifecycle::{CallOptions, Config, Location, OsType, Value, Values, load_dirs};
use serde::Serialize;

use crate::cli::{Cli, Command, Format, PlotType, ValueArgs};
use crate::logs::StderrSink;
use crate::many::Many;
use crate::render;

/// Where the shipped lifecycles are looked for when no -L is given.
fn default_lifecycle_dirs() -> Vec<PathBuf> {
    let candidates = [
        PathBuf::from("/usr/share/armonic/lifecycles"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lifecycles")),
    ];
    candidates
        .into_iter()
        .filter(|p| p.is_dir())
        .take(1)
        .collect()
}

/// Builds the embedded locations the global options describe: one per `--location`, or one
/// named after the host.
pub fn locations(cli: &Cli) -> Result<Vec<Location>> {
    let g = &cli.global;
    if !g.local {
        bail!("this build drives an embedded agent only: add --local (see `armonic --help`)");
    }
    let dirs = if g.lifecycle_dirs.is_empty() {
        default_lifecycle_dirs()
    } else {
        g.lifecycle_dirs.clone()
    };
    if dirs.is_empty() {
        bail!("no lifecycle directory: give one with -L DIR");
    }
    let catalog = load_dirs(&dirs);
    for e in &catalog.errors {
        eprintln!("warning: {e}");
    }
    let os = g
        .os_type
        .as_deref()
        .map_or_else(OsType::detect, OsType::parse);
    let mut configs = Vec::new();
    if g.locations.is_empty() {
        let name = g.name.clone().unwrap_or_else(armonic_lifecycle::hostname);
        configs.push((name, g.public_ip.clone(), g.state_dir.clone()));
    }
    for spec in &g.locations {
        let (name, addr) = spec.split_once('=').unwrap_or((spec, spec));
        if configs.iter().any(|(n, _, _)| n == name) {
            bail!("location {name} is given twice");
        }
        let state_dir = g.state_dir.as_ref().map(|d| d.join(name));
        configs.push((name.to_owned(), addr.to_owned(), state_dir));
    }
    let mut out = Vec::new();
    for (name, public_ip, state_dir) in configs {
        if armonic_lifecycle::Address::parse(&format!("/{name}")).is_err() {
            bail!("location name '{name}' is not valid: use letters, digits, '_', '-' or '.'");
        }
        let config = Config {
            name,
            os: os.clone(),
            public_ip,
            simulation: g.simulation,
            validate_on_call: true,
            state_dir,
        };
        let sink = StderrSink::new(g.verbose, g.quiet, g.no_color, g.format == Format::Json);
        let loc = Location::builder(config)
            .sink(Arc::new(sink))
            .build(catalog.lifecycles.clone())
            .context("cannot start the embedded agent")?;
        for issue in loc.restore_issues() {
            match &issue.moved_to {
                Some(to) => eprintln!(
                    "warning: {}: {} (moved to {})",
                    issue.file.display(),
                    issue.message,
                    to.display()
                ),
                None => eprintln!("warning: {}: {}", issue.file.display(), issue.message),
            }
        }
        out.push(loc);
    }
    Ok(out)
}

/// Turns -R groups or --json into values.
pub fn values(args: &ValueArgs) -> Result<Values> {
    if let Some(json) = &args.json {
        let parsed: serde_json::Value =
            serde_json::from_str(json).context("--json is not valid JSON")?;
        return match parsed {
            serde_json::Value::Object(map) => Ok(map
                .into_iter()
                .fold(Values::new(), |v, (k, x)| v.set(k, Value::from_json(x)))),
            list @ serde_json::Value::Array(_) => serde_json::from_value(list).context(
                "--json must be [[\"address\", {\"0\": value}], ...] or {\"address\": value}",
            ),
            _ => bail!("--json must be a list of [address, values] pairs or an object"),
        };
    }
    // Occurrences of -R arrive flattened; a word without ':' is a require name and starts a
    // new group (variables always come as VAR:VALUE).
    let mut groups: Vec<Vec<String>> = Vec::new();
    for word in &args.require {
        match groups.last_mut() {
            Some(g) if word.contains(':') => g.push(word.clone()),
            _ => groups.push(vec![word.clone()]),
        }
    }
    let mut out = Values::new();
    let mut seen: Vec<&str> = Vec::new();
    for group in &groups {
        let (require, pairs) = group.split_first().context("-R needs a require name")?;
        if pairs.is_empty() {
            bail!("-R {require}: expected VAR:VALUE after the require name");
        }
        let index = seen.iter().filter(|r| *r == require).count();
        seen.push(require);
        for pair in pairs {
            let (var, raw) = pair
                .split_once(':')
                .with_context(|| format!("-R {require}: expected VAR:VALUE, got '{pair}'"))?;
            let key = if var.starts_with('/') {
                var.to_owned()
            } else {
                format!("//{require}/{var}")
            };
            out = out.set_at(key, index, parse_value(raw));
        }
    }
    Ok(out)
}

/// A value typed on the command line: JSON when it parses as a number, boolean, list, object
/// or quoted string; `[a, b]` as a list of strings; anything else as a string.
pub fn parse_value(raw: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Null) | Err(_) => {
            let t = raw.trim();
            if t.starts_with('[') && t.ends_with(']') {
                let inner = &t[1..t.len() - 1];
                if inner.trim().is_empty() {
                    return Value::List(vec![]);
                }
                return Value::List(inner.split(',').map(|s| Value::from(s.trim())).collect());
            }
            Value::from(raw)
        }
        Ok(json) => Value::from_json(json),
    }
}

fn print<T: Serialize>(format: Format, result: &T, text: impl FnOnce() -> String) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(result)?),
        Format::Text => print!("{}", text()),
    }
    Ok(())
}

fn lines<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().map(|s| s + "\n").collect()
}

/// Runs the command.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let locations = locations(cli)?;
    let format = cli.global.format;
    if let Command::Deploy {
        xpath,
        manage,
        autofill,
        answers,
        save,
        force,
        dry_run,
        parallel,
    } = &cli.command
    {
        let options = crate::deploy::DeployArgs {
            xpath: xpath.clone(),
            manage: *manage,
            autofill: *autofill,
            answers: answers.clone(),
            save: save.clone(),
            force: *force,
            dry_run: *dry_run,
            parallel: *parallel,
        };
        return crate::deploy::deploy(&cli.global, locations, &options);
    }
    let mut loc = Many::new(locations);
    match &cli.command {
        Command::Status => {
            let infos = loc.info();
            let table = |info: &armonic_lifecycle::info::Info| {
                render::table(&[
                    ("Property".into(), "Value".into()),
                    ("name".into(), info.name.clone()),
                    ("os-type".into(), info.os_type.clone()),
                    (
                        "os-release".into(),
                        info.os_release.clone().unwrap_or_else(|| "-".into()),
                    ),
                    ("version".into(), info.version.clone()),
                    ("public-ip".into(), info.public_ip.clone()),
                ])
            };
            let text = || infos.iter().map(table).collect::<Vec<_>>().join("\n");
            // One location: an object; several: a list.
            match infos.as_slice() {
                [one] => print(format, one, text)?,
                many => print(format, &many, text)?,
            }
        }
        Command::Lifecycle {
            xpath,
            long_description,
        } => {
            let lfs = loc.lifecycle(xpath)?;
            print(format, &lfs, || {
                if *long_description {
                    lfs.iter()
                        .map(|l| {
                            render::table(&[
                                ("xpath".into(), l.xpath.clone()),
                                ("name".into(), l.name.clone()),
                                (
                                    "doc".into(),
                                    l.doc.clone().unwrap_or_default().replace('\n', " "),
                                ),
                            ]) + "\n"
                        })
                        .collect()
                } else {
                    lines(lfs.iter().map(|l| l.xpath.clone()))
                }
            })?;
        }
        Command::State {
            xpath,
            long_description,
            path,
            requires_list,
        } => {
            if *path {
                let paths = loc.state_goto_path(xpath)?;
                print(format, &paths, || render::paths(&paths))?;
            } else if *requires_list {
                let states = loc.state(xpath)?;
                // A state that cannot be reached needs nothing: it is listed as such.
                let mut all: Vec<(String, Option<Vec<ProvideInfo>>)> = Vec::new();
                for s in &states {
                    let needs = match loc.state_goto_requires(&s.xpath, 0) {
                        Ok(needs) => Some(needs),
                        Err(armonic_lifecycle::Error::NoPath { .. }) => None,
                        Err(e) => return Err(e.into()),
                    };
                    all.push((s.xpath.clone(), needs));
                }
                print(format, &all, || {
                    all.iter()
                        .map(|(x, needs)| {
                            let body: String = match needs {
                                None => "  can not be reached.\n".into(),
                                Some(n) if n.is_empty() => "  (nothing to give)\n".into(),
                                Some(n) => n.iter().map(render::provide).collect(),
                            };
                            format!("\n{x}\n{body}")
                        })
                        .collect()
                })?;
            } else {
                let states = loc.state(xpath)?;
                print(format, &states, || {
                    if *long_description {
                        states.iter().map(|s| render::state(s) + "\n").collect()
                    } else {
                        lines(states.iter().map(|s| s.xpath.clone()))
                    }
                })?;
            }
        }
        Command::StateCurrent { xpath } => {
            let current = loc.state_current(xpath)?;
            print(format, &current, || {
                render::table(
                    &current
                        .iter()
                        .map(|c| (c.lifecycle.clone(), c.xpath.clone()))
                        .collect::<Vec<_>>(),
                )
            })?;
        }
        Command::StateGoto { uri, values: args } => {
            let v = values(args)?;
            let opts = CallOptions {
                path_idx: args.path_idx,
                ..CallOptions::default()
            };
            loc.state_goto(uri, &v, &opts)?;
            let current = loc.state_current(uri)?;
            print(format, &current, || {
                lines(
                    current
                        .iter()
                        .map(|c| format!("{} is in state {}", c.lifecycle, c.state)),
                )
            })?;
        }
        Command::Provide {
            xpath,
            long_description,
            path,
            all,
        } => {
            if *path {
                let paths = loc.provide_call_path(xpath)?;
                print(format, &paths, || render::paths(&paths))?;
            } else if *all {
                let provides = loc.provide(xpath)?;
                let mut out = Vec::new();
                for p in &provides {
                    out.push((p.xpath.clone(), loc.provide_call_requires(&p.xpath, 0)?));
                }
                print(format, &out, || {
                    out.iter()
                        .map(|(x, needs)| {
                            let need: String = needs
                                .iter()
                                .map(|n| format!("  Need:  {}\n", n.xpath))
                                .collect();
                            format!("\n{x}\n{need}")
                        })
                        .collect()
                })?;
            } else {
                let provides = loc.provide(xpath)?;
                print(format, &provides, || {
                    if *long_description {
                        provides.iter().map(|p| render::provide(p) + "\n").collect()
                    } else {
                        lines(provides.iter().map(|p| p.xpath.clone()))
                    }
                })?;
            }
        }
        Command::ProvideCall {
            uri,
            values: args,
            check,
        } => {
            let v = values(args)?;
            if *check {
                let validation = loc.provide_call_validate(uri, &v, args.path_idx)?;
                let errors = validation.error_list();
                print(format, &validation, || {
                    if errors.is_empty() {
                        "Requires are valid.\n".into()
                    } else {
                        lines(errors.iter().map(|e| format!("{}: {}", e.xpath, e.message)))
                    }
                })?;
                return Ok(if errors.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            let opts = CallOptions {
                path_idx: args.path_idx,
                ..CallOptions::default()
            };
            let ret = loc.provide_call(uri, &v, &opts)?.unwrap_or(Value::Null);
            print(format, &ret, || render::value(&ret) + "\n")?;
        }
        Command::Plot {
            lifecycle,
            plot_type,
            reachable,
        } => {
            let names: Vec<String> = match lifecycle {
                Some(l) => vec![l.clone()],
                None => loc.lifecycle_names(),
            };
            if *plot_type == PlotType::Json || format == Format::Json {
                let details = names
                    .iter()
                    .map(|n| loc.to_primitive(n))
                    .collect::<Result<Vec<_>, _>>()?;
                println!("{}", serde_json::to_string_pretty(&details)?);
            } else {
                for n in &names {
                    print!("{}", loc.to_dot(n, *reachable)?);
                }
            }
        }
        // Returned above, before a single location was taken.
        Command::Deploy { .. } => {}
        Command::Xpath { xpath, uri } => {
            let matches = loc.xpath(xpath)?;
            print(format, &matches, || {
                if *uri {
                    lines(matches.iter().map(|m| m.xpath.clone()))
                } else {
                    lines(
                        matches
                            .iter()
                            .map(|m| format!("{:<9} {}", m.kind.as_str(), m.xpath)),
                    )
                }
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values_keep_colons_and_types() {
        assert_eq!(parse_value("8080"), Value::Int(8080));
        assert_eq!(parse_value("http://a:80/x"), Value::from("http://a:80/x"));
        assert_eq!(parse_value("[a, b]"), Value::from(vec!["a", "b"]));
        assert_eq!(parse_value("[1, 2]"), Value::from(vec![1i64, 2]));
        assert_eq!(parse_value("null"), Value::from("null"));
    }

    #[test]
    fn repeated_requires_fill_successive_sets() {
        let args = ValueArgs {
            require: ["r", "v:a", "r", "v:b", "u:http://x:1"]
                .map(String::from)
                .to_vec(),
            json: None,
            path_idx: 0,
        };
        let v = values(&args).unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            r#"[["//r/v",{"0":"a","1":"b"}],["//r/u",{"1":"http://x:1"}]]"#
        );
    }
}
