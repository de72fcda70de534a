use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[serde(flatten)]
    #[lfts(non_empty)]
    extra: std::collections::HashMap<String, String>,
}

fn main() {}
