use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum Id {
    #[lfts(brand = "UserId")]
    User(String),
}

fn main() {}
