//! The address an agent gives for its location when none is configured: where the other
//! machines reach the services it runs.

use std::net::Ipv4Addr;

/// This machine's address as others see it, with its interface: an IPv4 address of the
/// interface of the default route, else of the first interface that is up and not a
/// loopback (by name, so the choice is stable); `None` when there is none. Nothing is sent
/// to find it.
pub fn detect() -> Option<(String, Ipv4Addr)> {
    let default = std::fs::read_to_string("/proc/net/route")
        .ok()
        .and_then(|table| default_route_interface(&table));
    let mut candidates: Vec<(String, Ipv4Addr)> = nix::ifaddrs::getifaddrs()
        .ok()?
        .filter(|i| {
            i.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP)
                && !i
                    .flags
                    .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK)
        })
        .filter_map(|i| {
            let ip = i.address?.as_sockaddr_in()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local())
                .then_some((i.interface_name, ip))
        })
        .collect();
    candidates.sort();
    choose(&candidates, default.as_deref())
}

/// The address of interface `default` if it has one, else the first of `candidates`.
fn choose(candidates: &[(String, Ipv4Addr)], default: Option<&str>) -> Option<(String, Ipv4Addr)> {
    candidates
        .iter()
        .find(|(name, _)| Some(name.as_str()) == default)
        .or_else(|| candidates.first())
        .cloned()
}

/// The interface of the default IPv4 route in `/proc/net/route`'s table, if one is up.
fn default_route_interface(table: &str) -> Option<String> {
    const RTF_UP: u32 = 0x1;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (iface, destination, flags, mask) = (
            fields.first()?,
            fields.get(1)?,
            fields.get(3)?,
            fields.get(7)?,
        );
        let flags = u32::from_str_radix(flags, 16).ok()?;
        (*destination == "00000000" && *mask == "00000000" && flags & RTF_UP != 0)
            .then(|| (*iface).to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth1\t000A0A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";

    #[test]
    fn the_default_route_names_the_interface() {
        assert_eq!(default_route_interface(ROUTES).as_deref(), Some("eth0"));
        assert_eq!(default_route_interface("Iface\tDestination\n"), None);
    }

    #[test]
    fn the_default_route_interface_wins_else_the_first_by_name() {
        let a = (String::from("br0"), Ipv4Addr::new(10, 0, 0, 1));
        let b = (String::from("eth0"), Ipv4Addr::new(192, 168, 1, 5));
        let both = [a.clone(), b.clone()];
        assert_eq!(choose(&both, Some("eth0")), Some(b.clone()));
        assert_eq!(choose(&both, None), Some(a.clone()));
        assert_eq!(choose(&both, Some("wlan0")), Some(a.clone()));
        assert_eq!(choose(&[], Some("eth0")), None);
    }
}
