//! `armonic provide-call`: call a provide (or only check its values), on its location or on
//! every live location that offers it.

use std::process::ExitCode;

use anyhow::Result;
use armonic_lifecycle::{Address, Value};
use armonic_proto::{ApiError, Call, DeploymentId, Listed, method};

use super::{Ctx, lines};
use crate::backend::{Backend, address};
use crate::cli::{Format, ProvideCallArgs};
use crate::render;
use crate::report::{out, outln};
use crate::values::{Given, values};

/// Calls the provide as `args` says; Ctrl-C stops it wherever it runs.
pub fn run(cx: &Ctx<'_>, args: &ProvideCallArgs) -> Result<ExitCode> {
    let backend = cx.backend()?;
    let given = values(&args.values)?;
    let uri = address(&args.uri)?;
    if args.all {
        return fan_out(cx, &backend, uri, given, args.values.path_idx);
    }
    if args.check {
        let validation = backend.ask(method::ProvideCallValidate {
            uri,
            values: given.values,
            path_idx: args.values.path_idx,
        })?;
        let errors = validation.error_list();
        cx.print(&validation, || {
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
    let deployment = given
        .deployment
        .map_or_else(DeploymentId::new, DeploymentId::from_text);
    let call = method::ProvideCall {
        uri,
        values: given.values,
        path_idx: args.values.path_idx,
    };
    let ret = backend
        .call(call, |c| c.in_deployment(deployment))?
        .unwrap_or(Value::Null);
    cx.print(&ret, || render::value(&ret) + "\n")?;
    Ok(ExitCode::SUCCESS)
}

/// `provide-call --all`: the provide on every live location that offers it, at once, and a
/// table of what each gave.
fn fan_out(
    cx: &Ctx<'_>,
    backend: &Backend,
    uri: Address,
    given: Given,
    path_idx: usize,
) -> Result<ExitCode> {
    let locations = backend.ask(method::Offering { xpath: uri.clone() })?;
    if locations.is_empty() {
        return Err(ApiError::NoMatch {
            xpath: uri.to_string(),
        }
        .into());
    }
    let deployment = given
        .deployment
        .map_or_else(DeploymentId::new, DeploymentId::from_text);
    let calls = locations.iter().map(|location| {
        let call = Call::new(method::ProvideCall {
            uri: uri.clone(),
            values: given.values.clone(),
            path_idx,
        })
        .at(location.clone())
        .in_deployment(deployment.clone())
        .stopped_by(cx.interrupt.clone());
        async move {
            backend
                .stream(call)
                .await
                .and_then(<method::ProvideCall as Listed>::answer)
        }
    });
    let results: Vec<(String, Result<Option<Value>, ApiError>)> = locations
        .iter()
        .cloned()
        .zip(futures::executor::block_on(futures::future::join_all(
            calls,
        )))
        .collect();
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match cx.format() {
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
            outln!("{}", serde_json::to_string_pretty(&rows)?)?;
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
            out!("{}", render::table(&rows))?;
        }
    }
    if let Some(code) = crate::report::interrupted_status(cx.interrupt) {
        return Ok(code);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
