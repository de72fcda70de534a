use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[lfts(brand = UserId)]
struct UserId(String);

fn main() {}
