//! The embedded locations seen as one: listings cover every location, and a call goes to the
//! location its address matches (as a command will on the mesh).

use armonic_lifecycle::info::{
    CurrentState, Info, LifecycleDetail, LifecycleInfo, Match, Paths, ProvideInfo, StateInfo,
    Validation,
};
use armonic_lifecycle::{CallOptions, Error, Location, Value, Values};

pub struct Many(Vec<Location>);

impl Many {
    pub fn new(locations: Vec<Location>) -> Many {
        Many(locations)
    }

    /// Every location's answer, merged. An address matching nothing on some locations is
    /// fine; matching nothing anywhere is an error.
    fn merged<T>(
        &self,
        xpath: &str,
        f: impl Fn(&Location) -> Result<Vec<T>, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut matched = false;
        for loc in &self.0 {
            match f(loc) {
                Ok(items) => {
                    matched = true;
                    out.extend(items);
                }
                Err(Error::NoMatch { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !matched {
            return Err(Error::NoMatch {
                xpath: xpath.to_owned(),
            });
        }
        Ok(out)
    }

    /// The location an address that must name one resource points to.
    fn index_of(&self, uri: &str) -> Result<usize, Error> {
        let mut found = Vec::new();
        for (i, loc) in self.0.iter().enumerate() {
            match loc.xpath(uri) {
                Ok(matches) => found.push((i, matches)),
                Err(Error::NoMatch { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        match found.len() {
            0 => Err(Error::NoMatch {
                xpath: uri.to_owned(),
            }),
            1 => Ok(found[0].0),
            _ => Err(Error::MultipleMatch {
                xpath: uri.to_owned(),
                matches: found
                    .into_iter()
                    .flat_map(|(_, m)| m.into_iter().map(|m| m.xpath))
                    .collect(),
            }),
        }
    }

    /// The location of lifecycle `name` (`/LOCATION/NAME` picks one; a bare name must be
    /// on exactly one location).
    fn for_lifecycle(&self, name: &str) -> Result<&Location, Error> {
        let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
        let (location, lifecycle) = match parts.as_slice() {
            [location, lifecycle] => (Some(*location), *lifecycle),
            [lifecycle] => (None, *lifecycle),
            _ => (None, name),
        };
        let having: Vec<&Location> = self
            .0
            .iter()
            .filter(|l| location.is_none_or(|n| l.config().name == n))
            .filter(|l| l.definition(lifecycle).is_some())
            .collect();
        match having.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::NoMatch {
                xpath: name.to_owned(),
            }),
            several => Err(Error::MultipleMatch {
                xpath: name.to_owned(),
                matches: several
                    .iter()
                    .map(|l| format!("/{}/{lifecycle}", l.config().name))
                    .collect(),
            }),
        }
    }

    pub fn info(&self) -> Vec<Info> {
        self.0.iter().map(Location::info).collect()
    }

    /// `/LOCATION/NAME` of every lifecycle, for commands over all of them.
    pub fn lifecycle_addresses(&self) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|l| {
                l.lifecycle_names()
                    .into_iter()
                    .map(|n| format!("/{}/{n}", l.config().name))
            })
            .collect()
    }

    pub fn lifecycle(&self, xpath: &str) -> Result<Vec<LifecycleInfo>, Error> {
        self.merged(xpath, |l| l.lifecycle(xpath))
    }

    pub fn state(&self, xpath: &str) -> Result<Vec<StateInfo>, Error> {
        self.merged(xpath, |l| l.state(xpath))
    }

    pub fn state_current(&self, xpath: &str) -> Result<Vec<CurrentState>, Error> {
        self.merged(xpath, |l| l.state_current(xpath))
    }

    pub fn state_goto_path(&self, xpath: &str) -> Result<Vec<Paths>, Error> {
        self.merged(xpath, |l| l.state_goto_path(xpath))
    }

    pub fn state_goto_requires(
        &self,
        uri: &str,
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, Error> {
        self.0[self.index_of(uri)?].state_goto_requires(uri, path_idx)
    }

    pub fn state_goto(
        &mut self,
        uri: &str,
        values: &Values,
        opts: &CallOptions,
    ) -> Result<(), Error> {
        let i = self.index_of(uri)?;
        self.0[i].state_goto(uri, values, opts)
    }

    pub fn provide(&self, xpath: &str) -> Result<Vec<ProvideInfo>, Error> {
        self.merged(xpath, |l| l.provide(xpath))
    }

    pub fn provide_call_path(&self, xpath: &str) -> Result<Vec<Paths>, Error> {
        self.merged(xpath, |l| l.provide_call_path(xpath))
    }

    pub fn provide_call_requires(
        &self,
        uri: &str,
        path_idx: usize,
    ) -> Result<Vec<ProvideInfo>, Error> {
        self.0[self.index_of(uri)?].provide_call_requires(uri, path_idx)
    }

    pub fn provide_call_validate(
        &self,
        uri: &str,
        values: &Values,
        path_idx: usize,
    ) -> Result<Validation, Error> {
        self.0[self.index_of(uri)?].provide_call_validate(uri, values, path_idx)
    }

    pub fn provide_call(
        &mut self,
        uri: &str,
        values: &Values,
        opts: &CallOptions,
    ) -> Result<Option<Value>, Error> {
        let i = self.index_of(uri)?;
        self.0[i].provide_call(uri, values, opts)
    }

    pub fn to_primitive(&self, name: &str) -> Result<LifecycleDetail, Error> {
        self.for_lifecycle(name)?.to_primitive(name)
    }

    pub fn to_dot(&self, name: &str, reachable: bool) -> Result<String, Error> {
        self.for_lifecycle(name)?.to_dot(name, reachable)
    }

    pub fn xpath(&self, xpath: &str) -> Result<Vec<Match>, Error> {
        self.merged(xpath, |l| l.xpath(xpath))
    }
}
