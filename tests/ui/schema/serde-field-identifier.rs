use lfts::Schema;
use serde::Deserialize;

#[derive(Deserialize, Schema)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Name,
    Age,
}

fn main() {}
