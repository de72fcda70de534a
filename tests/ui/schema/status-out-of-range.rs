use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum GetError {
    #[lfts(status = 200)]
    NotFound,
    #[lfts(network)]
    Network(lfts::NetworkError),
}

fn main() {}
