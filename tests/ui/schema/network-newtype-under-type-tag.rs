use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[serde(tag = "type")]
enum GetError {
    NotFound,
    #[lfts(network)]
    Network(lfts::NetworkError),
}

fn main() {}
