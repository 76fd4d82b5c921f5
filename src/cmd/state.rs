//! `armonic state`: states, their paths, what entering them needs.

use anyhow::Result;
use armonic_lifecycle::info::ProvideInfo;
use armonic_proto::{ApiError, method};

use super::{Ctx, lines};
use crate::backend::address;
use crate::cli::StateArgs;
use crate::render;

/// Lists states as `args` asks.
pub fn run(cx: &Ctx<'_>, args: &StateArgs) -> Result<()> {
    let backend = cx.backend()?;
    let xpath = address(&args.xpath)?;
    if args.path {
        let paths = backend.ask(method::StateGotoPath { xpath })?;
        return cx.print(&paths, || render::paths(&paths));
    }
    let states = backend.ask(method::State { xpath })?;
    if args.requires_list {
        // A state that cannot be reached needs nothing: it is listed as such.
        let mut all: Vec<(String, Option<Vec<ProvideInfo>>)> = Vec::new();
        for s in &states {
            let needs = match backend.ask(method::StateGotoRequires {
                uri: address(&s.xpath)?,
                path_idx: 0,
            }) {
                Ok(needs) => Some(needs),
                Err(ApiError::NoPath { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            all.push((s.xpath.clone(), needs));
        }
        return cx.print(&all, || {
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
        });
    }
    cx.print(&states, || {
        if args.long_description {
            states.iter().map(|s| render::state(s) + "\n").collect()
        } else {
            lines(states.iter().map(|s| s.xpath.clone()))
        }
    })
}
