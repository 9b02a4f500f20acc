//! Any bytes into the weights loader: a model's tensors or a typed error, never a panic or a huge allocation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = filterlens::weights::read(data);
});
