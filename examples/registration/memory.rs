//! In-memory implementations of the three ports: what the example's servers expose, and what
//! the tests run the workflow against in-process.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::domain::{
    AuditAck, AuditError, AuditEvent, AuditService, CreateUserError, Email, EmailError,
    EmailReceipt, EmailService, GetUserError, User, UserId, UserService,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Users in a vector; emails are unique, compared without regard to case.
#[derive(Debug, Default)]
pub struct InMemoryUsers {
    users: Mutex<Vec<User>>,
}

impl InMemoryUsers {
    /// Every user, in creation order.
    pub fn users(&self) -> Vec<User> {
        lock(&self.users).clone()
    }
}

impl UserService for InMemoryUsers {
    async fn create_user(&self, name: String, email: Email) -> Result<User, CreateUserError> {
        let mut users = lock(&self.users);
        if users
            .iter()
            .any(|u| u.email.0.eq_ignore_ascii_case(&email.0))
        {
            return Err(CreateUserError::UserAlreadyExists { email });
        }
        let user = User {
            id: UserId(format!("usr_{}", users.len() + 1)),
            name,
            email,
        };
        users.push(user.clone());
        Ok(user)
    }

    async fn get_user(&self, id: UserId) -> Result<User, GetUserError> {
        lock(&self.users)
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .ok_or(GetUserError::NotFound { id })
    }
}

/// An outbox instead of a mail server.
#[derive(Debug, Default)]
pub struct InMemoryEmail {
    outbox: Mutex<Vec<(EmailReceipt, String)>>,
}

impl InMemoryEmail {
    /// Every message sent: its receipt and the name it greeted.
    pub fn outbox(&self) -> Vec<(EmailReceipt, String)> {
        lock(&self.outbox).clone()
    }
}

impl EmailService for InMemoryEmail {
    async fn send_welcome(&self, to: Email, name: String) -> Result<EmailReceipt, EmailError> {
        if to.0.ends_with("@blocked.example") {
            return Err(EmailError::Rejected {
                reason: format!("{to} does not accept mail"),
            });
        }
        let mut outbox = lock(&self.outbox);
        let receipt = EmailReceipt {
            message_id: format!("msg_{}", outbox.len() + 1),
            to,
        };
        outbox.push((receipt.clone(), name));
        Ok(receipt)
    }
}

/// An append-only trail in memory.
#[derive(Debug, Default)]
pub struct InMemoryAudit {
    events: Mutex<Vec<AuditEvent>>,
}

impl InMemoryAudit {
    /// Every event recorded, in order.
    pub fn events(&self) -> Vec<AuditEvent> {
        lock(&self.events).clone()
    }
}

impl AuditService for InMemoryAudit {
    async fn record(&self, event: AuditEvent) -> Result<AuditAck, AuditError> {
        let mut events = lock(&self.events);
        events.push(event);
        Ok(AuditAck {
            sequence: u64::try_from(events.len()).unwrap_or(u64::MAX),
        })
    }
}
