use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(min = 10, max = 1)]
    age: u8,
}

fn main() {}
