//! The original's XML view of a location (its `xpath()` and `to_xml()` answers): one element
//! per resource, named after it, with a `ressource` attribute and `<properties>`, printed the
//! way lxml's `pretty_print` did. Built from our lifecycle details, since our agents keep no
//! XML tree.

use armonic_lifecycle::Kind;
use armonic_lifecycle::info::{
    LifecycleDetail, Match, ProvideInfo, RequireInfo, RequireType, StateInfo, VariableInfo,
};

/// An element of the tree.
struct Node {
    tag: String,
    ressource: Option<&'static str>,
    text: Option<String>,
    children: Vec<Node>,
}

impl Node {
    fn resource(tag: &str, kind: &'static str, children: Vec<Node>) -> Node {
        Node {
            tag: tag.to_owned(),
            ressource: Some(kind),
            text: None,
            children,
        }
    }

    fn plain(tag: &str, children: Vec<Node>) -> Node {
        Node {
            tag: tag.to_owned(),
            ressource: None,
            text: None,
            children,
        }
    }

    fn text(tag: &str, text: Option<&str>) -> Node {
        Node {
            tag: tag.to_owned(),
            ressource: None,
            text: text.map(str::to_owned),
            children: Vec::new(),
        }
    }

    fn write(&self, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        out.push_str(&pad);
        out.push('<');
        out.push_str(&self.tag);
        if let Some(r) = self.ressource {
            out.push_str(" ressource=\"");
            out.push_str(r);
            out.push('"');
        }
        match (&self.text, self.children.is_empty()) {
            (None, true) => out.push_str("/>\n"),
            (Some(t), true) => {
                out.push('>');
                out.push_str(&escape(t));
                out.push_str("</");
                out.push_str(&self.tag);
                out.push_str(">\n");
            }
            (_, false) => {
                out.push_str(">\n");
                for c in &self.children {
                    c.write(depth + 1, out);
                }
                out.push_str(&pad);
                out.push_str("</");
                out.push_str(&self.tag);
                out.push_str(">\n");
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        self.write(0, &mut out);
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn variable(v: &VariableInfo) -> Node {
    Node::resource(&v.name, "variable", Vec::new())
}

fn require(r: &RequireInfo) -> Node {
    let mut props = Vec::new();
    if r.kind != RequireType::Simple {
        props.push(Node::text("xpath", r.provide_xpath.as_deref()));
    }
    props.push(Node::text("nargs", Some(&r.nargs.to_string())));
    props.push(Node::text("type", Some(r.kind.as_str())));
    let mut children = vec![Node::plain("properties", props)];
    children.extend(r.variables_skel.iter().map(variable));
    Node::resource(&r.name, "require", children)
}

fn provide(p: &ProvideInfo) -> Node {
    Node::resource(&p.name, "provide", p.requires.iter().map(require).collect())
}

fn state(s: &StateInfo) -> Node {
    let os: Vec<Node> = if s.supported_os.is_empty() {
        vec![Node::plain(
            "supported_os",
            vec![
                Node::text("name", Some("all")),
                Node::text("release", Some("all")),
            ],
        )]
    } else {
        s.supported_os
            .iter()
            .map(|o| {
                Node::plain(
                    "supported_os",
                    vec![
                        Node::text("name", Some(&o.name)),
                        Node::text("release", o.release.as_deref()),
                    ],
                )
            })
            .collect()
    };
    let mut children = vec![Node::plain("properties", os), provide(&s.enter)];
    children.extend(s.provides.iter().map(provide));
    Node::resource(&s.name, "state", children)
}

fn lifecycle(l: &LifecycleDetail) -> Node {
    let mut children = Vec::new();
    if !l.transitions.is_empty() {
        let transitions = l
            .transitions
            .iter()
            .map(|(src, dst)| {
                Node::plain(
                    "transition",
                    vec![
                        Node::text("source", Some(src)),
                        Node::text("destination", Some(dst)),
                    ],
                )
            })
            .collect();
        children.push(Node::plain("properties", transitions));
    }
    children.extend(l.states.iter().map(state));
    Node::resource(&l.name, "lifecycle", children)
}

/// The names along an absolute address: `/vm/WebServer/Active` → `["vm", "WebServer", "Active"]`.
pub fn names(xpath: &str) -> Vec<&str> {
    xpath.trim_start_matches('/').split('/').collect()
}

/// The element of resource `m`, pretty-printed; `details` holds the lifecycles needed (every
/// lifecycle of the location for a location match). `None` if they do not hold it.
pub fn render(m: &Match, details: &[LifecycleDetail]) -> Option<String> {
    let path = names(&m.xpath);
    if m.kind == Kind::Location {
        let location = path.first()?;
        let children = details.iter().map(lifecycle).collect();
        return Some(Node::resource(location, "location", children).render());
    }
    let l = details
        .iter()
        .find(|d| Some(&d.name.as_str()) == path.get(1))?;
    let Some(state_name) = path.get(2) else {
        return Some(lifecycle(l).render());
    };
    let s = l.states.iter().find(|s| s.name == *state_name)?;
    let Some(provide_name) = path.get(3) else {
        return Some(state(s).render());
    };
    let p = if *provide_name == "enter" {
        &s.enter
    } else {
        s.provides.iter().find(|p| p.name == *provide_name)?
    };
    let Some(require_name) = path.get(4) else {
        return Some(provide(p).render());
    };
    let r = p.requires.iter().find(|r| r.name == *require_name)?;
    let Some(variable_name) = path.get(5) else {
        return Some(require(r).render());
    };
    let v = r.variables_skel.iter().find(|v| v.name == *variable_name)?;
    Some(variable(v).render())
}

/// The lifecycles whose details rendering `matches` needs; `None` when every lifecycle of the
/// location is needed (a location matched).
pub fn lifecycles_needed(matches: &[Match]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for m in matches {
        if m.kind == Kind::Location {
            return None;
        }
        if let Some(name) = names(&m.xpath).get(1) {
            if !out.iter().any(|n| n == name) {
                out.push((*name).to_owned());
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use armonic_lifecycle::Nargs;
    use indexmap::IndexMap;

    fn var(name: &str, xpath: &str) -> VariableInfo {
        VariableInfo {
            name: name.into(),
            xpath: xpath.into(),
            ty: "str".into(),
            default: None,
            value: None,
            required: true,
            error: None,
            from_xpath: None,
            extra: IndexMap::new(),
            choices: vec![],
            min: None,
            max: None,
            pattern: None,
            secret: false,
        }
    }

    fn provide_info(name: &str, xpath: &str, requires: Vec<RequireInfo>) -> ProvideInfo {
        ProvideInfo {
            name: name.into(),
            xpath: xpath.into(),
            label: None,
            help: None,
            tags: vec![],
            extra: IndexMap::new(),
            flags: IndexMap::new(),
            requires,
            secret_returns: vec![],
            destructive: false,
        }
    }

    fn state_info(name: &str, enter: ProvideInfo, provides: Vec<ProvideInfo>) -> StateInfo {
        StateInfo {
            name: name.into(),
            xpath: format!("/vm/WebSite/{name}"),
            doc: None,
            supported_os: vec![],
            enter,
            provides,
            destructive: false,
        }
    }

    /// The WebSite lifecycle of §3.1 of the reference.
    fn website() -> LifecycleDetail {
        let path = var("path", "/vm/WebSite/Templated/enter/document_root/path");
        let url = var("url", "/vm/WebSite/Active/start/webserver/url");
        let local = |name: &str, xpath: &str, dep: &str, v: VariableInfo| RequireInfo {
            name: name.into(),
            xpath: xpath.into(),
            kind: RequireType::Local,
            nargs: Nargs::Exactly(1),
            nargs_min: 1,
            nargs_max: 1,
            provide_xpath: Some(dep.into()),
            provide_args: vec![],
            provide_ret: vec![],
            variables: vec![vec![v.clone()]],
            variables_skel: vec![v],
            extra: IndexMap::new(),
        };
        LifecycleDetail {
            name: "WebSite".into(),
            xpath: "/vm/WebSite".into(),
            doc: None,
            initial: "NotInstalled".into(),
            stack: vec!["NotInstalled".into()],
            states: vec![
                state_info(
                    "NotInstalled",
                    provide_info("enter", "/vm/WebSite/NotInstalled/enter", vec![]),
                    vec![],
                ),
                state_info(
                    "Templated",
                    provide_info(
                        "enter",
                        "/vm/WebSite/Templated/enter",
                        vec![local(
                            "document_root",
                            "/vm/WebSite/Templated/enter/document_root",
                            "//WebServer/Configured/create_document_root",
                            path,
                        )],
                    ),
                    vec![],
                ),
                state_info(
                    "Active",
                    provide_info("enter", "/vm/WebSite/Active/enter", vec![]),
                    vec![provide_info(
                        "start",
                        "/vm/WebSite/Active/start",
                        vec![local(
                            "webserver",
                            "/vm/WebSite/Active/start/webserver",
                            "//WebServer//start",
                            url,
                        )],
                    )],
                ),
            ],
            transitions: vec![
                ("NotInstalled".into(), "Templated".into()),
                ("Templated".into(), "Active".into()),
            ],
        }
    }

    fn m(xpath: &str, kind: Kind) -> Match {
        Match {
            xpath: xpath.into(),
            kind,
        }
    }

    #[test]
    fn a_provide_renders_with_its_requires_and_their_properties() {
        let got = render(&m("/vm/WebSite/Active/start", Kind::Provide), &[website()]).unwrap();
        assert_eq!(
            got,
            "<start ressource=\"provide\">\n\
             \x20 <webserver ressource=\"require\">\n\
             \x20   <properties>\n\
             \x20     <xpath>//WebServer//start</xpath>\n\
             \x20     <nargs>1</nargs>\n\
             \x20     <type>local</type>\n\
             \x20   </properties>\n\
             \x20   <url ressource=\"variable\"/>\n\
             \x20 </webserver>\n\
             </start>\n"
        );
    }

    #[test]
    fn a_lifecycle_renders_its_transitions_then_its_states() {
        let got = render(&m("/vm/WebSite", Kind::Lifecycle), &[website()]).unwrap();
        assert!(got.starts_with(
            "<WebSite ressource=\"lifecycle\">\n\
             \x20 <properties>\n\
             \x20   <transition>\n\
             \x20     <source>NotInstalled</source>\n\
             \x20     <destination>Templated</destination>\n\
             \x20   </transition>\n"
        ));
        assert!(got.contains(
            "  <NotInstalled ressource=\"state\">\n\
             \x20   <properties>\n\
             \x20     <supported_os>\n\
             \x20       <name>all</name>\n\
             \x20       <release>all</release>\n\
             \x20     </supported_os>\n\
             \x20   </properties>\n\
             \x20   <enter ressource=\"provide\"/>\n\
             \x20 </NotInstalled>\n"
        ));
        assert!(got.ends_with("</WebSite>\n"));
    }

    #[test]
    fn a_location_renders_every_lifecycle_and_a_variable_alone() {
        let got = render(&m("/vm", Kind::Location), &[website()]).unwrap();
        assert!(
            got.starts_with("<vm ressource=\"location\">\n  <WebSite ressource=\"lifecycle\">\n")
        );
        let var = render(
            &m(
                "/vm/WebSite/Templated/enter/document_root/path",
                Kind::Variable,
            ),
            &[website()],
        )
        .unwrap();
        assert_eq!(var, "<path ressource=\"variable\"/>\n");
        assert!(render(&m("/vm/Nope/X", Kind::State), &[website()]).is_none());
    }

    #[test]
    fn the_lifecycles_needed_are_listed_once() {
        let ms = [
            m("/vm/WebSite/Active/start", Kind::Provide),
            m("/vm/WebSite/Active", Kind::State),
            m("/vm/WebServer", Kind::Lifecycle),
        ];
        assert_eq!(
            lifecycles_needed(&ms),
            Some(vec!["WebSite".to_owned(), "WebServer".to_owned()])
        );
        assert_eq!(lifecycles_needed(&[m("/vm", Kind::Location)]), None);
    }
}
