use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(min_len = 5, max_len = 2)]
    name: String,
}

fn main() {}
