//! Validation: the interpreter over `serde_json::Value`, typed `validate`/`decode`/`check`,
//! and the errors they report.
//!
//! Every entry point reports *all* errors (up to [`MAX_ERRORS`]), each with a JSON Pointer
//! path in wire names. Nesting is bounded by [`MAX_DEPTH`], so hostile input gets an error,
//! never a stack overflow.

mod error;
pub mod formats;
mod interp;
pub mod refine;
mod strict;

pub use error::{MAX_ERRORS, Path, Segment, ValidationError, ValidationErrors, push_escaped};
pub use strict::{parse_value, parse_value_within};

use serde::de::DeserializeOwned;

use crate::schema::{Schema, TypeObject};

/// The deepest nesting of arrays and objects the interpreter walks into. It matches
/// serde_json's own recursion limit, so both sides reject the same documents.
pub const MAX_DEPTH: usize = 128;

/// Validates `value` against `T`'s schema, reporting every error, then deserializes it.
///
/// Accepts exactly what `serde_json::from_value::<T>` accepts, less what the refinements
/// (`#[lfts(email)]`, lengths, ranges…) reject.
pub fn validate<T: Schema + DeserializeOwned + 'static>(
    value: &serde_json::Value,
) -> Result<T, ValidationErrors> {
    T::schema().validate(value)?;
    T::deserialize(value).map_err(|e| serde_disagrees(&e))
}

/// Decodes `T` from JSON bytes, the fast path for trusted-shape input.
///
/// It takes serde_json's typed path first and checks refinements on the typed value; only when
/// that fails does it parse a `Value` and run the interpreter, to report every error.
pub fn decode<T: Schema + DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T, ValidationErrors> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(value) => {
            check(&value)?;
            Ok(value)
        }
        Err(typed) => {
            let value = parse_value(bytes).map_err(|e| syntax_error(&e))?;
            T::schema().validate(&value)?;
            // The interpreter found nothing but serde refused: report serde's own reason.
            Err(serde_disagrees(&typed))
        }
    }
}

/// Checks the refinements of a typed value.
pub fn check<T: Schema + ?Sized>(value: &T) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut path = Path::new();
    value.check(&mut errors, &mut path);
    errors.into_result()
}

impl TypeObject {
    /// Validates an untyped value against this schema, reporting every error.
    pub fn validate(&self, value: &serde_json::Value) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        interp::validate(self, value, &mut errors);
        errors.into_result()
    }
}

/// A JSON syntax error (or serde_json's depth limit) as a validation error at the root.
pub(crate) fn syntax_error(e: &serde_json::Error) -> ValidationErrors {
    ValidationErrors::single(ValidationError::new(
        "",
        "well-formed JSON",
        format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
        format!("the input is not valid JSON: {e}"),
    ))
}

/// serde refused a value the interpreter accepted; report serde's message.
fn serde_disagrees(e: &serde_json::Error) -> ValidationErrors {
    ValidationErrors::single(ValidationError::new(
        "",
        "a value serde can deserialize",
        "a value serde rejected",
        e.to_string(),
    ))
}
