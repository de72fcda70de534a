use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[serde(from = "String")]
struct Name {
    value: String,
}

impl From<String> for Name {
    fn from(value: String) -> Self {
        Name { value }
    }
}

fn main() {}
