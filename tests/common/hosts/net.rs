//! The hosts' LAN: a network namespace per host and one for the test's client, joined by a
//! bridge living in a namespace of its own; nothing is added to the machine's own network.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use super::run::checked;

const IP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `ip ARGS`.
pub fn ip(args: &[&str]) -> Result<(), String> {
    checked("ip", args, IP_TIMEOUT).map(drop)
}

/// A subnet 10.X.Y.0/24 chosen at random (only ever used inside the test's namespaces).
pub fn random_subnet() -> [u8; 3] {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let r = h.finish();
    [10, 100 + (r % 150) as u8, (r >> 8) as u8]
}

/// The LAN's bridge: namespace `ns`, bridge `br0` forwarding multicast (mDNS) to every
/// port (no snooping, which would wait for a querier that is not there).
pub fn make_bridge(ns: &str) -> Result<(), String> {
    ip(&["netns", "add", ns])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])?;
    ip(&[
        "-n",
        ns,
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ])?;
    ip(&["-n", ns, "link", "set", "br0", "up"])
}

/// Namespace `ns` on the bridge of namespace `bridge`: its `eth0` with `address`/24, the
/// bridge's end named `port`.
pub fn attach(bridge: &str, port: &str, ns: &str, address: Ipv4Addr) -> Result<(), String> {
    ip(&["netns", "add", ns])?;
    ip(&[
        "-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ])?;
    ip(&["-n", bridge, "link", "set", port, "master", "br0", "up"])?;
    ip(&[
        "-n",
        ns,
        "addr",
        "add",
        &format!("{address}/24"),
        "dev",
        "eth0",
    ])?;
    ip(&["-n", ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", ns, "link", "set", "lo", "up"])
}

/// Removes namespace `ns` (its interfaces go with it), if it is there.
pub fn remove_namespace(ns: &str) {
    if PathBuf::from("/run/netns").join(ns).exists() {
        let _ = ip(&["netns", "del", ns]);
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as text (lossy).
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `s` encoded for a form (application/x-www-form-urlencoded).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Splits `http://HOST[:PORT][/PATH]` into (HOST, PORT, PATH).
pub fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_owned(),
            p.parse().map_err(|_| format!("{url}: bad port {p}"))?,
        ),
        None => (authority.to_owned(), 80),
    };
    Ok((host, port, path))
}

/// One HTTP/1.0 exchange with `to`, made from network namespace `ns` (a thread of its own
/// enters it): `request` is sent as is, the response read to its end.
pub fn exchange(
    ns: &str,
    to: SocketAddr,
    request: Vec<u8>,
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let path = PathBuf::from("/run/netns").join(ns);
    let worker = std::thread::spawn(move || -> Result<Vec<u8>, String> {
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot enter {}: {e}", path.display()))?;
        let mut s = TcpStream::connect_timeout(&to, timeout)
            .map_err(|e| format!("cannot connect to {to}: {e}"))?;
        s.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        s.write_all(&request)
            .map_err(|e| format!("cannot send to {to}: {e}"))?;
        let mut answer = Vec::new();
        s.take(64 << 20)
            .read_to_end(&mut answer)
            .map_err(|e| format!("reading from {to}: {e}"))?;
        Ok(answer)
    });
    let answer = worker
        .join()
        .map_err(|_| "the HTTP client thread panicked".to_owned())??;
    parse_response(&answer)
}

fn parse_response(answer: &[u8]) -> Result<HttpResponse, String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "not an HTTP response: {:?}",
                String::from_utf8_lossy(answer)
            )
        })?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&answer[end + 4..]).into_owned(),
    })
}
