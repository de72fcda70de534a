//! Validation speed, each lfts path beside its baseline in the same run.
//!
//! Workload: a JSON array of 10,000 users with email and length refinements and an internally
//! tagged role. Run: `cargo bench --bench validate` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lfts::Schema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, Schema)]
struct User {
    id: u64,
    #[lfts(min_len = 1, max_len = 100)]
    name: String,
    #[lfts(email)]
    email: String,
    #[lfts(min_len = 20, max_len = 40)]
    created_at: String,
    tags: Vec<String>,
    address: Address,
    role: Role,
}

#[derive(Debug, Serialize, Deserialize, Schema)]
struct Address {
    #[lfts(min_len = 1, max_len = 200)]
    street: String,
    #[lfts(min_len = 1, max_len = 100)]
    city: String,
    #[lfts(min_len = 5, max_len = 10)]
    zip: String,
}

#[derive(Debug, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Role {
    Admin,
    Member { team: String },
    Guest { expires_at: u64 },
}

const RECORDS: usize = 10_000;

fn users(bad_email_at: Option<usize>) -> Vec<Value> {
    (0..RECORDS)
        .map(|i| {
            let role = match i % 3 {
                0 => json!({"type": "admin"}),
                1 => json!({"type": "member", "team": format!("team-{}", i % 17)}),
                _ => json!({"type": "guest", "expires_at": 1_700_000_000 + i as u64}),
            };
            let email = if Some(i) == bad_email_at {
                format!("user{i}.example.com")
            } else {
                format!("user{i}@example.com")
            };
            json!({
                "id": i as u64,
                "name": format!("User Number {i}"),
                "email": email,
                "created_at": "2026-11-30T01:33:45.000Z",
                "tags": ["alpha", "beta", format!("t{}", i % 10)],
                "address": {"street": format!("{i} Main Street"), "city": "Springfield", "zip": format!("{:05}", i % 99_999)},
                "role": role,
            })
        })
        .collect()
}

/// The JSON Schema a person would write for the same data, for the `jsonschema` baseline.
fn hand_written_json_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "name", "email", "created_at", "tags", "address", "role"],
            "properties": {
                "id": {"type": "integer", "minimum": 0},
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "email": {"type": "string", "format": "email"},
                "created_at": {"type": "string", "minLength": 20, "maxLength": 40},
                "tags": {"type": "array", "items": {"type": "string"}},
                "address": {
                    "type": "object",
                    "required": ["street", "city", "zip"],
                    "properties": {
                        "street": {"type": "string", "minLength": 1, "maxLength": 200},
                        "city": {"type": "string", "minLength": 1, "maxLength": 100},
                        "zip": {"type": "string", "minLength": 5, "maxLength": 10}
                    }
                },
                "role": {
                    "oneOf": [
                        {"type": "object", "required": ["type"], "properties": {"type": {"const": "admin"}}},
                        {"type": "object", "required": ["type", "team"], "properties": {"type": {"const": "member"}, "team": {"type": "string"}}},
                        {"type": "object", "required": ["type", "expires_at"], "properties": {"type": {"const": "guest"}, "expires_at": {"type": "integer", "minimum": 0}}}
                    ]
                }
            }
        }
    })
}

fn config() -> Criterion {
    // A 2-core, noisy machine: fewer, longer samples; compare medians and ratios.
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
}

fn decode_valid(c: &mut Criterion) {
    let bytes = serde_json::to_vec(&users(None)).expect("serializable");
    assert!(lfts::decode::<Vec<User>>(&bytes).is_ok());
    let mut group = c.benchmark_group("decode_valid_10k");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("serde_json::from_slice (baseline)", |b| {
        b.iter(|| serde_json::from_slice::<Vec<User>>(black_box(&bytes)).expect("valid"))
    });
    group.bench_function("lfts::decode", |b| {
        b.iter(|| lfts::decode::<Vec<User>>(black_box(&bytes)).expect("valid"))
    });
    group.finish();
}

fn validate_value(c: &mut Criterion) {
    let value = Value::Array(users(None));
    let schema = <Vec<User> as Schema>::schema();
    assert!(schema.validate(&value).is_ok());
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&hand_written_json_schema())
        .expect("schema compiles");
    assert!(validator.is_valid(&value));
    let mut group = c.benchmark_group("validate_value_10k");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("jsonschema is_valid (baseline)", |b| {
        b.iter(|| validator.is_valid(black_box(&value)))
    });
    group.bench_function("lfts TypeObject::validate", |b| {
        b.iter(|| schema.validate(black_box(&value)).is_ok())
    });
    group.finish();
}

fn decode_invalid(c: &mut Criterion) {
    let valid = serde_json::to_vec(&users(None)).expect("serializable");
    let invalid = serde_json::to_vec(&users(Some(RECORDS / 2))).expect("serializable");
    let errors = lfts::decode::<Vec<User>>(&invalid).expect_err("one bad email");
    assert_eq!(errors.len(), 1, "{errors}");
    // A type error takes the slow path: serde fails, then the interpreter reports everything.
    let mut wrong = users(None);
    wrong[RECORDS / 2]["id"] = json!("not a number");
    let wrong_type = serde_json::to_vec(&wrong).expect("serializable");
    let errors = lfts::decode::<Vec<User>>(&wrong_type).expect_err("one wrong type");
    assert_eq!(errors.len(), 1, "{errors}");
    let mut group = c.benchmark_group("decode_invalid_10k");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("lfts::decode valid (reference)", |b| {
        b.iter(|| lfts::decode::<Vec<User>>(black_box(&valid)).expect("valid"))
    });
    group.bench_function("lfts::decode one bad email, all errors", |b| {
        b.iter(|| lfts::decode::<Vec<User>>(black_box(&invalid)).expect_err("invalid"))
    });
    group.bench_function("lfts::decode one wrong type, all errors", |b| {
        b.iter(|| lfts::decode::<Vec<User>>(black_box(&wrong_type)).expect_err("invalid"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode_valid, validate_value, decode_invalid
}
criterion_main!(benches);
