//! The `armonic-xmpp-bridge` binary.

fn main() {}
