//! The deployment tree: nodes (one provide call each, on one location) and their variables,
//! with the links between variables computed once, when they are created.

use armonic_lifecycle::Value;
use armonic_lifecycle::info::{RequireInfo, VariableInfo};

/// One provide to configure and call, on one location.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `node_0_1`.
    pub id: String,
    pub depth: usize,
    /// The address as asked (`//WebServer//start`).
    pub generic: String,
    /// (parent node, group in the parent, instance in the group).
    pub parent: Option<(usize, usize, usize)>,
    pub location: Option<String>,
    /// Whether the location was chosen (and may be chosen again when nothing matches there).
    pub location_chosen: bool,
    pub host: Option<String>,
    pub manage: bool,
    pub call: bool,
    /// The provide chosen, relative (`WebServer/Active/start`).
    pub xpath: Option<String>,
    pub label: Option<String>,
    /// Names of the values its provide returns that are secrets.
    pub secret_returns: Vec<String>,
    /// The provides it runs (itself, the enter provides of the states it enters) that are
    /// destructive.
    pub destructive: Vec<String>,
    /// States the call enters, as planned.
    pub enters: Vec<String>,
    /// Local and external requires: the children they lead to.
    pub groups: Vec<Group>,
    /// Variables, in asking order.
    pub vars: Vec<usize>,
    /// Variables of the requires leading from the root to this node (same-name suggestions).
    pub scope: Vec<usize>,
    /// Enter provides (relative) of states an earlier call enters first: not asked here.
    pub ignored: Vec<String>,
    pub next_child: usize,
}

impl Node {
    pub fn new(
        id: String,
        depth: usize,
        generic: String,
        parent: Option<(usize, usize, usize)>,
    ) -> Node {
        Node {
            id,
            depth,
            generic,
            parent,
            location: None,
            location_chosen: false,
            host: None,
            manage: false,
            call: false,
            xpath: None,
            label: None,
            secret_returns: Vec::new(),
            destructive: Vec::new(),
            enters: Vec::new(),
            groups: Vec::new(),
            vars: Vec::new(),
            scope: Vec::new(),
            ignored: Vec::new(),
            next_child: 0,
        }
    }

    /// `node_0/…` keys of records.
    pub fn key(&self, xpath: &str) -> crate::record::Key {
        crate::record::Key::new(self.id.clone(), xpath)
    }

    /// The lifecycle of the chosen provide.
    pub fn lifecycle(&self) -> &str {
        self.xpath
            .as_deref()
            .and_then(|x| x.split('/').next())
            .unwrap_or_default()
    }
}

/// A local or external require of a node, and the children it leads to.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub info: RequireInfo,
    /// Relative address of the require.
    pub require: String,
    pub external: bool,
    pub children: Vec<usize>,
    /// Variables of each instance (host, args, returned).
    pub vars: Vec<Vec<usize>>,
}

/// What a variable is to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A value of the provide itself.
    Plain,
    /// The implicit `host` of an external require: the host of the child.
    Host { group: usize, instance: usize },
    /// A value passed to the child.
    Arg { group: usize, instance: usize },
    /// A value the child returns.
    Ret { group: usize, instance: usize },
}

/// A variable of a node, in one value set.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub node: usize,
    /// Relative address.
    pub xpath: String,
    pub set: usize,
    pub info: VariableInfo,
    pub role: Role,
    /// What the user (or a record) answered.
    pub answer: Option<Value>,
    /// A value the engine knows (hosts).
    pub auto: Option<Value>,
    /// The variable whose value is proposed for this one.
    pub suggest: Option<usize>,
    /// The child's variable this argument takes its value from.
    pub mirror: Option<usize>,
    /// The value the child returned, once it ran.
    pub returned: Option<Value>,
    /// Why the last value was refused.
    pub error: Option<String>,
    /// Asked even though the engine had a value (that value was refused).
    pub forced: bool,
}
