use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum GetError {
    #[lfts(network)]
    Network,
}

fn main() {}
