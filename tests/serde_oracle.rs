//! serde_json is the oracle (DESIGN.md, "serde fidelity"): for every zoo type,
//!
//! (a) every value serde writes is accepted by `lfts::validate` and reads back equal, unless its
//!     refinements fail, in which case `validate` rejects it at the refined field's path;
//! (b) random and mutated JSON is accepted by `lfts::validate::<T>` (and by the untyped
//!     `T::schema().validate`) exactly when `serde_json::from_value::<T>` accepts it and
//!     `lfts::check` passes on the result.
//!
//! Every type runs inside one `#[test]` per property, and the failures of all types are
//! reported together, each with the type, the JSON and both verdicts.

mod zoo;

use std::collections::BTreeSet;

use lfts::Schema;
use proptest::prelude::*;
use serde_json::{Value, json};

use zoo::json::{Mutation, apply, document, has_array_for_struct, mutation, vocabulary};
use zoo::{Zoo, for_each_zoo_type, paths, run_property};

const ACCEPT_CASES: u32 = 96;
const ORACLE_CASES: u32 = 192;

fn verdict<E>(r: &Result<(), E>) -> &'static str {
    if r.is_ok() { "accepts" } else { "rejects" }
}

fn fail(msg: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(msg))
}

// ---------------------------------------------------------------------------------------------
// (a) what serde writes, lfts reads

fn serialized_values_are_accepted<T: Zoo>(x: T) -> Result<(), TestCaseError> {
    let ty = std::any::type_name::<T>();
    let value = serde_json::to_value(&x)
        .map_err(|e| TestCaseError::fail(format!("{ty}: serialize: {e}")))?;
    let bytes =
        serde_json::to_vec(&x).map_err(|e| TestCaseError::fail(format!("{ty}: serialize: {e}")))?;

    // The zoo's own promise: its values round-trip through serde.
    match serde_json::from_value::<T>(value.clone()) {
        Ok(back) if back == x => {}
        other => {
            return fail(format!(
                "zoo bug: {ty} does not round-trip through serde: {value} -> {other:?}"
            ));
        }
    }

    let checked = lfts::check(&x);
    let untyped = T::schema().validate(&value);
    let typed = lfts::validate::<T>(&value);
    let decoded = lfts::decode::<T>(&bytes);

    match &checked {
        Ok(()) => {
            if let Err(e) = &untyped {
                return fail(format!(
                    "{ty}: T::schema().validate rejects what serde wrote\n  json: {value}\n  errors: {e}"
                ));
            }
            match &typed {
                Ok(back) if *back == x => {}
                Ok(back) => {
                    return fail(format!(
                        "{ty}: lfts::validate read {value} back as {back:?}, not {x:?}"
                    ));
                }
                Err(e) => {
                    return fail(format!(
                        "{ty}: lfts::validate rejects what serde wrote\n  json: {value}\n  errors: {e}"
                    ));
                }
            }
            let serde_decoded = serde_json::from_slice::<T>(&bytes).ok();
            match decoded {
                Ok(back) if Some(&back) == serde_decoded.as_ref() => {}
                other => {
                    return fail(format!(
                        "{ty}: lfts::decode disagrees with serde_json::from_slice\n  json: {value}\n  lfts: {other:?}\n  serde: {serde_decoded:?}"
                    ));
                }
            }
        }
        Err(expected) => {
            // The value has the right shape but breaks a refinement: every entry point rejects
            // it, with errors at the same paths as `check`.
            let want = paths(expected);
            for (entry, got) in [
                ("T::schema().validate", untyped.err()),
                ("lfts::validate", typed.err()),
                ("lfts::decode", decoded.err()),
            ] {
                match got {
                    None => {
                        return fail(format!(
                            "{ty}: {entry} accepts a value whose refinements fail\n  json: {value}\n  check: {expected}"
                        ));
                    }
                    Some(errors) => {
                        let got = paths(&errors);
                        if got != want {
                            return fail(format!(
                                "{ty}: {entry} reports errors at {got:?}, lfts::check at {want:?}\n  json: {value}\n  {entry}: {errors}\n  check: {expected}"
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn serde_output_is_accepted() {
    let mut failures = Vec::new();
    macro_rules! run {
        ($t:ty) => {
            if let Err(why) = run_property(
                ACCEPT_CASES,
                <$t as Zoo>::arb(),
                serialized_values_are_accepted::<$t>,
            ) {
                failures.push(format!("{}: {why}", stringify!($t)));
            }
        };
    }
    for_each_zoo_type!(run);
    assert!(
        failures.is_empty(),
        "{} types failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// (b) lfts accepts exactly what serde accepts (and the refinements allow)

/// The oracle's verdict: serde reads the value and the refinements hold.
fn oracle<T: Zoo>(value: &Value) -> Result<(), String> {
    match serde_json::from_value::<T>(value.clone()) {
        Ok(x) => lfts::check(&x).map_err(|e| format!("serde reads it, check rejects: {e}")),
        Err(e) => Err(format!("serde rejects: {e}")),
    }
}

/// How many generated documents serde accepted and rejected, and how many were skipped as the
/// known array-for-struct divergence; printed with `--nocapture` to show the coverage.
#[derive(Default)]
struct Tally {
    accepted: std::cell::Cell<u32>,
    rejected: std::cell::Cell<u32>,
    skipped: std::cell::Cell<u32>,
}

fn agrees_with_serde<T: Zoo>(value: Value) -> Result<(), TestCaseError> {
    agrees_with_serde_tallied::<T>(value, &Tally::default())
}

fn agrees_with_serde_tallied<T: Zoo>(value: Value, tally: &Tally) -> Result<(), TestCaseError> {
    let ty = std::any::type_name::<T>();
    let schema = T::schema();
    let serde = oracle::<T>(&value);
    let count = if serde.is_ok() {
        &tally.accepted
    } else {
        &tally.rejected
    };
    count.set(count.get() + 1);
    let typed = lfts::validate::<T>(&value).map(drop);
    let untyped = schema.validate(&value);

    for (entry, lfts) in [
        ("lfts::validate", &typed),
        ("T::schema().validate", &untyped),
    ] {
        if lfts.is_ok() == serde.is_ok() {
            continue;
        }
        // Known, deliberate divergence: serde also reads a struct (and an internally or
        // adjacently tagged enum) from a JSON array of its fields in order (`visit_seq`).
        // serde never writes that form and lfts rejects it.
        if serde.is_ok() && has_array_for_struct(schema, schema.root(), &value) {
            tally.skipped.set(tally.skipped.get() + 1);
            return Ok(());
        }
        return fail(format!(
            "{ty}: {entry} {} but serde {}\n  json: {value}\n  serde: {}\n  lfts: {}",
            verdict(lfts),
            verdict(&serde),
            match &serde {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.clone(),
            },
            match lfts {
                Ok(()) => "ok".to_owned(),
                Err(e) => e.to_string(),
            },
        ));
    }

    // `decode` takes serde's typed path first: it accepts exactly what `from_slice` accepts
    // and `check` allows.
    if let Ok(bytes) = serde_json::to_vec(&value) {
        let serde_bytes = match serde_json::from_slice::<T>(&bytes) {
            Ok(x) => lfts::check(&x).is_ok(),
            Err(_) => false,
        };
        let decoded = lfts::decode::<T>(&bytes);
        if decoded.is_ok() != serde_bytes {
            return fail(format!(
                "{ty}: lfts::decode {} but serde_json::from_slice + check {}\n  json: {value}\n  decode: {decoded:?}",
                verdict(&decoded.as_ref().map(drop)),
                if serde_bytes { "accepts" } else { "rejects" },
            ));
        }
    }
    Ok(())
}

/// Random documents made of the type's own wire names, and serde's output for a random value
/// spoiled by one to three mutations.
fn oracle_inputs<T: Zoo>() -> BoxedStrategy<Value> {
    let vocab = vocabulary(T::schema());
    let mutated = {
        let vocab = vocab.clone();
        (T::arb(), prop::collection::vec(mutation(), 1..=3)).prop_map(move |(x, mutations)| {
            let mut value = serde_json::to_value(&x).unwrap_or(Value::Null);
            for m in mutations {
                apply(&mut value, m, &vocab);
            }
            value
        })
    };
    let valid = T::arb().prop_map(|x| serde_json::to_value(&x).unwrap_or(Value::Null));
    prop_oneof![
        1 => valid,
        2 => document(vocab, true),
        5 => mutated,
    ]
    .boxed()
}

#[test]
fn lfts_accepts_exactly_what_serde_accepts() {
    let mut failures = Vec::new();
    macro_rules! run {
        ($t:ty) => {
            let tally = Tally::default();
            let result = run_property(ORACLE_CASES, oracle_inputs::<$t>(), |v| {
                agrees_with_serde_tallied::<$t>(v, &tally)
            });
            println!(
                "{:<28} serde accepted {:>4}, rejected {:>4}; skipped (array for struct) {:>3}",
                stringify!($t),
                tally.accepted.get(),
                tally.rejected.get(),
                tally.skipped.get(),
            );
            if let Err(why) = result {
                failures.push(format!("{}: {why}", stringify!($t)));
            }
        };
    }
    for_each_zoo_type!(run);
    assert!(
        failures.is_empty(),
        "{} types failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Fixed cases: the paths of refinement errors, and the documents the mutations aim at.

#[test]
fn refinement_errors_point_at_the_refined_field() {
    let good = zoo::Refined {
        email: "ada@example.com".into(),
        homepage: "https://example.com".into(),
        id: "123e4567-e89b-12d3-a456-426614174000".into(),
        code: "abc".into(),
        age: 30,
        slug: "abc".into(),
        nickname: "ada".into(),
        tags: vec!["x".into()],
        scores: vec![1],
        price: 1.5,
        debt: -3,
        ratio: 0.5,
        backup: None,
    };
    assert!(lfts::check(&good).is_ok(), "{:?}", lfts::check(&good));
    assert!(lfts::validate::<zoo::Refined>(&serde_json::to_value(&good).unwrap()).is_ok());

    type Spoil = Box<dyn Fn(&mut zoo::Refined)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("/email", Box::new(|r| r.email = "nope".into())),
        ("/homepage", Box::new(|r| r.homepage = "ftp://x".into())),
        ("/id", Box::new(|r| r.id = "123".into())),
        ("/code", Box::new(|r| r.code = "a".into())),
        ("/code", Box::new(|r| r.code = "abcdef".into())),
        ("/age", Box::new(|r| r.age = 17)),
        ("/age", Box::new(|r| r.age = 131)),
        ("/slug", Box::new(|r| r.slug = "ABC".into())),
        ("/nickname", Box::new(|r| r.nickname = String::new())),
        ("/tags", Box::new(|r| r.tags.clear())),
        ("/scores", Box::new(|r| r.scores.clear())),
        ("/scores", Box::new(|r| r.scores = vec![1, 2, 3, 4])),
        ("/price", Box::new(|r| r.price = 0.0)),
        ("/debt", Box::new(|r| r.debt = 0)),
        ("/ratio", Box::new(|r| r.ratio = 1.75)),
        ("/backup", Box::new(|r| r.backup = Some("nope".into()))),
    ];
    for (path, spoil) in cases {
        let mut bad = good.clone();
        spoil(&mut bad);
        let value = serde_json::to_value(&bad).unwrap();
        let want = BTreeSet::from([path.to_owned()]);
        let checked = lfts::check(&bad).expect_err(path);
        assert_eq!(paths(&checked), want, "check: {checked}");
        let validated = lfts::validate::<zoo::Refined>(&value).expect_err(path);
        assert_eq!(paths(&validated), want, "validate {value}: {validated}");
        let decoded = lfts::decode::<zoo::Refined>(value.to_string().as_bytes()).expect_err(path);
        assert_eq!(paths(&decoded), want, "decode {value}: {decoded}");
    }
}

#[test]
fn nested_refinement_paths_use_wire_names() {
    let uid = |s: &str| zoo::UserId(s.to_owned());
    let ok = "123e4567-e89b-12d3-a456-426614174000";
    let account = zoo::Account {
        user_id: uid("bad"),
        primary_email: zoo::Email("nope".into()),
        other_emails: vec![zoo::Email("a@example.com".into()), zoo::Email("x".into())],
        manager: Some(uid("bad")),
        delegates: [("k".to_owned(), uid(ok)), ("m".to_owned(), uid("bad"))].into(),
        display_name: String::new(),
    };
    let want: BTreeSet<String> = [
        "/userId",
        "/primaryEmail",
        "/otherEmails/1",
        "/manager",
        "/delegates/m",
        "/displayName",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let checked = lfts::check(&account).unwrap_err();
    assert_eq!(paths(&checked), want, "{checked}");
    let value = serde_json::to_value(&account).unwrap();
    let validated = lfts::validate::<zoo::Account>(&value).unwrap_err();
    assert_eq!(paths(&validated), want, "{validated}");

    // Through enums: adjacent content, internal tag, external variant key.
    let page = zoo::Page::<zoo::Tree> {
        items: vec![],
        cursor: Some("UPPER".into()),
        total: 0,
    };
    assert_eq!(
        paths(&lfts::check(&page).unwrap_err()),
        BTreeSet::from(["/cursor".to_owned()])
    );
}

/// The documents each mutation aims at, fixed, so they run even if the random ones miss.
#[test]
fn fixed_documents_agree_with_serde() {
    fn case<T: Zoo>(value: Value) -> Option<String> {
        agrees_with_serde::<T>(value).err().map(|e| e.to_string())
    }
    let mut failures: Vec<String> = Vec::new();
    let mut push = |r: Option<String>| failures.extend(r);

    // Integers: ranges, floats with and without fraction, -0.
    for v in [
        json!(255),
        json!(256),
        json!(-1),
        json!(1.0),
        json!(0.5),
        json!(-0.0),
        json!(1e300),
    ] {
        push(case::<zoo::Newtype>(v.clone()));
        push(case::<zoo::Page<u8>>(json!({"items": [v], "total": 1})));
    }
    // Floats accept every number, including ones an f32 cannot hold.
    push(case::<zoo::Internal>(
        json!({"kind": "point", "x": 1, "y": 1e300}),
    ));
    // Externally tagged unit variant as `{"Unit": null}` (serde accepts it).
    push(case::<zoo::External>(json!({"Unit": null})));
    push(case::<zoo::External>(json!({"Unit": 1})));
    push(case::<zoo::External>(json!("Newtype")));
    push(case::<zoo::External>(json!({"Newtype": 1, "Unit": null})));
    // Aliases, and an alias beside its canonical name (a duplicate field for serde).
    push(case::<zoo::Aliased>(json!({"login": "a", "email": "b"})));
    push(case::<zoo::Aliased>(
        json!({"user_name": "a", "login": "a", "mail": "b"}),
    ));
    push(case::<zoo::AliasedEnum>(json!("Begin")));
    push(case::<zoo::AliasedEnum>(json!({"Stop": 1})));
    // Internally tagged unit variant with extra keys, under deny_unknown_fields.
    push(case::<zoo::StrictEvent>(
        json!({"type": "Ping", "extra": 1}),
    ));
    push(case::<zoo::StrictEvent>(
        json!({"type": "Move", "x": 1, "y": 2, "extra": 1}),
    ));
    // Adjacently tagged: unit with and without content, unknown keys.
    push(case::<zoo::Adjacent>(json!({"t": "NOTHING"})));
    push(case::<zoo::Adjacent>(json!({"t": "NOTHING", "c": null})));
    push(case::<zoo::Adjacent>(json!({"t": "NOTHING", "c": {}})));
    push(case::<zoo::Adjacent>(json!({"t": "NOTHING", "c": []})));
    push(case::<zoo::StrictAdjacent>(
        json!({"op": "Reset", "args": {}}),
    ));
    push(case::<zoo::Adjacent>(json!({"t": "COUNT"})));
    push(case::<zoo::Adjacent>(json!({"t": "COUNT", "c": 1, "x": 2})));
    push(case::<zoo::StrictAdjacent>(
        json!({"op": "Add", "args": 1, "x": 2}),
    ));
    push(case::<zoo::StrictAdjacent>(json!({"op": "Reset"})));
    // Buffered content: `()` and unit structs from `{}`, integer keys refused.
    push(case::<zoo::Buffered>(json!({"kind": "Marker"})));
    push(case::<zoo::Buffered>(json!({"kind": "Marker", "x": 1})));
    push(case::<zoo::Buffered>(
        json!({"kind": "Small", "n": 1, "c": "x", "unit": {}}),
    ));
    push(case::<zoo::Buffered>(
        json!({"kind": "Small", "n": 1, "c": "x", "unit": []}),
    ));
    push(case::<zoo::Buffered>(
        json!({"kind": "Ids", "by_id": {"1": "a"}}),
    ));
    push(case::<zoo::Loose>(json!({"1": "a"})));
    push(case::<zoo::Loose>(json!({})));
    push(case::<zoo::FlatIds>(
        json!({"id": 1, "by_id": {"1": "a"}, "unit": null}),
    ));
    push(case::<zoo::FlatIds>(
        json!({"id": 1, "by_id": {}, "unit": {}}),
    ));
    // Skipped fields: unknown on input.
    push(case::<zoo::Skips>(
        json!({"id": 1, "cache": "x", "computed": 5}),
    ));
    // Flatten: a map of u32 sees every unknown key.
    push(case::<zoo::FlattenCounts>(json!({"id": 1, "a": 2})));
    push(case::<zoo::FlattenCounts>(json!({"id": 1, "a": "x"})));
    push(case::<zoo::FlattenBoth>(
        json!({"kind": "k", "created_by": "a", "version": 1, "zz": [1]}),
    ));
    push(case::<zoo::FlattenBoth>(
        json!({"kind": "k", "created_by": "a", "version": 1.0}),
    ));
    // Integer map keys.
    for key in [
        "1",
        "01",
        "-1",
        "+1",
        " 1",
        "1.0",
        "4294967296",
        "-0",
        "1e2",
        "",
    ] {
        push(case::<zoo::Containers>(json!({
            "rgb": [1, 2, 3], "pair": [1, "a"], "triple": [true, 1, null], "list": [], "set": [],
            "by_name": {}, "by_id": {key: "v"}, "boxed": 1, "shared": "s", "nested": []
        })));
    }
    // chars: one character, not one byte.
    for letter in ["é", "ab", "", "😀"] {
        push(case::<zoo::Primitives>(json!({
            "a_u8": 0, "a_u16": 0, "a_u32": 0, "a_u64": 0, "a_i8": 0, "a_i16": 0, "a_i32": 0,
            "a_i64": 0, "a_f32": 0, "a_f64": 0, "flag": true, "letter": letter, "nothing": null
        })));
    }
    // Transparent, unit struct, tuple struct.
    push(case::<zoo::Transparent>(json!({"inner": [1]})));
    push(case::<zoo::UnitStruct>(json!({})));
    push(case::<zoo::UnitStruct>(json!([])));
    push(case::<zoo::TupleStruct>(json!([1, "a"])));
    push(case::<zoo::TupleStruct>(json!([1, "a", true, 4])));
    // Nested options: null is the outer None.
    push(case::<zoo::Optionals>(json!({"nested": null})));
    push(case::<zoo::Optionals>(json!({})));
    // The mutations, applied by hand.
    let vocab = vocabulary(zoo::Tree::schema());
    for m in [
        Mutation::DropKey,
        Mutation::AddKey,
        Mutation::WrapInArray,
        Mutation::Rename,
    ] {
        let mut doc = json!({"value": 1, "children": [{"value": 2, "children": []}]});
        apply(&mut doc, (m, 0, 0), &vocab);
        push(case::<zoo::Tree>(doc));
    }
    assert!(
        failures.is_empty(),
        "{} documents disagree:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
