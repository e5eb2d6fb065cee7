//! Content detection and every JSON importer must never panic on any input.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use preamble::interchange::{self, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = interchange::detect(text);
    for format in [Format::Json, Format::Anthropic, Format::HuggingFace, Format::LangChain] {
        let _ = interchange::import(text, format, Path::new("fuzz.json"));
    }
});
