//! The schema encodings: binary and JSON round-trips over every node kind, fingerprints, the
//! disassembly, hostile inputs for both decoders, and the shape of the JSON Schema export.

use std::collections::HashSet;

use lfts::TypeObject;
use lfts::schema::{
    DUnion, DecodeError, Def, DefId, Fingerprint, HttpRoute, Literal, Metadata, Node, NumberKind,
    Object, Pattern, PortMethod, PortNode, Property, Refinement, Tagging, Variant,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// A zoo of schemas covering every node, refinement and tagging.

fn prop(name: &str, required: bool, node: Node) -> Property {
    Property {
        name: name.into(),
        aliases: vec![],
        required,
        node,
    }
}

fn variant(name: &str, node: Option<Node>) -> Variant {
    Variant {
        name: name.into(),
        aliases: vec![],
        node,
    }
}

fn boxed(node: Node) -> Box<Node> {
    Box::new(node)
}

fn all_refinements() -> Vec<Refinement> {
    vec![
        Refinement::Min(-1.5),
        Refinement::Max(150.0),
        Refinement::Integer,
        Refinement::MinLength(1),
        Refinement::MaxLength(100),
        Refinement::MinItems(2),
        Refinement::MaxItems(u64::MAX),
        Refinement::Email,
        Refinement::Url,
        Refinement::Uuid,
        Refinement::Pattern(Pattern::new("^[a-z]+$").expect("pattern compiles")),
        Refinement::NonEmpty,
        Refinement::Positive,
        Refinement::Negative,
    ]
}

fn all_taggings() -> Vec<Tagging> {
    vec![
        Tagging::External,
        Tagging::Internal { tag: "type".into() },
        Tagging::Adjacent {
            tag: "t".into(),
            content: "c".into(),
        },
    ]
}

fn shape(tagging: Tagging, strict: bool) -> DUnion {
    DUnion {
        tagging,
        variants: vec![
            Variant {
                name: "Circle".into(),
                aliases: vec!["circle".into(), "round".into()],
                node: Some(Node::Object(Object {
                    properties: vec![prop("r", true, Node::Number(NumberKind::F64))],
                    strict: false,
                    flatten: vec![],
                })),
            },
            variant("Empty", None),
            // A payload that is NULL is not a unit variant.
            variant("Nothing", Some(Node::Null)),
            variant("Ref", Some(Node::Ref(DefId(0)))),
        ],
        strict,
    }
}

fn tree_def() -> Def {
    Def {
        name: "Tree".into(),
        node: Node::Object(Object {
            properties: vec![
                Property {
                    name: "value".into(),
                    aliases: vec!["val".into()],
                    required: true,
                    node: Node::Number(NumberKind::I32),
                },
                prop("children", false, Node::Array(boxed(Node::Ref(DefId(0))))),
            ],
            strict: true,
            flatten: vec![],
        }),
    }
}

fn port() -> Node {
    Node::Port(PortNode {
        name: "UserStore".into(),
        methods: vec![
            PortMethod {
                name: "get".into(),
                params: vec![("id".into(), Node::Number(NumberKind::U64))],
                ok: Node::Optional(boxed(Node::Ref(DefId(0)))),
                err: Node::String,
                idempotent: true,
                http: Some(HttpRoute {
                    method: "GET".into(),
                    path: "/users/{id}".into(),
                }),
            },
            PortMethod {
                name: "ping".into(),
                params: vec![],
                ok: Node::Null,
                err: Node::Any,
                idempotent: false,
                http: None,
            },
        ],
    })
}

/// One schema holding every node kind at least once.
fn everything() -> TypeObject {
    let mut items = vec![
        Node::String,
        Node::Boolean,
        Node::Null,
        Node::Any,
        Node::OptionNone,
        Node::Literal(Literal::Str("lit".into())),
        Node::Literal(Literal::Bool(false)),
        Node::Literal(Literal::Int(-42)),
        Node::Literal(Literal::Float(2.5)),
        Node::Array(boxed(Node::String)),
        Node::Tuple(vec![]),
        Node::Tuple(vec![Node::String, Node::Boolean]),
        Node::Union(vec![Node::String, Node::Null]),
        Node::Optional(boxed(Node::String)),
        Node::Brand("UserId".into(), boxed(Node::Number(NumberKind::U64))),
        Node::Ref(DefId(0)),
        Node::Ref(DefId(1)),
        Node::ResultOk(boxed(Node::String)),
        Node::ResultErr(boxed(Node::Number(NumberKind::I8))),
        Node::OptionSome(boxed(Node::Boolean)),
        Node::Metadata(
            Metadata {
                name: Some("Named".into()),
                description: Some("A \"doc\"\nover two lines".into()),
            },
            boxed(Node::String),
        ),
        Node::Metadata(Metadata::default(), boxed(Node::Null)),
        Node::Map {
            key: boxed(Node::String),
            value: boxed(Node::Number(NumberKind::F32)),
        },
        Node::Map {
            key: boxed(Node::Number(NumberKind::I16)),
            value: boxed(Node::Any),
        },
        Node::Object(Object {
            properties: vec![
                Property {
                    name: "email".into(),
                    aliases: vec!["mail".into()],
                    required: true,
                    node: Node::String.refine(Refinement::Email),
                },
                prop("age", false, Node::Number(NumberKind::U8)),
            ],
            strict: false,
            flatten: vec![
                Node::Map {
                    key: boxed(Node::String),
                    value: boxed(Node::String),
                },
                Node::DUnion(shape(Tagging::Internal { tag: "kind".into() }, false)),
            ],
        }),
        Node::Object(Object::default()),
        port(),
    ];
    items.extend(NumberKind::ALL.into_iter().map(Node::Number));
    for r in all_refinements() {
        items.push(Node::String.refine(r));
    }
    for t in all_taggings() {
        items.push(Node::DUnion(shape(t.clone(), false)));
        items.push(Node::DUnion(shape(t, true)));
    }
    TypeObject::from_parts(
        Node::Tuple(items),
        vec![
            tree_def(),
            Def {
                name: "Page<User>".into(),
                node: Node::Array(boxed(Node::Ref(DefId(0)))),
            },
        ],
    )
}

/// Many small schemas, pairwise different.
fn zoo() -> Vec<TypeObject> {
    let mut out = vec![
        everything(),
        TypeObject::new(Node::String),
        TypeObject::new(Node::Boolean),
        TypeObject::new(Node::Null),
        TypeObject::new(Node::Any),
        TypeObject::new(Node::OptionNone),
        TypeObject::new(Node::Literal(Literal::Float(f64::INFINITY))),
        TypeObject::new(Node::Literal(Literal::Int(i64::MIN))),
        TypeObject::new(Node::Array(boxed(Node::Null))),
        TypeObject::new(Node::Optional(boxed(Node::Null))),
        TypeObject::new(Node::OptionSome(boxed(Node::Null))),
        TypeObject::new(Node::ResultOk(boxed(Node::Null))),
        TypeObject::new(Node::ResultErr(boxed(Node::Null))),
        TypeObject::new(Node::Brand("B".into(), boxed(Node::Null))),
        TypeObject::new(Node::Union(vec![])),
        TypeObject::new(Node::Tuple(vec![Node::Null])),
        TypeObject::new(Node::Object(Object {
            properties: vec![],
            strict: true,
            flatten: vec![],
        })),
        TypeObject::from_parts(port(), vec![tree_def()]),
        TypeObject::from_parts(Node::Ref(DefId(0)), vec![tree_def()]),
        TypeObject::new(Node::Number(NumberKind::F64).refine(Refinement::Min(f64::NEG_INFINITY))),
    ];
    out.extend(
        NumberKind::ALL
            .into_iter()
            .map(|k| TypeObject::new(Node::Number(k))),
    );
    out.extend(
        all_refinements()
            .into_iter()
            .map(|r| TypeObject::new(Node::String.refine(r))),
    );
    for t in all_taggings() {
        for strict in [false, true] {
            out.push(TypeObject::from_parts(
                Node::DUnion(shape(t.clone(), strict)),
                vec![tree_def()],
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Round-trips and fingerprints.

#[test]
fn every_node_kind_is_covered() {
    let mut ops = HashSet::new();
    let schema = everything();
    let mut visit = |n: &Node| {
        ops.insert(n.op());
    };
    lfts::schema::walk(schema.root(), &mut visit);
    for def in schema.defs() {
        lfts::schema::walk(&def.node, &mut visit);
    }
    for op in lfts::schema::Op::ALL {
        let has_node = !matches!(
            op,
            lfts::schema::Op::Undefined
                | lfts::schema::Op::Readonly
                | lfts::schema::Op::Effect
                | lfts::schema::Op::Property
                | lfts::schema::Op::PortMethod
        );
        assert_eq!(ops.contains(&op), has_node, "{op}");
    }
}

#[test]
fn binary_round_trip() {
    for schema in zoo() {
        let bytes = schema.to_bytes();
        assert_eq!(
            TypeObject::from_bytes(&bytes).as_ref(),
            Ok(&schema),
            "{schema}"
        );
        // Deterministic.
        assert_eq!(schema.clone().to_bytes(), bytes);
    }
}

#[test]
fn json_round_trip() {
    for schema in zoo() {
        let json = schema.to_json();
        assert_eq!(TypeObject::from_json(&json).as_ref(), Ok(&schema), "{json}");
        let text = serde_json::to_string(&json).expect("serializes");
        let reparsed: Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(
            TypeObject::from_json(&reparsed).as_ref(),
            Ok(&schema),
            "{text}"
        );
    }
}

#[test]
fn json_uses_the_lfts_forms() {
    let schema = everything();
    let json = schema.to_json();
    assert_eq!(json["lfts"], json!(1));
    assert_eq!(json["defs"][1]["name"], json!("Page<User>"));
    let items = json["root"].as_array().expect("tuple");
    assert_eq!(items[0], json!(7));
    assert!(items.contains(&json!([0])));
    assert!(items.contains(&json!([1, "u8"])));
    assert!(items.contains(&json!([1])));
    assert!(items.contains(&json!([10, [0]])));
    assert!(items.contains(&json!([14, "UserId", [1, "u64"]])));
    assert!(items.contains(&json!([37, 1])));
    assert!(items.contains(&json!([24, "^[a-z]+$", [0]])));
    assert!(items.contains(&json!([15, -1.5, [0]])));
    assert!(items.contains(&json!([38, [0]])));
    assert!(items.contains(&json!([32, {}, [3]])));
    // A tree: strict object with aliases in the trailing extension object.
    assert_eq!(
        json["defs"][0]["node"],
        json!([8, 2, 1,
            9, "value", 0, [1, "i32"],
            9, "children", 1, [6, [37, 0]],
            {"aliases": {"value": ["val"]}}])
    );
    // A port.
    let port = TypeObject::from_parts(port(), vec![tree_def()]).to_json();
    assert_eq!(
        port["root"],
        json!([34, "UserStore", 2,
            35, "get", 1, 9, "id", 0, [1, "u64"], [28, [10, [37, 0]]], [29, [0]],
                {"idempotent": true, "http": {"method": "GET", "path": "/users/{id}"}},
            35, "ping", 0, [28, [3]], [29, [39]], {"idempotent": false}])
    );
}

#[test]
fn dunion_json_forms() {
    let defs = vec![tree_def()];
    let internal = TypeObject::from_parts(
        Node::DUnion(shape(Tagging::Internal { tag: "type".into() }, false)),
        defs.clone(),
    );
    let root = internal.to_json()["root"].clone();
    assert_eq!(root[0], json!(13));
    assert_eq!(root[1], json!("type"));
    assert_eq!(root[2], json!(4));
    assert_eq!(root[5], json!("Empty"));
    assert_eq!(root[6], json!([3]));
    assert_eq!(root[7], json!("Nothing"));
    assert_eq!(root[8], json!([3]));
    assert_eq!(
        root[11],
        json!({"units": ["Empty"], "aliases": {"Circle": ["circle", "round"]}})
    );
    let adjacent = TypeObject::from_parts(
        Node::DUnion(shape(
            Tagging::Adjacent {
                tag: "t".into(),
                content: "c".into(),
            },
            true,
        )),
        defs.clone(),
    );
    let root = adjacent.to_json()["root"].clone();
    assert_eq!(root[1], json!("t"));
    assert_eq!(root[11]["tagging"], json!("adjacent"));
    assert_eq!(root[11]["content"], json!("c"));
    assert_eq!(root[11]["strict"], json!(true));
    let external = TypeObject::from_parts(Node::DUnion(shape(Tagging::External, false)), defs);
    let root = external.to_json()["root"].clone();
    assert_eq!(root[1], json!(""));
    assert_eq!(root[11]["tagging"], json!("external"));
}

#[test]
fn fingerprints_are_stable_and_distinct() {
    let schemas = zoo();
    let mut seen = HashSet::new();
    for schema in &schemas {
        let fp = schema.fingerprint();
        assert_eq!(fp, schema.clone().fingerprint());
        let decoded = TypeObject::from_bytes(&schema.to_bytes()).expect("decodes");
        assert_eq!(decoded.fingerprint(), fp);
        let decoded = TypeObject::from_json(&schema.to_json()).expect("decodes");
        assert_eq!(decoded.fingerprint(), fp);
        assert!(seen.insert(fp), "duplicate fingerprint for {schema}");
    }
    // Pinned: the same on every platform and in every run. A change here is a change of the
    // binary format, which needs a new FORMAT_VERSION.
    let small = TypeObject::from_parts(Node::Ref(DefId(0)), vec![tree_def()]);
    assert_eq!(
        small.fingerprint().to_string(),
        "b3713de6babcff0a62bdca6b809e9d9b5e7efecf6c59bc812d8cfc79bc6e1be1"
    );
    let fp = small.fingerprint();
    let as_json = serde_json::to_value(fp).expect("serializes");
    assert_eq!(as_json, json!(fp.to_string()));
    let back: Fingerprint = serde_json::from_value(as_json).expect("deserializes");
    assert_eq!(back, fp);
}

#[test]
fn wire_fingerprints_survive_both_encodings() {
    for schema in zoo() {
        let wire = schema.wire_fingerprint();
        assert_ne!(wire, schema.fingerprint(), "{schema}");
        let decoded = TypeObject::from_bytes(&schema.to_bytes()).expect("decodes");
        assert_eq!(decoded.wire_fingerprint(), wire, "{schema}");
        let decoded = TypeObject::from_json(&schema.to_json()).expect("decodes");
        assert_eq!(decoded.wire_fingerprint(), wire, "{schema}");
    }
    // Pinned, like the full fingerprint: a change here changes every published
    // `wireFingerprint`, so old and new builds would report drift against each other.
    let small = TypeObject::from_parts(Node::Ref(DefId(0)), vec![tree_def()]);
    assert_eq!(
        small.wire_fingerprint().to_string(),
        "3172874cdf962bde9ebcc102fc7a495eecccc8f255558e82e3f839cfe475669d"
    );
}

#[test]
fn display_snapshot() {
    let schema = TypeObject::from_parts(
        Node::Object(Object {
            properties: vec![
                prop("email", true, Node::String.refine(Refinement::Email)),
                prop("tree", false, Node::Optional(boxed(Node::Ref(DefId(0))))),
            ],
            strict: false,
            flatten: vec![],
        }),
        vec![tree_def()],
    );
    let expected = "\
OBJECT strict=false
  PROPERTY \"email\" required
    REFINE_EMAIL
      STRING
  PROPERTY \"tree\" optional
    OPTIONAL
      REF #0 Tree
defs:
  #0 Tree
    OBJECT strict=true
      PROPERTY \"value\" required aliases=[\"val\"]
        NUMBER i32
      PROPERTY \"children\" optional
        ARRAY
          REF #0 Tree
";
    assert_eq!(schema.to_string(), expected);
    // Everything prints without panicking.
    let text = everything().to_string();
    assert!(text.contains("PORT \"UserStore\" 2"));
    assert!(text.contains("PORT_METHOD \"get\" idempotent http=\"GET\" \"/users/{id}\""));
    assert!(text.contains("DUNION adjacent tag=\"t\" content=\"c\" strict"));
    assert!(text.contains("VARIANT \"Empty\" unit"));
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

#[test]
fn every_truncation_is_an_error() {
    let bytes = everything().to_bytes();
    for len in 0..bytes.len() {
        assert!(
            TypeObject::from_bytes(&bytes[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
}

#[test]
fn flipped_bytes_do_not_panic() {
    let bytes = everything().to_bytes();
    let mut copy = bytes.clone();
    for i in 0..bytes.len() {
        for mask in [0xFF, 0x01, 0x80] {
            copy[i] = bytes[i] ^ mask;
            let _ = TypeObject::from_bytes(&copy);
        }
        copy[i] = bytes[i];
    }
}

fn header() -> Vec<u8> {
    let mut out = b"LFTS\x00\x01".to_vec();
    out.extend_from_slice(&0u32.to_be_bytes()); // no strings
    out.extend_from_slice(&0u32.to_be_bytes()); // no defs
    out
}

#[test]
fn deep_binary_nesting_is_an_error() {
    let mut bytes = header();
    bytes.extend(std::iter::repeat_n(6u8, 100_000)); // ARRAY of ARRAY of …
    bytes.push(0); // STRING
    assert!(matches!(
        TypeObject::from_bytes(&bytes),
        Err(DecodeError::TooDeep { .. })
    ));
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    // A TUPLE claiming u32::MAX items.
    let mut bytes = header();
    bytes.push(7);
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    bytes.push(0);
    assert!(matches!(
        TypeObject::from_bytes(&bytes),
        Err(DecodeError::CountTooLarge {
            count: 0xFFFF_FFFF,
            ..
        })
    ));
    // A string table claiming u32::MAX strings.
    let mut bytes = b"LFTS\x00\x01".to_vec();
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        TypeObject::from_bytes(&bytes),
        Err(DecodeError::CountTooLarge { .. })
    ));
    // A string claiming u32::MAX bytes.
    let mut bytes = b"LFTS\x00\x01".to_vec();
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    bytes.extend_from_slice(b"abc");
    assert!(matches!(
        TypeObject::from_bytes(&bytes),
        Err(DecodeError::Truncated { .. })
    ));
    // JSON: a count far beyond the entries present.
    let doc = json!({"lfts": 1, "root": [11, u64::MAX, [0]]});
    assert!(matches!(
        TypeObject::from_json(&doc),
        Err(DecodeError::CountTooLarge { .. })
    ));
}

#[test]
fn bad_strings_are_errors() {
    let mut bytes = b"LFTS\x00\x01".to_vec();
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&[0xC3, 0x28]); // invalid UTF-8
    bytes.extend_from_slice(&0u32.to_be_bytes());
    bytes.push(0);
    assert_eq!(
        TypeObject::from_bytes(&bytes),
        Err(DecodeError::InvalidUtf8 { offset: 14 })
    );
    // BRAND naming string 5 of an empty table.
    let mut bytes = header();
    bytes.push(14);
    bytes.extend_from_slice(&5u32.to_be_bytes());
    bytes.push(0);
    assert!(matches!(
        TypeObject::from_bytes(&bytes),
        Err(DecodeError::BadStringIndex { index: 5, .. })
    ));
    // Every error has a message.
    let err = TypeObject::from_bytes(&bytes).expect_err("bad");
    assert!(err.to_string().contains("string index 5"));
    let _: &dyn std::error::Error = &err;
}

#[test]
fn misplaced_ops_are_unexpected() {
    for op in [4u8, 9, 12, 33, 35] {
        let mut bytes = header();
        bytes.push(op);
        assert!(
            matches!(
                TypeObject::from_bytes(&bytes),
                Err(DecodeError::UnexpectedOp { .. })
            ),
            "op {op}"
        );
    }
    let doc = json!({"lfts": 1, "root": [9, "x", 0, [0]]});
    assert!(matches!(
        TypeObject::from_json(&doc),
        Err(DecodeError::UnexpectedOp { .. })
    ));
}

#[test]
fn deep_json_nesting_is_an_error() {
    let mut node = json!([0]);
    for _ in 0..1_000 {
        node = json!([6, node]);
    }
    let doc = json!({"lfts": 1, "root": node});
    assert!(matches!(
        TypeObject::from_json(&doc),
        Err(DecodeError::TooDeep { .. })
    ));
}

#[test]
fn json_shape_errors() {
    for bad in [
        json!(null),
        json!([]),
        json!({"lfts": 1}),
        json!({"lfts": "1", "root": [0]}),
        json!({"lfts": 1, "root": [0], "extra": 1}),
        json!({"lfts": 1, "root": []}),
        json!({"lfts": 1, "root": ["0"]}),
        json!({"lfts": 1, "root": [-1]}),
        json!({"lfts": 1, "root": [300]}),
        json!({"lfts": 1, "root": [8, 1, 2, 9, "a", 0, [0]]}),
        json!({"lfts": 1, "root": [8, 0, 0, {"bogus": 1}]}),
        json!({"lfts": 1, "root": [8, 0, 0, {"aliases": {"nope": ["x"]}}]}),
        json!({"lfts": 1, "root": [13, "", 1, "A", [3], {"tagging": "external", "units": ["B"]}]}),
        json!({"lfts": 1, "root": [13, "t", 1, "A", [0], {"units": ["A"]}]}),
        json!({"lfts": 1, "root": [13, "t", 0, {"tagging": "external"}]}),
        json!({"lfts": 1, "root": [13, "t", 0, {"tagging": "adjacent"}]}),
        json!({"lfts": 1, "root": [13, "t", 0, {"content": "c"}]}),
        json!({"lfts": 1, "root": [5, [1]]}),
        json!({"lfts": 1, "root": [15, "x", [1]]}),
        json!({"lfts": 1, "root": [18, -1, [0]]}),
        json!({"lfts": 1, "root": [37, 4294967296u64]}),
        json!({"lfts": 1, "root": [34, "P", 1, 35, "m", 0, [0], [29, [0]], {}]}),
        json!({"lfts": 1, "root": [0], "defs": [{"name": "A"}]}),
        json!({"lfts": 1, "root": [0], "defs": {}}),
    ] {
        assert!(TypeObject::from_json(&bad).is_err(), "{bad}");
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0u64..45).prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|x| json!(x)),
        "[a-z0-9^$()\\[\\]]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            // Arrays that start with an op code and a small count get past the first checks.
            (
                (0u64..40),
                (0u64..4),
                prop::collection::vec(inner.clone(), 0..8)
            )
                .prop_map(|(op, n, rest)| {
                    let mut v = vec![json!(op), json!(n)];
                    v.extend(rest);
                    Value::Array(v)
                }),
            prop::collection::btree_map("[a-z]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = TypeObject::from_bytes(&bytes);
        // And behind a valid header, to reach the node decoder.
        let mut framed = header();
        framed.extend_from_slice(&bytes);
        let _ = TypeObject::from_bytes(&framed);
    }

    #[test]
    fn mutated_encodings_do_not_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = everything().to_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(schema) = TypeObject::from_bytes(&bytes) {
            // Whatever decodes re-encodes to something that decodes to the same schema.
            prop_assert_eq!(TypeObject::from_bytes(&schema.to_bytes()), Ok(schema));
        }
    }

    #[test]
    fn random_json_does_not_panic(root in arb_json(), defs in arb_json()) {
        let _ = TypeObject::from_json(&root);
        let doc = json!({"lfts": 1, "root": root.clone()});
        if let Ok(schema) = TypeObject::from_json(&doc) {
            prop_assert_eq!(TypeObject::from_json(&schema.to_json()), Ok(schema));
        }
        let doc = json!({"lfts": 1, "root": root, "defs": [{"name": "D", "node": defs}]});
        let _ = TypeObject::from_json(&doc);
    }

    #[test]
    fn mutated_json_does_not_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), arb_json()), 1..4)
    ) {
        let mut doc = everything().to_json();
        let Some(items) = doc["root"].as_array_mut() else {
            return Err(TestCaseError::fail("root is an array"));
        };
        for (at, value) in edits {
            let i = at.index(items.len());
            items[i] = value;
        }
        let _ = TypeObject::from_json(&doc);
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Schema export.

#[test]
fn json_schema_shapes() {
    let schema = TypeObject::from_parts(
        Node::Object(Object {
            properties: vec![
                prop("email", true, Node::String.refine(Refinement::Email)),
                prop(
                    "tags",
                    false,
                    Node::Array(boxed(Node::String)).refine(Refinement::NonEmpty),
                ),
                prop("tree", true, Node::Ref(DefId(0))),
                prop(
                    "pair",
                    true,
                    Node::Tuple(vec![Node::String, Node::Number(NumberKind::U8)]),
                ),
                prop("maybe", false, Node::Optional(boxed(Node::Boolean))),
            ],
            strict: true,
            flatten: vec![],
        }),
        vec![tree_def()],
    );
    let js = schema.to_json_schema();
    assert_eq!(
        js["$schema"],
        json!("https://json-schema.org/draft/2020-12/schema")
    );
    let props = &js["properties"];
    assert_eq!(props["email"]["format"], json!("email"));
    assert_eq!(props["tags"]["minItems"], json!(1));
    assert_eq!(props["tree"], json!({"$ref": "#/$defs/Tree"}));
    assert_eq!(
        props["pair"],
        json!({"type": "array",
            "prefixItems": [{"type": "string"}, {"type": "integer", "minimum": 0, "maximum": 255}],
            "items": false, "minItems": 2, "maxItems": 2})
    );
    assert_eq!(
        props["maybe"],
        json!({"anyOf": [{"type": "boolean"}, {"type": "null"}]})
    );
    assert_eq!(js["required"], json!(["email", "tree", "pair"]));
    assert_eq!(js["additionalProperties"], json!(false));
    // The recursive definition refers to itself, and its aliased property accepts either
    // name, exactly one of them.
    let tree = &js["$defs"]["Tree"];
    assert_eq!(
        tree["properties"]["children"]["items"],
        json!({"$ref": "#/$defs/Tree"})
    );
    assert_eq!(tree["properties"]["val"], tree["properties"]["value"]);
    assert_eq!(
        tree["allOf"],
        json!([{"oneOf": [{"required": ["value"]}, {"required": ["val"]}]}])
    );
}

#[test]
fn json_schema_dunions() {
    let defs = vec![tree_def()];
    let internal = TypeObject::from_parts(
        Node::DUnion(shape(Tagging::Internal { tag: "type".into() }, false)),
        defs.clone(),
    )
    .to_json_schema();
    let alts = internal["oneOf"].as_array().expect("oneOf");
    // Circle (+2 aliases), Empty, Nothing, Ref.
    assert_eq!(alts.len(), 6);
    // A struct variant: its object, with the tag as one more required property.
    assert_eq!(
        alts[0],
        json!({"type": "object",
            "properties": {"type": {"const": "Circle"}, "r": {"type": "number"}},
            "required": ["type", "r"]})
    );
    // A unit variant: the tag alone, whatever else is there.
    assert_eq!(
        alts[3],
        json!({"type": "object", "properties": {"type": {"const": "Empty"}}, "required": ["type"]})
    );
    // A newtype of `()`: the tag and nothing else.
    assert_eq!(alts[4]["allOf"][1]["additionalProperties"], json!(false));
    // Tree is strict: it is inlined with the tag key allowed.
    let tree = &alts[5]["allOf"][1];
    assert_eq!(tree["properties"]["type"], json!(true));
    assert_eq!(tree["additionalProperties"], json!(false));
    assert!(tree["properties"]["value"].is_object());

    let external =
        TypeObject::from_parts(Node::DUnion(shape(Tagging::External, false)), defs.clone())
            .to_json_schema();
    let alts = external["oneOf"].as_array().expect("oneOf");
    assert!(alts.contains(&json!({"const": "Empty"})));
    assert!(alts.contains(
        &json!({"type": "object", "properties": {"Empty": {"type": "null"}},
        "required": ["Empty"], "additionalProperties": false})
    ));
    assert!(alts.contains(
        &json!({"type": "object", "properties": {"Ref": {"$ref": "#/$defs/Tree"}},
        "required": ["Ref"], "additionalProperties": false})
    ));

    let adjacent = TypeObject::from_parts(
        Node::DUnion(shape(
            Tagging::Adjacent {
                tag: "t".into(),
                content: "c".into(),
            },
            false,
        )),
        defs,
    )
    .to_json_schema();
    // "c" sorts before "t", so serde reads the content from its owned buffer, where `()`
    // also accepts `{}`.
    let alts = adjacent["oneOf"].as_array().expect("oneOf");
    assert!(alts.contains(&json!({"type": "object",
        "properties": {"t": {"const": "Empty"},
            "c": {"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}]}}, "required": ["t"]})));
    assert!(alts.contains(&json!({"type": "object",
        "properties": {"t": {"const": "Ref"}, "c": {"$ref": "#/$defs/Tree"}}, "required": ["t", "c"]})));
}

#[test]
fn json_schema_of_everything() {
    // Every node kind exports, and the result is a JSON Schema document.
    let js = everything().to_json_schema();
    assert!(js["$defs"]["Page<User>"].is_object());
    assert_eq!(js["type"], json!("array"));
    let port = TypeObject::from_parts(port(), vec![tree_def()]).to_json_schema();
    assert_eq!(port["title"], json!("UserStore"));
    assert_eq!(port["x-lfts-port"]["methods"][0]["name"], json!("get"));
    assert_eq!(
        port["x-lfts-port"]["methods"][0]["http"],
        json!({"method": "GET", "path": "/users/{id}"})
    );
}
