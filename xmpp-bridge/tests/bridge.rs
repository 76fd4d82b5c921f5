//! The bridge against a real XMPP server: the mesh's agents appear as the original's, every
//! method answers in the original's shapes, logs reach the deployment's room, and the
//! original's flaws are gone (authorization, concurrent calls, correlated results).
//!
//! Every scenario runs on Prosody and on ejabberd; a server that is not installed skips its
//! tests (they print why).

mod common;

use std::time::Duration;

use armonic_proto::DeploymentId;
use common::client::{TestClient, is_presence};
use common::commands;
use common::{DOMAIN, Kind, MUC, Outcome, World, agent, eventually};
use serde_json::{Value as Json, json};
use tokio_xmpp::Stanza;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::stanza_error::DefinedCondition;

fn args(a: Json) -> Json {
    json!({"args": a, "kwargs": {}})
}

fn kwargs(k: Json) -> Json {
    json!({"args": [], "kwargs": k})
}

async fn read(c: &mut TestClient, method: &str, params: Json) -> Json {
    c.call(&agent("web1"), method, params, None).await.value()
}

/// A log line seen in a room: (sender's nick, level, level name, body).
type Line = (String, u8, String, String);

fn log_line(s: &Stanza) -> Option<Line> {
    let Stanza::Message(m) = s else { return None };
    if m.type_ != MessageType::Groupchat {
        return None;
    }
    let log = m.payloads.iter().find(|p| p.is("log", "armonic"))?;
    let text = |n: &str| {
        log.get_child(n, "armonic")
            .map(|e| e.text())
            .unwrap_or_default()
    };
    Some((
        m.from.as_ref()?.resource()?.to_string(),
        text("level").parse().ok()?,
        text("level_name"),
        m.bodies.values().next().cloned().unwrap_or_default(),
    ))
}

/// Takes the log line whose body is `body`.
async fn line(c: &mut TestClient, body: &str) -> Line {
    let s = c
        .take(&format!("the log line '{body}'"), |s| {
            log_line(s).is_some_and(|l| l.3 == body)
        })
        .await;
    log_line(&s).unwrap()
}

async fn agents_log_in_as_their_location_and_subscribe_to_the_master(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    for name in ["web1", "web2"] {
        let bare = format!("{name}@{DOMAIN}");
        let s = w
            .master
            .take(&format!("the subscription request of {bare}"), |s| {
                matches!(s, Stanza::Presence(p) if p.type_ == PresenceType::Subscribe
                    && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == bare))
            })
            .await;
        let Stanza::Presence(p) = s else {
            unreachable!()
        };
        let status = p.statuses.values().next().cloned().unwrap_or_default();
        assert_eq!(status, format!("New Armonic Agent {bare}"));
    }
    // What `armocli list` reads: the master's roster.
    w.master
        .send_xml("<iq xmlns='jabber:client' type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let s = w
        .master
        .take(
            "the roster",
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == "roster1"),
        )
        .await;
    let Stanza::Iq(Iq::Result {
        payload: Some(roster),
        ..
    }) = s
    else {
        panic!("{s:?}")
    };
    let roster = String::from(&roster);
    for name in ["web1", "web2"] {
        assert!(
            roster.contains(&format!("jid='{name}@{DOMAIN}'")),
            "{roster}"
        );
    }
    assert_eq!(w.bridge().online(), ["web1", "web2"]);
    w.stop().await;
}

async fn every_method_answers_in_the_originals_shapes(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let c = &mut w.master;

    let info = read(c, "info", args(json!([]))).await;
    let keys: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["os-type", "os-release", "version", "public-ip"]);
    assert_eq!(info["public-ip"], "web1");

    let lifecycles = read(c, "lifecycle", args(json!(["//*[@ressource='lifecycle']"]))).await;
    assert!(
        lifecycles
            .as_array()
            .unwrap()
            .contains(&json!("/web1/WebServer")),
        "{lifecycles}"
    );
    let long = read(
        c,
        "lifecycle",
        kwargs(json!({"xpath": "//WebServer", "long_description": true})),
    )
    .await;
    assert_eq!(long[0]["name"], "WebServer");
    assert_eq!(long[0]["xpath"], "/web1/WebServer");
    assert!(
        long[0]["doc"].as_str().unwrap().contains("webserver"),
        "{long}"
    );

    let states = read(c, "state", args(json!(["//WebServer/*"]))).await;
    assert!(
        states
            .as_array()
            .unwrap()
            .contains(&json!("/web1/WebServer/Active")),
        "{states}"
    );
    let state = read(
        c,
        "state",
        kwargs(json!({"xpath": "//WebServer/Configured", "doc": true})),
    )
    .await;
    assert_eq!(state[0]["xpath"], "WebServer/Configured");
    assert_eq!(state[0]["provide_enter"]["requires"][0]["name"], "conf");
    assert_eq!(state[0]["provides"][0]["name"], "create_document_root");
    assert_eq!(
        state[0]["supported_os_type"],
        json!([{"name": "all", "release": "all"}])
    );

    assert_eq!(
        read(c, "state_current", args(json!(["//WebServer"]))).await,
        json!([{"xpath": "/web1/WebServer/NotInstalled", "state": "NotInstalled"}])
    );
    assert_eq!(
        read(c, "state_goto_path", args(json!(["//WebServer/Active"]))).await,
        json!([{"xpath": "/web1/WebServer/Active",
                "paths": [[["Installed", "enter"], ["Configured", "enter"], ["Active", "enter"]]]}])
    );
    let goto_requires = read(
        c,
        "state_goto_requires",
        args(json!(["//WebServer/Active"])),
    )
    .await;
    assert_eq!(goto_requires["xpath"], "//WebServer/Active");
    assert_eq!(
        goto_requires["requires"][0]["xpath"],
        "WebServer/Configured/enter"
    );

    let provide = read(
        c,
        "provide",
        kwargs(json!({"provide_xpath": "//WebServer//start"})),
    )
    .await;
    assert_eq!(
        provide,
        json!([{"extra": {"label": "Fake webserver activation", "tags": ["demo"]},
                "name": "start", "xpath": "WebServer/Active/start", "requires": [], "flags": {}}])
    );
    let path = read(c, "provide_call_path", args(json!(["//WebServer//start"]))).await;
    assert_eq!(path[0]["xpath"], "/web1/WebServer/Active/start");
    assert_eq!(path[0]["paths"][0][0], json!(["Installed", "enter"]));

    // §2.10 of the reference, as observed on the original.
    let port = json!({"xpath": "WebServer/Configured/enter/conf/port", "from_xpath": null,
                      "name": "port", "extra": {}, "default": 80, "required": true,
                      "value": 80, "error": null, "modifier": null, "type": "int"});
    assert_eq!(
        read(
            c,
            "provide_call_requires",
            kwargs(json!({"provide_xpath_uri": "//WebServer//start", "path_idx": 0}))
        )
        .await,
        json!([
            {"xpath": "WebServer/Configured/enter", "name": "enter", "flags": {}, "extra": {},
             "requires": [{"xpath": "WebServer/Configured/enter/conf", "name": "conf", "extra": {},
                           "type": "simple", "nargs": "1", "nargs_min": 1, "nargs_max": 1,
                           "variables": [[port.clone()]], "variables_skel": [port]}]},
            {"xpath": "WebServer/Active/start", "requires": [], "flags": {}, "name": "start",
             "extra": {"tags": ["demo"], "label": "Fake webserver activation"}}
        ])
    );

    let validation = read(
        c,
        "provide_call_validate",
        kwargs(json!({"provide_xpath_uri": "//WebServer//start",
                      "requires": [[["//conf/port", {"0": 99999}]], {"source": null, "uuid": null}]})),
    )
    .await;
    assert_eq!(validation["xpath"], "//WebServer//start");
    assert_eq!(validation["errors"], true);
    let var = &validation["requires"][0]["requires"][0]["variables"][0][0];
    assert_eq!(var["value"], 99999);
    assert_eq!(var["error"], "port value must be at most 65535");

    let dot = read(c, "to_dot", args(json!(["WebServer"]))).await;
    assert!(dot.as_str().unwrap().starts_with("digraph"), "{dot}");
    let primitive = read(c, "to_primitive", args(json!(["WebServer"]))).await;
    assert_eq!(primitive["xpath"], "WebServer");
    assert_eq!(
        primitive["transitions"][0],
        json!(["NotInstalled", "Installed"])
    );

    assert_eq!(
        read(c, "uri", args(json!(["//WebServer//start"]))).await,
        json!(["/web1/WebServer/Active/start"])
    );
    assert_eq!(
        read(
            c,
            "uri",
            kwargs(
                json!({"xpath": "//WebServer/Active/*", "relative": true, "resource": "provide"})
            )
        )
        .await,
        json!(["WebServer/Active/enter", "WebServer/Active/start"])
    );

    let xml = read(c, "xpath", args(json!(["//WebSite//start"]))).await;
    assert_eq!(
        xml,
        json!([
            "<start ressource=\"provide\">\n  <webserver ressource=\"require\">\n    <properties>\n      <xpath>//WebServer//start</xpath>\n      <nargs>1</nargs>\n      <type>local</type>\n    </properties>\n    <url ressource=\"variable\"/>\n  </webserver>\n</start>\n"
        ])
    );
    let one = read(c, "to_xml", args(json!(["//WebServer/Active"]))).await;
    assert!(
        one.as_str()
            .unwrap()
            .starts_with("<Active ressource=\"state\">\n  <properties>"),
        "{one}"
    );
    let location = read(c, "to_xml", args(json!(["/*"]))).await;
    assert!(
        location
            .as_str()
            .unwrap()
            .starts_with("<web1 ressource=\"location\">"),
        "{location}"
    );

    // Listings of nothing were empty in the original.
    assert_eq!(
        read(c, "provide", args(json!(["//Nothing"]))).await,
        json!([])
    );
    assert_eq!(
        read(c, "xpath", args(json!(["//Nothing"]))).await,
        json!([])
    );
    w.stop().await;
}

async fn state_changes_return_as_the_original(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let c = &mut w.master;
    let d = DeploymentId::new().to_string();
    let moved = c
        .call(
            &agent("web1"),
            "state_goto",
            kwargs(json!({"xpath": "//WebServer/Configured",
                          "requires": [[["//conf/port", {"0": 8080}]], {"source": null, "uuid": d}]})),
            Some(&d),
        )
        .await
        .value();
    assert_eq!(moved, Json::Null);
    assert_eq!(
        read(c, "state_current", args(json!(["//WebServer"]))).await,
        json!([{"xpath": "/web1/WebServer/Configured", "state": "Configured"}])
    );
    let url = c
        .call(
            &agent("web1"),
            "provide_call",
            kwargs(
                json!({"provide_xpath_uri": "//WebServer//start", "requires": [], "path_idx": 0}),
            ),
            Some(&d),
        )
        .await
        .value();
    assert_eq!(url, json!({"url": "http://web1:8080"}));
    // The other agent is another location.
    assert_eq!(
        w.master
            .call(
                &agent("web2"),
                "state_current",
                args(json!(["//WebServer"])),
                None
            )
            .await
            .value(),
        json!([{"xpath": "/web2/WebServer/NotInstalled", "state": "NotInstalled"}])
    );
    w.stop().await;
}

async fn provide_call_log_lines_arrive_in_the_deployments_room(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let d = DeploymentId::new().to_string();
    let room = format!("{d}@{MUC}");
    w.master.join(&room, "master").await;
    let result = w
        .master
        .call(
            &agent("web1"),
            "provide_call",
            kwargs(
                json!({"provide_xpath_uri": "//WebServer//start", "requires": [], "path_idx": 0}),
            ),
            Some(&d),
        )
        .await
        .value();
    assert_eq!(result, json!({"url": "http://web1:80"}));
    for body in [
        "Installation of webserver packages...",
        "Configuration of webserver service...",
        "Webserver listening on port 80",
        "Activation of webserver service...",
    ] {
        let (nick, level, name, _) = line(&mut w.master, body).await;
        assert_eq!(
            (nick.as_str(), level, name.as_str()),
            ("web1", 20, "info"),
            "{body}"
        );
    }
    // The agent left the room after the call.
    let me = format!("{room}/web1");
    w.master
        .take("web1 leaving the room", |s| {
            is_presence(s, &me, PresenceType::Unavailable)
        })
        .await;
    w.stop().await;
}

async fn errors_come_back_as_the_originals_exceptions(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let web1 = agent("web1");
    let c = &mut w.master;
    let code = |o: Outcome| o.code().to_owned();

    let o = c
        .call(
            &web1,
            "provide_call_requires",
            args(json!(["//Nothing"])),
            None,
        )
        .await;
    assert_eq!(code(o), "XpathNotMatch");
    let o = c
        .call(&web1, "provide_call", args(json!(["//start"])), None)
        .await;
    assert_eq!(code(o), "XpathMultipleMatch");
    let o = c
        .call(
            &web1,
            "provide_call",
            args(json!(["//WebServer//start", [["//conf/port", 99999]]])),
            None,
        )
        .await;
    assert_eq!(code(o), "ValidationError");
    let o = c.call(&web1, "provide", args(json!(["//a[b"])), None).await;
    assert_eq!(code(o), "XpathInvalidExpression");
    let o = c.call(&web1, "provide", args(json!([])), None).await;
    assert_eq!(code(o), "TypeError");

    // An unknown method: answered at once, as the original did.
    let id = c
        .send_call(&web1, "frobnicate", &args(json!([])), None)
        .await;
    let s = c
        .take(
            "the answer to frobnicate",
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == id),
        )
        .await;
    let Stanza::Iq(Iq::Error { error, .. }) = s else {
        panic!("{s:?}")
    };
    assert_eq!(error.defined_condition, DefinedCondition::ItemNotFound);
    let exception = error.other.expect("the exception in the error");
    let text = |n: &str| {
        exception
            .get_child(n, "armonic")
            .map(|e| e.text())
            .unwrap_or_default()
    };
    assert_eq!(text("code"), "MethodNotExposed");
    assert_eq!(text("message"), "Method \"frobnicate\" is not supported");

    // Malformed stanzas get an exception, never a crash.
    c.send_xml(&format!(
        "<iq xmlns='jabber:client' type='set' id='bad1' to='{web1}'><call xmlns='armonic'><method>info</method><params>{{</params></call></iq>"
    ))
    .await;
    assert_eq!(c.status("bad1").await.unwrap_err().code(), "ValueError");
    c.send_xml(&format!(
        "<iq xmlns='jabber:client' type='set' id='bad2' to='{web1}'><call xmlns='armonic'><params>{{}}</params></call></iq>"
    ))
    .await;
    assert_eq!(c.status("bad2").await.unwrap_err().code(), "ValueError");
    // Another payload is not understood: a standard error.
    c.send_xml(&format!(
        "<iq xmlns='jabber:client' type='get' id='bad3' to='{web1}'><query xmlns='urn:example:nothing'/></iq>"
    ))
    .await;
    let s = c
        .take(
            "the answer to bad3",
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == "bad3"),
        )
        .await;
    assert!(matches!(s, Stanza::Iq(Iq::Error { .. })), "{s:?}");
    // Still serving.
    assert_eq!(read(c, "info", args(json!([]))).await["public-ip"], "web1");
    w.stop().await;
}

async fn state_changes_are_refused_to_jids_not_allowed(kind: Kind) {
    let Some(w) = World::start(kind).await else {
        return;
    };
    let web1 = agent("web1");
    let mut stranger = w.client("stranger").await;
    for (method, params) in [
        ("provide_call", args(json!(["//WebServer//start"]))),
        ("state_goto", args(json!(["//WebServer/Active"]))),
    ] {
        let id = stranger.send_call(&web1, method, &params, None).await;
        let refused = stranger.status(&id).await.unwrap_err();
        assert_eq!(refused.code(), "Unauthorized", "{method}");
    }
    // Reading is open to anyone, and nothing changed.
    assert_eq!(
        read(&mut stranger, "state_current", args(json!(["//WebServer"]))).await,
        json!([{"xpath": "/web1/WebServer/NotInstalled", "state": "NotInstalled"}])
    );
    w.stop().await;
}

async fn two_calls_in_flight_at_once_are_answered_each_by_its_own_result(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let web1 = agent("web1");
    let d = DeploymentId::new().to_string();
    w.master.join(&format!("{d}@{MUC}"), "master").await;
    let c = &mut w.master;
    // A state change that runs until the gate opens.
    let slow = c
        .send_call(
            &web1,
            "state_goto",
            &args(json!(["//Gated/Busy"])),
            Some(&d),
        )
        .await;
    assert_eq!(c.status(&slow).await.unwrap(), "executing");
    let (_, level, name, _) = line(c, "gate opened").await;
    assert_eq!((level, name.as_str()), (25, "process"));
    // Meanwhile, another state change and a read on the same agent.
    let start = c
        .send_call(
            &web1,
            "provide_call",
            &args(json!(["//WebServer//start"])),
            Some(&d),
        )
        .await;
    let current = c
        .send_call(&web1, "state_current", &args(json!(["//Gated"])), None)
        .await;
    assert_eq!(
        c.outcome(&current).await.value(),
        json!([{"xpath": "/web1/Gated/Idle", "state": "Idle"}])
    );
    assert_eq!(
        c.outcome(&start).await.value(),
        json!({"url": "http://web1:80"})
    );
    assert!(
        c.try_take(
            Duration::from_millis(200),
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == format!("{slow}-result"))
        )
        .await
        .is_none(),
        "the gated call cannot have finished"
    );
    std::fs::write(&w.gate, "").unwrap();
    assert_eq!(c.outcome(&slow).await.value(), Json::Null);
    line(c, "through the gate").await;
    assert_eq!(
        read(c, "state_current", args(json!(["//Gated"]))).await,
        json!([{"xpath": "/web1/Gated/Busy", "state": "Busy"}])
    );
    w.stop().await;
}

async fn an_agent_that_leaves_the_mesh_goes_offline(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let web2 = w.nodes.remove(1);
    web2.handle.shutdown().await;
    let jid = agent("web2");
    w.master
        .take("web2 going offline", |s| {
            is_presence(s, &jid, PresenceType::Unavailable)
        })
        .await;
    let bridge = w.bridge();
    eventually("the bridge to count web2 out", || async {
        bridge.online() == ["web1"]
    })
    .await;
    // web1 still answers.
    assert_eq!(
        read(&mut w.master, "info", args(json!([]))).await["public-ip"],
        "web1"
    );
    w.stop().await;
}

async fn agents_register_their_accounts_in_band_when_asked(kind: Kind) {
    // The accounts of web1 and web2 do not exist: the bridge creates them.
    let Some(mut w) = World::start_with(kind, |c| c.register = true).await else {
        return;
    };
    assert_eq!(
        read(&mut w.master, "info", args(json!([]))).await["public-ip"],
        "web1"
    );
    w.stop().await;
}

/// Everything said to an agent whose location left gets no answer from the bridge: the
/// server answers for the offline JID.
async fn a_call_to_an_unknown_agent_is_answered_by_the_server(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let to = format!("nobody@{DOMAIN}/agent");
    let id = w
        .master
        .send_call(&to, "info", &args(json!([])), None)
        .await;
    let s = w
        .master
        .take(
            "the server's answer",
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == id),
        )
        .await;
    assert!(matches!(s, Stanza::Iq(Iq::Error { .. })), "{s:?}");
    let _ = Jid::new(&to).unwrap();
    w.stop().await;
}

/// The calls `smartonic --manage //WebSite//start` makes on an agent, in its order (§5.8 of
/// the reference): each node validated then called, children first, the deployment's id
/// with every call and its room joined.
async fn smartonic_deploys_the_website_with_the_originals_calls(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let web1 = agent("web1");
    let d = DeploymentId::new().to_string();
    w.master.join(&format!("{d}@{MUC}"), "master").await;
    let c = &mut w.master;
    let info = c
        .call(&web1, "info", args(json!([])), Some(&d))
        .await
        .value();
    assert_eq!(info["public-ip"], "web1");
    let provides = c
        .call(
            &web1,
            "provide",
            args(json!(["//WebSite//start"])),
            Some(&d),
        )
        .await
        .value();
    assert_eq!(provides[0]["xpath"], "WebSite/Active/start");
    let nodes = [
        (
            "//WebServer/Configured/create_document_root",
            json!([["WebServer/Configured/create_document_root/document_root/path", {"0": "/var/www/website/"}]]),
        ),
        (
            "//WebServer//start",
            json!([["WebServer/Configured/enter/conf/port", {"0": 80}]]),
        ),
        (
            "//WebSite//start",
            json!([
                ["WebSite/Templated/enter/document_root/path", {"0": "/var/www/website/"}],
                ["WebSite/Active/start/webserver/url", {"0": "http://web1:80"}]
            ]),
        ),
    ];
    let mut returned = Json::Null;
    for (xpath, values) in nodes {
        let validation = c
            .call(
                &web1,
                "provide_call_validate",
                kwargs(json!({"provide_xpath_uri": xpath, "requires": values.clone()})),
                Some(&d),
            )
            .await
            .value();
        assert_eq!(validation["errors"], false, "{xpath}: {validation}");
        returned = c
            .call(
                &web1,
                "provide_call",
                kwargs(json!({"provide_xpath_uri": xpath,
                              "requires": [values, {"source": null, "uuid": d}]})),
                Some(&d),
            )
            .await
            .value();
    }
    assert_eq!(returned, json!({"url": "http://web1:80"}));
    let (nick, _, name, _) = line(c, "Start website").await;
    assert_eq!((nick.as_str(), name.as_str()), ("web1", "info"));
    assert_eq!(
        read(c, "state_current", args(json!(["//WebSite"]))).await,
        json!([{"xpath": "/web1/WebSite/Active", "state": "Active"}])
    );
    w.stop().await;
}

/// Waits for the master's own client (`master@DOMAIN/master`) to be online.
async fn master_online(c: &mut TestClient) {
    let jid = commands::master();
    c.take("the master online", |s| {
        is_presence(s, &jid, PresenceType::None)
    })
    .await;
}

async fn the_master_offers_the_originals_commands_and_lists_the_provides(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    master_online(&mut w.master).await;
    let c = &mut w.master;
    c.send_xml(&format!(
        "<iq xmlns='jabber:client' type='get' id='items' to='{}'><query xmlns='http://jabber.org/protocol/disco#items' node='{}'/></iq>",
        commands::master(),
        commands::NS
    ))
    .await;
    let s = c
        .take(
            "the commands",
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == "items"),
        )
        .await;
    let Stanza::Iq(Iq::Result {
        payload: Some(p), ..
    }) = s
    else {
        panic!("{s:?}")
    };
    let nodes: Vec<(String, String)> = p
        .children()
        .map(|i| {
            (
                i.attr("node").unwrap_or_default().to_owned(),
                i.attr("name").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("provides".to_owned(), "Get the list of provides".to_owned()),
            ("build".to_owned(), "Build a provide".to_owned())
        ]
    );
    // Anyone may list the provides.
    let mut stranger = w.client("stranger").await;
    let r = commands::command(&mut stranger, "provides", None, None, &[])
        .await
        .unwrap();
    assert_eq!(r.status, "completed");
    let xml = String::from(&r.element);
    assert!(xml.contains("<title>List of provides</title>"), "{xml}");
    assert!(xml.contains("<value>WebSite/Active/start</value>"), "{xml}");
    assert!(xml.contains("<value>web1, web2</value>"), "{xml}");
    w.stop().await;
}

/// Drives build `session` from `reply` to its end, accepting every form as shown (`typed`
/// overrides fields by name), joining the deployment's room when asked to apply. Returns
/// the last reply and the steps seen.
async fn build_to_the_end(
    c: &mut TestClient,
    mut reply: commands::Reply,
    typed: &[(&str, &str)],
) -> (commands::Reply, Vec<String>) {
    let mut steps = Vec::new();
    for _ in 0..100 {
        if reply.status != "executing" {
            return (reply, steps);
        }
        let step = reply.step();
        steps.push(step.clone());
        let mut fields = commands::as_shown(reply.form.as_ref().expect("a form"));
        for (var, values) in &mut fields {
            if let Some((_, v)) = typed.iter().find(|(name, _)| var.ends_with(name)) {
                *values = vec![(*v).to_owned()];
            }
        }
        let action = if step == "apply" {
            c.join(&format!("{}@{MUC}", reply.session), "admin").await;
            "complete"
        } else {
            "next"
        };
        let session = reply.session.clone();
        reply = commands::command(c, "build", Some(action), Some(&session), &fields)
            .await
            .unwrap_or_else(|e| panic!("step {step}: {e:?}"));
        assert_eq!(reply.session, session);
    }
    panic!("the build did not end: {steps:?}")
}

async fn a_standard_client_builds_the_website_through_forms(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    master_online(&mut w.master).await;
    let c = &mut w.master;
    let first = commands::command(c, "build", None, None, &[])
        .await
        .unwrap();
    assert_eq!(
        (first.status.as_str(), first.step().as_str()),
        ("executing", "Which provide do you want to build?")
    );
    let session = first.session.clone();
    // An empty answer is asked again, with why.
    let again = commands::command(
        c,
        "build",
        Some("next"),
        Some(&session),
        &[("xpath".into(), vec![String::new()])],
    )
    .await
    .unwrap();
    assert_eq!(again.notes[0].0, "error");
    let reply = commands::command(
        c,
        "build",
        Some("next"),
        Some(&session),
        &[("xpath".into(), vec!["//WebSite//start".into()])],
    )
    .await
    .unwrap();
    let (end, steps) = build_to_the_end(c, reply, &[("host", "web1")]).await;
    assert!(steps.contains(&"lfm".to_owned()), "{steps:?}");
    assert!(steps.contains(&"validation".to_owned()), "{steps:?}");
    assert_eq!(steps.last().map(String::as_str), Some("apply"), "{steps:?}");
    assert_eq!(end.status, "completed", "{end:?}");
    assert_eq!(end.values("succeeded"), ["1"], "{end:?}");
    let url: Json = serde_json::from_str(&end.values("call_result")[0]).unwrap();
    assert!(
        url["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://web1")),
        "{url}"
    );
    // The deployment's log lines reached its room, the session id being its id (the room
    // may relay them after the command's answer: a loaded server is waited for).
    let first = c
        .try_take(common::client::WAIT, |s| log_line(s).is_some())
        .await;
    assert!(first.is_some(), "no log line in the room {session}@{MUC}");
    // The session is over.
    let over = commands::command(c, "build", Some("next"), Some(&session), &[])
        .await
        .unwrap_err();
    assert_eq!(over.defined_condition, DefinedCondition::BadRequest);
    assert_eq!(
        read(c, "state_current", args(json!(["//WebSite"]))).await,
        json!([{"xpath": "/web1/WebSite/Active", "state": "Active"}])
    );
    w.stop().await;
}

async fn builds_run_side_by_side_and_answer_only_their_owner(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    master_online(&mut w.master).await;
    let mut admin_like = TestClient::connect(
        &w.server.addr(),
        &format!("master@{DOMAIN}/other"),
        common::PASSWORD,
    )
    .await;
    let c = &mut w.master;
    let start = |root: &'static str| [("xpath".to_owned(), vec![root.to_owned()])];
    let a = commands::command(c, "build", None, None, &[])
        .await
        .unwrap();
    let b = commands::command(c, "build", None, None, &[])
        .await
        .unwrap();
    assert_ne!(a.session, b.session);
    let a = commands::command(
        c,
        "build",
        None,
        Some(&a.session),
        &start("//WebServer//start"),
    )
    .await
    .unwrap();
    let b = commands::command(
        c,
        "build",
        None,
        Some(&b.session),
        &start("//WebSite//start"),
    )
    .await
    .unwrap();
    assert_eq!(
        (a.status.as_str(), b.status.as_str()),
        ("executing", "executing")
    );
    // Another client of the same account cannot answer them.
    let taken = commands::command(
        &mut admin_like,
        "build",
        Some("next"),
        Some(&a.session),
        &[],
    )
    .await
    .unwrap_err();
    assert_eq!(taken.defined_condition, DefinedCondition::Forbidden);
    // One is cancelled, the other completes.
    let cancelled = commands::command(c, "build", Some("cancel"), Some(&a.session), &[])
        .await
        .unwrap();
    assert_eq!(cancelled.status, "canceled");
    let (end, _) = build_to_the_end(c, b, &[("host", "web2")]).await;
    assert_eq!(end.values("succeeded"), ["1"], "{end:?}");
    assert_eq!(
        c.call(
            &agent("web2"),
            "state_current",
            args(json!(["//WebSite"])),
            None
        )
        .await
        .value(),
        json!([{"xpath": "/web2/WebSite/Active", "state": "Active"}])
    );
    w.stop().await;
}

async fn builds_are_refused_to_jids_not_allowed(kind: Kind) {
    let Some(w) = World::start(kind).await else {
        return;
    };
    let mut stranger = w.client("stranger").await;
    let refused = commands::command(&mut stranger, "build", None, None, &[])
        .await
        .unwrap_err();
    assert_eq!(refused.defined_condition, DefinedCondition::Forbidden);
    let text = refused.texts.values().next().cloned().unwrap_or_default();
    assert!(text.contains("may not build"), "{text}");
    w.stop().await;
}

/// The stanza size limit of Prosody and ejabberd: a client sending more is disconnected. A
/// 45 KB invalid xpath once got a reply of about 270 KB (the input quoted six times), and the
/// agent went offline for everyone.
async fn a_huge_bad_input_gets_a_short_error_and_the_agent_stays_online(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    let web1 = agent("web1");
    let huge = format!("//{}[", "x".repeat(45_000));
    let c = &mut w.master;
    let o = c.call(&web1, "provide", args(json!([huge])), None).await;
    let Outcome::Exception { code, message } = o else {
        panic!("{o:?}")
    };
    assert_eq!(code, "XpathInvalidExpression");
    assert!(message.len() < 1000, "{} bytes: {message}", message.len());
    assert!(message.contains("(45003 bytes)"), "{message}");
    // Huge method names and keyword names too.
    let o = c
        .call(&web1, &"m".repeat(45_000), args(json!([])), None)
        .await;
    assert_eq!(o.code(), "MethodNotExposed");
    let o = c
        .call(
            &web1,
            "provide",
            json!({"args": [], "kwargs": {"k".repeat(45_000): 1}}),
            None,
        )
        .await;
    assert_eq!(o.code(), "TypeError");
    // Still online, and answering.
    assert_eq!(read(c, "info", args(json!([]))).await["public-ip"], "web1");
    let gone = c.take_all(|s| is_presence(s, &web1, PresenceType::Unavailable));
    assert!(gone.is_empty(), "web1 went offline: {gone:?}");
    assert_eq!(w.bridge().online(), ["web1", "web2"]);
    w.stop().await;
}

/// An answer larger than the server's stanza limit (here set low) is never sent: the caller
/// gets a short exception saying so, and the agent stays online.
async fn an_answer_over_the_stanza_limit_is_refused_and_the_agent_stays_online(kind: Kind) {
    let limit = 8 * 1024;
    let Some(mut w) = World::start_with(kind, |c| c.stanza_limit = limit).await else {
        return;
    };
    let web1 = agent("web1");
    let c = &mut w.master;
    let o = c.call(&web1, "xpath", args(json!(["//*"])), None).await;
    let Outcome::Exception { code, message } = o else {
        panic!("{o:?}")
    };
    assert_eq!(code, "ResultTooLarge", "{message}");
    assert!(message.contains("bytes"), "{message}");
    assert_eq!(read(c, "info", args(json!([]))).await["public-ip"], "web1");
    let gone = c.take_all(|s| is_presence(s, &web1, PresenceType::Unavailable));
    assert!(gone.is_empty(), "web1 went offline: {gone:?}");
    w.stop().await;
}

/// poezio submits `<field/>` (no name, no value) for the fixed fields of a form: ignored.
async fn a_submitted_form_with_empty_fields_is_taken(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    master_online(&mut w.master).await;
    let c = &mut w.master;
    let first = commands::command(c, "build", None, None, &[])
        .await
        .unwrap();
    c.send_xml(&format!(
        "<iq xmlns='jabber:client' type='set' id='empty-fields' to='{}'>\
         <command xmlns='{}' node='build' action='next' sessionid='{}'>\
         <x xmlns='jabber:x:data' type='submit'><field/><field var='root'/><field type='fixed'/>\
         <field var='xpath'><value>//WebSite//start</value></field></x></command></iq>",
        commands::master(),
        commands::NS,
        first.session
    ))
    .await;
    let s = c
        .take(
            "the answer to the form",
            |s| matches!(s, Stanza::Iq(iq) if iq.id() == "empty-fields"),
        )
        .await;
    let Stanza::Iq(Iq::Result {
        payload: Some(p), ..
    }) = s
    else {
        panic!("the form was refused: {s:?}")
    };
    let xml = String::from(&p);
    assert!(xml.contains("status='executing'"), "{xml}");
    assert!(xml.contains("<instructions>manage</instructions>"), "{xml}");
    let cancelled = commands::command(c, "build", Some("cancel"), Some(&first.session), &[])
        .await
        .unwrap();
    assert_eq!(cancelled.status, "canceled");
    w.stop().await;
}

/// A password typed in a build is asked in a text-private field and never said back in
/// clear: not in the forms (the deployment shown for approval included), not in the room.
async fn a_password_typed_in_a_build_is_never_said_back_in_clear(kind: Kind) {
    let Some(mut w) = World::start(kind).await else {
        return;
    };
    master_online(&mut w.master).await;
    let c = &mut w.master;
    let secret = "hunter2-open-sesame";
    let first = commands::command(c, "build", None, None, &[])
        .await
        .unwrap();
    let mut reply = commands::command(
        c,
        "build",
        Some("next"),
        Some(&first.session),
        &[("xpath".into(), vec!["//Vault//open".into()])],
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut asked_private = false;
    for _ in 0..30 {
        seen.push(String::from(&reply.element));
        if reply.status != "executing" {
            break;
        }
        let form = reply.form.clone().expect("a form");
        let mut fields = commands::as_shown(&form);
        for f in &form.fields {
            if f.var
                .as_deref()
                .is_some_and(|v| v.ends_with("key/password"))
            {
                assert_eq!(f.type_, xmpp_parsers::data_forms::FieldType::TextPrivate);
                assert!(f.values.is_empty(), "{f:?}");
                asked_private = true;
                fields.retain(|(v, _)| v != f.var.as_deref().unwrap_or_default());
                fields.push((f.var.clone().unwrap_or_default(), vec![secret.into()]));
            }
            if f.var.as_deref() == Some("host") {
                fields.retain(|(v, _)| v != "host");
                fields.push(("host".into(), vec!["web1".into()]));
            }
        }
        let action = if reply.step() == "apply" {
            c.join(&format!("{}@{MUC}", reply.session), "admin").await;
            "complete"
        } else {
            "next"
        };
        let session = reply.session.clone();
        reply = commands::command(c, "build", Some(action), Some(&session), &fields)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert!(asked_private, "the password was never asked: {seen:#?}");
    assert_eq!(reply.status, "completed", "{seen:#?}");
    assert_eq!(reply.values("succeeded"), ["1"], "{reply:?}");
    for xml in &seen {
        assert!(!xml.contains(secret), "{xml}");
    }
    line(c, "the vault is open").await;
    let lines: Vec<Line> = c
        .take_all(|s| log_line(s).is_some())
        .iter()
        .filter_map(log_line)
        .collect();
    for l in &lines {
        assert!(!l.3.contains(secret), "{l:?}");
    }
    // What the step printed with the password reached the room masked.
    assert!(
        lines
            .iter()
            .any(|l| l.3.contains("unsealing the vault with ********")),
        "{lines:?}"
    );
    w.stop().await;
}

macro_rules! on_every_server {
    ($($scenario:ident),* $(,)?) => {
        mod prosody {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::Kind::Prosody).await;
                }
            )*
        }
        mod ejabberd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::Kind::Ejabberd).await;
                }
            )*
        }
    };
}

on_every_server!(
    agents_log_in_as_their_location_and_subscribe_to_the_master,
    every_method_answers_in_the_originals_shapes,
    state_changes_return_as_the_original,
    provide_call_log_lines_arrive_in_the_deployments_room,
    errors_come_back_as_the_originals_exceptions,
    state_changes_are_refused_to_jids_not_allowed,
    two_calls_in_flight_at_once_are_answered_each_by_its_own_result,
    an_agent_that_leaves_the_mesh_goes_offline,
    agents_register_their_accounts_in_band_when_asked,
    a_call_to_an_unknown_agent_is_answered_by_the_server,
    smartonic_deploys_the_website_with_the_originals_calls,
    the_master_offers_the_originals_commands_and_lists_the_provides,
    a_standard_client_builds_the_website_through_forms,
    builds_run_side_by_side_and_answer_only_their_owner,
    builds_are_refused_to_jids_not_allowed,
    a_huge_bad_input_gets_a_short_error_and_the_agent_stays_online,
    an_answer_over_the_stanza_limit_is_refused_and_the_agent_stays_online,
    a_submitted_form_with_empty_fields_is_taken,
    a_password_typed_in_a_build_is_never_said_back_in_clear,
);
