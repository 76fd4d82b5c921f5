//! `armonic provide`: provides, their paths, what calling them needs.

use anyhow::Result;
use armonic_proto::method;

use super::{Ctx, lines};
use crate::backend::address;
use crate::cli::ProvideArgs;
use crate::render;

/// Lists provides as `args` asks.
pub fn run(cx: &Ctx<'_>, args: &ProvideArgs) -> Result<()> {
    let backend = cx.backend()?;
    let xpath = address(&args.xpath)?;
    if args.path {
        let paths = backend.ask(method::ProvideCallPath { xpath })?;
        return cx.print(&paths, || render::paths(&paths));
    }
    let provides = backend.ask(method::Provide { xpath })?;
    if args.all {
        let mut out = Vec::new();
        for p in &provides {
            let needs = backend.ask(method::ProvideCallRequires {
                uri: address(&p.xpath)?,
                path_idx: 0,
            })?;
            out.push((p.xpath.clone(), needs));
        }
        return cx.print(&out, || {
            out.iter()
                .map(|(x, needs)| {
                    let need: String = needs
                        .iter()
                        .map(|n| format!("  Need:  {}\n", n.xpath))
                        .collect();
                    format!("\n{x}\n{need}")
                })
                .collect()
        });
    }
    cx.print(&provides, || {
        if args.long_description {
            provides.iter().map(|p| render::provide(p) + "\n").collect()
        } else {
            lines(provides.iter().map(|p| p.xpath.clone()))
        }
    })
}
