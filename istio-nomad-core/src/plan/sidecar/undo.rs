//! The undo record an injected group carries in its meta, so that
//! [`super::remove_sidecar`] puts back exactly what [`super::inject`] changed.

use crate::error::{Error, Result};
use crate::nomad::{Constraint, NetworkResource, Service, StringMap, TaskGroup};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What injection changed in one group, with the values it replaced. Stored as compact JSON in
/// the group meta key [`super::meta::UNDO`] (like Kubernetes' `sidecar.istio.io/status`
/// annotation, which lists what the injector added).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Undo {
    /// Names of the tasks injection appended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// The group's networks before injection, when they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<NetworkResource>>,
    /// The group's services before injection, when they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Service>>,
    /// Services of tasks before injection, per task, when they changed.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub task_services: IndexMap<String, Vec<Service>>,
    /// Driver config of tasks before injection, per task, when it changed.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub task_configs: IndexMap<String, Map<String, Value>>,
    /// The `address_mode` of group services (and their checks) before injection set it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_modes: Vec<AddressModeUndo>,
    /// The group's constraints before injection, when they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<Constraint>>,
    /// Meta keys injection set, with the value each had before (`null`: absent).
    #[serde(default)]
    pub meta: IndexMap<String, Option<String>>,
}

/// One `address_mode` injection set: on group service `service`, or on its check `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressModeUndo {
    /// Index of the group service.
    pub service: usize,
    /// Index of the check within it, when the mode was a check's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<usize>,
    /// The value before (`null`: unset).
    pub was: Option<String>,
}

impl Undo {
    /// Sets a group meta key, remembering its previous value the first time.
    pub fn set_meta(&mut self, meta: &mut StringMap, key: &str, value: String) {
        if !self.meta.contains_key(key) {
            self.meta.insert(key.to_string(), meta.get(key).cloned());
        }
        meta.insert(key.to_string(), value);
    }

    /// Reads the record of a group (the value of [`super::meta::UNDO`]).
    pub fn parse(text: &str, path: &str) -> Result<Undo> {
        serde_json::from_str(text).map_err(|e| {
            Error::field(
                path,
                format!("the undo record of an injected group is unreadable ({e}); re-create the job from its source"),
                text,
            )
        })
    }

    /// Puts the group back as it was before injection.
    pub fn apply(self, g: &mut TaskGroup) {
        g.tasks.retain(|t| {
            !self
                .tasks
                .iter()
                .any(|n| Some(n.as_str()) == t.name.as_deref())
        });
        if let Some(n) = self.networks {
            g.networks = n;
        }
        for a in self.address_modes {
            let Some(s) = g.services.get_mut(a.service) else {
                continue;
            };
            match a.check {
                None => s.address_mode = a.was,
                Some(c) => {
                    if let Some(c) = s.checks.get_mut(c) {
                        c.address_mode = a.was;
                    }
                }
            }
        }
        if let Some(s) = self.services {
            g.services = s;
        }
        if let Some(c) = self.constraints {
            g.constraints = c;
        }
        for t in &mut g.tasks {
            let name = t.name.clone().unwrap_or_default();
            if let Some(s) = self.task_services.get(&name) {
                t.services = s.clone();
            }
            if let Some(c) = self.task_configs.get(&name) {
                t.config = c.clone();
            }
        }
        for (k, v) in self.meta {
            match v {
                Some(v) => {
                    g.meta.insert(k, v);
                }
                None => {
                    g.meta.shift_remove(&k);
                }
            }
        }
    }
}
