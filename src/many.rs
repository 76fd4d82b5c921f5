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

    fn merged<T>(&self, f: impl Fn(&Location) -> Result<Vec<T>, Error>) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        for loc in &self.0 {
            out.extend(f(loc)?);
        }
        Ok(out)
    }

    /// The location an address that must name one resource points to.
    fn index_of(&self, uri: &str) -> Result<usize, Error> {
        let mut found = Vec::new();
        for (i, loc) in self.0.iter().enumerate() {
            let matches = loc.xpath(uri)?;
            if !matches.is_empty() {
                found.push((i, matches));
            }
        }
        match found.len() {
            // The first location reports the error (nothing matches).
            0 | 1 => Ok(found.first().map_or(0, |f| f.0)),
            _ => Err(Error::MultipleMatch {
                xpath: uri.to_owned(),
                matches: found
                    .into_iter()
                    .flat_map(|(_, m)| m.into_iter().map(|m| m.xpath))
                    .collect(),
            }),
        }
    }

    /// The location of lifecycle `name` (`/LOCATION/NAME` picks one, the first otherwise).
    fn for_lifecycle(&self, name: &str) -> &Location {
        let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
        let chosen = match parts.as_slice() {
            [location, _] => self.0.iter().find(|l| l.config().name == *location),
            _ => None,
        };
        chosen.unwrap_or(&self.0[0])
    }

    pub fn info(&self) -> Vec<Info> {
        self.0.iter().map(Location::info).collect()
    }

    pub fn lifecycle_names(&self) -> Vec<String> {
        self.0[0]
            .lifecycle_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    pub fn lifecycle(&self, xpath: &str) -> Result<Vec<LifecycleInfo>, Error> {
        self.merged(|l| l.lifecycle(xpath))
    }

    pub fn state(&self, xpath: &str) -> Result<Vec<StateInfo>, Error> {
        self.merged(|l| l.state(xpath))
    }

    pub fn state_current(&self, xpath: &str) -> Result<Vec<CurrentState>, Error> {
        self.merged(|l| l.state_current(xpath))
    }

    pub fn state_goto_path(&self, xpath: &str) -> Result<Vec<Paths>, Error> {
        self.merged(|l| l.state_goto_path(xpath))
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
        self.merged(|l| l.provide(xpath))
    }

    pub fn provide_call_path(&self, xpath: &str) -> Result<Vec<Paths>, Error> {
        self.merged(|l| l.provide_call_path(xpath))
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
        self.for_lifecycle(name).to_primitive(name)
    }

    pub fn to_dot(&self, name: &str, reachable: bool) -> Result<String, Error> {
        self.for_lifecycle(name).to_dot(name, reachable)
    }

    pub fn xpath(&self, xpath: &str) -> Result<Vec<Match>, Error> {
        self.merged(|l| l.xpath(xpath))
    }
}
