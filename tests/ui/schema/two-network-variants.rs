use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum GetError {
    #[lfts(network)]
    Network(lfts::NetworkError),
    #[lfts(network)]
    Transport(lfts::NetworkError),
}

fn main() {}
