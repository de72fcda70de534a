use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[serde(try_from = "String")]
struct Name {
    value: String,
}

impl TryFrom<String> for Name {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Ok(Name { value })
    }
}

fn main() {}
