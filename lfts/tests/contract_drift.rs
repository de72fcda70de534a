//! Contract drift sees only the wire: rewording doc comments and renaming Rust types keep the
//! wire fingerprint (and a contract check matches), while every change of the JSON on the wire
//! changes it (and is reported).

use lfts::port::{MethodInfo, MethodPart, PortDescriptor};
use lfts::{Schema, TypeObject};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::json;

/// Version 1 of a small domain.
mod v1 {
    use serde::{Deserialize, Serialize};

    /// A user's id.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct UserId(pub u64);

    /// A user of the service.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct User {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 100)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: Address,
    }

    /// Where a user lives.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Address {
        pub city: String,
        pub zip: String,
    }

    /// A category tree.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Category {
        pub name: String,
        pub children: Vec<Category>,
    }

    /// An expression (mutually recursive with `Call`).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Expr {
        Number { value: f64 },
        Call(Call),
    }

    /// A function call.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Call {
        pub function: String,
        pub args: Vec<Expr>,
    }

    /// Why a lookup failed.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum LookupError {
        NotFound { id: UserId },
        Unavailable,
    }

    /// The arguments of `get_user`.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct GetUserArgs {
        pub id: UserId,
    }
}

/// The same JSON as `v1`: other doc comments, other Rust names.
mod v2 {
    use serde::{Deserialize, Serialize};

    /// The identifier of an account (reworded).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct AccountId(pub u64);

    /// An account, as the service stores it. Rewritten docs, renamed type.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Account {
        pub id: AccountId,
        #[lfts(max_len = 100, min_len = 1)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: PostalAddress,
    }

    /// A postal address (renamed from `Address`).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct PostalAddress {
        pub city: String,
        pub zip: String,
    }

    /// A node of the category tree (renamed, recursive).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct CategoryNode {
        pub name: String,
        pub children: Vec<CategoryNode>,
    }

    /// A term (renamed `Expr`).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Term {
        Number { value: f64 },
        Call(Application),
    }

    /// An application (renamed `Call`).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Application {
        pub function: String,
        pub args: Vec<Term>,
    }

    /// The failure of a lookup, in other words.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum FindError {
        NotFound { id: AccountId },
        Unavailable,
    }

    /// Arguments, renamed.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct FindAccountArgs {
        pub id: AccountId,
    }
}

/// `v1` with only its doc comments changed (same Rust names).
mod v1_docs {
    use serde::{Deserialize, Serialize};

    /// Identifies a user (reworded).
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct UserId(pub u64);

    /// Somebody who signed up. The wording changed; the JSON did not.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct User {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 100)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: Address,
    }

    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Address {
        pub city: String,
        pub zip: String,
    }
}

/// `v1` with one wire change each.
mod changed {
    use serde::{Deserialize, Serialize};

    use super::v1::{Address, UserId};

    /// `display_name` goes on the wire as `name`.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RenamedField {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 100)]
        #[serde(rename = "name")]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: Address,
    }

    /// A new required field.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AddedField {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 100)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: Address,
        pub country: String,
    }

    /// `max_len` 100 → 50.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ChangedRefinement {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 50)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: Address,
    }

    /// `age` is a `u16`.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ChangedWidth {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 100)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u16>,
        pub address: Address,
    }

    /// A field of a referenced type changes (`zip` → `postcode`), the referring type does not.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Address2 {
        pub city: String,
        pub postcode: String,
    }

    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ChangedReferenced {
        pub id: UserId,
        #[lfts(min_len = 1, max_len = 100)]
        pub display_name: String,
        #[lfts(email)]
        pub email: String,
        pub age: Option<u8>,
        pub address: Address2,
    }

    /// `LookupError` adjacently tagged.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data", rename_all = "snake_case")]
    pub enum AdjacentError {
        NotFound { id: UserId },
        Unavailable,
    }

    /// `LookupError` with another tag key.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum RetaggedError {
        NotFound { id: UserId },
        Unavailable,
    }

    /// The category tree, where a child's `name` became optional.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct Category {
        pub name: Option<String>,
        pub children: Vec<Category>,
    }

    /// The arguments of `get_user`, with the id as a string.
    #[derive(Debug, Clone, PartialEq, lfts::Schema, Serialize, Deserialize)]
    pub struct GetUserArgs {
        pub id: String,
    }
}

fn full<T: Schema + 'static>() -> String {
    T::schema().fingerprint().to_string()
}

fn wire<T: Schema + 'static>() -> String {
    T::schema().wire_fingerprint().to_string()
}

/// `value` (of type `A`) reads as a `B` and writes back to the same JSON: the two types have the
/// same wire format, at least for this value.
fn same_json<A, B>(value: &A)
where
    A: Serialize,
    B: Serialize + DeserializeOwned,
{
    let json = serde_json::to_value(value).unwrap();
    let b: B = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&b).unwrap(), json);
}

fn user() -> v1::User {
    v1::User {
        id: v1::UserId(7),
        display_name: "Ada".into(),
        email: "ada@example.com".into(),
        age: Some(36),
        address: v1::Address {
            city: "London".into(),
            zip: "N1".into(),
        },
    }
}

fn category() -> v1::Category {
    v1::Category {
        name: "root".into(),
        children: vec![v1::Category {
            name: "leaf".into(),
            children: vec![],
        }],
    }
}

fn expr() -> v1::Expr {
    v1::Expr::Call(v1::Call {
        function: "max".into(),
        args: vec![
            v1::Expr::Number { value: 1.0 },
            v1::Expr::Call(v1::Call {
                function: "pi".into(),
                args: vec![],
            }),
        ],
    })
}

// ---------------------------------------------------------------------------------------------
// (a) docs

#[test]
fn reworded_docs_keep_the_wire_fingerprint() {
    same_json::<v1::User, v1_docs::User>(&user());
    assert_ne!(full::<v1::User>(), full::<v1_docs::User>());
    assert_eq!(wire::<v1::User>(), wire::<v1_docs::User>());
    assert_ne!(full::<v1::UserId>(), full::<v1_docs::UserId>());
    assert_eq!(wire::<v1::UserId>(), wire::<v1_docs::UserId>());
    // A schema's wire fingerprint is not its full fingerprint.
    assert_ne!(full::<v1::User>(), wire::<v1::User>());
}

// (b) Rust names

#[test]
fn renamed_types_keep_the_wire_fingerprint() {
    // A renamed type that references renamed types (a newtype brand among them).
    same_json::<v1::User, v2::Account>(&user());
    assert_ne!(full::<v1::User>(), full::<v2::Account>());
    assert_eq!(wire::<v1::User>(), wire::<v2::Account>());
    assert_eq!(wire::<v1::UserId>(), wire::<v2::AccountId>());
    assert_eq!(wire::<v1::Address>(), wire::<v2::PostalAddress>());
    assert_eq!(wire::<v1::LookupError>(), wire::<v2::FindError>());
    assert_eq!(wire::<v1::GetUserArgs>(), wire::<v2::FindAccountArgs>());

    // A recursive one.
    same_json::<v1::Category, v2::CategoryNode>(&category());
    assert_ne!(full::<v1::Category>(), full::<v2::CategoryNode>());
    assert_eq!(wire::<v1::Category>(), wire::<v2::CategoryNode>());

    // Mutually recursive ones, entered from either side.
    same_json::<v1::Expr, v2::Term>(&expr());
    assert_ne!(full::<v1::Expr>(), full::<v2::Term>());
    assert_eq!(wire::<v1::Expr>(), wire::<v2::Term>());
    assert_eq!(wire::<v1::Call>(), wire::<v2::Application>());
    assert_ne!(wire::<v1::Expr>(), wire::<v1::Call>());
}

#[test]
fn registration_order_and_unused_definitions_do_not_count() {
    // The same schema, with its definitions registered in another order and an unused one.
    let mut defs = lfts::schema::Defs::new();
    let _ = defs.describe::<v1::Category>();
    let _ = defs.describe::<v1::Address>();
    let _ = defs.describe::<v1::UserId>();
    let root = defs.describe::<v1::User>();
    let reordered = defs.finish(root);
    assert_ne!(reordered.fingerprint(), v1::User::schema().fingerprint());
    assert_eq!(
        reordered.wire_fingerprint(),
        v1::User::schema().wire_fingerprint()
    );
    // The fingerprint survives both encodings.
    let decoded = TypeObject::from_bytes(&reordered.to_bytes()).unwrap();
    assert_eq!(decoded.wire_fingerprint(), reordered.wire_fingerprint());
    let decoded = TypeObject::from_json(&reordered.to_json()).unwrap();
    assert_eq!(decoded.wire_fingerprint(), reordered.wire_fingerprint());
}

// (c) wire changes

#[test]
fn every_wire_change_changes_the_wire_fingerprint() {
    let base = wire::<v1::User>();
    for (what, changed) in [
        ("renamed field", wire::<changed::RenamedField>()),
        ("added required field", wire::<changed::AddedField>()),
        ("changed refinement", wire::<changed::ChangedRefinement>()),
        ("changed integer width", wire::<changed::ChangedWidth>()),
        (
            "changed referenced type",
            wire::<changed::ChangedReferenced>(),
        ),
    ] {
        assert_ne!(changed, base, "{what}");
    }
    let error = wire::<v1::LookupError>();
    assert_ne!(wire::<changed::AdjacentError>(), error, "adjacent tagging");
    assert_ne!(wire::<changed::RetaggedError>(), error, "another tag key");
    assert_ne!(
        wire::<changed::Category>(),
        wire::<v1::Category>(),
        "a change inside a recursive type"
    );
}

// ---------------------------------------------------------------------------------------------
// Port descriptors and their contract comparison

static GET_USER: MethodInfo = MethodInfo {
    port: "Users",
    name: "get_user",
    params: &["id"],
    idempotent: true,
    http: None,
};

static TREE: MethodInfo = MethodInfo {
    port: "Users",
    name: "categories",
    params: &[],
    idempotent: true,
    http: None,
};

fn v1_port() -> PortDescriptor {
    PortDescriptor::builder("Users")
        .method::<v1::GetUserArgs, v1::User, v1::LookupError>(&GET_USER)
        .method::<(), v1::Category, v1::LookupError>(&TREE)
        .build()
}

#[test]
fn a_port_whose_types_differ_only_in_docs_and_names_matches() {
    let local = v1_port();
    let remote = PortDescriptor::builder("Users")
        .method::<v2::FindAccountArgs, v2::Account, v2::FindError>(&GET_USER)
        .method::<(), v2::CategoryNode, v2::FindError>(&TREE)
        .build();
    assert_ne!(local.fingerprint(), remote.fingerprint());
    assert_eq!(local.wire_fingerprint(), remote.wire_fingerprint());

    let published = remote.to_json();
    assert_eq!(published["wireFingerprint"], remote.wire_fingerprint());
    assert_eq!(published["fingerprint"], remote.fingerprint());
    assert!(published["methods"][0]["wireFingerprints"]["ok"].is_string());
    assert!(published["methods"][0]["fingerprints"]["ok"].is_string());

    let diff = local.diff(&published);
    assert!(diff.is_empty(), "{diff}");
    assert!(diff.fingerprints_match(), "{diff:?}");
    assert!(!diff.exact_fingerprints_match());
    assert_eq!(diff.to_string(), "Users: contracts agree");

    // Reworded docs only.
    let docs = PortDescriptor::builder("Users")
        .method::<v1::GetUserArgs, v1_docs::User, v1::LookupError>(&GET_USER)
        .method::<(), v1::Category, v1::LookupError>(&TREE)
        .build();
    let diff = local.diff(&docs.to_json());
    assert!(diff.is_empty() && diff.fingerprints_match(), "{diff}");
    assert_ne!(local.fingerprint(), docs.fingerprint());
}

#[test]
fn a_wire_change_in_a_port_is_reported() {
    let local = v1_port();
    let remote = PortDescriptor::builder("Users")
        .method::<changed::GetUserArgs, changed::ChangedWidth, changed::AdjacentError>(&GET_USER)
        .method::<(), changed::Category, v1::LookupError>(&TREE)
        .build();
    assert_ne!(local.wire_fingerprint(), remote.wire_fingerprint());
    let diff = local.diff(&remote.to_json());
    assert!(!diff.is_empty());
    assert!(!diff.fingerprints_match());
    let get_user = diff
        .changed
        .iter()
        .find(|c| c.method == "get_user")
        .unwrap();
    assert_eq!(
        get_user.parts,
        vec![MethodPart::Args, MethodPart::Ok, MethodPart::Err]
    );
    let tree = diff
        .changed
        .iter()
        .find(|c| c.method == "categories")
        .unwrap();
    assert_eq!(tree.parts, vec![MethodPart::Ok]);
}

#[test]
fn a_descriptor_without_wire_fingerprints_is_compared_exactly() {
    // A remote document from an lfts that published only exact fingerprints.
    let local = v1_port();
    let strip = |d: &PortDescriptor| {
        let mut json = d.to_json();
        json.as_object_mut().unwrap().remove("wireFingerprint");
        for m in json["methods"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("wireFingerprints");
        }
        json
    };
    let diff = local.diff(&strip(&local));
    assert!(diff.is_empty() && diff.fingerprints_match(), "{diff}");

    let docs = PortDescriptor::builder("Users")
        .method::<v1::GetUserArgs, v1_docs::User, v1::LookupError>(&GET_USER)
        .method::<(), v1::Category, v1::LookupError>(&TREE)
        .build();
    let diff = local.diff(&strip(&docs));
    assert!(!diff.fingerprints_match());
    assert_eq!(diff.changed[0].parts, vec![MethodPart::Ok]);
}

#[test]
fn reordered_parameters_are_not_drift() {
    static TWO_A: MethodInfo = MethodInfo {
        port: "Pair",
        name: "put",
        params: &["a", "b"],
        idempotent: false,
        http: None,
    };
    static TWO_B: MethodInfo = MethodInfo {
        port: "Pair",
        name: "put",
        params: &["b", "a"],
        idempotent: false,
        http: None,
    };
    #[derive(Clone, lfts::Schema, Serialize, Deserialize)]
    struct AB {
        a: String,
        b: u32,
    }
    #[derive(Clone, lfts::Schema, Serialize, Deserialize)]
    struct BA {
        b: u32,
        a: String,
    }
    let ab = PortDescriptor::builder("Pair")
        .method::<AB, (), ()>(&TWO_A)
        .build();
    let ba = PortDescriptor::builder("Pair")
        .method::<BA, (), ()>(&TWO_B)
        .build();
    let diff = ab.diff(&ba.to_json());
    assert!(diff.is_empty() && diff.fingerprints_match(), "{diff}");
    assert_eq!(
        serde_json::from_value::<BA>(json!({"a": "x", "b": 1}))
            .unwrap()
            .b,
        1
    );
}
