//! The registration workflow: a pure function over the port traits.
//!
//! It knows nothing of HTTP, servers or mocks: the same code runs against in-process
//! implementations, generated clients wrapped in resilience layers, or `Mock*` ports in tests.

use std::time::{SystemTime, UNIX_EPOCH};

use lfts::result::{BestEffort, best_effort};
use lfts::{NetworkError, RemoteError, ValidationErrors};
use serde::Serialize;
use serde_json::Value;

use crate::domain::{
    AuditAction, AuditEvent, AuditService, CreateUserError, Email, EmailService, RegistrationInput,
    User, UserService,
};

/// Where timestamps come from; a plain trait, not a port: it is never remote.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// What the workflow depends on: one implementation of each port, and a clock.
pub struct Deps<U, E, A, C> {
    pub users: U,
    pub email: E,
    pub audit: A,
    pub clock: C,
}

/// A successful registration. `degraded` says that a best-effort step failed; `warnings`
/// says which and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub user: User,
    pub email_sent: bool,
    pub audit_recorded: bool,
    pub degraded: bool,
    pub warnings: Vec<Warning>,
    /// Milliseconds since the Unix epoch.
    pub registered_at: u64,
}

/// A best-effort step of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    WelcomeEmail,
    AuditRecord,
}

/// A best-effort step that failed without failing the registration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub step: Step,
    pub message: String,
    /// The network failure, when the step failed on the way rather than in the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkError>,
}

/// Why a registration failed.
///
/// `Network` holds its `NetworkError` in a field rather than as a newtype: serde's internal
/// `type` tag would otherwise collide with the `type` tag of the `NetworkError` itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RegistrationError {
    /// The input failed validation; every error, each with its JSON Pointer path.
    Invalid(ValidationErrors),
    /// Someone already registered with this email.
    UserAlreadyExists { email: Email },
    /// The user service could not be reached (after the resilience layers gave up).
    Network { error: NetworkError },
}

/// Registers a user from untrusted JSON.
///
/// 1. Validates the input against `RegistrationInput`'s schema, reporting every error.
/// 2. Creates the user: critical, its failure is the result.
/// 3. Sends the welcome email and records the audit event *in parallel*, both best-effort: a
///    failure is a warning and marks the registration `degraded`, never fails it.
pub async fn register_user<U, E, A, C>(
    deps: &Deps<U, E, A, C>,
    input: &Value,
) -> Result<Registration, RegistrationError>
where
    U: UserService,
    E: EmailService,
    A: AuditService,
    C: Clock,
{
    let input: RegistrationInput = lfts::validate(input).map_err(RegistrationError::Invalid)?;

    let user = deps
        .users
        .create_user(input.name, input.email)
        .await
        .map_err(|e| match e {
            CreateUserError::UserAlreadyExists { email } => {
                RegistrationError::UserAlreadyExists { email }
            }
            CreateUserError::Network { error } => RegistrationError::Network { error },
        })?;

    let registered_at = deps.clock.now_ms();
    let event = AuditEvent {
        action: AuditAction::UserRegistered,
        user_id: user.id.clone(),
        at: registered_at,
    };
    let (email, audit) = tokio::join!(
        best_effort(
            deps.email
                .send_welcome(user.email.clone(), user.name.clone())
        ),
        best_effort(deps.audit.record(event)),
    );

    let mut warnings = Vec::new();
    let email_sent = record(Step::WelcomeEmail, &email, &mut warnings);
    let audit_recorded = record(Step::AuditRecord, &audit, &mut warnings);
    Ok(Registration {
        user,
        email_sent,
        audit_recorded,
        degraded: !warnings.is_empty(),
        warnings,
        registered_at,
    })
}

/// Whether a best-effort step succeeded; a warning for it if not.
fn record<T, E>(step: Step, outcome: &BestEffort<T, E>, warnings: &mut Vec<Warning>) -> bool
where
    E: RemoteError + std::fmt::Display,
{
    match &outcome.error {
        None => true,
        Some(error) => {
            warnings.push(Warning {
                step,
                message: error.to_string(),
                network: error.network().cloned(),
            });
            false
        }
    }
}
