//! The interpreter (`TypeObject::validate`) against hand-built schemas, and against
//! `serde_json::from_value` on real Rust types as the oracle.

use std::collections::HashMap;

use lfts::schema::{
    DUnion, Def, DefId, Literal, Metadata, Node, NumberKind, Object, Pattern, PortNode, Property,
    Refinement, Tagging, TypeObject, Variant,
};
use lfts::validate::{MAX_DEPTH, MAX_ERRORS};
use lfts::{ValidationError, ValidationErrors};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

// ----- helpers -------------------------------------------------------------------------------

fn errors(schema: &TypeObject, value: &Value) -> Vec<ValidationError> {
    match schema.validate(value) {
        Ok(()) => Vec::new(),
        Err(e) => e.into_iter().collect(),
    }
}

fn paths(schema: &TypeObject, value: Value) -> Vec<String> {
    errors(schema, &value).into_iter().map(|e| e.path).collect()
}

fn accepts(schema: &TypeObject, value: Value) -> bool {
    schema.validate(&value).is_ok()
}

fn one_error(schema: &TypeObject, value: Value) -> ValidationError {
    let mut errs = errors(schema, &value);
    assert_eq!(
        errs.len(),
        1,
        "expected one error for {value}, got {errs:#?}"
    );
    errs.remove(0)
}

fn s(node: Node) -> TypeObject {
    TypeObject::new(node)
}

fn b(node: Node) -> Box<Node> {
    Box::new(node)
}

fn num(kind: NumberKind) -> Node {
    Node::Number(kind)
}

fn prop(name: &str, node: Node) -> Property {
    Property {
        name: name.into(),
        aliases: Vec::new(),
        required: true,
        node,
    }
}

fn optional_prop(name: &str, node: Node) -> Property {
    Property {
        name: name.into(),
        aliases: Vec::new(),
        required: false,
        node: Node::Optional(b(node)),
    }
}

fn obj(properties: Vec<Property>) -> Object {
    Object {
        properties,
        strict: false,
        flatten: Vec::new(),
    }
}

fn variant(name: &str, node: Option<Node>) -> Variant {
    Variant {
        name: name.into(),
        aliases: Vec::new(),
        node,
    }
}

fn def(name: &str, node: Node) -> Def {
    Def {
        name: name.into(),
        node,
    }
}

fn map_of(key: Node, value: Node) -> Node {
    Node::Map {
        key: b(key),
        value: b(value),
    }
}

/// Asserts that the interpreter and `serde_json::from_value::<T>` agree on every value.
fn agree<T: DeserializeOwned>(schema: &TypeObject, values: &[Value]) {
    for value in values {
        let serde = serde_json::from_value::<T>(value.clone());
        let ours = schema.validate(value);
        assert_eq!(
            ours.is_ok(),
            serde.is_ok(),
            "disagreement on {value}: serde says {:?}, interpreter says {:?}",
            serde.err().map(|e| e.to_string()),
            ours.err().map(|e| e.to_string()),
        );
    }
}

// ----- primitives ----------------------------------------------------------------------------

#[test]
fn primitives_accept_their_json_type_only() {
    let cases: Vec<(Node, Value, Vec<Value>)> = vec![
        (
            Node::String,
            json!("x"),
            vec![json!(1), json!(null), json!(true), json!([]), json!({})],
        ),
        (
            Node::Boolean,
            json!(false),
            vec![json!("true"), json!(0), json!(null)],
        ),
        (
            Node::Null,
            json!(null),
            vec![json!(0), json!(""), json!({}), json!([])],
        ),
        (Node::OptionNone, json!(null), vec![json!(0), json!({})]),
    ];
    for (node, good, bads) in cases {
        let schema = s(node);
        assert!(accepts(&schema, good.clone()), "{schema:?} {good}");
        for bad in bads {
            let e = one_error(&schema, bad.clone());
            assert_eq!(e.path, "");
            assert!(!e.message.is_empty());
        }
    }
    let any = s(Node::Any);
    for v in [
        json!(null),
        json!(1),
        json!("x"),
        json!([1, {"a": []}]),
        json!({"k": 1}),
    ] {
        assert!(accepts(&any, v));
    }
}

#[test]
fn type_errors_describe_expected_and_found() {
    let e = one_error(&s(Node::String), json!(5));
    assert_eq!(
        (e.expected.as_str(), e.found.as_str()),
        ("string", "number 5")
    );
    let e = one_error(&s(num(NumberKind::U8)), json!(300));
    assert_eq!(
        (e.expected.as_str(), e.found.as_str()),
        ("u8", "number 300")
    );
    assert!(e.message.contains("out of range"), "{}", e.message);
    let e = one_error(&s(Node::Boolean), json!([1, 2, 3]));
    assert_eq!(e.found, "array of 3 items");
    let e = one_error(&s(Node::Boolean), json!({"a": 1}));
    assert_eq!(e.found, "object");
    let e = one_error(&s(Node::Boolean), json!(null));
    assert_eq!(e.found, "null");
    let long = "abcdefghij".repeat(10);
    let e = one_error(&s(Node::Boolean), json!(long));
    assert!(e.found.starts_with("string \"abcdefghij") && e.found.ends_with('…'));
    assert!(e.found.chars().count() < 60, "{}", e.found);
}

#[test]
fn integer_kinds_follow_serde_json() {
    use NumberKind::*;
    for kind in [U8, U16, U32, U64, I8, I16, I32, I64] {
        let schema = s(num(kind));
        assert!(accepts(&schema, json!(1)), "{kind:?} accepts 1");
        assert!(accepts(&schema, json!(0)), "{kind:?} accepts 0");
        assert!(!accepts(&schema, json!(1.0)), "{kind:?} refuses 1.0");
        assert!(!accepts(&schema, json!(1.5)), "{kind:?} refuses 1.5");
        assert!(!accepts(&schema, json!(1e308)), "{kind:?} refuses 1e308");
        assert!(!accepts(&schema, json!("1")), "{kind:?} refuses \"1\"");
        assert!(!accepts(&schema, json!(null)), "{kind:?} refuses null");
        assert!(!accepts(&schema, json!(true)), "{kind:?} refuses true");
    }
    let big: Vec<Value> = vec![
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(-1),
        json!(255),
        json!(256),
        json!(-128),
        json!(-129),
        json!(65535),
        json!(65536),
        json!(-32769),
        json!(4294967295u64),
        json!(4294967296u64),
        json!(-2147483649i64),
        json!(0.5),
        json!(-0.0),
    ];
    macro_rules! against_serde {
        ($($t:ty => $k:ident),*) => {$(
            agree::<$t>(&s(num($k)), &big);
        )*};
    }
    against_serde!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32, i64 => I64, f32 => F32, f64 => F64);
    assert!(accepts(&s(num(U64)), json!(u64::MAX)));
    assert!(!accepts(&s(num(I64)), json!(u64::MAX)));
    assert!(accepts(&s(num(I64)), json!(i64::MIN)));
    assert!(!accepts(&s(num(U64)), json!(i64::MIN)));
}

#[test]
fn floats_accept_every_number() {
    for kind in [NumberKind::F32, NumberKind::F64] {
        let schema = s(num(kind));
        for v in [
            json!(1),
            json!(-1),
            json!(1.5),
            json!(1e308),
            json!(u64::MAX),
            json!(i64::MIN),
        ] {
            assert!(accepts(&schema, v.clone()), "{kind:?} {v}");
        }
        assert!(!accepts(&schema, json!("1.5")));
    }
}

#[test]
fn literals_compare_as_json() {
    let cases = [
        (Literal::Str("on".into()), json!("on"), json!("off")),
        (Literal::Bool(true), json!(true), json!(false)),
        (Literal::Int(-3), json!(-3), json!(-3.0)),
        (Literal::Float(1.5), json!(1.5), json!(2.5)),
    ];
    for (lit, good, bad) in cases {
        let schema = s(Node::Literal(lit));
        assert!(accepts(&schema, good));
        let e = one_error(&schema, bad);
        assert_eq!(e.path, "");
    }
    assert!(!accepts(&s(Node::Literal(Literal::Int(1))), json!("1")));
    assert!(!accepts(
        &s(Node::Literal(Literal::Int(1))),
        json!(u64::MAX)
    ));
    assert_eq!(
        one_error(&s(Node::Literal(Literal::Str("A".into()))), json!("B")).expected,
        "\"A\""
    );
}

// ----- arrays and tuples ---------------------------------------------------------------------

#[test]
fn arrays_report_every_bad_item_with_its_index() {
    let schema = s(Node::Array(b(num(NumberKind::U8))));
    assert!(accepts(&schema, json!([])));
    assert!(accepts(&schema, json!([1, 2, 255])));
    assert_eq!(
        paths(&schema, json!([1, "x", 2, 300, -1])),
        ["/1", "/3", "/4"]
    );
    assert_eq!(paths(&schema, json!({"0": 1})), [""]);
}

#[test]
fn tuples_need_exactly_their_length() {
    let schema = s(Node::Tuple(vec![num(NumberKind::U8), Node::String]));
    assert!(accepts(&schema, json!([1, "a"])));
    let e = one_error(&schema, json!([1]));
    assert_eq!(
        (e.path.as_str(), e.expected.as_str(), e.found.as_str()),
        ("", "array of 2 items", "array of 1 item")
    );
    assert_eq!(paths(&schema, json!([1, "a", 3])), [""]);
    assert_eq!(paths(&schema, json!(["a", 1])), ["/0", "/1"]);
    // Length and item errors are both reported.
    assert_eq!(paths(&schema, json!(["a"])), ["", "/0"]);
    agree::<(u8, String)>(
        &TypeObject::of::<(u8, String)>(),
        &[
            json!([1, "a"]),
            json!([1]),
            json!([1, "a", 3]),
            json!(["a", 1]),
            json!([256, "a"]),
            json!({}),
            json!(null),
        ],
    );
    agree::<[u8; 3]>(
        &TypeObject::of::<[u8; 3]>(),
        &[
            json!([1, 2, 3]),
            json!([1, 2]),
            json!([1, 2, 3, 4]),
            json!([1, 2, 300]),
            json!([]),
            json!("abc"),
        ],
    );
    agree::<[u8; 0]>(&TypeObject::of::<[u8; 0]>(), &[json!([]), json!([1])]);
}

// ----- objects -------------------------------------------------------------------------------

#[test]
fn objects_report_missing_wrong_and_escaped_paths() {
    let schema = s(Node::Object(obj(vec![
        prop("name", Node::String),
        prop("a/b", num(NumberKind::U8)),
        prop("c~d", Node::Boolean),
        optional_prop("nick", Node::String),
    ])));
    assert!(accepts(
        &schema,
        json!({"name": "x", "a/b": 1, "c~d": true})
    ));
    assert!(accepts(
        &schema,
        json!({"name": "x", "a/b": 1, "c~d": true, "nick": null, "other": 1})
    ));
    assert!(accepts(
        &schema,
        json!({"name": "x", "a/b": 1, "c~d": true, "nick": "n"})
    ));
    let errs = errors(&schema, &json!({"a/b": "x", "c~d": 1, "nick": 3}));
    let got: Vec<(&str, &str)> = errs
        .iter()
        .map(|e| (e.path.as_str(), e.found.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("/name", "missing"),
            ("/a~1b", "string \"x\""),
            ("/c~0d", "number 1"),
            ("/nick", "number 3")
        ]
    );
    assert!(errs[0].message.contains("missing"));
    assert_eq!(
        paths(&schema, json!([1, 2])),
        [""],
        "a struct is never read from an array"
    );
}

#[test]
fn strict_objects_refuse_unknown_keys() {
    let mut o = obj(vec![
        prop("a", num(NumberKind::U8)),
        optional_prop("b", Node::String),
    ]);
    o.strict = true;
    let schema = s(Node::Object(o));
    assert!(accepts(&schema, json!({"a": 1})));
    assert!(accepts(&schema, json!({"a": 1, "b": "x"})));
    assert_eq!(
        paths(&schema, json!({"a": 1, "x": 1, "y/z": 2})),
        ["/x", "/y~1z"]
    );
    let e = one_error(&schema, json!({"a": 1, "zz": true}));
    assert!(
        e.message.contains("unknown property \"zz\""),
        "{}",
        e.message
    );
}

#[test]
fn aliases_are_accepted_and_duplicates_refused() {
    let mut p = prop("name", Node::String);
    p.aliases = vec!["full_name".into(), "fullName".into()];
    let schema = s(Node::Object(Object {
        properties: vec![p],
        strict: true,
        flatten: Vec::new(),
    }));
    assert!(accepts(&schema, json!({"name": "a"})));
    assert!(accepts(&schema, json!({"fullName": "a"})));
    assert!(accepts(&schema, json!({"full_name": "a"})));
    assert_eq!(paths(&schema, json!({"fullName": 1})), ["/fullName"]);
    assert_eq!(paths(&schema, json!({})), ["/name"]);
    let e = one_error(&schema, json!({"name": "a", "fullName": "b"}));
    assert_eq!(e.path, "/fullName");
    assert!(e.message.contains("more than once"), "{}", e.message);

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Named {
        #[serde(alias = "full_name", alias = "fullName")]
        name: String,
    }
    agree::<Named>(
        &schema,
        &[
            json!({"name": "a"}),
            json!({"full_name": "a"}),
            json!({"name": "a", "full_name": "b"}),
            json!({"fullName": "a", "full_name": "b"}),
            json!({"name": "a", "x": 1}),
            json!({}),
        ],
    );
}

#[test]
fn flatten_with_a_map_and_a_struct() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Side {
        side: u32,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Open {
        id: u8,
        #[serde(flatten)]
        side: Side,
        #[serde(flatten)]
        rest: HashMap<String, u8>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Closed {
        id: u8,
        #[serde(flatten)]
        side: Side,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Numbered {
        id: u8,
        #[serde(flatten)]
        rest: HashMap<u32, u8>,
    }
    let side = def(
        "Side",
        Node::Object(obj(vec![prop("side", num(NumberKind::U32))])),
    );
    let open = TypeObject::from_parts(
        Node::Object(Object {
            properties: vec![prop("id", num(NumberKind::U8))],
            strict: false,
            flatten: vec![
                Node::Ref(DefId(0)),
                map_of(Node::String, num(NumberKind::U8)),
            ],
        }),
        vec![side.clone()],
    );
    assert!(accepts(&open, json!({"id": 1, "side": 2, "x": 3, "y": 4})));
    // The map sees neither `id` nor `side`: they are taken by the struct and its flattened one.
    assert!(accepts(&open, json!({"id": 1, "side": 70000})));
    assert_eq!(
        paths(&open, json!({"id": 1, "side": 2, "x": "no", "y": 300})),
        ["/x", "/y"]
    );
    assert_eq!(paths(&open, json!({"id": 1})), ["/side"]);
    let closed = TypeObject::from_parts(
        Node::Object(Object {
            properties: vec![prop("id", num(NumberKind::U8))],
            strict: true,
            flatten: vec![Node::Ref(DefId(0))],
        }),
        vec![side],
    );
    assert!(accepts(&closed, json!({"id": 1, "side": 2})));
    assert_eq!(paths(&closed, json!({"id": 1, "side": 2, "x": 3})), ["/x"]);
    let numbered = s(Node::Object(Object {
        properties: vec![prop("id", num(NumberKind::U8))],
        strict: false,
        flatten: vec![map_of(num(NumberKind::U32), num(NumberKind::U8))],
    }));
    let values = [
        json!({"id": 1, "side": 2}),
        json!({"id": 1, "side": 2, "x": 3, "y": 4}),
        json!({"id": 1, "side": 2, "x": "no"}),
        json!({"id": 1, "side": "2"}),
        json!({"id": 1}),
        json!({"side": 1}),
        json!({"id": 1, "side": 2, "id2": 300}),
    ];
    agree::<Open>(&open, &values);
    agree::<Closed>(&closed, &values);
    // serde reads flattened data from a buffer that cannot produce number keys.
    agree::<Numbered>(
        &numbered,
        &[
            json!({"id": 1}),
            json!({"id": 1, "7": 2}),
            json!({"id": 1, "x": 2}),
        ],
    );
}

// ----- maps ----------------------------------------------------------------------------------

#[test]
fn maps_check_keys_and_values() {
    let schema = s(map_of(Node::String, num(NumberKind::U8)));
    assert!(accepts(&schema, json!({})));
    assert!(accepts(&schema, json!({"a": 1, "": 2})));
    assert_eq!(
        paths(&schema, json!({"a": 1, "b": -1, "c/": "x"})),
        ["/b", "/c~1"]
    );

    let refined = s(map_of(
        Node::String.refine(Refinement::MinLength(2)),
        Node::Boolean,
    ));
    assert!(accepts(&refined, json!({"ab": true})));
    let e = one_error(&refined, json!({"ab": true, "a": false}));
    assert_eq!(e.path, "/a");

    let ints = s(map_of(num(NumberKind::I32), Node::Boolean));
    assert!(accepts(
        &ints,
        json!({"1": true, "-1": false, "2147483647": true})
    ));
    for bad in [
        "-0",
        "+1",
        "01",
        " 1",
        "1 ",
        "1.0",
        "1e2",
        "x",
        "",
        "2147483648",
        "0x1",
    ] {
        let mut m = serde_json::Map::new();
        m.insert(bad.to_owned(), json!(true));
        let e = one_error(&ints, Value::Object(m));
        assert_eq!(e.path, format!("/{bad}"));
    }
    let keys = [
        "1",
        "0",
        "-1",
        "-0",
        "+1",
        "01",
        " 1",
        "1 ",
        "1.0",
        "1e2",
        "x",
        "",
        "255",
        "256",
        "-129",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "1.5",
        "-1.5e3",
        "1e400",
        "1e-400",
        "1.",
        ".5",
        "1E+2",
        "true",
    ];
    let values: Vec<Value> = keys.iter().map(|k| json!({ *k: true })).collect();
    agree::<HashMap<u32, bool>>(&TypeObject::of::<HashMap<u32, bool>>(), &values);
    agree::<HashMap<u8, bool>>(&TypeObject::of::<HashMap<u8, bool>>(), &values);
    agree::<HashMap<i8, bool>>(&TypeObject::of::<HashMap<i8, bool>>(), &values);
    agree::<HashMap<i64, bool>>(&TypeObject::of::<HashMap<i64, bool>>(), &values);
    agree::<HashMap<u64, bool>>(&TypeObject::of::<HashMap<u64, bool>>(), &values);
    agree::<HashMap<String, bool>>(&TypeObject::of::<HashMap<String, bool>>(), &values);
    agree::<HashMap<bool, bool>>(&s(map_of(Node::Boolean, Node::Boolean)), &values);
    agree::<HashMap<u32, bool>>(
        &TypeObject::of::<HashMap<u32, bool>>(),
        &[
            json!({"1": 1}),
            json!({"1": null}),
            json!([]),
            json!(null),
            json!({}),
        ],
    );
    agree::<F64Keys>(&s(map_of(num(NumberKind::F64), Node::Boolean)), &values);
    agree::<F32Keys>(&s(map_of(num(NumberKind::F32), Node::Boolean)), &values);
}

/// A map with `f64` keys (which cannot be `HashMap` keys) read through serde's map access.
struct F64Keys;
struct F32Keys;

macro_rules! float_keys {
    ($t:ty, $f:ty) => {
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a map")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut a: A,
                    ) -> Result<$t, A::Error> {
                        while a.next_entry::<$f, bool>()?.is_some() {}
                        Ok(<$t>::default())
                    }
                }
                d.deserialize_map(V)
            }
        }
        impl Default for $t {
            fn default() -> Self {
                Self
            }
        }
    };
}
float_keys!(F64Keys, f64);
float_keys!(F32Keys, f32);

// ----- unions --------------------------------------------------------------------------------

fn user_defs() -> Vec<Def> {
    vec![
        def(
            "User",
            Node::Object(obj(vec![
                prop("name", Node::String),
                prop("age", num(NumberKind::U8)),
                prop("email", Node::String.refine(Refinement::Email)),
            ])),
        ),
        def(
            "Id",
            Node::Object(obj(vec![prop("id", num(NumberKind::U64))])),
        ),
    ]
}

#[test]
fn unions_accept_any_alternative_and_name_the_closest() {
    let schema = TypeObject::from_parts(
        Node::Union(vec![Node::Ref(DefId(1)), Node::Ref(DefId(0)), Node::String]),
        user_defs(),
    );
    assert!(accepts(&schema, json!("x")));
    assert!(accepts(&schema, json!({"id": 3})));
    assert!(accepts(
        &schema,
        json!({"name": "a", "age": 3, "email": "a@b.c"})
    ));

    // User has 1 error (bad email), Id has 1 (missing id): tie goes to the first.
    let e = one_error(&schema, json!({"name": "a", "age": 3, "email": "nope"}));
    assert_eq!(e.path, "");
    assert_eq!(e.closest_variant.as_deref(), Some("Id"));
    assert_eq!(
        e.message.split(" (").next(),
        Some("did not match any variant")
    );
    assert_eq!(e.found, "object");

    // Id now misses two properties, User has one bad one: User is closer.
    let schema2 = TypeObject::from_parts(
        Node::Union(vec![Node::Ref(DefId(1)), Node::Ref(DefId(0))]),
        vec![
            user_defs().remove(0),
            def(
                "Id",
                Node::Object(obj(vec![
                    prop("id", num(NumberKind::U64)),
                    prop("kind", Node::String),
                ])),
            ),
        ],
    );
    let e = one_error(&schema2, json!({"name": "a", "age": 300, "email": "a@b.c"}));
    assert_eq!(e.closest_variant.as_deref(), Some("User"));

    // Literals and primitives: the closest is named by its literal or opcode.
    let lits = s(Node::Union(vec![
        Node::Literal(Literal::Str("A".into())),
        Node::Literal(Literal::Str("B".into())),
    ]));
    let e = one_error(&lits, json!("C"));
    assert_eq!(e.expected, "one of \"A\", \"B\"");
    assert_eq!(e.found, "string \"C\"");
    assert_eq!(e.closest_variant.as_deref(), Some("\"A\""));
    let prims = s(Node::Union(vec![
        Node::Array(b(Node::String)),
        num(NumberKind::U8),
    ]));
    // One error each: the first wins the tie.
    let e = one_error(&prims, json!(["a", 1]));
    assert_eq!(e.closest_variant.as_deref(), Some("ARRAY"));
    // Two errors against one.
    let e = one_error(&prims, json!([1, 2]));
    assert_eq!(e.closest_variant.as_deref(), Some("NUMBER"));
}

#[test]
fn union_errors_do_not_leak_alternatives_errors() {
    let schema = TypeObject::from_parts(
        Node::Array(b(Node::Union(vec![Node::Ref(DefId(0)), Node::Null]))),
        user_defs(),
    );
    let errs = errors(&schema, &json!([null, {"name": 1, "age": "x"}, null, 5]));
    let got: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(got, ["/1", "/3"]);
    assert!(errs.iter().all(|e| e.closest_variant.is_some()));
}

#[test]
fn untagged_unions_agree_with_serde() {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Loose {
        N(u8),
        S(String),
        M(HashMap<u32, bool>),
        L(Vec<Loose>),
    }
    let schema = TypeObject::from_parts(
        Node::Ref(DefId(0)),
        vec![def(
            "Loose",
            Node::Union(vec![
                num(NumberKind::U8),
                Node::String,
                map_of(num(NumberKind::U32), Node::Boolean),
                Node::Array(b(Node::Ref(DefId(0)))),
            ]),
        )],
    );
    agree::<Loose>(
        &schema,
        &[
            json!(1),
            json!(300),
            json!("x"),
            json!({}),
            json!({"1": true}), // serde's untagged buffer cannot read number keys
            json!([1, "x", [2, []]]),
            json!([1, null]),
            json!(null),
        ],
    );
    agree::<Result<u8, String>>(
        &TypeObject::of::<Result<u8, String>>(),
        &[
            json!({"Ok": 1}),
            json!({"Err": "e"}),
            json!({"Ok": "x"}),
            json!({"Ok": 1, "Err": "e"}),
            json!({}),
            json!(1),
        ],
    );
}

// ----- tagged unions -------------------------------------------------------------------------

fn shape_defs() -> Vec<Def> {
    vec![def(
        "Side",
        Node::Object(obj(vec![prop("side", num(NumberKind::U32))])),
    )]
}

#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct Side {
    side: u32,
}

#[test]
fn externally_tagged_unions() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum Ext {
        Empty,
        #[serde(alias = "sq")]
        Square(Side),
        Pair(u8, u8),
        Circle {
            r: f64,
        },
    }
    let mut square = variant("Square", Some(Node::Ref(DefId(0))));
    square.aliases = vec!["sq".into()];
    let schema = TypeObject::from_parts(
        Node::DUnion(DUnion {
            tagging: Tagging::External,
            variants: vec![
                variant("Empty", None),
                square,
                variant(
                    "Pair",
                    Some(Node::Tuple(vec![num(NumberKind::U8), num(NumberKind::U8)])),
                ),
                variant(
                    "Circle",
                    Some(Node::Object(obj(vec![prop("r", num(NumberKind::F64))]))),
                ),
            ],
            strict: false,
        }),
        shape_defs(),
    );
    assert!(accepts(&schema, json!("Empty")));
    assert!(accepts(&schema, json!({"Empty": null})));
    assert!(accepts(&schema, json!({"sq": {"side": 1}})));
    assert_eq!(
        paths(&schema, json!({"Square": {"side": -1}})),
        ["/Square/side"]
    );
    let e = one_error(&schema, json!("Nope"));
    assert_eq!(
        e.expected,
        "one of \"Empty\", \"Square\", \"Pair\", \"Circle\""
    );
    assert!(e.message.contains("unknown variant"));
    let e = one_error(&schema, json!("Square"));
    assert!(e.message.contains("needs content"), "{}", e.message);
    let e = one_error(&schema, json!({"Nope": 1}));
    assert_eq!(e.path, "/Nope");
    let e = one_error(&schema, json!({"Empty": null, "Pair": [1, 2]}));
    assert_eq!(e.path, "");
    agree::<Ext>(
        &schema,
        &[
            json!("Empty"),
            json!({"Empty": null}),
            json!({"Empty": {}}),
            json!({"Empty": []}),
            json!({"Empty": 0}),
            json!("Square"),
            json!("sq"),
            json!({"sq": {"side": 1}}),
            json!({"Square": {"side": 1}, "Empty": null}),
            json!({"Pair": [1, 2]}),
            json!({"Pair": [1]}),
            json!({"Pair": []}),
            json!({"Circle": {"r": 1}}),
            json!({"Circle": {}}),
            json!({}),
            json!(3),
            json!(null),
            json!(["Empty"]),
        ],
    );
}

#[test]
fn internally_tagged_unions() {
    #[derive(serde::Deserialize)]
    #[serde(tag = "kind")]
    #[allow(dead_code)]
    enum Int {
        Empty,
        #[serde(alias = "sq")]
        Square(Side),
        Circle {
            r: f64,
        },
        Unit(()),
        Name(String),
        Map(HashMap<String, u8>),
        Nums(HashMap<u32, u8>),
    }
    #[derive(serde::Deserialize)]
    #[serde(tag = "kind", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Strict {
        Empty,
        #[serde(alias = "sq")]
        Square(Side),
        Circle {
            r: f64,
        },
    }
    let mut square = variant("Square", Some(Node::Ref(DefId(0))));
    square.aliases = vec!["sq".into()];
    let circle = variant(
        "Circle",
        Some(Node::Object(obj(vec![prop("r", num(NumberKind::F64))]))),
    );
    let loose = TypeObject::from_parts(
        Node::DUnion(DUnion {
            tagging: Tagging::Internal { tag: "kind".into() },
            variants: vec![
                variant("Empty", None),
                square.clone(),
                circle.clone(),
                variant("Unit", Some(Node::Null)),
                variant("Name", Some(Node::String)),
                variant("Map", Some(map_of(Node::String, num(NumberKind::U8)))),
                variant(
                    "Nums",
                    Some(map_of(num(NumberKind::U32), num(NumberKind::U8))),
                ),
            ],
            strict: false,
        }),
        shape_defs(),
    );
    let strict = TypeObject::from_parts(
        Node::DUnion(DUnion {
            tagging: Tagging::Internal { tag: "kind".into() },
            variants: vec![variant("Empty", None), square, circle],
            strict: true,
        }),
        shape_defs(),
    );
    assert!(accepts(&loose, json!({"kind": "Circle", "r": 1.5})));
    assert!(accepts(&loose, json!({"kind": "sq", "side": 2})));
    assert!(accepts(&loose, json!({"kind": "Empty", "anything": [1]})));
    assert_eq!(paths(&loose, json!({"kind": "Circle", "r": "x"})), ["/r"]);
    assert_eq!(paths(&loose, json!({"kind": "Circle"})), ["/r"]);
    let e = one_error(&loose, json!({"r": 1}));
    assert_eq!((e.path.as_str(), e.found.as_str()), ("/kind", "missing"));
    let e = one_error(&loose, json!({"kind": "Oval"}));
    assert_eq!(e.path, "/kind");
    assert!(
        e.expected.starts_with("one of \"Empty\", \"Square\""),
        "{}",
        e.expected
    );
    let e = one_error(&loose, json!({"kind": 0}));
    assert_eq!(e.path, "/kind");
    assert_eq!(paths(&loose, json!("Empty")), [""]);
    // The tag is not an unknown key even for a strict payload; other keys are.
    assert!(accepts(&strict, json!({"kind": "Circle", "r": 1})));
    assert_eq!(
        paths(&strict, json!({"kind": "Circle", "r": 1, "x": 2})),
        ["/x"]
    );
    assert!(
        accepts(&strict, json!({"kind": "Empty", "x": 2})),
        "serde ignores keys next to a unit variant"
    );

    let values = [
        json!({"kind": "Empty"}),
        json!({"kind": "Empty", "x": 1}),
        json!({"kind": "Square", "side": 1}),
        json!({"kind": "sq", "side": 1}),
        json!({"kind": "Square", "side": 1, "x": 1}),
        json!({"kind": "Square"}),
        json!({"kind": "Circle", "r": 1}),
        json!({"kind": "Circle", "r": 1, "x": 1}),
        json!({"kind": "Unit"}),
        json!({"kind": "Unit", "x": 1}),
        json!({"kind": "Name"}),
        json!({"kind": "Map", "a": 1}),
        json!({"kind": "Map", "a": "b"}),
        json!({"kind": "Nums"}),
        json!({"kind": "Nums", "1": 1}),
        json!({"kind": "Oval"}),
        json!({"kind": 1}),
        json!({"kind": null}),
        json!({}),
        json!("Empty"),
        json!(null),
    ];
    agree::<Int>(&loose, &values);
    agree::<Strict>(&strict, &values);
}

#[test]
fn adjacently_tagged_unions() {
    #[derive(serde::Deserialize)]
    #[serde(tag = "t", content = "c")]
    #[allow(dead_code)]
    enum Adj {
        Empty,
        #[serde(alias = "n")]
        Num(u8),
        Nums(HashMap<u32, u8>),
    }
    #[derive(serde::Deserialize)]
    #[serde(tag = "t", content = "c", deny_unknown_fields)]
    #[allow(dead_code)]
    enum AdjStrict {
        Empty,
        #[serde(alias = "n")]
        Num(u8),
        Nums(HashMap<u32, u8>),
    }
    #[derive(serde::Deserialize)]
    #[serde(tag = "a", content = "z")]
    #[allow(dead_code)]
    enum TagFirst {
        Empty,
        #[serde(alias = "n")]
        Num(u8),
        Nums(HashMap<u32, u8>),
    }
    let dunion = |tag: &str, content: &str, strict: bool| {
        let mut num_v = variant("Num", Some(num(NumberKind::U8)));
        num_v.aliases = vec!["n".into()];
        s(Node::DUnion(DUnion {
            tagging: Tagging::Adjacent {
                tag: tag.into(),
                content: content.into(),
            },
            variants: vec![
                variant("Empty", None),
                num_v,
                variant(
                    "Nums",
                    Some(map_of(num(NumberKind::U32), num(NumberKind::U8))),
                ),
            ],
            strict,
        }))
    };
    let loose = dunion("t", "c", false);
    let strict = dunion("t", "c", true);
    assert!(accepts(&loose, json!({"t": "Empty"})));
    assert!(accepts(&loose, json!({"t": "Empty", "c": null})));
    assert!(accepts(&loose, json!({"t": "n", "c": 3})));
    assert!(accepts(&loose, json!({"t": "Num", "c": 3, "x": 1})));
    assert_eq!(paths(&loose, json!({"t": "Num", "c": 300})), ["/c"]);
    let e = one_error(&loose, json!({"t": "Num"}));
    assert_eq!((e.path.as_str(), e.found.as_str()), ("/c", "missing"));
    assert_eq!(paths(&loose, json!({"t": "Nope", "c": 1})), ["/t"]);
    assert_eq!(paths(&loose, json!({"c": 1})), ["/t"]);
    assert_eq!(paths(&loose, json!({"t": "Empty", "c": 1})), ["/c"]);
    assert_eq!(paths(&strict, json!({"t": "Num", "c": 3, "x": 1})), ["/x"]);
    let values = [
        json!({"t": "Empty"}),
        json!({"t": "Empty", "c": null}),
        json!({"t": "Empty", "c": 1}),
        json!({"t": "Empty", "x": 1}),
        json!({"t": "Num", "c": 1}),
        json!({"t": "n", "c": 1}),
        json!({"t": "Num", "c": 300}),
        json!({"t": "Num"}),
        json!({"t": "Num", "c": 1, "x": 1}),
        json!({"t": "Nums", "c": {}}),
        json!({"t": "Nums", "c": {"1": 1}}),
        json!({"t": "Nope", "c": 1}),
        json!({"t": 1, "c": 1}),
        json!({"c": 1}),
        json!("Empty"),
    ];
    agree::<Adj>(&loose, &values);
    agree::<AdjStrict>(&strict, &values);
    let renamed: Vec<Value> = values
        .iter()
        .map(|v| match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let k = match k.as_str() {
                            "t" => "a",
                            "c" => "z",
                            other => other,
                        };
                        (k.to_owned(), v.clone())
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
        .collect();
    // With the tag first, serde reads the content directly and number keys work.
    agree::<TagFirst>(&dunion("a", "z", false), &renamed);
}

// ----- wrappers, refinements, results, ports -------------------------------------------------

#[test]
fn wrappers_pass_through() {
    let schema = s(Node::Object(obj(vec![
        prop("id", Node::Brand("UserId".into(), b(num(NumberKind::U32)))),
        prop(
            "meta",
            Node::Metadata(
                Metadata {
                    name: Some("Meta".into()),
                    description: None,
                },
                b(Node::String),
            ),
        ),
        prop("some", Node::OptionSome(b(Node::Boolean))),
        prop("none", Node::OptionNone),
        prop("opt", Node::Optional(b(num(NumberKind::I8)))),
    ])));
    assert!(accepts(
        &schema,
        json!({"id": 1, "meta": "m", "some": true, "none": null, "opt": null})
    ));
    assert!(accepts(
        &schema,
        json!({"id": 1, "meta": "m", "some": true, "none": null, "opt": -1})
    ));
    assert_eq!(
        paths(
            &schema,
            json!({"id": -1, "meta": 1, "some": null, "none": 1, "opt": 999})
        ),
        ["/id", "/meta", "/some", "/none", "/opt"]
    );
    let e = one_error(
        &schema,
        json!({"id": "x", "meta": "m", "some": true, "none": null, "opt": null}),
    );
    assert_eq!(e.expected, "u32");
    agree::<Option<String>>(
        &TypeObject::of::<Option<String>>(),
        &[json!(null), json!("x"), json!(1), json!([]), json!({})],
    );
    agree::<u8>(
        &TypeObject::of::<u8>(),
        &[
            json!(1),
            json!(1.0),
            json!(256),
            json!(-1),
            json!("1"),
            json!(null),
        ],
    );
}

#[test]
fn refinements_apply_after_the_inner_type() {
    let schema = s(Node::Object(obj(vec![
        prop(
            "name",
            Node::String
                .refine(Refinement::MinLength(2))
                .refine(Refinement::MaxLength(4)),
        ),
        prop("age", num(NumberKind::U8).refine(Refinement::Min(13.0))),
        prop(
            "tags",
            Node::Array(b(Node::String)).refine(Refinement::NonEmpty),
        ),
        prop(
            "code",
            Node::String.refine(Refinement::Pattern(Pattern::new("^[a-z]+$").unwrap())),
        ),
        Property {
            name: "email".into(),
            aliases: Vec::new(),
            required: false,
            node: Node::Optional(b(Node::String)).refine_inner(Refinement::Email),
        },
        prop(
            "map",
            map_of(Node::String, Node::Boolean).refine(Refinement::MaxItems(1)),
        ),
    ])));
    let good =
        json!({"name": "ab", "age": 13, "tags": ["x"], "code": "abc", "email": null, "map": {}});
    assert!(accepts(&schema, good));
    let bad = json!({
        "name": "a", "age": 12, "tags": [], "code": "ABC", "email": "nope", "map": {"a": true, "b": false}
    });
    let errs = errors(&schema, &bad);
    let got: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(got, ["/name", "/age", "/tags", "/code", "/email", "/map"]);
    assert_eq!(errs[0].expected, "string of at least 2 characters");
    assert_eq!(errs[4].expected, "string (email)");
    // A type error is reported alone, without the refinement on top.
    let e = one_error(
        &s(num(NumberKind::U8).refine(Refinement::Min(13.0))),
        json!("x"),
    );
    assert_eq!(e.expected, "u8");
    // Refinements and the typed check use the same words.
    let direct = lfts::validate::refine::check(
        &Refinement::Min(13.0),
        lfts::validate::refine::View::Num(12.0),
    )
    .unwrap();
    assert_eq!(errs[1].message, direct.message);
    assert_eq!(
        one_error(
            &s(Node::String.refine(Refinement::MaxLength(1))),
            json!("ab")
        )
        .path,
        ""
    );
}

#[test]
fn results_and_ports() {
    let ok = s(Node::ResultOk(b(num(NumberKind::U8))));
    assert!(accepts(&ok, json!({"Ok": 1})));
    assert_eq!(paths(&ok, json!({"Ok": 300})), ["/Ok"]);
    assert_eq!(paths(&ok, json!({"Err": 1})), [""]);
    assert_eq!(paths(&ok, json!({"Ok": 1, "Err": 1})), [""]);
    assert_eq!(paths(&ok, json!(1)), [""]);
    let err = s(Node::ResultErr(b(Node::String)));
    assert!(accepts(&err, json!({"Err": "x"})));
    assert_eq!(paths(&err, json!({"Err": 1})), ["/Err"]);
    let port = s(Node::Port(PortNode {
        name: "Users".into(),
        methods: Vec::new(),
    }));
    let e = one_error(&port, json!({}));
    assert_eq!(e.message, "a port is not a value");
}

// ----- recursion and limits ------------------------------------------------------------------

fn tree() -> TypeObject {
    TypeObject::from_parts(
        Node::Ref(DefId(0)),
        vec![def(
            "Tree",
            Node::Object(obj(vec![
                prop("value", num(NumberKind::I32)),
                prop("children", Node::Array(b(Node::Ref(DefId(0))))),
            ])),
        )],
    )
}

#[test]
fn recursive_definitions() {
    let schema = tree();
    let good = json!({"value": 1, "children": [
        {"value": 2, "children": []},
        {"value": 3, "children": [{"value": 4, "children": []}]},
    ]});
    assert!(accepts(&schema, good));
    let bad = json!({"value": 1, "children": [
        {"value": "2", "children": []},
        {"value": 3, "children": [{"value": 4}]},
    ]});
    assert_eq!(
        paths(&schema, bad),
        ["/children/0/value", "/children/1/children/0/children"]
    );
}

#[test]
fn error_list_is_capped() {
    let schema = s(Node::Array(b(num(NumberKind::U8))));
    let value = Value::Array((0..1000).map(|_| json!("bad")).collect());
    let errs: ValidationErrors = schema.validate(&value).unwrap_err();
    assert_eq!(errs.len(), MAX_ERRORS);
    assert!(errs.truncated());
    assert_eq!(
        errs.as_slice()[MAX_ERRORS - 1].path,
        format!("/{}", MAX_ERRORS - 1)
    );

    // Exactly MAX_ERRORS errors is not truncated.
    let value = Value::Array(
        (0..MAX_ERRORS)
            .map(|_| json!("bad"))
            .chain([json!(1)])
            .collect(),
    );
    let errs = schema.validate(&value).unwrap_err();
    assert_eq!(errs.len(), MAX_ERRORS);
    assert!(!errs.truncated());
}

/// `[[[…]]]` nested `depth` levels, built without recursion.
fn nested_arrays(depth: usize) -> Value {
    let mut value = json!([]);
    for _ in 1..depth {
        value = Value::Array(vec![value]);
    }
    value
}

/// Drops a deep value without recursing (serde_json's `Drop` would).
fn drop_deep(mut value: Value) {
    loop {
        match value {
            Value::Array(mut items) if !items.is_empty() => value = items.swap_remove(0),
            _ => return,
        }
    }
}

fn nested_schema() -> TypeObject {
    TypeObject::from_parts(
        Node::Ref(DefId(0)),
        vec![def("Nested", Node::Array(b(Node::Ref(DefId(0)))))],
    )
}

#[test]
fn nesting_is_bounded() {
    let schema = nested_schema();
    let ok = nested_arrays(MAX_DEPTH);
    assert!(schema.validate(&ok).is_ok());
    drop_deep(ok);
    let deep = nested_arrays(MAX_DEPTH + 1);
    let e = one_error(&schema, deep.clone());
    assert_eq!(e.path, "/0".repeat(MAX_DEPTH));
    assert!(
        e.message.contains("nesting deeper than 128"),
        "{}",
        e.message
    );
    drop_deep(deep);
}

#[test]
fn ten_thousand_nested_arrays_give_one_error() {
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let schema = nested_schema();
            let value = nested_arrays(10_000);
            let errs = schema.validate(&value).unwrap_err();
            drop_deep(value);
            errs
        })
        .unwrap();
    let errs = handle.join().unwrap();
    assert_eq!(errs.len(), 1, "{errs}");
    assert!(errs.as_slice()[0].message.contains("nesting deeper than"));
}

#[test]
fn self_referential_schemas_end_with_an_error() {
    let cases = vec![
        TypeObject::from_parts(Node::Ref(DefId(0)), vec![def("Loop", Node::Ref(DefId(0)))]),
        TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![def("Loop", Node::Union(vec![Node::Ref(DefId(0))]))],
        ),
        TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![def(
                "Loop",
                Node::Union(vec![Node::Ref(DefId(0)), Node::Ref(DefId(0))]),
            )],
        ),
        TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![
                def("A", Node::Ref(DefId(1))),
                def("B", Node::Optional(b(Node::Ref(DefId(0))))),
            ],
        ),
        TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![def(
                "Flat",
                Node::Object(Object {
                    properties: Vec::new(),
                    strict: false,
                    flatten: vec![Node::Ref(DefId(0))],
                }),
            )],
        ),
        TypeObject::from_parts(
            Node::Ref(DefId(0)),
            vec![def(
                "Tagged",
                Node::DUnion(DUnion {
                    tagging: Tagging::Internal { tag: "k".into() },
                    variants: vec![variant("A", Some(Node::Ref(DefId(0))))],
                    strict: false,
                }),
            )],
        ),
        TypeObject::from_parts(Node::Ref(DefId(7)), Vec::new()),
    ];
    for schema in &cases {
        for value in [json!(1), json!({}), json!({"k": "A"}), json!([1])] {
            let start = std::time::Instant::now();
            let errs = schema.validate(&value).unwrap_err();
            assert!(!errs.is_empty());
            assert!(
                start.elapsed().as_secs() < 5,
                "{schema:?} took {:?}",
                start.elapsed()
            );
        }
    }
}

#[test]
fn exponential_schemas_are_cut_off() {
    // defs[i] = Union([Ref(i+1), Ref(i+1)]): 2^30 paths through one value without limits.
    let n = 30;
    let mut defs: Vec<Def> = (0..n)
        .map(|i| {
            def(
                &format!("D{i}"),
                Node::Union(vec![Node::Ref(DefId(i + 1)), Node::Ref(DefId(i + 1))]),
            )
        })
        .collect();
    defs.push(def("Leaf", Node::String));
    let schema = TypeObject::from_parts(Node::Ref(DefId(0)), defs.clone());
    let start = std::time::Instant::now();
    assert!(schema.validate(&json!(1)).is_err());
    assert!(schema.validate(&json!("x")).is_ok());
    // The same shape through flattened members.
    let mut flat: Vec<Def> = (0..n)
        .map(|i| {
            def(
                &format!("F{i}"),
                Node::Object(Object {
                    properties: Vec::new(),
                    strict: false,
                    flatten: vec![Node::Ref(DefId(i + 1)), Node::Ref(DefId(i + 1))],
                }),
            )
        })
        .collect();
    flat.push(def(
        "Leaf",
        Node::Object(obj(vec![prop("x", Node::String)])),
    ));
    let schema = TypeObject::from_parts(Node::Ref(DefId(0)), flat);
    assert!(schema.validate(&json!({"x": "y"})).is_err());
    // Nested untagged unions over a deep value.
    let schema = TypeObject::from_parts(
        Node::Ref(DefId(0)),
        vec![def(
            "E",
            Node::Union(vec![
                Node::Array(b(Node::Ref(DefId(0)))),
                Node::Array(b(Node::Ref(DefId(0)))),
                Node::Array(b(Node::Ref(DefId(0)))),
            ]),
        )],
    );
    let mut value = json!([1]);
    for _ in 0..60 {
        value = Value::Array(vec![value]);
    }
    assert!(schema.validate(&value).is_err());
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn deep_wrapping_does_not_overflow_the_stack() {
    // Every level of a deep value costs many nested calls: the frame guard stops the walk.
    let mut node = Node::Ref(DefId(0));
    for _ in 0..60 {
        node = node.refine(Refinement::MaxItems(10));
    }
    let schema =
        TypeObject::from_parts(Node::Ref(DefId(0)), vec![def("Deep", Node::Array(b(node)))]);
    let value = nested_arrays(MAX_DEPTH);
    let errs = schema.validate(&value).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs}");
    drop_deep(value);
    // A refinement chain on one value is bounded too.
    let mut node = Node::String;
    for _ in 0..100_000 {
        node = Node::Metadata(Metadata::default(), b(node));
    }
    let schema = s(node);
    assert!(schema.validate(&json!("x")).is_err());
    // Dropping a 100,000-deep schema recurses; leak it instead.
    std::mem::forget(schema);
}

#[test]
fn legitimate_deep_documents_fit_in_a_small_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            // Option<Box<Self>> linked list with a refined field, 127 objects deep.
            let list = TypeObject::from_parts(
                Node::Ref(DefId(0)),
                vec![def(
                    "List",
                    Node::Metadata(
                        Metadata {
                            name: Some("List".into()),
                            description: None,
                        },
                        b(Node::Object(obj(vec![
                            prop("v", num(NumberKind::U8).refine(Refinement::Min(1.0))),
                            optional_prop("next", Node::Ref(DefId(0))),
                        ]))),
                    ),
                )],
            );
            let mut value = json!({"v": 1});
            for _ in 1..MAX_DEPTH {
                value = json!({"v": 1, "next": value});
            }
            list.validate(&value)
        })
        .unwrap();
    assert!(handle.join().unwrap().is_ok());
}
