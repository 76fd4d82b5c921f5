//! `armonic state-current`: where lifecycles stand.

use anyhow::Result;
use armonic_proto::method;

use super::Ctx;
use crate::backend::address;
use crate::render;

/// Prints the current state of each lifecycle enclosing what `xpath` matches.
pub fn run(cx: &Ctx<'_>, xpath: &str) -> Result<()> {
    let current = cx.backend()?.ask(method::StateCurrent {
        xpath: address(xpath)?,
    })?;
    cx.print(&current, || {
        render::table(
            &current
                .iter()
                .map(|c| (c.lifecycle.clone(), c.xpath.clone()))
                .collect::<Vec<_>>(),
        )
    })
}
