//! `armonic plot`: a lifecycle's state machine, as Graphviz or JSON.

use anyhow::Result;
use armonic_proto::method;

use super::Ctx;
use crate::backend::address;
use crate::cli::{Format, PlotArgs, PlotType};
use crate::report::{out, outln};

/// Prints the lifecycle named (or every one) as `args` asks.
pub fn run(cx: &Ctx<'_>, args: &PlotArgs) -> Result<()> {
    let backend = cx.backend()?;
    let names: Vec<String> = match &args.lifecycle {
        Some(l) => vec![l.clone()],
        None => backend
            .ask(method::Lifecycle {
                xpath: address("//*[@ressource='lifecycle']")?,
            })?
            .into_iter()
            .map(|l| l.xpath)
            .collect(),
    };
    if args.plot_type == PlotType::Json || cx.format() == Format::Json {
        let mut details = Vec::new();
        for n in &names {
            details.push(backend.ask(method::ToPrimitive {
                lifecycle: n.clone(),
            })?);
        }
        outln!("{}", serde_json::to_string_pretty(&details)?)?;
    } else {
        for n in &names {
            out!(
                "{}",
                backend.ask(method::ToDot {
                    lifecycle: n.clone(),
                    reachable: args.reachable,
                })?
            )?;
        }
    }
    Ok(())
}
