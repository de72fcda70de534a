//! [`parse_value`]: JSON bytes to a `serde_json::Value`, refusing duplicate object keys.
//!
//! serde_json's own `Value` keeps the last of two equal keys, while a derived `Deserialize`
//! refuses them ("duplicate field"). Every path from bytes to a `Value` in lfts goes through
//! here, so that the typed path and the `Value` path agree: a document with a duplicate key is
//! refused on both (RFC 8259 leaves duplicates to the reader; lfts reads them as an error).
//!
//! A `Value` takes more memory than the text it came from (32 bytes per value, plus map and
//! string overhead: `[0,0,0,…]` costs about 16× its size), so a peer that sends a large
//! document that fails the typed decode could make the reader hold many times the body limit.
//! [`parse_value_within`] bounds that: past a budget of bytes the parse stops with an error.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON document (serde_json's grammar and its nesting limit of 128),
/// refusing an object with two equal keys.
///
/// ```
/// let ok = lfts::validate::parse_value(br#"{"a": 1, "b": [true, null]}"#).unwrap();
/// assert_eq!(ok["b"][0], true);
/// let error = lfts::validate::parse_value(br#"{"a": 1, "a": 2}"#).unwrap_err();
/// assert!(error.to_string().contains("duplicate key `a`"));
/// ```
pub fn parse_value(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    parse_value_within(bytes, usize::MAX)
}

/// [`parse_value`], giving up once the `Value` would take more than about `max_bytes` of
/// memory (each value counts 32 bytes, each string and key its length, each object entry 64
/// bytes of map overhead).
///
/// ```
/// let ok = lfts::validate::parse_value_within(b"[1, 2, 3]", 1024).unwrap();
/// assert_eq!(ok.as_array().map(Vec::len), Some(3));
/// let zeros = format!("[{}0]", "0,".repeat(10_000));
/// let error = lfts::validate::parse_value_within(zeros.as_bytes(), 64 * 1024).unwrap_err();
/// assert!(error.to_string().contains("memory"));
/// ```
pub fn parse_value_within(bytes: &[u8], max_bytes: usize) -> Result<Value, serde_json::Error> {
    let budget = Cell::new(max_bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { budget: &budget }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// What a `Value` node costs, beside its strings.
const VALUE_COST: usize = std::mem::size_of::<Value>();
/// What an object entry costs beside its key and value (the map's own bookkeeping).
const ENTRY_COST: usize = 64;

/// Deserializes a `Value` the way serde_json does, but refuses duplicate keys and stops when
/// its memory budget runs out.
#[derive(Clone, Copy)]
struct Strict<'b> {
    budget: &'b Cell<usize>,
}

impl Strict<'_> {
    fn spend<E: de::Error>(self, bytes: usize) -> Result<(), E> {
        match self.budget.get().checked_sub(bytes) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(E::custom(
                "the document needs more memory to inspect than the reader allows",
            )),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            self.spend(VALUE_COST)?;
            let Some(item) = seq.next_element_seed(self)? else {
                break;
            };
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            self.spend(ENTRY_COST + VALUE_COST + key.len())?;
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_serde_json_on_documents_without_duplicates() {
        for text in [
            "null",
            "true",
            "-0",
            "1.5e300",
            "18446744073709551615",
            "-9223372036854775808",
            r#""é\u0000""#,
            r#"{"a":{"b":[1,{"c":null}]},"d":"x"}"#,
            "[]",
            "{}",
        ] {
            let ours = parse_value(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn refuses_duplicates_at_any_depth_and_trailing_bytes() {
        for text in [
            r#"{"a":1,"a":1}"#,
            r#"{"x":[{"k":1,"k":2}]}"#,
            r#"{"a":1} {"#,
        ] {
            assert!(parse_value(text.as_bytes()).is_err(), "{text}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse_value(deep.as_bytes()).is_err());
    }
}
