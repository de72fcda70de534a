use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(min_items = 3, max_items = 1)]
    tags: Vec<String>,
}

fn main() {}
