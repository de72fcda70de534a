use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(network)]
    error: lfts::NetworkError,
}

fn main() {}
