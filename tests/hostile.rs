//! Hostile input gets an error, never a panic, a stack overflow, unbounded memory or
//! quadratic time (DESIGN.md, "Validation API"). Where serde has a verdict, lfts agrees with it.

mod zoo;

use std::time::{Duration, Instant};

use lfts::Schema;
use lfts::validate::MAX_ERRORS;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Asserts `decode::<T>` agrees with `serde_json::from_slice::<T>` plus `check`, and returns
/// lfts's result.
fn decode_agrees<T: Schema + DeserializeOwned + std::fmt::Debug + 'static>(
    bytes: &[u8],
) -> Result<T, lfts::ValidationErrors> {
    let serde = serde_json::from_slice::<T>(bytes)
        .map_err(|e| e.to_string())
        .and_then(|x| lfts::check(&x).map_err(|e| e.to_string()));
    let lfts = lfts::decode::<T>(bytes);
    assert_eq!(
        lfts.is_ok(),
        serde.is_ok(),
        "{}: decode of {:?} disagrees with serde\n  lfts: {lfts:?}\n  serde: {serde:?}",
        std::any::type_name::<T>(),
        String::from_utf8_lossy(&bytes[..bytes.len().min(200)]),
    );
    lfts
}

/// Asserts `validate::<T>` agrees with `serde_json::from_value::<T>` plus `check`.
fn validate_agrees<T: Schema + DeserializeOwned + std::fmt::Debug + 'static>(value: &Value) {
    let serde = serde_json::from_value::<T>(value.clone())
        .map_err(|e| e.to_string())
        .and_then(|x| lfts::check(&x).map_err(|e| e.to_string()));
    let lfts = lfts::validate::<T>(value);
    assert_eq!(
        lfts.is_ok(),
        serde.is_ok(),
        "{}: validate of {value} disagrees with serde\n  lfts: {lfts:?}\n  serde: {serde:?}",
        std::any::type_name::<T>(),
    );
}

fn timed<R>(what: &str, limit: Duration, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    assert!(took < limit, "{what} took {took:?} (limit {limit:?})");
    r
}

/// A value nested `depth` arrays deep, built and dropped without recursion.
fn deep_array(depth: usize) -> Value {
    let mut v = json!(0);
    for _ in 0..depth {
        v = Value::Array(vec![v]);
    }
    v
}

fn drop_deep(mut v: Value) {
    loop {
        match v {
            Value::Array(mut items) => match items.pop() {
                Some(inner) => v = inner,
                None => return,
            },
            Value::Object(mut map) => match map.keys().next().cloned() {
                Some(k) => v = map.remove(&k).unwrap_or(Value::Null),
                None => return,
            },
            _ => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_json_is_an_error() {
    let doc = zoo::Document {
        title: "t".into(),
        events: vec![
            zoo::Internal::Point { x: 1.5, y: -2.0 },
            zoo::Internal::Empty,
        ],
        owner: None,
        tree: zoo::Tree {
            value: 1,
            children: vec![zoo::Tree {
                value: 2,
                children: vec![],
            }],
        },
        status: zoo::Adjacent::Pair(1, -1),
        choices: vec![zoo::Untagged::Text("x".into()), zoo::Untagged::Nothing],
        by_code: [(7, zoo::External::Tuple(true, "é".into()))].into(),
        related: vec![],
    };
    let bytes = serde_json::to_vec(&doc).unwrap();
    assert!(lfts::decode::<zoo::Document>(&bytes).is_ok());
    for end in 0..bytes.len() {
        let cut = &bytes[..end];
        let errors = decode_agrees::<zoo::Document>(cut).expect_err("a truncated document");
        assert!(!errors.is_empty());
        let _ = decode_agrees::<Value>(cut);
    }
}

#[test]
fn deep_nesting_is_an_error_not_an_overflow() {
    let depth = 10_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"value\":".repeat(depth), "}".repeat(depth));
    for bytes in [arrays.as_bytes(), objects.as_bytes()] {
        assert!(lfts::decode::<Vec<Value>>(bytes).is_err());
        assert!(lfts::decode::<Value>(bytes).is_err());
        assert!(lfts::decode::<zoo::Tree>(bytes).is_err());
        assert!(lfts::decode::<zoo::Document>(bytes).is_err());
        assert!(lfts::decode::<zoo::External>(bytes).is_err());
        assert!(lfts::decode::<zoo::Untagged>(bytes).is_err());
    }

    let deep = deep_array(depth);
    // A `Value` can be deeper than any parser allows: the interpreter bounds its own depth,
    // also under `serde_json::Value` (`ANY`), before serde's recursive deserialize runs. The
    // untyped checks come first: were one to pass, the typed one would overflow the stack.
    for (what, result) in [
        (
            "Vec<Value>",
            <Vec<Value> as Schema>::schema().validate(&deep),
        ),
        (
            "Vec<Vec<Value>>",
            <Vec<Vec<Value>> as Schema>::schema().validate(&deep),
        ),
        ("Tree", zoo::Tree::schema().validate(&deep)),
        ("Untagged", zoo::Untagged::schema().validate(&deep)),
        ("Document", zoo::Document::schema().validate(&deep)),
    ] {
        let errors = result.expect_err(&format!("{what}: 10,000 nested arrays must be refused"));
        assert!(errors.len() <= MAX_ERRORS);
    }
    assert!(lfts::validate::<Vec<Value>>(&deep).is_err());
    // Built by moving `deep` in: `json!` would copy it through a recursive serializer.
    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), json!("x"));
    fields.insert("deep".into(), deep);
    let mut wrapped = Value::Object(fields);
    assert!(zoo::FlattenValues::schema().validate(&wrapped).is_err());
    assert!(lfts::validate::<zoo::FlattenValues>(&wrapped).is_err());
    drop_deep(wrapped["deep"].take());

    // Deeply nested trees of the right shape.
    // Each level is moved in; `json!` would re-serialize the whole tree every time.
    let node = |children: Vec<Value>| {
        let mut fields = serde_json::Map::new();
        fields.insert("value".into(), json!(0));
        fields.insert("children".into(), Value::Array(children));
        Value::Object(fields)
    };
    let mut tree = node(Vec::new());
    for _ in 0..depth {
        tree = node(vec![tree]);
    }
    assert!(lfts::validate::<zoo::Tree>(&tree).is_err());
    let mut fields = serde_json::Map::new();
    fields.insert("tree".into(), tree);
    let mut document = Value::Object(fields);
    assert!(zoo::Document::schema().validate(&document).is_err());
    drop_deep(document["tree"].take());
}

#[test]
fn huge_arrays_give_bounded_errors() {
    let n = 1_000_000;
    let bad = Value::Array(vec![json!(300); n]);
    let errors = timed("1,000,000 bad items", Duration::from_secs(10), || {
        lfts::validate::<Vec<u8>>(&bad).unwrap_err()
    });
    assert_eq!(errors.len(), MAX_ERRORS);
    assert!(errors.truncated());
    assert_eq!(errors.iter().next().map(|e| e.path.as_str()), Some("/0"));

    let bytes = serde_json::to_vec(&bad).unwrap();
    let errors = timed(
        "decode of 1,000,000 bad items",
        Duration::from_secs(10),
        || lfts::decode::<Vec<u8>>(&bytes).unwrap_err(),
    );
    assert_eq!(errors.len(), MAX_ERRORS);
    assert!(errors.truncated());

    // Nested in a zoo type, with refinements failing on every item.
    let page = json!({"items": bad, "total": 1, "cursor": "UPPER"});
    let errors = lfts::validate::<zoo::Page<u8>>(&page).unwrap_err();
    assert!(errors.len() <= MAX_ERRORS && errors.truncated());
    let emails = Value::Array(vec![json!("nope"); n]);
    let errors = timed("1,000,000 bad emails", Duration::from_secs(10), || {
        lfts::validate::<Vec<zoo::Email>>(&emails).unwrap_err()
    });
    assert!(errors.len() <= MAX_ERRORS && errors.truncated());
    // `check` stops walking once an error past the cap was seen, like the interpreter.
    let typed: Vec<zoo::Email> = vec![zoo::Email("nope".into()); n];
    let errors = timed(
        "check of 1,000,000 bad emails",
        Duration::from_secs(10),
        || lfts::check(&typed).unwrap_err(),
    );
    assert_eq!(errors.len(), MAX_ERRORS);
    assert!(errors.truncated());

    // A huge valid array is accepted.
    let good = Value::Array(vec![json!(200); n]);
    let items = timed("1,000,000 good items", Duration::from_secs(10), || {
        lfts::validate::<Vec<u8>>(&good).unwrap()
    });
    assert_eq!(items.len(), n);
}

#[test]
fn numbers_out_of_range_for_each_width() {
    fn edges<T: Schema + DeserializeOwned + std::fmt::Debug + 'static>(min: i128, max: i128) {
        for (n, ok) in [(min, true), (max, true), (min - 1, false), (max + 1, false)] {
            let text = n.to_string();
            let decoded = decode_agrees::<T>(text.as_bytes());
            assert_eq!(
                decoded.is_ok(),
                ok,
                "{} from {text}: {decoded:?}",
                std::any::type_name::<T>()
            );
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                validate_agrees::<T>(&value);
                validate_agrees::<zoo::Page<u8>>(&json!({"items": [value], "total": 0}));
            }
        }
        for text in [
            "1.0", "-0", "-0.0", "0.5", "1e2", "1E400", "-1e400", "1e-400", "2.5e1",
        ] {
            let _ = decode_agrees::<T>(text.as_bytes());
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                validate_agrees::<T>(&value);
            }
        }
    }
    edges::<u8>(0, u8::MAX.into());
    edges::<u16>(0, u16::MAX.into());
    edges::<u32>(0, u32::MAX.into());
    edges::<u64>(0, u64::MAX.into());
    edges::<i8>(i8::MIN.into(), i8::MAX.into());
    edges::<i16>(i16::MIN.into(), i16::MAX.into());
    edges::<i32>(i32::MIN.into(), i32::MAX.into());
    edges::<i64>(i64::MIN.into(), i64::MAX.into());
    edges::<usize>(0, u64::MAX.into());
    edges::<isize>(i64::MIN.into(), i64::MAX.into());

    // Floats: every JSON number serde_json can parse, none it cannot.
    for text in [
        "1e400", "-1e400", "1e308", "3.5e38", "1e39", "-0", "0.1", "5e-324", "1e-400",
    ] {
        let _ = decode_agrees::<f64>(text.as_bytes());
        let _ = decode_agrees::<f32>(text.as_bytes());
        let _ = decode_agrees::<zoo::Primitives>(
            format!(
                r#"{{"a_u8":0,"a_u16":0,"a_u32":0,"a_u64":0,"a_i8":0,"a_i16":0,"a_i32":0,"a_i64":0,
                    "a_f32":{text},"a_f64":{text},"flag":true,"letter":"x","nothing":null}}"#
            )
            .as_bytes(),
        );
    }
    assert!(lfts::decode::<f64>(b"1e400").is_err());
    assert!(
        lfts::decode::<u8>(b"-0").is_err(),
        "serde_json reads -0 as a float"
    );
}

#[test]
fn nan_like_strings_are_not_numbers() {
    for text in [
        r#""NaN""#,
        r#""Infinity""#,
        r#""-Infinity""#,
        r#""1e3""#,
        r#""12""#,
        "NaN",
        "Infinity",
        "-Infinity",
        "nan",
        "+1",
        "01",
        ".5",
        "1.",
        "0x10",
    ] {
        assert!(decode_agrees::<f64>(text.as_bytes()).is_err(), "{text}");
        assert!(decode_agrees::<u32>(text.as_bytes()).is_err(), "{text}");
        let _ = decode_agrees::<zoo::Untagged>(text.as_bytes());
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            validate_agrees::<f64>(&value);
            validate_agrees::<zoo::Refined>(&json!({"price": value}));
        }
    }
}

#[test]
fn invalid_utf8_is_an_error() {
    let inputs: [&[u8]; 6] = [
        b"\"\xff\"",
        b"\"a\xc3\"",
        b"{\"\xfe\": 1}",
        b"[\"ok\", \"\xed\xa0\x80\"]",
        b"\xef\xbb\xbf{}",
        b"{\"title\": \"\xc0\xaf\"}",
    ];
    for bytes in inputs {
        assert!(lfts::decode::<Value>(bytes).is_err(), "{bytes:?}");
        let _ = decode_agrees::<String>(bytes);
        let _ = decode_agrees::<Vec<String>>(bytes);
        let _ = decode_agrees::<zoo::Document>(bytes);
        let _ = decode_agrees::<zoo::FlattenValues>(bytes);
    }
}

#[test]
fn duplicate_keys_agree_with_serde() {
    let cases: [&[u8]; 6] = [
        br#"{"a":1,"a":2}"#,
        br#"{"a":1,"b":null,"a":2}"#,
        br#"{"user_name":"x","user_name":"y","mail":"m"}"#,
        br#"{"user_name":"x","login":"y","mail":"m"}"#,
        br#"{"type":"Move","type":"Ping","x":1,"y":2}"#,
        br#"{"t":"COUNT","c":1,"c":2}"#,
    ];
    for bytes in cases {
        let _ = decode_agrees::<zoo::Strict>(bytes);
        let _ = decode_agrees::<zoo::Aliased>(bytes);
        let _ = decode_agrees::<zoo::StrictEvent>(bytes);
        let _ = decode_agrees::<zoo::Adjacent>(bytes);
        let _ = decode_agrees::<std::collections::HashMap<String, u8>>(bytes);
        let _ = decode_agrees::<std::collections::BTreeMap<String, Value>>(bytes);
        let _ = decode_agrees::<Value>(bytes);
    }
    // serde refuses a repeated struct field; a map keeps the last value.
    assert!(lfts::decode::<zoo::Strict>(br#"{"a":1,"a":2}"#).is_err());
    let map = lfts::decode::<std::collections::HashMap<String, u8>>(br#"{"a":1,"a":2}"#).unwrap();
    assert_eq!(map["a"], 2);
}

#[test]
fn ten_megabyte_strings_are_linear() {
    let big = "a".repeat(10 << 20);
    let limit = Duration::from_secs(10);

    let bytes = serde_json::to_vec(&big).unwrap();
    let s = timed("decode String", limit, || {
        lfts::decode::<String>(&bytes).unwrap()
    });
    assert_eq!(s.len(), big.len());

    // Every string refinement on a 10 MB value, through validate, decode and check.
    let refined = json!({
        "email": big, "homepage": big, "id": big, "code": big, "age": 20, "slug": big,
        "nickname": big, "tags": [big], "scores": [1], "price": 1.0, "debt": -1, "ratio": 0.0,
        "backup": big,
    });
    let errors = timed("validate Refined", limit, || {
        lfts::validate::<zoo::Refined>(&refined).unwrap_err()
    });
    let want = ["/backup", "/code", "/email", "/homepage", "/id"].map(str::to_owned);
    assert_eq!(
        zoo::paths(&errors).into_iter().collect::<Vec<_>>(),
        want,
        "{errors}"
    );
    assert!(
        errors.to_string().len() < 10_000,
        "error messages quote a bounded prefix"
    );

    let bytes = serde_json::to_vec(&refined).unwrap();
    let errors = timed("decode Refined", limit, || {
        lfts::decode::<zoo::Refined>(&bytes).unwrap_err()
    });
    assert_eq!(zoo::paths(&errors).into_iter().collect::<Vec<_>>(), want);

    // Multi-byte characters: lengths count characters.
    let wide = "é".repeat(5 << 20);
    let value = json!({"code": wide});
    let _ = timed("validate wide", limit, || {
        zoo::Refined::schema().validate(&value)
    });
    let value = json!(["a", wide]);
    let _ = timed("validate char", limit, || {
        <(char, char) as Schema>::schema()
            .validate(&value)
            .unwrap_err()
    });

    // A huge key.
    let key_doc = format!(r#"{{"id": 1, "{}": 2}}"#, "k".repeat(10 << 20));
    let _ = timed("decode big key", limit, || {
        decode_agrees::<zoo::FlattenCounts>(key_doc.as_bytes())
    });
    let _ = timed("decode big key strict", limit, || {
        decode_agrees::<zoo::Strict>(key_doc.as_bytes())
    });
}

#[test]
fn lone_surrogates_are_an_error() {
    for text in [
        r#""\ud800""#,
        r#""\udc00""#,
        r#""a\ud800b""#,
        r#"{"\ud800": 1}"#,
        r#"["\udfff"]"#,
        r#""\ud800\u0041""#,
    ] {
        let _ = decode_agrees::<String>(text.as_bytes());
        let _ = decode_agrees::<Value>(text.as_bytes());
        let _ = decode_agrees::<char>(text.as_bytes());
        let _ = decode_agrees::<zoo::Untagged>(text.as_bytes());
        let _ = decode_agrees::<zoo::FlattenCounts>(text.as_bytes());
        let _ = decode_agrees::<std::collections::HashMap<String, u8>>(text.as_bytes());
    }
    // A valid pair is one character.
    assert_eq!(lfts::decode::<char>(br#""\ud83d\ude00""#).unwrap(), '😀');
    assert!(lfts::decode::<String>(br#""\ud800""#).is_err());
}

#[test]
fn garbage_never_panics() {
    let inputs: [&[u8]; 14] = [
        b"",
        b" ",
        b"nul",
        b"{",
        b"}",
        b"[1,]",
        b"{\"a\":}",
        b"{\"a\" 1}",
        b"{1:2}",
        b"[1 2]",
        b"\"\\x\"",
        b"\"\\u12\"",
        b"{} {}",
        b"\x00",
    ];
    for bytes in inputs {
        assert!(decode_agrees::<Value>(bytes).is_err(), "{bytes:?}");
        assert!(decode_agrees::<zoo::Document>(bytes).is_err(), "{bytes:?}");
        assert!(
            decode_agrees::<zoo::UnitStruct>(bytes).is_err(),
            "{bytes:?}"
        );
        assert!(decode_agrees::<()>(bytes).is_err(), "{bytes:?}");
    }
}
