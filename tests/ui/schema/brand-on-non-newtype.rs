use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[lfts(brand = "User")]
struct User {
    id: String,
}

fn main() {}
