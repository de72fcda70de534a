use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum Value {
    Named { name: String },
    #[serde(untagged)]
    Bare(String),
}

fn main() {}
