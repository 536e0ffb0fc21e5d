//! Fuzz target: arbitrary bytes as diagd request messages, through decoding
//! and validation (see `diagd::api::fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    diagd::api::fuzz::requests(data);
});
