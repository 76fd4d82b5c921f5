//! `armonic state-goto`: go to a state, wherever its location is.

use std::process::ExitCode;

use anyhow::Result;
use armonic_proto::{DeploymentId, method};

use super::{Ctx, lines};
use crate::backend::address;
use crate::cli::ValueArgs;
use crate::values::values;

/// Goes to state `uri` with the values given; Ctrl-C stops it wherever it runs.
pub fn run(cx: &Ctx<'_>, uri: &str, args: &ValueArgs) -> Result<ExitCode> {
    let backend = cx.backend()?;
    let given = values(args)?;
    let deployment = given
        .deployment
        .map_or_else(DeploymentId::new, DeploymentId::from_text);
    let goto = method::StateGoto {
        uri: address(uri)?,
        values: given.values,
        path_idx: args.path_idx,
    };
    let current = backend.call(goto, |c| c.in_deployment(deployment))?;
    cx.print(&current, || {
        lines(
            current
                .iter()
                .map(|c| format!("{} is in state {}", c.lifecycle, c.state)),
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
