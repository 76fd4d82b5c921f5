//! Which lifecycles of a location hold a name, so that finding what an address matches visits
//! only the lifecycles holding every name the address spells out.
//!
//! Without it every lookup walks every lifecycle, and a deployment looks up each of its calls
//! several times: on a location with thousands of lifecycles that is quadratic.

use std::collections::HashMap;

use crate::model::LifecycleDef;

/// For each name in a lifecycle's tree (lifecycle, states, provides, requires, variables), the
/// lifecycles holding it, in load order.
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    holders: HashMap<String, Vec<usize>>,
}

impl NameIndex {
    /// Records the names of lifecycle `lf`; lifecycles are added in increasing order.
    pub(super) fn add(&mut self, lf: usize, def: &LifecycleDef) {
        let mut add = |name: &str| match self.holders.get_mut(name) {
            Some(holders) => {
                if holders.last() != Some(&lf) {
                    holders.push(lf);
                }
            }
            None => {
                self.holders.insert(name.to_owned(), vec![lf]);
            }
        };
        add(&def.name);
        for st in &def.states {
            add(&st.name);
            for p in st.all_provides() {
                add(&p.name);
                for r in &p.requires {
                    add(&r.name);
                    for v in &r.variables {
                        add(&v.name);
                    }
                }
            }
        }
    }

    /// The lifecycles among `0..count` holding every name of `names`, in increasing order.
    pub(super) fn candidates(&self, names: &[&str], count: usize) -> Candidates<'_> {
        if names.is_empty() {
            return Candidates::All(0..count);
        }
        let mut lists = Vec::with_capacity(names.len());
        for name in names {
            match self.holders.get(*name) {
                Some(list) => lists.push(list.as_slice()),
                None => return Candidates::All(0..0),
            }
        }
        // Walk the shortest list and look the others up in it.
        lists.sort_by_key(|l| l.len());
        let first = lists.remove(0);
        Candidates::Holding {
            first: first.iter(),
            others: lists,
        }
    }
}

/// Lifecycle indexes, from [`NameIndex::candidates`].
pub(super) enum Candidates<'a> {
    /// Every lifecycle of a range.
    All(std::ops::Range<usize>),
    /// The lifecycles of `first` also in every list of `others` (all sorted).
    Holding {
        first: std::slice::Iter<'a, usize>,
        others: Vec<&'a [usize]>,
    },
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Candidates::All(range) => range.next(),
            Candidates::Holding { first, others } => first
                .by_ref()
                .find(|lf| others.iter().all(|l| l.binary_search(lf).is_ok()))
                .copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StateDef;

    fn def(name: &str, states: &[&str]) -> LifecycleDef {
        LifecycleDef::new(
            name,
            states.iter().map(|s| StateDef::new(*s)).collect(),
            &[],
            states[0],
        )
        .unwrap()
    }

    #[test]
    fn candidates_hold_every_name_the_address_spells_out() {
        let mut index = NameIndex::default();
        index.add(0, &def("Web", &["Off", "On"]));
        index.add(1, &def("Db", &["Off", "Up"]));
        index.add(2, &def("Proxy", &["Off", "On"]));
        let found = |names: &[&str]| index.candidates(names, 3).collect::<Vec<_>>();
        assert_eq!(found(&["On"]), vec![0, 2]);
        assert_eq!(found(&["Off", "On"]), vec![0, 2]);
        assert_eq!(found(&["Db", "Off"]), vec![1]);
        assert_eq!(found(&["Db", "On"]), Vec::<usize>::new());
        assert_eq!(found(&["Nowhere"]), Vec::<usize>::new());
        assert_eq!(found(&[]), vec![0, 1, 2]);
    }

    #[test]
    fn a_name_held_twice_by_one_lifecycle_lists_it_once() {
        let mut index = NameIndex::default();
        index.add(0, &def("On", &["On", "Off"]));
        assert_eq!(index.candidates(&["On"], 1).collect::<Vec<_>>(), vec![0]);
    }
}
