use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(min_len = "x")]
    name: String,
}

fn main() {}
