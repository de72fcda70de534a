//! The refinement checks, shared by the interpreter (over JSON values) and by derived
//! [`Schema::check`](crate::Schema::check) impls (over typed values), so both report the same
//! errors in the same words.

use crate::schema::Refinement;

use super::formats;

/// The part of a value a refinement looks at.
#[derive(Debug, Clone, Copy)]
pub enum View<'a> {
    /// A string.
    Str(&'a str),
    /// A number.
    Num(f64),
    /// A collection with this many items.
    Items(usize),
}

/// Why a refinement failed: what it expected and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What the refinement wanted (`"string of at least 3 characters"`).
    pub expected: String,
    /// What the value was (`"string of 2 characters"`).
    pub found: String,
    /// A sentence a person can read.
    pub message: String,
}

/// `"1 character"`, `"3 characters"`.
fn count(n: impl Into<u64>, unit: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("{n} {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn fail(expected: String, found: String, message: String) -> Option<Failure> {
    Some(Failure {
        expected,
        found,
        message,
    })
}

fn describe_str(s: &str) -> String {
    const SHOWN: usize = 40;
    if s.chars().count() <= SHOWN {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

/// Checks one refinement against a view of a value; `None` when it holds.
///
/// A refinement that does not apply to the view (a length on a number) is reported as a
/// failure: a schema that says so is wrong about the value.
pub fn check(refinement: &Refinement, view: View<'_>) -> Option<Failure> {
    match (refinement, view) {
        (Refinement::Min(min), View::Num(x)) => (x < *min).then(|| Failure {
            expected: format!("number >= {min}"),
            found: format!("{x}"),
            message: format!("must be at least {min}"),
        }),
        (Refinement::Max(max), View::Num(x)) => (x > *max).then(|| Failure {
            expected: format!("number <= {max}"),
            found: format!("{x}"),
            message: format!("must be at most {max}"),
        }),
        (Refinement::Integer, View::Num(x)) => {
            (x.fract() != 0.0 || !x.is_finite()).then(|| Failure {
                expected: "integer".into(),
                found: format!("{x}"),
                message: "must be a whole number".into(),
            })
        }
        (Refinement::Positive, View::Num(x)) => (x <= 0.0 || x.is_nan()).then(|| Failure {
            expected: "number > 0".into(),
            found: format!("{x}"),
            message: "must be positive".into(),
        }),
        (Refinement::Negative, View::Num(x)) => (x >= 0.0 || x.is_nan()).then(|| Failure {
            expected: "number < 0".into(),
            found: format!("{x}"),
            message: "must be negative".into(),
        }),
        (Refinement::MinLength(n), View::Str(s)) => {
            // A character is 1 to 4 bytes: the byte length settles most cases without counting.
            let bytes = s.len() as u64;
            if bytes < *n || (bytes < n.saturating_mul(4) && (s.chars().count() as u64) < *n) {
                let len = s.chars().count();
                fail(
                    format!("string of at least {}", count(*n, "character")),
                    format!("string of {}", count(len as u64, "character")),
                    format!("must be at least {} long", count(*n, "character")),
                )
            } else {
                None
            }
        }
        (Refinement::MaxLength(n), View::Str(s)) => {
            if (s.len() as u64) > *n && (s.chars().count() as u64) > *n {
                let len = s.chars().count();
                fail(
                    format!("string of at most {}", count(*n, "character")),
                    format!("string of {}", count(len as u64, "character")),
                    format!("must be at most {} long", count(*n, "character")),
                )
            } else {
                None
            }
        }
        (Refinement::NonEmpty, View::Str(s)) => s.is_empty().then(|| Failure {
            expected: "non-empty string".into(),
            found: "empty string".into(),
            message: "must not be empty".into(),
        }),
        (Refinement::Email, View::Str(s)) => (!formats::is_email(s)).then(|| Failure {
            expected: "string (email)".into(),
            found: describe_str(s),
            message: "must be an email address".into(),
        }),
        (Refinement::Url, View::Str(s)) => (!formats::is_url(s)).then(|| Failure {
            expected: "string (url)".into(),
            found: describe_str(s),
            message: "must be an http or https URL".into(),
        }),
        (Refinement::Uuid, View::Str(s)) => (!formats::is_uuid(s)).then(|| Failure {
            expected: "string (uuid)".into(),
            found: describe_str(s),
            message: "must be a UUID".into(),
        }),
        (Refinement::Pattern(p), View::Str(s)) => (!p.is_match(s)).then(|| Failure {
            expected: format!("string matching /{}/", p.as_str()),
            found: describe_str(s),
            message: format!("must match the pattern /{}/", p.as_str()),
        }),
        (Refinement::MinItems(n), View::Items(len)) => ((len as u64) < *n).then(|| Failure {
            expected: format!("at least {}", count(*n, "item")),
            found: count(len as u64, "item"),
            message: format!("must have at least {}", count(*n, "item")),
        }),
        (Refinement::MaxItems(n), View::Items(len)) => ((len as u64) > *n).then(|| Failure {
            expected: format!("at most {}", count(*n, "item")),
            found: count(len as u64, "item"),
            message: format!("must have at most {}", count(*n, "item")),
        }),
        (Refinement::NonEmpty, View::Items(len)) => (len == 0).then(|| Failure {
            expected: "at least 1 item".into(),
            found: "0 items".into(),
            message: "must not be empty".into(),
        }),
        (r, v) => fail(
            format!("a value {} applies to", r.op()),
            match v {
                View::Str(_) => "string".into(),
                View::Num(_) => "number".into(),
                View::Items(_) => "collection".into(),
            },
            format!("{} does not apply to this value", r.op()),
        ),
    }
}
