//! `armonic status`: the locations and their facts.

use anyhow::Result;
use armonic_lifecycle::info::Info;
use armonic_proto::method;

use super::Ctx;
use crate::render;

fn table(info: &Info) -> String {
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

/// Prints every location (one: an object; several: a list).
pub fn run(cx: &Ctx<'_>) -> Result<()> {
    let infos = cx.backend()?.ask(method::Locations {})?;
    let text = || infos.iter().map(table).collect::<Vec<_>>().join("\n");
    match infos.as_slice() {
        [one] => cx.print(one, text),
        many => cx.print(&many, text),
    }
}
