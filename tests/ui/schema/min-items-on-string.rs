use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(min_items = 1)]
    name: String,
}

fn main() {}
