//! `mesh`: the istio-nomad command line. Run `cargo run --example mesh -- --help`.
fn main() {}
