//! Validating untrusted JSON: a good document decodes, a bad one reports every error.
//!
//! Run: `cargo run --example validate`

use lfts::Schema;
use serde::{Deserialize, Serialize};

/// A sign-up form as it arrives from a browser.
#[derive(Debug, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    #[lfts(min_len = 1, max_len = 100)]
    display_name: String,
    #[lfts(email)]
    email: String,
    #[lfts(min = 13, max = 150)]
    age: u8,
    nickname: Option<String>,
}

fn main() {
    let good = serde_json::json!({"displayName": "Ada", "email": "ada@example.com", "age": 36});
    match lfts::validate::<NewUser>(&good) {
        Ok(user) => println!("accepted: {user:?}"),
        Err(errors) => println!("{errors}"),
    }

    let bad = serde_json::json!({"displayName": "", "email": "nope", "age": 300});
    match lfts::validate::<NewUser>(&bad) {
        Ok(user) => println!("accepted: {user:?}"),
        Err(errors) => println!("rejected, {errors}"),
    }

    println!("\nschema bytecode:\n{}", NewUser::schema());
    println!("fingerprint: {}", NewUser::schema().fingerprint());
}
