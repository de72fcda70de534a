use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum GetError<T> {
    Other(T),
    #[lfts(network)]
    Network(lfts::NetworkError),
}

fn main() {}
