use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, Schema)]
#[serde(into = "String")]
struct Name {
    value: String,
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.value
    }
}

fn main() {}
