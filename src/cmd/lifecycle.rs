//! `armonic lifecycle`: the lifecycles an address names.

use anyhow::Result;
use armonic_proto::method;

use super::{Ctx, lines};
use crate::backend::address;
use crate::render;

/// Lists the lifecycles enclosing what `xpath` matches.
pub fn run(cx: &Ctx<'_>, xpath: &str, long: bool) -> Result<()> {
    let lfs = cx.backend()?.ask(method::Lifecycle {
        xpath: address(xpath)?,
    })?;
    cx.print(&lfs, || {
        if long {
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
    })
}
