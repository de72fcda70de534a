use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[serde(skip)]
    #[lfts(min_len = 1)]
    cache: String,
}

fn main() {}
