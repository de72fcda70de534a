use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[serde(tag = "type")]
enum Event {
    Click,
    #[serde(other)]
    Unknown,
}

fn main() {}
