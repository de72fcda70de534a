use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[lfts(status = 409)]
enum GetError {
    #[lfts(network)]
    Network(lfts::NetworkError),
}

fn main() {}
