//! Any bytes as `iptables-save` / `ip6tables-save` output: parsed rules or a typed error,
//! never a panic; parsed rules compare with themselves as unchanged.
#![no_main]

use istio_nomad_core::iptables::{Family, IptablesState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for family in [Family::V4, Family::V6] {
        if let Ok(state) = IptablesState::parse_family(family, text) {
            assert_eq!(state.clone(), state);
        }
    }
});
