//! The domain, described once: the types every service exchanges and the three ports.
//!
//! Everything here is plain Rust. `#[derive(Schema)]` gives each type a validator and a schema
//! that describe exactly the JSON serde reads and writes; `#[lfts::port]` gives each trait an
//! HTTP client, a server, a mock and a descriptor.

use std::fmt;

use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};

// ----- values -----------------------------------------------------------------------------------

/// A user's identifier, as the user service assigns it (`usr_1`, `usr_2`…). Branded, so that
/// the schema names it and it cannot be mixed up with any other string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Schema)]
#[lfts(brand = "UserId")]
pub struct UserId(#[lfts(pattern = "^usr_[0-9]+$")] pub String);

/// An email address; the refinement is checked wherever an `Email` is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Schema)]
pub struct Email(#[lfts(email)] pub String);

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client sends to register: untrusted until `lfts::validate` has accepted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrationInput {
    #[lfts(min_len = 1, max_len = 100)]
    pub name: String,
    pub email: Email,
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    #[lfts(min_len = 1, max_len = 100)]
    pub name: String,
    pub email: Email,
}

/// Proof that the email service accepted a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct EmailReceipt {
    #[lfts(min_len = 1)]
    pub message_id: String,
    pub to: Email,
}

/// What happened, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    UserRegistered,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub action: AuditAction,
    pub user_id: UserId,
    /// Milliseconds since the Unix epoch, from the workflow's [`Clock`](crate::workflow::Clock).
    pub at: u64,
}

/// The audit service's acknowledgement: the event's position in the trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "camelCase")]
pub struct AuditAck {
    pub sequence: u64,
}

// ----- errors -------------------------------------------------------------------------------------
//
// Each port's error type is a domain error that can also hold a `NetworkError`
// (`#[lfts(network)]`), so a failed remote call is a value the caller matches on.

/// Why `create_user` failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CreateUserError {
    /// The email is taken; sent as HTTP 409.
    #[lfts(status = 409)]
    UserAlreadyExists { email: Email },
    #[lfts(network)]
    Network { error: NetworkError },
}

/// Why `get_user` failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GetUserError {
    #[lfts(status = 404)]
    NotFound { id: UserId },
    #[lfts(network)]
    Network { error: NetworkError },
}

/// Why the welcome email was not sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EmailError {
    /// The mail provider refused the recipient.
    Rejected { reason: String },
    #[lfts(network)]
    Network { error: NetworkError },
}

/// Why the audit event was not recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditError {
    /// The audit trail refused the event.
    Rejected { reason: String },
    #[lfts(network)]
    Network { error: NetworkError },
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::Rejected { reason } => write!(f, "EmailService: rejected: {reason}"),
            EmailError::Network { error } => error.fmt(f),
        }
    }
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Rejected { reason } => write!(f, "AuditService: rejected: {reason}"),
            AuditError::Network { error } => error.fmt(f),
        }
    }
}

// ----- ports ----------------------------------------------------------------------------------

/// Owns users.
#[lfts::port]
pub trait UserService: Send + Sync {
    /// Creates a user; `user_already_exists` when the email is taken.
    async fn create_user(&self, name: String, email: Email) -> Result<User, CreateUserError>;

    /// Reads a user back; safe to replay.
    #[lfts(idempotent)]
    async fn get_user(&self, id: UserId) -> Result<User, GetUserError>;
}

/// Sends email.
#[lfts::port]
pub trait EmailService: Send + Sync {
    /// Sends the welcome message to a new user.
    async fn send_welcome(&self, to: Email, name: String) -> Result<EmailReceipt, EmailError>;
}

/// Keeps the audit trail.
#[lfts::port]
pub trait AuditService: Send + Sync {
    /// Appends an event to the trail.
    async fn record(&self, event: AuditEvent) -> Result<AuditAck, AuditError>;
}
