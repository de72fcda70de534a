use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[serde(rename(serialize = "userName", deserialize = "user_name"))]
    user_name: String,
}

fn main() {}
