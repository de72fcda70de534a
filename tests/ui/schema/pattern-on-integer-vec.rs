use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[lfts(pattern = "^[a-z]+$")]
    codes: Vec<u8>,
}

fn main() {}
