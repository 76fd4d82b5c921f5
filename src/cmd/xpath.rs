//! `armonic xpath`: what an address matches.

use anyhow::Result;
use armonic_proto::method;

use super::{Ctx, lines};
use crate::backend::address;

/// Prints what `xpath` matches (with each resource's kind, unless `uri`).
pub fn run(cx: &Ctx<'_>, xpath: &str, uri: bool) -> Result<()> {
    let matches = cx.backend()?.ask(method::Xpath {
        xpath: address(xpath)?,
    })?;
    cx.print(&matches, || {
        if uri {
            lines(matches.iter().map(|m| m.xpath.clone()))
        } else {
            lines(
                matches
                    .iter()
                    .map(|m| format!("{:<9} {}", m.kind.as_str(), m.xpath)),
            )
        }
    })
}
