//! The TOML loader must never panic, and whatever it accepts must survive the canonical writer:
//! writing it and reading it back gives the same constitution.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use preamble::constitution::{parse_toml, to_toml};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(constitution) = parse_toml(text, Path::new("fuzz.toml")) {
        let written = to_toml(&constitution);
        let reread = parse_toml(&written, Path::new("canonical.toml"))
            .expect("the canonical form of a valid constitution parses");
        assert_eq!(reread, constitution, "round trip changed the constitution");
        assert_eq!(to_toml(&reread), written, "canonical form is not stable");
    }
});
