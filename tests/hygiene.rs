//! The derive's output names everything by absolute path (DESIGN.md, "Quality bar"): it compiles
//! without the prelude and beside local items that shadow prelude names.
//!
//! Not covered: a renamed `lfts` dependency. Generated code names `::lfts`, and there is no
//! `#[lfts(crate = "...")]` override; a user who renames the dependency can add
//! `extern crate renamed as lfts;` at the crate root.

#![allow(dead_code)]

/// Every shape the derive expands differently, with no prelude in scope.
mod no_prelude {
    #![no_implicit_prelude]

    #[derive(::core::fmt::Debug, ::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct User {
        #[lfts(email)]
        pub email: ::std::string::String,
        #[lfts(min = 1, max = 150)]
        pub age: u8,
        #[lfts(pattern = "^[a-z]+$", min_len = 1)]
        pub handle: ::std::string::String,
        #[lfts(min_items = 1)]
        pub tags: ::std::vec::Vec<::std::string::String>,
        #[lfts(url)]
        pub site: ::std::option::Option<::std::string::String>,
        #[serde(default)]
        pub id: UserId,
    }

    #[derive(
        ::core::fmt::Debug,
        ::core::default::Default,
        ::serde::Serialize,
        ::serde::Deserialize,
        ::lfts::Schema,
    )]
    #[lfts(brand = "UserId")]
    pub struct UserId(#[lfts(uuid)] pub ::std::string::String);

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[lfts(non_empty)]
    pub struct Name(pub ::std::string::String);

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Pair(pub u8, #[lfts(positive)] pub i32);

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Unit;

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(transparent)]
    pub struct Wrapper {
        #[lfts(max_len = 3)]
        pub inner: ::std::string::String,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Page<T> {
        pub items: ::std::vec::Vec<T>,
        #[serde(flatten)]
        pub extra: ::std::collections::BTreeMap<::std::string::String, u32>,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Tree {
        pub children: ::std::vec::Vec<Tree>,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub enum External {
        Unit,
        Newtype(#[lfts(min = 0)] i64),
        Tuple(u8, ::std::string::String),
        Struct {
            #[lfts(email)]
            email: ::std::string::String,
        },
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(tag = "kind")]
    pub enum Internal {
        A,
        B { x: i32 },
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(tag = "t", content = "c")]
    pub enum Adjacent {
        A,
        B(u8, u8),
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(untagged)]
    pub enum Untagged {
        Flag(bool),
        Text(#[lfts(non_empty)] ::std::string::String),
    }

    /// A port error enum: the derive also writes `From<NetworkError>` and `RemoteError`.
    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(tag = "kind", content = "detail")]
    pub enum CreateError {
        #[lfts(status = 409)]
        Taken,
        #[lfts(network)]
        Network(::lfts::NetworkError),
    }
}

/// Local items named like everything generated code might use unqualified.
mod shadowed {
    use serde::{Deserialize, Serialize};

    struct Result;
    struct Ok;
    struct Err;
    type Option = ();
    struct Some;
    struct None;
    struct Vec;
    struct String;
    struct Box;
    struct Default;
    trait Schema {}
    trait Into {}
    trait From {}
    mod std {}
    mod core {}
    mod lfts {}
    mod __private {}
    fn format() {}
    fn vec() {}

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub struct User {
        #[lfts(email)]
        pub email: ::std::string::String,
        pub age: ::core::option::Option<u8>,
        pub tree: ::std::vec::Vec<Node>,
    }

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub struct Node(#[lfts(min_len = 1)] pub ::std::string::String);

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub struct Generic<T> {
        #[lfts(non_empty)]
        pub items: ::std::vec::Vec<T>,
    }

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub enum Error {
        #[lfts(status = 404)]
        Missing,
        #[lfts(network)]
        Network(::lfts::NetworkError),
    }
}

#[test]
fn derived_code_works_without_the_prelude() {
    use lfts::Schema as _;
    let user = serde_json::json!({
        "email": "ada@example.com", "age": 36, "handle": "ada", "tags": ["x"], "site": null
    });
    let parsed = lfts::validate::<no_prelude::User>(&user);
    assert!(parsed.is_ok(), "{parsed:?}");
    let bad = serde_json::json!({"email": "nope", "age": 0, "handle": "", "tags": [], "site": "x"});
    let errors = lfts::validate::<no_prelude::User>(&bad).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/email", "/age", "/handle", "/tags", "/site"],
        "{errors}"
    );

    let _ = no_prelude::Tree::schema();
    let _ = no_prelude::Page::<no_prelude::Tree>::schema();
    let _ = no_prelude::External::schema();
    let _ = no_prelude::Internal::schema();
    let _ = no_prelude::Adjacent::schema();
    let _ = no_prelude::Untagged::schema();
    let _ = no_prelude::Name::schema();
    let _ = no_prelude::Pair::schema();
    let _ = no_prelude::Unit::schema();
    let _ = no_prelude::Wrapper::schema();
    assert!(lfts::check(&no_prelude::Name(String::new())).is_err());
    assert!(
        lfts::check(&no_prelude::Wrapper {
            inner: "long".into()
        })
        .is_err()
    );

    let taken = no_prelude::CreateError::Taken;
    assert_eq!(lfts::RemoteError::status(&taken), 409);
    assert!(lfts::RemoteError::network(&taken).is_none());
}

#[test]
fn derived_code_ignores_shadowing_items() {
    use lfts::Schema as _;
    let node = shadowed::Node("x".into());
    assert!(lfts::check(&node).is_ok());
    assert!(lfts::check(&shadowed::Node(String::new())).is_err());
    let _ = shadowed::User::schema();
    let _ = shadowed::Generic::<u8>::schema();
    assert!(lfts::check(&shadowed::Generic::<u8> { items: vec![] }).is_err());
    assert_eq!(lfts::RemoteError::status(&shadowed::Error::Missing), 404);
}
