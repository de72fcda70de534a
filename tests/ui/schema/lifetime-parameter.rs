use lfts::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct User<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

fn main() {}
