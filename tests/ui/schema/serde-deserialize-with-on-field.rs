use lfts::Schema;
use serde::{Deserialize, Serialize};

fn parse<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

#[derive(Serialize, Deserialize, Schema)]
struct User {
    #[serde(deserialize_with = "parse")]
    id: u32,
}

fn main() {}
