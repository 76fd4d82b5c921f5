//! Graphviz rendering of a lifecycle (`armonic plot`).

use std::fmt::Write;

use crate::model::{LifecycleDef, ProvideDef};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '{' | '}' | '|' | '<' | '>' | '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\l"),
            c => out.push(c),
        }
    }
    out
}

fn provide_cell(p: &ProvideDef) -> String {
    let requires: String = p
        .requires
        .iter()
        .map(|r| format!("{}\\l", escape(&r.name)))
        .collect();
    format!("{{ {}\\l | {{{}}} }}", escape(&p.name), requires)
}

/// Renders `def` as a `digraph`: one record per state (name, doc, provides with their
/// requires), the current state filled, states where `keep` is false left out.
pub fn to_dot(def: &LifecycleDef, current: Option<usize>, keep: &[bool]) -> String {
    let mut out = String::from("digraph finite_state_machine {\nnode [shape = ellipse];\n");
    for (i, s) in def.states.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let mut cells = vec![escape(&s.name), escape(s.doc.as_deref().unwrap_or("None"))];
        cells.extend(
            s.all_provides()
                .filter(|p| p.name != "enter" || !p.requires.is_empty())
                .map(provide_cell),
        );
        let style = if current == Some(i) {
            "\nstyle = \"filled\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "\"{}\"[\nshape = \"record\"{style}\nlabel = \"{{{}}}\"\n];\n",
            escape(&s.name),
            cells.join(" | ")
        );
    }
    for &(a, b) in &def.transitions {
        if keep[a] && keep[b] {
            let _ = writeln!(
                out,
                "\"{}\" -> \"{}\";",
                escape(&def.states[a].name),
                escape(&def.states[b].name)
            );
        }
    }
    out.push_str("}\n");
    out
}
