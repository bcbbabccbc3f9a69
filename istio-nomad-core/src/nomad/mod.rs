//! The typed Nomad job model.
