use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(pattern = "([a-z]+")]
    slug: String,
}

fn main() {}
