#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| stepbox_fuzzing::router(data));
