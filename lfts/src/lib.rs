//! lfts: describe your domain once, in Rust, and get validators, a portable schema bytecode,
//! typed HTTP clients and servers, mocks and resilience layers from it.
//!
//! ```
//! use lfts::Schema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize, Schema)]
//! #[serde(rename_all = "camelCase")]
//! struct NewUser {
//!     #[lfts(min_len = 1, max_len = 100)]
//!     display_name: String,
//!     #[lfts(email)]
//!     email: String,
//!     #[lfts(min = 13, max = 150)]
//!     age: u8,
//! }
//!
//! let ok = serde_json::json!({"displayName": "Ada", "email": "ada@example.com", "age": 36});
//! let user: NewUser = lfts::validate(&ok).unwrap();
//! assert_eq!(user.age, 36);
//!
//! let bad = serde_json::json!({"displayName": "", "email": "nope", "age": 300});
//! let errors = lfts::validate::<NewUser>(&bad).unwrap_err();
//! let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
//! assert_eq!(paths, ["/displayName", "/email", "/age"]);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod context;
pub mod http;
pub mod mock;
pub mod port;
pub mod resilience;
pub mod result;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validate;

#[doc(hidden)]
pub mod __private;

pub use context::Context;
pub use lfts_macros::{Schema, port};
pub use schema::{Schema, TypeObject};
pub use validate::{Path, ValidationError, ValidationErrors, check, decode, validate};

pub use port::{MethodInfo, NetworkError, Port, PortDescriptor, RemoteError};
pub use resilience::{Layer, LayerExt, Layered};
