use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum Role {
    #[serde(rename(serialize = "ADMIN", deserialize = "admin"))]
    Admin,
}

fn main() {}
