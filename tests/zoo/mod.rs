//! A zoo of types that covers every serde attribute lfts honours, every std type it describes,
//! the four enum representations and every refinement. Each type has a hand-written proptest
//! strategy; refined fields are mostly valid, sometimes not.
//!
//! Shared by `serde_oracle.rs`, `json_schema_agreement.rs` and `hostile.rs` through `mod zoo;`.
//! [`for_each_zoo_type!`] lists the types, so a property runs over all of them.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;

use lfts::Schema;
use proptest::collection::{btree_map, hash_map, hash_set, vec};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A zoo member: everything the properties need, plus a strategy for values.
pub trait Zoo: Debug + Clone + PartialEq + Serialize + DeserializeOwned + Schema + 'static {
    /// Values of the type. Serializing one and deserializing it gives it back.
    fn arb() -> BoxedStrategy<Self>;
}

/// Calls `$m!(Type)` for every type of the zoo, in one statement each.
#[allow(unused_macros)]
macro_rules! for_each_zoo_type {
    ($m:ident) => {
        $m!(zoo::Primitives);
        $m!(zoo::Sizes);
        $m!(zoo::UnitStruct);
        $m!(zoo::TupleStruct);
        $m!(zoo::Newtype);
        $m!(zoo::NewtypeOfStruct);
        $m!(zoo::Containers);
        $m!(zoo::Renamed);
        $m!(zoo::Kebab);
        $m!(zoo::ScreamingSnake);
        $m!(zoo::Pascal);
        $m!(zoo::ContainerDefault);
        $m!(zoo::FieldDefaults);
        $m!(zoo::Skips);
        $m!(zoo::Flattened);
        $m!(zoo::Meta);
        $m!(zoo::FlattenValues);
        $m!(zoo::FlattenCounts);
        $m!(zoo::FlattenBoth);
        $m!(zoo::Transparent);
        $m!(zoo::Strict);
        $m!(zoo::StrictEvent);
        $m!(zoo::Aliased);
        $m!(zoo::AliasedEnum);
        $m!(zoo::Optionals);
        $m!(zoo::Page<u8>);
        $m!(zoo::Page<zoo::Tree>);
        $m!(zoo::Tree);
        $m!(zoo::Color);
        $m!(zoo::External);
        $m!(zoo::Internal);
        $m!(zoo::Adjacent);
        $m!(zoo::StrictAdjacent);
        $m!(zoo::Untagged);
        $m!(zoo::LowerEnum);
        $m!(zoo::Buffered);
        $m!(zoo::Loose);
        $m!(zoo::FlatIds);
        $m!(zoo::Refined);
        $m!(zoo::Measured);
        $m!(zoo::UserId);
        $m!(zoo::Email);
        $m!(zoo::Account);
        $m!(zoo::Document);
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_zoo_type;

// ---------------------------------------------------------------------------------------------
// Sample values for refined strings. Fixed lists, so that lfts and JSON Schema's format
// definitions (which differ at the edges) agree on every sample.

/// Clearly valid email addresses.
pub const EMAILS: &[&str] = &[
    "ada@example.com",
    "bob.smith@mail.example.org",
    "x+tag@example.co.uk",
];
/// Clearly invalid email addresses.
pub const NOT_EMAILS: &[&str] = &[
    "plainaddress",
    "@example.com",
    "ada@",
    "ada example.com",
    "",
];
/// Clearly valid http(s) URLs.
pub const URLS: &[&str] = &[
    "https://example.com",
    "http://localhost:8080/path?q=1",
    "https://a.example.org/x#frag",
];
/// Clearly invalid URLs.
pub const NOT_URLS: &[&str] = &["not a url", "", "example com"];
/// Clearly valid UUIDs.
pub const UUIDS: &[&str] = &[
    "123e4567-e89b-12d3-a456-426614174000",
    "00000000-0000-0000-0000-000000000000",
    "F47AC10B-58CC-4372-A567-0E02B2C3D479",
];
/// Clearly invalid UUIDs.
pub const NOT_UUIDS: &[&str] = &[
    "not-a-uuid",
    "",
    "123e4567-e89b-12d3-a456-42661417400g",
    "123e4567",
];

/// Every fixed string sample, for JSON generators that must stay away from format edges.
pub fn string_samples() -> Vec<&'static str> {
    [EMAILS, NOT_EMAILS, URLS, NOT_URLS, UUIDS, NOT_UUIDS]
        .into_iter()
        .flatten()
        .copied()
        .collect()
}

/// Mostly `good`, sometimes `bad`.
pub fn mostly<T: Debug + Clone + 'static>(
    good: impl Strategy<Value = T> + 'static,
    bad: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![8 => good, 1 => bad].boxed()
}

fn pick(list: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(list).prop_map(str::to_owned).boxed()
}

pub fn email() -> BoxedStrategy<String> {
    mostly(pick(EMAILS), pick(NOT_EMAILS))
}
pub fn url() -> BoxedStrategy<String> {
    mostly(pick(URLS), pick(NOT_URLS))
}
pub fn uuid() -> BoxedStrategy<String> {
    mostly(pick(UUIDS), pick(NOT_UUIDS))
}

/// Short strings, some non-ASCII.
pub fn text() -> BoxedStrategy<String> {
    prop_oneof!["[a-z]{0,6}", "[a-zA-Z0-9 _\\-]{0,10}", "\\PC{0,4}",].boxed()
}

/// Finite floats (serde_json writes NaN and infinities as `null`, which does not read back).
pub fn f64_finite() -> BoxedStrategy<f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        Just(0.0),
        Just(-0.5),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 4.0),
    ]
    .boxed()
}
pub fn f32_finite() -> BoxedStrategy<f32> {
    prop_oneof![
        any::<f32>().prop_filter("finite", |x| x.is_finite()),
        Just(0.0f32),
        (-1000i16..1000).prop_map(|i| f32::from(i) / 4.0),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Primitives: every integer width, floats, bool, char, ().

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Primitives {
    pub a_u8: u8,
    pub a_u16: u16,
    pub a_u32: u32,
    pub a_u64: u64,
    pub a_i8: i8,
    pub a_i16: i16,
    pub a_i32: i32,
    pub a_i64: i64,
    pub a_f32: f32,
    pub a_f64: f64,
    pub flag: bool,
    pub letter: char,
    pub nothing: (),
}

impl Zoo for Primitives {
    fn arb() -> BoxedStrategy<Self> {
        (
            (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>()),
            (any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>()),
            (f32_finite(), f64_finite(), any::<bool>(), any::<char>()),
        )
            .prop_map(
                |(
                    (a_u8, a_u16, a_u32, a_u64),
                    (a_i8, a_i16, a_i32, a_i64),
                    (a_f32, a_f64, flag, letter),
                )| {
                    Primitives {
                        a_u8,
                        a_u16,
                        a_u32,
                        a_u64,
                        a_i8,
                        a_i16,
                        a_i32,
                        a_i64,
                        a_f32,
                        a_f64,
                        flag,
                        letter,
                        nothing: (),
                    }
                },
            )
            .boxed()
    }
}

/// `usize`/`isize` and the extremes of the 64-bit widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Sizes {
    pub len: usize,
    pub offset: isize,
    pub big: u64,
    pub small: i64,
}

impl Zoo for Sizes {
    fn arb() -> BoxedStrategy<Self> {
        (
            any::<usize>(),
            any::<isize>(),
            prop_oneof![Just(u64::MAX), Just(0u64), any::<u64>()],
            prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
        )
            .prop_map(|(len, offset, big, small)| Sizes {
                len,
                offset,
                big,
                small,
            })
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Struct shapes.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct UnitStruct;

impl Zoo for UnitStruct {
    fn arb() -> BoxedStrategy<Self> {
        Just(UnitStruct).boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct TupleStruct(pub u8, pub String, pub bool);

impl Zoo for TupleStruct {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u8>(), text(), any::<bool>())
            .prop_map(|(a, b, c)| TupleStruct(a, b, c))
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Newtype(pub u32);

impl Zoo for Newtype {
    fn arb() -> BoxedStrategy<Self> {
        any::<u32>().prop_map(Newtype).boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct NewtypeOfStruct(pub Meta);

impl Zoo for NewtypeOfStruct {
    fn arb() -> BoxedStrategy<Self> {
        Meta::arb().prop_map(NewtypeOfStruct).boxed()
    }
}

/// `[u8; 3]`, tuples, `Vec`, `HashSet`, string- and integer-keyed maps, `Box`, `Arc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Containers {
    pub rgb: [u8; 3],
    pub pair: (u16, String),
    pub triple: (bool, i8, Option<u8>),
    pub list: Vec<i32>,
    pub set: HashSet<String>,
    pub by_name: BTreeMap<String, i64>,
    pub by_id: HashMap<u32, String>,
    pub boxed: Box<u8>,
    pub shared: Arc<String>,
    pub nested: Vec<Vec<u8>>,
}

impl Zoo for Containers {
    fn arb() -> BoxedStrategy<Self> {
        (
            (
                any::<[u8; 3]>(),
                (any::<u16>(), text()),
                any::<(bool, i8, Option<u8>)>(),
            ),
            (vec(any::<i32>(), 0..4), hash_set(text(), 0..4)),
            (
                btree_map(text(), any::<i64>(), 0..4),
                hash_map(any::<u32>(), text(), 0..4),
            ),
            (any::<u8>(), text(), vec(vec(any::<u8>(), 0..3), 0..3)),
        )
            .prop_map(
                |((rgb, pair, triple), (list, set), (by_name, by_id), (boxed, shared, nested))| {
                    Containers {
                        rgb,
                        pair,
                        triple,
                        list,
                        set,
                        by_name,
                        by_id,
                        boxed: Box::new(boxed),
                        shared: Arc::new(shared),
                        nested,
                    }
                },
            )
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Renaming.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct Renamed {
    pub first_name: String,
    #[serde(rename = "surname")]
    pub last_name: String,
    pub is_admin: bool,
    pub login_count: u32,
}

impl Zoo for Renamed {
    fn arb() -> BoxedStrategy<Self> {
        (text(), text(), any::<bool>(), any::<u32>())
            .prop_map(|(first_name, last_name, is_admin, login_count)| Renamed {
                first_name,
                last_name,
                is_admin,
                login_count,
            })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub struct Kebab {
    pub content_type: String,
    pub max_age_seconds: u32,
}

impl Zoo for Kebab {
    fn arb() -> BoxedStrategy<Self> {
        (text(), any::<u32>())
            .prop_map(|(content_type, max_age_seconds)| Kebab {
                content_type,
                max_age_seconds,
            })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct ScreamingSnake {
    pub api_key: String,
    pub retry_limit: u8,
}

impl Zoo for ScreamingSnake {
    fn arb() -> BoxedStrategy<Self> {
        (text(), any::<u8>())
            .prop_map(|(api_key, retry_limit)| ScreamingSnake {
                api_key,
                retry_limit,
            })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "PascalCase")]
pub struct Pascal {
    pub user_name: String,
    pub zip: Option<u32>,
}

impl Zoo for Pascal {
    fn arb() -> BoxedStrategy<Self> {
        (text(), any::<Option<u32>>())
            .prop_map(|(user_name, zip)| Pascal { user_name, zip })
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults and skipping.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(default)]
pub struct ContainerDefault {
    pub retries: u8,
    pub name: String,
    pub verbose: bool,
}

impl Default for ContainerDefault {
    fn default() -> Self {
        ContainerDefault {
            retries: 3,
            name: "default".into(),
            verbose: false,
        }
    }
}

impl Zoo for ContainerDefault {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u8>(), text(), any::<bool>())
            .prop_map(|(retries, name, verbose)| ContainerDefault {
                retries,
                name,
                verbose,
            })
            .boxed()
    }
}

fn default_port() -> u16 {
    8080
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct FieldDefaults {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

impl Zoo for FieldDefaults {
    fn arb() -> BoxedStrategy<Self> {
        (
            text(),
            any::<u16>(),
            vec(text(), 0..3),
            any::<Option<u32>>(),
        )
            .prop_map(|(host, port, tags, limit)| FieldDefaults {
                host,
                port,
                tags,
                limit,
            })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Skips {
    pub id: u32,
    /// Never on the wire; always the default after a round trip.
    #[serde(skip)]
    pub cache: u64,
    /// Written, but never read: on input the key is unknown and ignored.
    #[serde(skip_deserializing)]
    pub computed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<u8>,
}

impl Zoo for Skips {
    fn arb() -> BoxedStrategy<Self> {
        (
            any::<u32>(),
            any::<Option<String>>(),
            vec(any::<u8>(), 0..3),
        )
            .prop_map(|(id, note, extras)| Skips {
                id,
                cache: 0,
                computed: String::new(),
                note,
                extras,
            })
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Flatten.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Meta {
    pub created_by: String,
    pub version: u16,
    pub note: Option<String>,
}

impl Zoo for Meta {
    fn arb() -> BoxedStrategy<Self> {
        (text(), any::<u16>(), any::<Option<String>>())
            .prop_map(|(created_by, version, note)| Meta {
                created_by,
                version,
                note,
            })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Flattened {
    pub id: u32,
    #[serde(flatten)]
    pub meta: Meta,
}

impl Zoo for Flattened {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u32>(), Meta::arb())
            .prop_map(|(id, meta)| Flattened { id, meta })
            .boxed()
    }
}

/// Keys that collide with no declared field of the flatten types.
fn extra_key() -> BoxedStrategy<String> {
    "x[a-z]{0,4}".boxed()
}

fn small_json() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::from),
        vec(any::<u8>(), 0..3).prop_map(Value::from),
    ]
    .boxed()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct FlattenValues {
    pub name: String,
    #[serde(flatten)]
    pub extra: HashMap<String, Value>,
}

impl Zoo for FlattenValues {
    fn arb() -> BoxedStrategy<Self> {
        (text(), hash_map(extra_key(), small_json(), 0..4))
            .prop_map(|(name, extra)| FlattenValues { name, extra })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct FlattenCounts {
    pub id: u8,
    #[serde(flatten)]
    pub counts: BTreeMap<String, u32>,
}

impl Zoo for FlattenCounts {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u8>(), btree_map(extra_key(), any::<u32>(), 0..4))
            .prop_map(|(id, counts)| FlattenCounts { id, counts })
            .boxed()
    }
}

/// A flattened struct takes its own keys; the flattened map sees the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct FlattenBoth {
    pub kind: String,
    #[serde(flatten)]
    pub meta: Meta,
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

impl Zoo for FlattenBoth {
    fn arb() -> BoxedStrategy<Self> {
        (
            text(),
            Meta::arb(),
            btree_map(extra_key(), small_json(), 0..3),
        )
            .prop_map(|(kind, meta, rest)| FlattenBoth { kind, meta, rest })
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// transparent, deny_unknown_fields, alias.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(transparent)]
pub struct Transparent {
    pub inner: Vec<u8>,
}

impl Zoo for Transparent {
    fn arb() -> BoxedStrategy<Self> {
        vec(any::<u8>(), 0..4)
            .prop_map(|inner| Transparent { inner })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(deny_unknown_fields)]
pub struct Strict {
    pub a: u8,
    pub b: Option<String>,
    #[serde(default)]
    pub c: bool,
}

impl Zoo for Strict {
    fn arb() -> BoxedStrategy<Self> {
        (any::<u8>(), any::<Option<String>>(), any::<bool>())
            .prop_map(|(a, b, c)| Strict { a, b, c })
            .boxed()
    }
}

/// Internally tagged with `deny_unknown_fields`: struct variants refuse unknown keys (serde
/// still ignores them for unit variants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum StrictEvent {
    Ping,
    Move { x: i32, y: i32 },
}

impl Zoo for StrictEvent {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(StrictEvent::Ping),
            (any::<i32>(), any::<i32>()).prop_map(|(x, y)| StrictEvent::Move { x, y }),
        ]
        .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Aliased {
    #[serde(alias = "userName", alias = "login")]
    pub user_name: String,
    #[serde(rename = "mail", alias = "email")]
    pub address: String,
}

impl Zoo for Aliased {
    fn arb() -> BoxedStrategy<Self> {
        (text(), text())
            .prop_map(|(user_name, address)| Aliased { user_name, address })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub enum AliasedEnum {
    #[serde(alias = "Begin")]
    Start,
    #[serde(rename = "halt", alias = "Stop")]
    Halt(u8),
}

impl Zoo for AliasedEnum {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(AliasedEnum::Start),
            any::<u8>().prop_map(AliasedEnum::Halt)
        ]
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Options.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Optionals {
    pub nullable: Option<u8>,
    pub nested: Option<Option<String>>,
    pub list: Option<Vec<bool>>,
    pub boxed: Option<Box<Meta>>,
}

impl Zoo for Optionals {
    fn arb() -> BoxedStrategy<Self> {
        (
            any::<Option<u8>>(),
            // serde reads `null` as the outer `None`, so `Some(None)` does not round-trip.
            prop::option::of(text().prop_map(Some)),
            prop::option::of(vec(any::<bool>(), 0..3)),
            prop::option::of(Meta::arb().prop_map(Box::new)),
        )
            .prop_map(|(nullable, nested, list, boxed)| Optionals {
                nullable,
                nested,
                list,
                boxed,
            })
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Generic and recursive.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[lfts(pattern = "^[a-z]+$")]
    pub cursor: Option<String>,
    pub total: u64,
}

impl<T: Zoo> Zoo for Page<T> {
    fn arb() -> BoxedStrategy<Self> {
        (
            vec(T::arb(), 0..3),
            prop::option::of(mostly("[a-z]{1,5}", "[A-Z0-9]{0,3}")),
            any::<u64>(),
        )
            .prop_map(|(items, cursor, total)| Page {
                items,
                cursor,
                total,
            })
            .boxed()
    }
}

impl Zoo for u8 {
    fn arb() -> BoxedStrategy<Self> {
        any::<u8>().boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Tree {
    pub value: u32,
    pub children: Vec<Tree>,
}

impl Zoo for Tree {
    fn arb() -> BoxedStrategy<Self> {
        let leaf = any::<u32>().prop_map(|value| Tree {
            value,
            children: Vec::new(),
        });
        leaf.prop_recursive(3, 12, 3, |inner| {
            (any::<u32>(), vec(inner, 0..3)).prop_map(|(value, children)| Tree { value, children })
        })
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Enums: the four representations.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub enum Color {
    Red,
    Green,
    Blue,
}

impl Zoo for Color {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![Just(Color::Red), Just(Color::Green), Just(Color::Blue)].boxed()
    }
}

/// serde's default representation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub enum External {
    Unit,
    Newtype(u16),
    Tuple(bool, String),
    Struct { id: u8, label: Option<String> },
    Nested(Box<External>),
}

impl Zoo for External {
    fn arb() -> BoxedStrategy<Self> {
        let leaf = prop_oneof![
            Just(External::Unit),
            any::<u16>().prop_map(External::Newtype),
            (any::<bool>(), text()).prop_map(|(a, b)| External::Tuple(a, b)),
            (any::<u8>(), any::<Option<String>>())
                .prop_map(|(id, label)| External::Struct { id, label }),
        ];
        leaf.prop_recursive(2, 4, 1, |inner| {
            inner.prop_map(|e| External::Nested(Box::new(e)))
        })
        .boxed()
    }
}

/// Internally tagged: serde allows unit, newtype (of a struct or map) and struct variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Internal {
    Empty,
    WithMeta(Meta),
    WithMap(BTreeMap<String, u8>),
    Point {
        x: f64,
        y: f64,
    },
    #[serde(rename = "label")]
    Labelled {
        text: String,
    },
}

impl Zoo for Internal {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(Internal::Empty),
            Meta::arb().prop_map(Internal::WithMeta),
            // Keys must not be the tag.
            btree_map("[a-j]{1,3}", any::<u8>(), 0..3).prop_map(Internal::WithMap),
            (f64_finite(), f64_finite()).prop_map(|(x, y)| Internal::Point { x, y }),
            text().prop_map(|text| Internal::Labelled { text }),
        ]
        .boxed()
    }
}

/// Adjacently tagged: every variant shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "t", content = "c", rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Adjacent {
    Nothing,
    Count(u32),
    Pair(i8, i8),
    Record { name: String, active: bool },
}

impl Zoo for Adjacent {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(Adjacent::Nothing),
            any::<u32>().prop_map(Adjacent::Count),
            (any::<i8>(), any::<i8>()).prop_map(|(a, b)| Adjacent::Pair(a, b)),
            (text(), any::<bool>()).prop_map(|(name, active)| Adjacent::Record { name, active }),
        ]
        .boxed()
    }
}

/// Adjacently tagged with `deny_unknown_fields`: keys besides the tag and content are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "op", content = "args", deny_unknown_fields)]
pub enum StrictAdjacent {
    Reset,
    Add(i64),
    Set { key: String, value: u8 },
}

impl Zoo for StrictAdjacent {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(StrictAdjacent::Reset),
            any::<i64>().prop_map(StrictAdjacent::Add),
            (text(), any::<u8>()).prop_map(|(key, value)| StrictAdjacent::Set { key, value }),
        ]
        .boxed()
    }
}

/// Untagged: the first variant that reads the value wins. The variants' shapes are disjoint, so
/// every value reads back as itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(untagged)]
pub enum Untagged {
    Nothing,
    Flag(bool),
    Pair(u8, u8),
    Named { name: String, size: Option<u32> },
    Text(String),
}

impl Zoo for Untagged {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(Untagged::Nothing),
            any::<bool>().prop_map(Untagged::Flag),
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Untagged::Pair(a, b)),
            (text(), any::<Option<u32>>()).prop_map(|(name, size)| Untagged::Named { name, size }),
            text().prop_map(Untagged::Text),
        ]
        .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "lowercase")]
pub enum LowerEnum {
    SignIn,
    SignOut {
        user_id: u64,
    },
    #[serde(rename_all = "UPPERCASE")]
    Refresh {
        token_id: String,
    },
}

impl Zoo for LowerEnum {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(LowerEnum::SignIn),
            any::<u64>().prop_map(|user_id| LowerEnum::SignOut { user_id }),
            text().prop_map(|token_id| LowerEnum::Refresh { token_id }),
        ]
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Data serde buffers before it knows the type (internally tagged payloads, untagged enums,
// flattened fields): there serde cannot read integer map keys, and reads `()` differently.
// Only empty maps round-trip, so the strategies make only those; the oracle property explores
// the rest.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "kind")]
pub enum Buffered {
    Ids { by_id: HashMap<u32, String> },
    Marker(UnitStruct),
    Small { n: u8, c: char, unit: () },
}

impl Zoo for Buffered {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(Buffered::Ids {
                by_id: HashMap::new()
            }),
            Just(Buffered::Marker(UnitStruct)),
            (any::<u8>(), any::<char>()).prop_map(|(n, c)| Buffered::Small { n, c, unit: () }),
        ]
        .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(untagged)]
pub enum Loose {
    Count(u8),
    Ids(BTreeMap<u32, String>),
    Nothing(()),
    Letters(Vec<char>),
}

impl Zoo for Loose {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            any::<u8>().prop_map(Loose::Count),
            Just(Loose::Ids(BTreeMap::new())),
            Just(Loose::Nothing(())),
            vec(any::<char>(), 0..3).prop_map(Loose::Letters),
        ]
        .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct IdsInner {
    pub by_id: HashMap<u32, String>,
    pub unit: (),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct FlatIds {
    pub id: u8,
    #[serde(flatten)]
    pub inner: IdsInner,
}

impl Zoo for FlatIds {
    fn arb() -> BoxedStrategy<Self> {
        any::<u8>()
            .prop_map(|id| FlatIds {
                id,
                inner: IdsInner {
                    by_id: HashMap::new(),
                    unit: (),
                },
            })
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Refinements.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Refined {
    #[lfts(email)]
    pub email: String,
    #[lfts(url)]
    pub homepage: String,
    #[lfts(uuid)]
    pub id: String,
    #[lfts(min_len = 2, max_len = 5)]
    pub code: String,
    #[lfts(min = 18, max = 130)]
    pub age: u8,
    #[lfts(pattern = "^[a-z]+$")]
    pub slug: String,
    #[lfts(non_empty)]
    pub nickname: String,
    #[lfts(non_empty)]
    pub tags: Vec<String>,
    #[lfts(min_items = 1, max_items = 3)]
    pub scores: Vec<u16>,
    #[lfts(positive)]
    pub price: f64,
    #[lfts(negative)]
    pub debt: i32,
    #[lfts(min = -1.5, max = 1.5)]
    pub ratio: f32,
    #[lfts(email)]
    pub backup: Option<String>,
}

impl Zoo for Refined {
    fn arb() -> BoxedStrategy<Self> {
        (
            (
                email(),
                url(),
                uuid(),
                mostly("[a-z]{2,5}", prop_oneof!["[a-z]{0,1}", "[a-z]{6,8}"]),
            ),
            (
                mostly(18u8..=130, prop_oneof![0u8..18, 131u8..=255]),
                mostly("[a-z]{1,6}", "[A-Z0-9 ]{0,3}"),
                mostly("\\PC{1,4}", Just(String::new())),
                mostly(vec(text(), 1..3), Just(Vec::new())),
            ),
            (
                mostly(
                    vec(any::<u16>(), 1..=3),
                    prop_oneof![Just(Vec::new()), vec(any::<u16>(), 4..6)],
                ),
                mostly(0.001f64..1e9, prop_oneof![Just(0.0), -1e3f64..0.0]),
                mostly(i32::MIN..0, 0..=i32::MAX),
                mostly(-1.5f32..=1.5, prop_oneof![1.5001f32..1e6, -1e6f32..-1.5001]),
                prop::option::of(email()),
            ),
        )
            .prop_map(
                |(
                    (email, homepage, id, code),
                    (age, slug, nickname, tags),
                    (scores, price, debt, ratio, backup),
                )| Refined {
                    email,
                    homepage,
                    id,
                    code,
                    age,
                    slug,
                    nickname,
                    tags,
                    scores,
                    price,
                    debt,
                    ratio,
                    backup,
                },
            )
            .boxed()
    }
}

/// `integer` on floats, and refinements on optional and boxed numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Measured {
    #[lfts(integer, min = 0)]
    pub count: f64,
    #[lfts(max = 10)]
    pub level: Option<i16>,
    #[lfts(positive)]
    pub weight: Box<f32>,
}

impl Zoo for Measured {
    fn arb() -> BoxedStrategy<Self> {
        (
            mostly(
                (0u32..1000).prop_map(f64::from),
                prop_oneof![Just(0.5), Just(-1.0), Just(2.25)],
            ),
            prop::option::of(mostly(-100i16..=10, 11i16..1000)),
            mostly(0.01f32..1e6, prop_oneof![Just(0.0f32), -10f32..0.0]),
        )
            .prop_map(|(count, level, weight)| Measured {
                count,
                level,
                weight: Box::new(weight),
            })
            .boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Schema)]
#[lfts(brand = "UserId")]
pub struct UserId(#[lfts(uuid)] pub String);

impl Zoo for UserId {
    fn arb() -> BoxedStrategy<Self> {
        uuid().prop_map(UserId).boxed()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[lfts(email)]
pub struct Email(pub String);

impl Zoo for Email {
    fn arb() -> BoxedStrategy<Self> {
        email().prop_map(Email).boxed()
    }
}

/// Refined newtypes used as fields, in a list, as an optional and as map values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub user_id: UserId,
    pub primary_email: Email,
    pub other_emails: Vec<Email>,
    pub manager: Option<UserId>,
    pub delegates: BTreeMap<String, UserId>,
    #[lfts(min_len = 1, max_len = 20)]
    pub display_name: String,
}

impl Zoo for Account {
    fn arb() -> BoxedStrategy<Self> {
        (
            UserId::arb(),
            Email::arb(),
            vec(Email::arb(), 0..3),
            prop::option::of(UserId::arb()),
            btree_map("[a-z]{1,3}", UserId::arb(), 0..3),
            mostly(
                "[a-zA-Z]{1,20}",
                prop_oneof![Just(String::new()), "[a-z]{21,24}"],
            ),
        )
            .prop_map(
                |(user_id, primary_email, other_emails, manager, delegates, display_name)| {
                    Account {
                        user_id,
                        primary_email,
                        other_emails,
                        manager,
                        delegates,
                        display_name,
                    }
                },
            )
            .boxed()
    }
}

/// Everything nested in everything: enums in lists, refined types under enums, recursion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub title: String,
    pub events: Vec<Internal>,
    pub owner: Option<Account>,
    pub tree: Tree,
    pub status: Adjacent,
    pub choices: Vec<Untagged>,
    pub by_code: HashMap<u32, External>,
    #[serde(default)]
    pub related: Vec<Document>,
}

impl Zoo for Document {
    fn arb() -> BoxedStrategy<Self> {
        let leaf = (
            text(),
            vec(Internal::arb(), 0..3),
            prop::option::of(Account::arb()),
            Tree::arb(),
            Adjacent::arb(),
            vec(Untagged::arb(), 0..3),
            hash_map(any::<u32>(), External::arb(), 0..3),
        )
            .prop_map(
                |(title, events, owner, tree, status, choices, by_code)| Document {
                    title,
                    events,
                    owner,
                    tree,
                    status,
                    choices,
                    by_code,
                    related: Vec::new(),
                },
            );
        leaf.prop_recursive(2, 4, 2, |inner| {
            (inner.clone(), vec(inner, 0..2)).prop_map(|(mut doc, related)| {
                doc.related = related;
                doc
            })
        })
        .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// JSON generators: random documents built from a type's own wire names, and mutations of
// valid documents.

pub mod json {
    use std::collections::BTreeSet;

    use lfts::TypeObject;
    use lfts::schema::{Literal, Node, Tagging};
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    /// The wire names of a schema: property names and aliases, variant names and aliases,
    /// tags. Random documents use them as keys and strings so they reach past the first check.
    pub fn vocabulary(schema: &TypeObject) -> Vec<String> {
        let mut words = BTreeSet::new();
        let mut visit = |node: &Node| match node {
            Node::Object(o) => {
                for p in &o.properties {
                    words.insert(p.name.clone());
                    words.extend(p.aliases.iter().cloned());
                }
            }
            Node::DUnion(d) => {
                for v in &d.variants {
                    words.insert(v.name.clone());
                    words.extend(v.aliases.iter().cloned());
                }
                match &d.tagging {
                    Tagging::External => {}
                    Tagging::Internal { tag } => {
                        words.insert(tag.clone());
                    }
                    Tagging::Adjacent { tag, content } => {
                        words.insert(tag.clone());
                        words.insert(content.clone());
                    }
                }
            }
            _ => {}
        };
        lfts::schema::walk(schema.root(), &mut visit);
        for def in schema.defs() {
            lfts::schema::walk(&def.node, &mut visit);
        }
        words.insert("zzUnknown".to_owned());
        words.into_iter().collect()
    }

    /// Numbers at the edges of every integer width, and floats that are and are not whole.
    pub fn edge_number() -> BoxedStrategy<Value> {
        prop_oneof![
            (-3i64..300).prop_map(Value::from),
            prop::sample::select(vec![
                json!(0),
                json!(-1),
                json!(127),
                json!(128),
                json!(-128),
                json!(-129),
                json!(255),
                json!(256),
                json!(32767),
                json!(32768),
                json!(-32769),
                json!(65535),
                json!(65536),
                json!(2147483647),
                json!(2147483648_i64),
                json!(-2147483649_i64),
                json!(4294967295_u64),
                json!(4294967296_u64),
                json!(i64::MAX),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1.0),
                json!(-0.0),
                json!(0.5),
                json!(-1.5),
                json!(1e20),
                json!(-1e20),
                json!(1e300),
                json!(3.4e39),
            ]),
        ]
        .boxed()
    }

    /// A random JSON document whose keys and strings come mostly from `vocab`. With
    /// `free_strings`, strings may also be arbitrary; without, they come only from fixed lists
    /// (see [`super::string_samples`]) so string formats are never at an edge.
    pub fn document(vocab: Vec<String>, free_strings: bool) -> BoxedStrategy<Value> {
        let mut strings: Vec<String> = super::string_samples()
            .into_iter()
            .map(str::to_owned)
            .collect();
        strings.extend(vocab.iter().cloned());
        let string = if free_strings {
            prop_oneof![
                3 => prop::sample::select(strings),
                1 => super::text(),
                1 => "[a-z]{1,3}",
            ]
            .boxed()
        } else {
            prop_oneof![3 => prop::sample::select(strings), 1 => "[a-z]{1,3}"].boxed()
        };
        let key = prop_oneof![4 => prop::sample::select(vocab), 1 => "[a-z]{1,2}"];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            edge_number(),
            string.prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// One way to spoil a document.
    #[derive(Debug, Clone, Copy)]
    pub enum Mutation {
        /// Remove a key from an object.
        DropKey,
        /// Add a key (unknown, or another known name such as an alias) to an object.
        AddKey,
        /// Replace a value with one of another JSON type.
        ChangeType,
        /// Replace a value with an array holding it.
        WrapInArray,
        /// Write a number as a float (`5` → `5.0`).
        ToFloat,
        /// Replace a number with one out of range for some width.
        OutOfRange,
        /// Rename a key or change a string (a tag, a variant name).
        Rename,
        /// Replace a string with one of the fixed samples (formats, lengths).
        SampleString,
    }

    /// A mutation and where to apply it.
    pub fn mutation() -> impl Strategy<Value = (Mutation, usize, usize)> {
        (
            prop::sample::select(vec![
                Mutation::DropKey,
                Mutation::AddKey,
                Mutation::ChangeType,
                Mutation::WrapInArray,
                Mutation::ToFloat,
                Mutation::OutOfRange,
                Mutation::Rename,
                Mutation::SampleString,
            ]),
            any::<usize>(),
            any::<usize>(),
        )
    }

    fn count(v: &Value, pred: &dyn Fn(&Value) -> bool) -> usize {
        let below = match v {
            Value::Array(items) => items.iter().map(|i| count(i, pred)).sum(),
            Value::Object(map) => map.values().map(|i| count(i, pred)).sum(),
            _ => 0,
        };
        below + usize::from(pred(v))
    }

    fn nth_mut<'a>(
        v: &'a mut Value,
        pred: &dyn Fn(&Value) -> bool,
        n: &mut usize,
    ) -> Option<&'a mut Value> {
        if pred(v) {
            if *n == 0 {
                return Some(v);
            }
            *n -= 1;
        }
        match v {
            Value::Array(items) => items.iter_mut().find_map(|i| nth_mut(i, pred, n)),
            Value::Object(map) => map.values_mut().find_map(|i| nth_mut(i, pred, n)),
            _ => None,
        }
    }

    /// Applies `mutation` to the `at`-th value it applies to; `pick` chooses among options.
    /// A mutation with nothing to apply to changes a type instead.
    pub fn apply(
        doc: &mut Value,
        (mutation, at, pick): (Mutation, usize, usize),
        vocab: &[String],
    ) {
        let pred: &dyn Fn(&Value) -> bool = match mutation {
            Mutation::DropKey => &|v| v.as_object().is_some_and(|m| !m.is_empty()),
            Mutation::AddKey => &|v| v.is_object(),
            Mutation::ToFloat | Mutation::OutOfRange => &|v| v.is_number(),
            Mutation::Rename => &|v| v.is_string() || v.as_object().is_some_and(|m| !m.is_empty()),
            Mutation::SampleString => &|v| v.is_string(),
            Mutation::ChangeType | Mutation::WrapInArray => &|_| true,
        };
        let n = count(doc, pred);
        if n == 0 {
            if !matches!(mutation, Mutation::ChangeType) {
                apply(doc, (Mutation::ChangeType, at, pick), vocab);
            }
            return;
        }
        let mut k = at % n;
        let Some(target) = nth_mut(doc, pred, &mut k) else {
            return;
        };
        match mutation {
            Mutation::DropKey => {
                if let Value::Object(map) = target {
                    let key = map.keys().nth(pick % map.len()).cloned();
                    if let Some(key) = key {
                        map.remove(&key);
                    }
                }
            }
            Mutation::AddKey => {
                if let Value::Object(map) = target {
                    let key = vocab[pick % vocab.len()].clone();
                    let value = match map.values().next() {
                        // A copy of a sibling's value: right type, wrong place (or an alias
                        // beside its canonical name: a duplicate for serde).
                        Some(v) if pick % 2 == 0 => v.clone(),
                        _ => json!(1),
                    };
                    map.insert(key, value);
                }
            }
            Mutation::ChangeType => {
                let options = [
                    json!(null),
                    json!(true),
                    json!(7),
                    json!(-7),
                    json!(1.5),
                    json!("s"),
                    json!([]),
                    json!({}),
                ];
                let same = |o: &Value| std::mem::discriminant(o) == std::mem::discriminant(target);
                let choices: Vec<&Value> = options.iter().filter(|o| !same(o)).collect();
                *target = choices[pick % choices.len()].clone();
            }
            Mutation::WrapInArray => {
                let inner = target.take();
                *target = Value::Array(vec![inner]);
            }
            Mutation::ToFloat => {
                if let Some(x) = target.as_f64() {
                    *target = json!(x.trunc());
                }
            }
            Mutation::OutOfRange => {
                let options = [
                    json!(256),
                    json!(-1),
                    json!(-129),
                    json!(65536),
                    json!(-32769),
                    json!(4294967296_u64),
                    json!(-2147483649_i64),
                    json!(u64::MAX),
                    json!(i64::MIN),
                    json!(1e20),
                    json!(-1e20),
                    json!(0.5),
                    json!(1.0),
                ];
                *target = options[pick % options.len()].clone();
            }
            Mutation::Rename => match target {
                Value::String(s) => *s = respell(s, pick, vocab),
                Value::Object(map) => {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    let key = keys[pick % keys.len()].clone();
                    if let Some(value) = map.remove(&key) {
                        let new = respell(&key, pick, vocab);
                        map.insert(new, value);
                    }
                }
                _ => {}
            },
            Mutation::SampleString => {
                let samples = super::string_samples();
                *target = Value::from(samples[pick % samples.len()]);
            }
        }
    }

    /// Another spelling of a name: another known name, or the same with its case changed.
    fn respell(name: &str, pick: usize, vocab: &[String]) -> String {
        match pick % 3 {
            0 => vocab[(pick / 3) % vocab.len()].clone(),
            1 => {
                let mut chars = name.chars();
                match chars.next() {
                    Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
                    Some(c) => c.to_lowercase().chain(chars).collect(),
                    None => "x".to_owned(),
                }
            }
            _ => format!("{name}_"),
        }
    }

    /// Whether `value` holds, at a place where `node` expects a struct (an object, or an
    /// internally or adjacently tagged enum), an array. serde reads structs from arrays too
    /// (`visit_seq`, fields in declaration order); lfts deliberately does not, since serde never
    /// writes them so. Properties skip documents that serde accepts only this way.
    pub fn has_array_for_struct(schema: &TypeObject, node: &Node, value: &Value) -> bool {
        exists(
            schema,
            node,
            value,
            &|node, value| match (node, value) {
                (Node::Object(_), Value::Array(_)) => true,
                (Node::DUnion(d), Value::Array(_)) => !matches!(d.tagging, Tagging::External),
                _ => false,
            },
            0,
        )
    }

    /// Whether some place of `value` that `node` describes satisfies `pred` (which sees the
    /// node with references resolved). Where the value could be read several ways (an untagged
    /// union), every way is tried.
    fn exists(
        schema: &TypeObject,
        node: &Node,
        value: &Value,
        pred: &dyn Fn(&Node, &Value) -> bool,
        depth: usize,
    ) -> bool {
        if depth > 200 {
            return false;
        }
        let again = |node: &Node, value: &Value| exists(schema, node, value, pred, depth + 1);
        let node = schema.resolve(node);
        if pred(node, value) {
            return true;
        }
        match (node, value) {
            (
                Node::Brand(_, inner)
                | Node::Refine(_, inner)
                | Node::Optional(inner)
                | Node::OptionSome(inner)
                | Node::Metadata(_, inner),
                _,
            ) => again(inner, value),
            (Node::Array(inner), Value::Array(items)) => items.iter().any(|i| again(inner, i)),
            (Node::Tuple(nodes), Value::Array(items)) => {
                nodes.iter().zip(items).any(|(n, i)| again(n, i))
            }
            (Node::Map { value: inner, .. }, Value::Object(map)) => {
                map.values().any(|v| again(inner, v))
            }
            (Node::Object(o), Value::Object(map)) => {
                o.properties.iter().any(|p| {
                    std::iter::once(&p.name)
                        .chain(&p.aliases)
                        .filter_map(|k| map.get(k))
                        .any(|v| again(&p.node, v))
                }) || o.flatten.iter().any(|f| again(f, value))
            }
            (Node::Union(alternatives), _) => alternatives.iter().any(|a| again(a, value)),
            (Node::DUnion(d), Value::Object(map)) => {
                let variant = |name: &Value| {
                    let name = name.as_str()?;
                    d.variants
                        .iter()
                        .find(|v| v.name == name || v.aliases.iter().any(|a| a == name))
                };
                match &d.tagging {
                    Tagging::External => map.iter().next().is_some_and(|(k, v)| {
                        variant(&Value::from(k.as_str()))
                            .and_then(|var| var.node.as_ref())
                            .is_some_and(|n| again(n, v))
                    }),
                    Tagging::Internal { tag } => map
                        .get(tag)
                        .and_then(variant)
                        .and_then(|var| var.node.as_ref())
                        .is_some_and(|n| again(n, value)),
                    Tagging::Adjacent { tag, content } => {
                        match (map.get(tag).and_then(variant), map.get(content)) {
                            (Some(var), Some(c)) => var.node.as_ref().is_some_and(|n| again(n, c)),
                            _ => false,
                        }
                    }
                }
            }
            _ => false,
        }
    }

    /// Whether `value` holds a float with no fractional part (`1.0`, `-0.0`, `1e2`) where
    /// `node` expects an integer kind. serde_json refuses those for integers; JSON Schema's
    /// `"integer"` accepts them (a known gap of the export).
    pub fn has_whole_float_for_integer(schema: &TypeObject, node: &Node, value: &Value) -> bool {
        exists(
            schema,
            node,
            value,
            &|node, value| {
                let whole = value
                    .as_number()
                    .is_some_and(|n| n.is_f64() && n.as_f64().is_some_and(|x| x.fract() == 0.0));
                let integer = match node {
                    Node::Number(kind) => kind.is_integer(),
                    Node::Literal(Literal::Int(_)) => true,
                    _ => false,
                };
                whole && integer
            },
            0,
        )
    }

    /// An object with these entries.
    pub fn object(entries: &[(&str, Value)]) -> Value {
        let map: Map<String, Value> = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        Value::Object(map)
    }
}

// ---------------------------------------------------------------------------------------------
// Running properties over the whole zoo.

/// Runs `test` on `cases` values of `strategy`; on failure, the (shrunk) failure's message.
///
/// The seed is fixed so CI sees the same cases every run; set `PROPTEST_RNG_SEED` to explore
/// others and `PROPTEST_CASES` to run more.
pub fn run_property<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<(), String> {
    use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x1f75_2026);
    }
    config.failure_persistence = None;
    config.max_shrink_iters = 512;
    let mut runner = TestRunner::new(config);
    match runner.run(&strategy, test) {
        Ok(()) => Ok(()),
        Err(TestError::Fail(why, value)) => Err(format!("{why}\n    minimal input: {value:?}")),
        Err(TestError::Abort(why)) => Err(format!("aborted: {why}")),
    }
}

/// The JSON Pointer paths of a list of errors, as a sorted set.
pub fn paths(errors: &lfts::ValidationErrors) -> std::collections::BTreeSet<String> {
    errors.iter().map(|e| e.path.clone()).collect()
}
