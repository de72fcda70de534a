use lfts::Schema;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Serialize, Deserialize, Schema, PartialEq)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    #[lfts(min_len = 1, max_len = 100)]
    display_name: String,
    #[lfts(email)]
    email: String,
    #[lfts(min = 13, max = 150)]
    age: u8,
    nickname: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, Schema, PartialEq)]
#[lfts(brand = "UserId")]
struct UserId(#[lfts(uuid)] String);

#[derive(Debug, Serialize, Deserialize, Schema, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Role {
    Admin,
    Member { team: String },
}

#[derive(Debug, Serialize, Deserialize, Schema, PartialEq)]
struct Tree {
    value: u32,
    children: Vec<Tree>,
}

#[derive(Debug, Serialize, Deserialize, Schema, PartialEq)]
struct Page<T> {
    items: Vec<T>,
    #[lfts(pattern = "^[a-z]+$")]
    cursor: Option<String>,
}

#[test]
fn smoke() {
    let ok = json!({"displayName": "Ada", "email": "ada@example.com", "age": 36});
    let user: NewUser = lfts::validate(&ok).unwrap();
    assert_eq!(user.age, 36);
    let bad = json!({"displayName": "", "email": "nope", "age": 300});
    let errors = lfts::validate::<NewUser>(&bad).unwrap_err();
    println!("{errors}");
    println!("{:#?}", NewUser::schema());
    println!("{:#?}", Page::<Tree>::schema());
    assert!(lfts::check(&UserId("x".into())).is_err());
    let _ = Role::schema();
}
