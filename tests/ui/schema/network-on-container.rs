use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[lfts(network)]
enum GetError {
    Network(lfts::NetworkError),
}

fn main() {}
