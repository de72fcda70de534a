use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[lfts(email)]
struct User {
    email: String,
}

fn main() {}
