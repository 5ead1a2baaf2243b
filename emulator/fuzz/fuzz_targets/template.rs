//! Feeds arbitrary text to the SAM template loader: it must return a model
//! or diagnostics, never panic, hang or exhaust memory.

#![no_main]

use std::path::Path;

use fogbank::app::{LoadOptions, load_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A directory that does not exist keeps CodeUri checks from touching
    // real files.
    let path = Path::new("/nonexistent-fogbank-fuzz/template.yaml");
    if let Err(diagnostics) = load_str(&text, path, &LoadOptions::default()) {
        assert!(!diagnostics.0.is_empty(), "a failed load must say why");
    }
});
