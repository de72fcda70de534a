//! Validation errors and the paths that locate them.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// The most errors one validation collects; past it, [`ValidationErrors::truncated`] is set.
pub const MAX_ERRORS: usize = 100;

/// One segment of a [`Path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key (wire name).
    Key(Cow<'static, str>),
    /// An array index.
    Index(usize),
}

/// Where a value sits inside a document, built while walking it; rendered as a JSON Pointer
/// (RFC 6901) with wire names, such as `/users/0/email`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path {
    segments: Vec<Segment>,
}

impl Path {
    /// The empty path: the document root.
    pub fn new() -> Path {
        Path::default()
    }

    /// Enters an object key.
    pub fn push_key(&mut self, key: impl Into<Cow<'static, str>>) {
        self.segments.push(Segment::Key(key.into()));
    }

    /// Enters an array index.
    pub fn push_index(&mut self, index: usize) {
        self.segments.push(Segment::Index(index));
    }

    /// Leaves the innermost segment.
    pub fn pop(&mut self) {
        self.segments.pop();
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The JSON Pointer for this path (`""` for the root).
    pub fn to_pointer(&self) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            match seg {
                Segment::Key(k) => push_escaped(&mut out, k),
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_pointer())
    }
}

/// Appends `key` to a JSON Pointer, escaping `~` and `/` as RFC 6901 says.
pub fn push_escaped(out: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// One way a value failed its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// JSON Pointer to the offending value, in wire names (`/users/0/email`).
    pub path: String,
    /// What the schema wanted there (`"string (email)"`, `"u8"`).
    pub expected: String,
    /// What was there (`"number 300"`, `"null"`, `"missing"`).
    pub found: String,
    /// A sentence a person can read.
    pub message: String,
    /// For a value no alternative of an untagged union accepted: the alternative that came
    /// closest (fewest errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closest_variant: Option<String>,
}

impl ValidationError {
    /// An error at `path`.
    pub fn new(
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
        message: impl Into<String>,
    ) -> ValidationError {
        ValidationError {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
            message: message.into(),
            closest_variant: None,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        write!(
            f,
            "{at}: {} (expected {}, found {})",
            self.message, self.expected, self.found
        )?;
        if let Some(closest) = &self.closest_variant {
            write!(f, "; closest variant: {closest}")?;
        }
        Ok(())
    }
}

/// Every error one validation found, in document order, capped at [`MAX_ERRORS`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors {
    errors: Vec<ValidationError>,
    /// More errors were found than were kept.
    truncated: bool,
}

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> ValidationErrors {
        ValidationErrors::default()
    }

    /// A list holding one error.
    pub fn single(error: ValidationError) -> ValidationErrors {
        let mut errors = ValidationErrors::new();
        errors.push(error);
        errors
    }

    /// Adds an error, or marks the list truncated once it is full.
    pub fn push(&mut self, error: ValidationError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        } else {
            self.truncated = true;
        }
    }

    /// Adds an error at `path` (the common case for [`Schema::check`](crate::Schema::check)).
    pub fn add(
        &mut self,
        path: &Path,
        expected: impl Into<String>,
        found: impl Into<String>,
        message: impl Into<String>,
    ) {
        if self.is_full() {
            self.truncated = true;
            return;
        }
        self.push(ValidationError::new(
            path.to_pointer(),
            expected,
            found,
            message,
        ));
    }

    /// Whether no more errors will be kept; walkers stop early once it is.
    pub fn is_full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }

    /// Whether there are no errors.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// How many errors were kept.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether errors were dropped past [`MAX_ERRORS`].
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The errors, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.errors.iter()
    }

    /// The errors as a slice.
    pub fn as_slice(&self) -> &[ValidationError] {
        &self.errors
    }

    /// Appends another list's errors.
    pub fn extend(&mut self, other: ValidationErrors) {
        for e in other.errors {
            self.push(e);
        }
        self.truncated |= other.truncated;
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.len() {
            0 => return f.write_str("no validation errors"),
            1 => f.write_str("1 validation error:")?,
            n => write!(f, "{n} validation errors:")?,
        }
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        if self.truncated {
            write!(f, "\n  … more errors were not kept (limit {MAX_ERRORS})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
