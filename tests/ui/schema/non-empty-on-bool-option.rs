use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(non_empty)]
    active: Option<bool>,
}

fn main() {}
