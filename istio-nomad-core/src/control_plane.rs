//! The Istio control plane as Nomad jobs (settings only, until the builders land).

use serde::{Deserialize, Serialize};

/// Control-plane settings of a mesh spec (`control_plane { ... }`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneSpec {
    /// `ha` (default) or `dev`.
    pub profile: Option<String>,
}

/// The control-plane jobs of a mesh (none until the builders land).
pub fn jobs(_spec: &crate::spec::MeshSpec) -> crate::Result<Vec<crate::plan::PlannedJob>> {
    Ok(Vec::new())
}
