use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
enum GetError {
    #[lfts(status = 404)]
    NotFound,
}

fn main() {}
