use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(pattern = 42)]
    slug: String,
}

fn main() {}
