//! `armonic mesh`: the agents of the mesh, as the local agent knows them.

use std::time::Duration;

use anyhow::Result;
use armonic_proto::{PeerInfo, method};

use super::Ctx;
use crate::cli::Format;
use crate::render;
use crate::report::{out, outln};

fn table(peers: &[PeerInfo]) -> String {
    if peers.iter().all(|p| p.local) {
        return "No other agent is known: see `armonic agent --help` (--peer, mDNS).\n".into();
    }
    let mut rows = vec![
        [
            "NAME",
            "PEER ID",
            "ADDRESSES",
            "LIFECYCLES",
            "LAST SEEN",
            "LIVE",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for p in peers {
        let lifecycles = p
            .catalogue
            .as_ref()
            .map(|c| {
                c.lifecycles
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.current.as_deref().unwrap_or("-")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|| "?".into());
        let name = p.name.clone().unwrap_or_else(|| "?".into());
        rows.push(vec![
            if p.local {
                format!("{name} (here)")
            } else {
                name
            },
            p.peer_id.clone(),
            p.addresses.first().cloned().unwrap_or_else(|| "-".into()),
            lifecycles,
            if p.local {
                "-".into()
            } else {
                format!("{}s ago", p.last_seen_secs)
            },
            if p.live { "yes" } else { "NO" }.into(),
        ]);
    }
    render::columns(&rows)
}

/// Prints the mesh once, or every second with `watch` until Ctrl-C.
pub fn run(cx: &Ctx<'_>, watch: bool) -> Result<()> {
    let backend = cx.backend()?;
    let interrupt = cx.interrupt;
    loop {
        let peers = backend.ask(method::Mesh {})?;
        match cx.format() {
            Format::Json => outln!("{}", serde_json::to_string_pretty(&peers)?)?,
            Format::Text if watch => out!("\x1b[2J\x1b[H{}", table(&peers))?,
            Format::Text => out!("{}", table(&peers))?,
        }
        if !watch {
            return Ok(());
        }
        for _ in 0..10 {
            if interrupt.is_stopping() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
