use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum Contact {
    #[lfts(email)]
    Email(String),
}

fn main() {}
