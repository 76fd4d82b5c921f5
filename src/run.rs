//! Runs one command on embedded locations.

use std::process::ExitCode;

use anyhow::Result;
use armonic_lifecycle::info::ProvideInfo;
use armonic_lifecycle::{CallOptions, Interrupt, Value};
use serde::Serialize;

use crate::cli::{Cli, Command, Format, PlotType};
use crate::many::Many;
use crate::render;
use crate::settings::Settings;
use crate::values::values;

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
pub fn run(cli: &Cli, settings: &Settings, interrupt: &Interrupt) -> Result<ExitCode> {
    let locations = crate::local::locations(&cli.global, settings, interrupt)?;
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
        yes,
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
            yes: *yes,
        };
        return crate::deploy::deploy(&cli.global, locations, &options, interrupt);
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
            let given = values(args)?;
            let opts = CallOptions {
                path_idx: args.path_idx,
                deployment: given.deployment,
                ..CallOptions::default()
            };
            loc.state_goto(uri, &given.values, &opts)?;
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
            let given = values(args)?;
            if *check {
                let validation = loc.provide_call_validate(uri, &given.values, args.path_idx)?;
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
                deployment: given.deployment,
                ..CallOptions::default()
            };
            let ret = loc
                .provide_call(uri, &given.values, &opts)?
                .unwrap_or(Value::Null);
            print(format, &ret, || render::value(&ret) + "\n")?;
        }
        Command::Plot {
            lifecycle,
            plot_type,
            reachable,
        } => {
            let names: Vec<String> = match lifecycle {
                Some(l) => vec![l.clone()],
                None => loc.lifecycle_addresses(),
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
