//! The typed Nomad job model.

pub mod hcl;
pub mod openapi;
