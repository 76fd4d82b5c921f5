//! Runs one command: a request (or a few) to the backend, and the answer printed.

use std::process::ExitCode;

use anyhow::Result;
use armonic_lifecycle::info::{Info, ProvideInfo};
use armonic_lifecycle::{Interrupt, Value};
use armonic_proto::{ApiError, DeploymentId, Request, Response};
use serde::Serialize;

use crate::backend::{Backend, address, unexpected};
use crate::cli::{Cli, Command, Format, PlotType};
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

/// Sends a request and takes the answer of the variant expected.
macro_rules! ask {
    ($backend:expr, $request:expr, $variant:path) => {{
        let request = $request;
        match $backend.ask(request.clone())? {
            $variant(v) => v,
            other => return Err(unexpected(&request, &other).into()),
        }
    }};
}

fn info_table(info: &Info) -> String {
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
}

/// `provide-call --all`: the provide on every live location that offers it, at once, and a
/// table of what each gave.
fn fan_out(
    backend: &Backend,
    format: Format,
    uri: armonic_lifecycle::Address,
    given: crate::values::Given,
    path_idx: usize,
) -> Result<ExitCode> {
    let locations = ask!(
        backend,
        Request::Offering { xpath: uri.clone() },
        Response::Names
    );
    if locations.is_empty() {
        return Err(ApiError::NoMatch {
            xpath: uri.to_string(),
        }
        .into());
    }
    let deployment = given
        .deployment
        .map_or_else(DeploymentId::new, DeploymentId::from_text);
    let results: Vec<(String, Result<Option<Value>, ApiError>)> = std::thread::scope(|scope| {
        let calls: Vec<_> = locations
            .iter()
            .map(|location| {
                let request = Request::ProvideCall {
                    uri: uri.clone(),
                    values: given.values.clone(),
                    path_idx,
                    deployment: deployment.clone(),
                };
                let call = scope.spawn(move || match backend.ask_at(location, request.clone()) {
                    Ok(Response::Returned(v)) => Ok(v),
                    Ok(other) => Err(unexpected(&request, &other)),
                    Err(e) => Err(e),
                });
                (location.clone(), call)
            })
            .collect();
        calls
            .into_iter()
            .map(|(l, c)| {
                let r = c.join().unwrap_or_else(|_| {
                    Err(ApiError::Agent {
                        message: "the call failed unexpectedly".into(),
                    })
                });
                (l, r)
            })
            .collect()
    });
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|(l, r)| match r {
                    Ok(v) => serde_json::json!({ "location": l, "result": v }),
                    Err(e) => serde_json::json!({
                        "location": l,
                        "error": { "kind": e.kind(), "message": e.to_string() }
                    }),
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Text => {
            let mut rows = vec![("LOCATION".to_owned(), "RESULT".to_owned())];
            for (l, r) in &results {
                rows.push((
                    l.clone(),
                    match r {
                        Ok(v) => render::value(v.as_ref().unwrap_or(&Value::Null)),
                        Err(e) => format!("FAILED: {e}"),
                    },
                ));
            }
            print!("{}", render::table(&rows));
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `armonic key generate`.
fn key(action: &crate::cli::KeyAction, settings: &Settings) -> Result<ExitCode> {
    let crate::cli::KeyAction::Generate { output } = action;
    let path = output.clone().unwrap_or_else(|| {
        settings
            .state_dir
            .clone()
            .unwrap_or_else(armonic_agent::default_state_dir)
            .join(armonic_mesh::SWARM_KEY)
    });
    armonic_mesh::generate_swarm_key(&path)?;
    eprintln!(
        "Swarm key written to {}: copy it to every machine of the mesh (owner-only, it is a secret).",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs the command.
pub fn run(cli: &Cli, settings: &Settings, interrupt: &Interrupt) -> Result<ExitCode> {
    if let Command::Key { action } = &cli.command {
        return key(action, settings);
    }
    if let Command::Demo = &cli.command {
        crate::demo::check(&cli.global)?;
        return crate::demo::run(&cli.global, settings, interrupt);
    }
    let backend = Backend::open(&cli.global, settings, interrupt)?;
    let format = cli.global.format;
    match &cli.command {
        Command::Deploy {
            xpath,
            manage,
            autofill,
            answers,
            save,
            force,
            dry_run,
            parallel,
            yes,
        } => {
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
            return crate::deploy::deploy(&cli.global, &backend, &options, interrupt);
        }
        Command::Agent(_) => unreachable!("the agent is started before any backend"),
        Command::Key { .. } | Command::Demo => unreachable!("run before any backend"),
        Command::Mesh { watch } => crate::mesh::show(&backend, format, *watch, interrupt)?,
        Command::Status => {
            let infos = ask!(backend, Request::Locations, Response::Locations);
            let text = || infos.iter().map(info_table).collect::<Vec<_>>().join("\n");
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
            let lfs = ask!(
                backend,
                Request::Lifecycle {
                    xpath: address(xpath)?
                },
                Response::Lifecycles
            );
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
            let xpath = address(xpath)?;
            if *path {
                let paths = ask!(backend, Request::StateGotoPath { xpath }, Response::Paths);
                print(format, &paths, || render::paths(&paths))?;
            } else if *requires_list {
                let states = ask!(backend, Request::State { xpath }, Response::States);
                // A state that cannot be reached needs nothing: it is listed as such.
                let mut all: Vec<(String, Option<Vec<ProvideInfo>>)> = Vec::new();
                for s in &states {
                    let request = Request::StateGotoRequires {
                        uri: address(&s.xpath)?,
                        path_idx: 0,
                    };
                    let needs = match backend.ask(request.clone()) {
                        Ok(Response::Provides(needs)) => Some(needs),
                        Ok(other) => return Err(unexpected(&request, &other).into()),
                        Err(ApiError::NoPath { .. }) => None,
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
                let states = ask!(backend, Request::State { xpath }, Response::States);
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
            let current = ask!(
                backend,
                Request::StateCurrent {
                    xpath: address(xpath)?
                },
                Response::Current
            );
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
            let request = Request::StateGoto {
                uri: address(uri)?,
                values: given.values,
                path_idx: args.path_idx,
                deployment: given
                    .deployment
                    .map_or_else(DeploymentId::new, DeploymentId::from_text),
            };
            let current = ask!(backend, request, Response::Moved);
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
            let xpath = address(xpath)?;
            if *path {
                let paths = ask!(backend, Request::ProvideCallPath { xpath }, Response::Paths);
                print(format, &paths, || render::paths(&paths))?;
            } else if *all {
                let provides = ask!(backend, Request::Provide { xpath }, Response::Provides);
                let mut out = Vec::new();
                for p in &provides {
                    let request = Request::ProvideCallRequires {
                        uri: address(&p.xpath)?,
                        path_idx: 0,
                    };
                    out.push((p.xpath.clone(), ask!(backend, request, Response::Provides)));
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
                let provides = ask!(backend, Request::Provide { xpath }, Response::Provides);
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
            all,
        } => {
            let given = values(args)?;
            let uri = address(uri)?;
            if *all {
                return fan_out(&backend, format, uri, given, args.path_idx);
            }
            if *check {
                let request = Request::ProvideCallValidate {
                    uri,
                    values: given.values,
                    path_idx: args.path_idx,
                };
                let validation = ask!(backend, request, Response::Validation);
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
            let request = Request::ProvideCall {
                uri,
                values: given.values,
                path_idx: args.path_idx,
                deployment: given
                    .deployment
                    .map_or_else(DeploymentId::new, DeploymentId::from_text),
            };
            let ret = ask!(backend, request, Response::Returned).unwrap_or(Value::Null);
            print(format, &ret, || render::value(&ret) + "\n")?;
        }
        Command::Plot {
            lifecycle,
            plot_type,
            reachable,
        } => {
            let names: Vec<String> = match lifecycle {
                Some(l) => vec![l.clone()],
                None => {
                    let request = Request::Lifecycle {
                        xpath: address("//*[@ressource='lifecycle']")?,
                    };
                    let all = ask!(backend, request, Response::Lifecycles);
                    all.into_iter().map(|l| l.xpath).collect()
                }
            };
            if *plot_type == PlotType::Json || format == Format::Json {
                let mut details = Vec::new();
                for n in &names {
                    let request = Request::ToPrimitive {
                        lifecycle: n.clone(),
                    };
                    details.push(ask!(backend, request, Response::Lifecycle));
                }
                println!("{}", serde_json::to_string_pretty(&details)?);
            } else {
                for n in &names {
                    let request = Request::ToDot {
                        lifecycle: n.clone(),
                        reachable: *reachable,
                    };
                    print!("{}", ask!(backend, request, Response::Dot));
                }
            }
        }
        Command::Watch { deployment } => {
            let Some(client) = backend.client() else {
                return Err(crate::report::Usage(
                    "watch follows deployments run through the agent: drop --local".into(),
                )
                .into());
            };
            let logs = backend.logs();
            let id = DeploymentId::from_text(deployment.clone());
            client.watch(&id, |record| logs.log(&record), || interrupt.is_stopping())?;
            if let Some(code) = crate::report::interrupted_status(interrupt) {
                return Ok(code);
            }
        }
        Command::Xpath { xpath, uri } => {
            let matches = ask!(
                backend,
                Request::Xpath {
                    xpath: address(xpath)?
                },
                Response::Matches
            );
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
