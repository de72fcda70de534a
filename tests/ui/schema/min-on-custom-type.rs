use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(min = 1)]
    name: Name,
}

#[derive(Serialize, Deserialize, Schema)]
struct Name(String);

fn main() {}
