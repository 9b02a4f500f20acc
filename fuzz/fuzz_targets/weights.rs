//! Any bytes into the weights loader, for each network, as a whole file and as the first bytes of one (the page's
//! way in): a model's tensors or a typed error, never a panic or a huge allocation.
#![no_main]

use filterlens::Network;
use filterlens::weights::Header;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for network in Network::ALL {
        let _ = filterlens::weights::read(data, network);
        if let Ok(header) = Header::parse(data, network) {
            for layer in 0..header.layers_within(data.len()) {
                let _ = header.layer(data, layer);
            }
        }
    }
});
