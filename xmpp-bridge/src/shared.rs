//! What every client of the bridge shares: the configuration, the mesh, who is online.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use armonic_mesh::Handle;

use crate::config::Config;

/// What every agent's client shares.
pub(crate) struct Shared {
    pub config: Arc<Config>,
    pub mesh: Handle,
    pub(crate) online: Mutex<BTreeSet<String>>,
}

impl Shared {
    pub(crate) fn set_online(&self, location: &str, online: bool) {
        if let Ok(mut set) = self.online.lock() {
            if online {
                set.insert(location.to_owned());
            } else {
                set.remove(location);
            }
        }
    }
}
