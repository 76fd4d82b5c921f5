//! Text rendering of results.

use std::fmt::Write;

use armonic_lifecycle::Value;
use armonic_lifecycle::info::{Paths, ProvideInfo, StateInfo};

/// A value on one line, JSON with spaces: `{"url": "http://localhost:80"}`.
pub fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: ", Value::Str(k.clone()));
                write_value(out, item);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Two aligned columns.
pub fn table(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(a, _)| a.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(a, b)| format!("{a:<width$}  {b}\n"))
        .collect()
}

/// Aligned columns; the first row is the header.
pub fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Paths as the original printed them.
pub fn paths(entries: &[Paths]) -> String {
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(out, "\n{}", e.xpath);
        if e.paths.is_empty() {
            out.push_str("  can not be reached.\n");
        }
        for (i, p) in e.paths.iter().enumerate() {
            let _ = writeln!(out, "  path {i}");
            if p.is_empty() {
                out.push_str("    (already there)\n");
            }
            for m in p {
                let verb = match m.action {
                    armonic_lifecycle::paths::Move::Enter => "enter",
                    armonic_lifecycle::paths::Move::Leave => "leave",
                };
                let _ = writeln!(out, "    {verb:<6} {}", m.state);
            }
        }
    }
    out
}

/// A provide with its label, tags, help and requires.
pub fn provide(p: &ProvideInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.xpath);
    if let Some(l) = &p.label {
        let _ = writeln!(out, "  Label  : {l}");
    }
    if !p.tags.is_empty() {
        let _ = writeln!(out, "  Tags   : {}", p.tags.join(", "));
    }
    if let Some(h) = &p.help {
        let _ = writeln!(out, "  Help   : {h}");
    }
    if !p.flags.is_empty() {
        let flags = Value::Map(
            p.flags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        let _ = writeln!(out, "  Flags  : {}", value(&flags));
    }
    for r in &p.requires {
        let _ = writeln!(
            out,
            "  Require: {:<15} type:{:<9} nargs:{}",
            r.name, r.kind, r.nargs
        );
        if let Some(x) = &r.provide_xpath {
            let _ = writeln!(out, "    Provide xpath    :  {x}");
        }
        let groups: [(&str, &[armonic_lifecycle::info::VariableInfo]); 2] =
            if r.provide_xpath.is_some() {
                [
                    ("Variable (args)  ", &r.provide_args),
                    ("Variable (return)", &r.provide_ret),
                ]
            } else {
                [("Variable (args)  ", &r.variables_skel), ("", &[])]
            };
        for (title, vars) in groups {
            for v in vars {
                let default = v.default.as_ref().map_or_else(|| "-".to_owned(), value);
                let req = if v.required { "" } else { " optional" };
                let _ = writeln!(
                    out,
                    "    {title}:  {:<15} type:{:<9} default:{default}{req}",
                    v.name, v.ty
                );
            }
        }
    }
    out
}

/// A state with its OS, provides and enter requires.
pub fn state(s: &StateInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.xpath);
    if let Some(d) = &s.doc {
        let _ = writeln!(out, "  Doc          : {d}");
    }
    let os = if s.supported_os.is_empty() {
        "all".to_owned()
    } else {
        s.supported_os
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "  Supported OS : {os}");
    let provides: Vec<&str> = s.provides.iter().map(|p| p.name.as_str()).collect();
    let _ = writeln!(
        out,
        "  Provides     : {}",
        if provides.is_empty() {
            "-".into()
        } else {
            provides.join(", ")
        }
    );
    let requires: Vec<&str> = s.enter.requires.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "  Enter needs  : {}",
        if requires.is_empty() {
            "-".into()
        } else {
            requires.join(", ")
        }
    );
    out
}
