//! Any bytes into the weights loader, for each network, as a whole file and as the first bytes of one (the page's
//! way in): a model's tensors or a typed error, never a panic or a huge allocation.
#![no_main]

use filterlens::net::weights::Header;
use filterlens::{Backend, Backends, Network};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for network in Network::ALL {
        // The product's way in for a whole file (the CLI's): the header, then each layer as the model takes it.
        if let Ok(mut backends) = Backends::new(network, data.to_vec()) {
            let _ = backends.model(network, Backend::Flex);
        }
        if let Ok(header) = Header::parse(data, network) {
            for layer in 0..header.params_within(data.len()) {
                let _ = header.params(data, layer);
            }
        }
    }
});
