//! Finding what an address names: walking the candidate lifecycles, matching, and the
//! rules of listings (what a match stands for at a kind of resource).

use super::{Location, Res, provide_def};
use crate::address::{self, Address, Kind};
use crate::error::Error;

impl Location {
    /// Calls `f` on every resource, skipping lifecycles where `addr` cannot match.
    pub(super) fn walk(&self, addr: &Address, mut f: impl FnMut(&[&str], Res)) {
        let loc = self.config.name.as_str();
        let literals: Vec<&str> = addr.literals().filter(|l| *l != loc).collect();
        let none = Res {
            lf: None,
            state: None,
            provide: None,
            require: None,
            var: None,
        };
        f(&[loc], none);
        for li in self.names.candidates(&literals, self.instances.len()) {
            let def = &*self.instances[li].def;
            let r = Res {
                lf: Some(li),
                ..none
            };
            f(&[loc, &def.name], r);
            for (si, st) in def.states.iter().enumerate() {
                let r = Res {
                    state: Some(si),
                    ..r
                };
                f(&[loc, &def.name, &st.name], r);
                for (pi, p) in st.all_provides().enumerate() {
                    let r = Res {
                        provide: Some(pi),
                        ..r
                    };
                    f(&[loc, &def.name, &st.name, &p.name], r);
                    for (ri, req) in p.requires.iter().enumerate() {
                        let r = Res {
                            require: Some(ri),
                            ..r
                        };
                        f(&[loc, &def.name, &st.name, &p.name, &req.name], r);
                        for (vi, v) in req.variables.iter().enumerate() {
                            f(
                                &[loc, &def.name, &st.name, &p.name, &req.name, &v.name],
                                Res { var: Some(vi), ..r },
                            );
                        }
                    }
                }
            }
        }
    }

    pub(super) fn find(&self, xpath: &Address) -> Result<Vec<(String, Res)>, Error> {
        let addr = xpath;
        let mut out = Vec::new();
        self.walk(addr, |path, res| {
            if addr.matches(path) {
                out.push((address::absolute(path), res));
            }
        });
        Ok(out)
    }

    /// Like `find`, but an address that matches nothing is an error.
    pub(super) fn find_some(&self, xpath: &Address) -> Result<Vec<(String, Res)>, Error> {
        let found = self.find(xpath)?;
        if found.is_empty() {
            return Err(Error::NoMatch {
                xpath: xpath.to_string(),
            });
        }
        Ok(found)
    }

    /// The resources of kind `level` a match stands for in a listing: what encloses it, or,
    /// for a match above that level (a lifecycle when listing states), everything of that
    /// kind below it. Provides never include `enter`.
    pub(super) fn at_level(&self, res: Res, level: Kind) -> Vec<Res> {
        if res.kind() >= level {
            let cut = Res {
                lf: res.lf,
                state: res.state.filter(|_| level >= Kind::State),
                provide: res.provide.filter(|_| level >= Kind::Provide),
                require: res.require.filter(|_| level >= Kind::Require),
                var: res.var.filter(|_| level >= Kind::Variable),
            };
            return vec![cut];
        }
        let lfs: Vec<usize> = match res.lf {
            Some(lf) => vec![lf],
            None => (0..self.instances.len()).collect(),
        };
        let mut out = Vec::new();
        for lf in lfs {
            let def = &self.instances[lf].def;
            let base = Res {
                lf: Some(lf),
                state: None,
                provide: None,
                require: None,
                var: None,
            };
            if level == Kind::Lifecycle {
                out.push(base);
                continue;
            }
            let states: Vec<usize> = match res.state {
                Some(s) => vec![s],
                None => (0..def.states.len()).collect(),
            };
            for s in states {
                let st = Res {
                    state: Some(s),
                    ..base
                };
                match level {
                    Kind::State => out.push(st),
                    Kind::Provide => out.extend((1..=def.states[s].provides.len()).map(|p| Res {
                        provide: Some(p),
                        ..st
                    })),
                    _ => {}
                }
            }
        }
        out
    }

    pub(super) fn find_one(&self, xpath: &Address, kind: Kind) -> Result<(String, Res), Error> {
        let mut found = self.find(xpath)?;
        match found.len() {
            0 => Err(Error::NoMatch {
                xpath: xpath.to_string(),
            }),
            1 => {
                let (abs, res) = found.remove(0);
                if res.kind() != kind {
                    return Err(Error::WrongKind {
                        xpath: xpath.to_string(),
                        expected: kind,
                        found: res.kind(),
                    });
                }
                Ok((abs, res))
            }
            _ => Err(Error::MultipleMatch {
                xpath: xpath.to_string(),
                matches: found.into_iter().map(|f| f.0).collect(),
            }),
        }
    }

    pub(super) fn state_xpath(&self, lf: usize, state: usize) -> String {
        let def = &self.instances[lf].def;
        format!(
            "/{}/{}/{}",
            self.config.name, def.name, def.states[state].name
        )
    }

    pub(super) fn enclosing<T>(
        &self,
        xpath: &Address,
        level: Kind,
        f: impl Fn(Res) -> Option<T>,
    ) -> Result<Vec<T>, Error>
    where
        T: PartialEq,
    {
        let mut out: Vec<T> = Vec::new();
        for (_, found) in self.find_some(xpath)? {
            for res in self.at_level(found, level) {
                if let Some(t) = f(res) {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
        Ok(out)
    }

    // ---- the agent API -----------------------------------------------------------------

    /// The custom provides an address names: those it matches, and those of the lifecycles
    /// and states it matches. An address matching nothing at all is an error.
    pub(super) fn provides_in(&self, xpath: &Address) -> Result<Vec<(String, Res)>, Error> {
        let mut out = Vec::new();
        for (abs, found) in self.find_some(xpath)? {
            match found.kind() {
                Kind::Provide
                    if found.provide != Some(0) && !out.iter().any(|(a, _)| *a == abs) =>
                {
                    out.push((abs, found));
                }
                Kind::Provide => {}
                k if k < Kind::Provide => {
                    for res in self.at_level(found, Kind::Provide) {
                        let (lf, st, p) = (
                            res.lf.unwrap_or_default(),
                            res.state.unwrap_or_default(),
                            res.provide.unwrap_or_default(),
                        );
                        let def = &self.instances[lf].def;
                        let abs = format!(
                            "{}/{}",
                            self.state_xpath(lf, st),
                            provide_def(def, st, p).name
                        );
                        if !out.iter().any(|(a, _)| *a == abs) {
                            out.push((abs, res));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}
