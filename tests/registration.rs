//! The registration example's workflow (`examples/registration/`), each scenario tested twice:
//! on the generated `Mock*` ports (no network, tokio's paused clock wherever a timeout or a
//! retry runs) and on real loopback servers through the generated HTTP clients wrapped in
//! `Timeout` and `Retry`.
//!
//! The loopback tests run on the real clock: with a paused clock tokio jumps to the next timer
//! whenever every task waits on a socket, so a per-attempt timeout would fire while a loopback
//! request is in flight. Their retry delays are a few milliseconds instead.

#[path = "../examples/registration/domain.rs"]
mod domain;
#[path = "../examples/registration/memory.rs"]
mod memory;
#[path = "../examples/registration/workflow.rs"]
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use lfts::http::{HttpConfig, ServerHandle, serve};
use lfts::resilience::{Retry, Timeout};
use lfts::{LayerExt, Layered, NetworkError};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use domain::{
    AuditAck, AuditAction, AuditError, AuditServiceClient, AuditServiceServer, CreateUserError,
    Email, EmailError, EmailReceipt, EmailServiceClient, EmailServiceServer, MockAuditService,
    MockEmailService, MockUserService, User, UserId, UserServiceClient, UserServiceServer,
};
use memory::{InMemoryAudit, InMemoryEmail, InMemoryUsers};
use workflow::{Clock, Deps, Registration, RegistrationError, Step, SystemClock, register_user};

/// The instant every mock registration happens at.
const NOW: u64 = 1_700_000_000_000;

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy)]
struct FixedClock(u64);

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.0
    }
}

type Resilient<P> = Layered<Layered<P, Timeout>, Retry>;

/// The example's stack: a per-attempt timeout inside a 3-attempt retry.
fn resilient<P>(port: P) -> Resilient<P> {
    port.layer(Timeout::per_attempt(Duration::from_millis(500)))
        .layer(
            Retry::exponential()
                .max_attempts(3)
                .base_delay(Duration::from_millis(5))
                .max_delay(Duration::from_millis(20)),
        )
}

fn ada() -> Value {
    json!({"name": "Ada Lovelace", "email": "ada@example.com"})
}

fn email(s: &str) -> Email {
    Email(s.to_owned())
}

fn refused(service: &str) -> NetworkError {
    NetworkError::ConnectionRefused {
        service: service.to_owned(),
        host: "127.0.0.1:9".to_owned(),
    }
}

fn paths(error: &RegistrationError) -> Vec<String> {
    match error {
        RegistrationError::Invalid(errors) => errors.iter().map(|e| e.path.clone()).collect(),
        other => panic!("expected validation errors, got {other:?}"),
    }
}

/// Invalid inputs and the paths of every error each one must report.
fn invalid_inputs() -> Vec<(Value, Vec<&'static str>)> {
    vec![
        (
            json!({"name": "", "email": "not-an-email"}),
            vec!["/name", "/email"],
        ),
        (
            json!({"name": "x".repeat(101), "email": "a@b.co"}),
            vec!["/name"],
        ),
        (json!({"email": 42}), vec!["/name", "/email"]),
        (
            json!({"name": "Ada", "email": "ada@example.com", "admin": true}),
            vec!["/admin"],
        ),
        (json!([1, 2]), vec![""]),
    ]
}

// =============================================================================================
// On mocks
// =============================================================================================

fn users_ok() -> MockUserService {
    MockUserService::new().on_create_user(|name, email| async move {
        Ok(User {
            id: UserId("usr_1".to_owned()),
            name,
            email,
        })
    })
}

fn email_ok() -> MockEmailService {
    MockEmailService::new().on_send_welcome(|to, _name| async move {
        Ok(EmailReceipt {
            message_id: "msg_1".to_owned(),
            to,
        })
    })
}

fn audit_ok() -> MockAuditService {
    MockAuditService::new().on_record(|_event| async { Ok(AuditAck { sequence: 1 }) })
}

fn mocks<U, E, A>(users: U, email: E, audit: A) -> Deps<U, E, A, FixedClock> {
    Deps {
        users,
        email,
        audit,
        clock: FixedClock(NOW),
    }
}

#[tokio::test]
async fn mock_success() {
    let deps = mocks(users_ok(), email_ok(), audit_ok());
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert_eq!(
        registration,
        Registration {
            user: User {
                id: UserId("usr_1".to_owned()),
                name: "Ada Lovelace".to_owned(),
                email: email("ada@example.com"),
            },
            email_sent: true,
            audit_recorded: true,
            degraded: false,
            warnings: vec![],
            registered_at: NOW,
        }
    );
    assert_eq!(
        serde_json::to_value(&registration).unwrap(),
        json!({
            "user": {"id": "usr_1", "name": "Ada Lovelace", "email": "ada@example.com"},
            "emailSent": true,
            "auditRecorded": true,
            "degraded": false,
            "warnings": [],
            "registeredAt": NOW,
        })
    );
    // Each port was called once, with what the workflow derived from the input.
    assert_eq!(
        deps.users.calls()[0].args,
        json!({"name": "Ada Lovelace", "email": "ada@example.com"})
    );
    assert_eq!(
        deps.email.calls()[0].args,
        json!({"to": "ada@example.com", "name": "Ada Lovelace"})
    );
    assert_eq!(
        deps.audit.calls()[0].args,
        json!({"event": {"action": "user_registered", "userId": "usr_1", "at": NOW}})
    );
    assert_eq!(deps.users.calls().len(), 1);
    assert_eq!(deps.email.call_count("send_welcome"), 1);
    assert_eq!(deps.audit.call_count("record"), 1);
}

#[tokio::test]
async fn mock_email_failing_degrades() {
    let down = MockEmailService::new().on_send_welcome(|_to, _name| async {
        Err(EmailError::Network {
            error: refused("EmailService"),
        })
    });
    let deps = mocks(users_ok(), down, audit_ok());
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert!(!registration.email_sent);
    assert!(registration.audit_recorded);
    assert!(registration.degraded);
    assert_eq!(registration.warnings.len(), 1);
    let warning = &registration.warnings[0];
    assert_eq!(warning.step, Step::WelcomeEmail);
    assert_eq!(warning.network, Some(refused("EmailService")));
    let json = serde_json::to_value(&registration).unwrap();
    assert_eq!(json["emailSent"], json!(false));
    assert_eq!(json["degraded"], json!(true));
    assert_eq!(json["warnings"][0]["step"], json!("welcome_email"));
    assert_eq!(
        json["warnings"][0]["network"]["type"],
        json!("connection_refused")
    );

    // A domain error from the email service degrades the same way, without a network error.
    let rejecting = MockEmailService::new().on_send_welcome(|_to, _name| async {
        Err(EmailError::Rejected {
            reason: "mailbox full".to_owned(),
        })
    });
    let deps = mocks(users_ok(), rejecting, audit_ok());
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert!(!registration.email_sent && registration.degraded);
    assert_eq!(registration.warnings[0].network, None);
    assert!(registration.warnings[0].message.contains("mailbox full"));

    // Both best-effort steps failing: two warnings, still registered.
    let email_down = MockEmailService::new().on_send_welcome(|_to, _name| async {
        Err(EmailError::Network {
            error: refused("EmailService"),
        })
    });
    let audit_down = MockAuditService::new().on_record(|_event| async {
        Err(AuditError::Network {
            error: refused("AuditService"),
        })
    });
    let deps = mocks(users_ok(), email_down, audit_down);
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert!(!registration.email_sent && !registration.audit_recorded);
    let steps: Vec<Step> = registration.warnings.iter().map(|w| w.step).collect();
    assert_eq!(steps, [Step::WelcomeEmail, Step::AuditRecord]);
}

#[tokio::test(start_paused = true)]
async fn mock_email_hanging_times_out_through_the_layers() {
    let hanging = MockEmailService::new().on_send_welcome(|to, _name| async move {
        sleep(Duration::from_secs(3600)).await;
        Ok(EmailReceipt {
            message_id: "late".to_owned(),
            to,
        })
    });
    let deps = mocks(users_ok(), resilient(hanging), audit_ok());
    let started = Instant::now();
    let registration = register_user(&deps, &ada()).await.unwrap();
    let took = started.elapsed();
    assert!(!registration.email_sent && registration.audit_recorded && registration.degraded);
    assert_eq!(
        registration.warnings[0].network,
        Some(NetworkError::Timeout {
            service: "EmailService".to_owned(),
            ms: 500
        })
    );
    // Three attempts of 500 ms each, plus two short backoffs.
    assert_eq!(deps.email.inner().inner().call_count("send_welcome"), 3);
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took <= Duration::from_millis(1500 + 5 + 10), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn mock_email_and_audit_run_in_parallel() {
    let slow_email = MockEmailService::new().on_send_welcome(|to, _name| async move {
        sleep(Duration::from_secs(1)).await;
        Ok(EmailReceipt {
            message_id: "msg_1".to_owned(),
            to,
        })
    });
    let slow_audit = MockAuditService::new().on_record(|_event| async {
        sleep(Duration::from_secs(1)).await;
        Ok(AuditAck { sequence: 1 })
    });
    let deps = mocks(users_ok(), slow_email, slow_audit);
    let started = Instant::now();
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert!(registration.email_sent && registration.audit_recorded);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn mock_duplicate_email() {
    let taken = MockUserService::new().on_create_user(|_name, email| async move {
        Err(CreateUserError::UserAlreadyExists { email })
    });
    let deps = mocks(taken, email_ok(), audit_ok());
    let error = register_user(&deps, &ada()).await.unwrap_err();
    assert_eq!(
        error,
        RegistrationError::UserAlreadyExists {
            email: email("ada@example.com")
        }
    );
    assert_eq!(
        serde_json::to_value(&error).unwrap(),
        json!({"type": "user_already_exists", "email": "ada@example.com"})
    );
    // The critical step failed: nothing else ran.
    assert_eq!(deps.email.calls().len(), 0);
    assert_eq!(deps.audit.calls().len(), 0);
}

#[tokio::test(start_paused = true)]
async fn mock_user_service_unreachable() {
    let unreachable = MockUserService::new().on_create_user(|_name, _email| async {
        Err(CreateUserError::Network {
            error: refused("UserService"),
        })
    });
    let deps = mocks(resilient(unreachable), email_ok(), audit_ok());
    let error = register_user(&deps, &ada()).await.unwrap_err();
    assert_eq!(
        error,
        RegistrationError::Network {
            error: refused("UserService")
        }
    );
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(json["type"], json!("network"));
    assert_eq!(json["error"]["type"], json!("connection_refused"));
    // Nothing reached a server, so the retry replayed the call until it gave up.
    assert_eq!(deps.users.inner().inner().call_count("create_user"), 3);
    assert_eq!(deps.email.calls().len(), 0);
    assert_eq!(deps.audit.calls().len(), 0);

    // A transient failure that clears is absorbed by the retry.
    let flaky = MockUserService::new().on_create_user({
        let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        move |name, email| {
            let failures = Arc::clone(&failures);
            async move {
                if failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return Err(CreateUserError::Network {
                        error: refused("UserService"),
                    });
                }
                Ok(User {
                    id: UserId("usr_1".to_owned()),
                    name,
                    email,
                })
            }
        }
    });
    let deps = mocks(resilient(flaky), email_ok(), audit_ok());
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert!(!registration.degraded);
    assert_eq!(deps.users.inner().inner().call_count("create_user"), 2);
}

#[tokio::test]
async fn mock_invalid_input() {
    for (input, expected) in invalid_inputs() {
        // Mocks without behaviours: any call would fail the test's expectations below.
        let deps = mocks(
            MockUserService::new(),
            MockEmailService::new(),
            MockAuditService::new(),
        );
        let error = register_user(&deps, &input).await.unwrap_err();
        assert_eq!(paths(&error), expected, "for {input}");
        assert_eq!(deps.users.calls().len(), 0);
        assert_eq!(deps.email.calls().len(), 0);
        assert_eq!(deps.audit.calls().len(), 0);
    }
    let deps = mocks(users_ok(), email_ok(), audit_ok());
    let error = register_user(&deps, &json!({"name": "", "email": "nope"}))
        .await
        .unwrap_err();
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(json["type"], json!("invalid"));
    assert_eq!(json["errors"][0]["path"], json!("/name"));
    assert_eq!(json["errors"][1]["path"], json!("/email"));
    assert_eq!(json["errors"][1]["expected"], json!("string (email)"));
}

// =============================================================================================
// On loopback servers, through the generated clients
// =============================================================================================

/// Three in-memory services, each behind a real server on 127.0.0.1.
struct Services {
    users: Arc<InMemoryUsers>,
    email: Arc<InMemoryEmail>,
    audit: Arc<InMemoryAudit>,
    user_server: ServerHandle,
    email_server: ServerHandle,
    audit_server: ServerHandle,
}

impl Services {
    async fn start() -> Services {
        let users = Arc::new(InMemoryUsers::default());
        let email = Arc::new(InMemoryEmail::default());
        let audit = Arc::new(InMemoryAudit::default());
        let user_server = serve(
            UserServiceServer::from_arc(Arc::clone(&users)).router(),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let email_server = serve(
            EmailServiceServer::from_arc(Arc::clone(&email)).router(),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let audit_server = serve(
            AuditServiceServer::from_arc(Arc::clone(&audit)).router(),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        Services {
            users,
            email,
            audit,
            user_server,
            email_server,
            audit_server,
        }
    }

    async fn stop(self) {
        self.user_server.shutdown().await.unwrap();
        self.email_server.shutdown().await.unwrap();
        self.audit_server.shutdown().await.unwrap();
    }
}

/// A loopback URL nothing listens on.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn config(url: String) -> HttpConfig {
    HttpConfig::new(url).timeout(Duration::from_secs(10))
}

type Clients = Deps<
    Resilient<UserServiceClient>,
    Resilient<EmailServiceClient>,
    Resilient<AuditServiceClient>,
    SystemClock,
>;

fn clients(users: String, email: String, audit: String) -> Clients {
    Deps {
        users: resilient(UserServiceClient::with_config(config(users)).unwrap()),
        email: resilient(EmailServiceClient::with_config(config(email)).unwrap()),
        audit: resilient(AuditServiceClient::with_config(config(audit)).unwrap()),
        clock: SystemClock,
    }
}

fn clients_for(s: &Services) -> Clients {
    clients(
        s.user_server.url(),
        s.email_server.url(),
        s.audit_server.url(),
    )
}

#[tokio::test]
async fn loopback_success() {
    let services = Services::start().await;
    let deps = clients_for(&services);
    for client in [
        deps.users.inner().inner().check_contract().await,
        deps.email.inner().inner().check_contract().await,
        deps.audit.inner().inner().check_contract().await,
    ] {
        let report = client.unwrap();
        assert!(report.matches, "{report:?}");
    }

    let registration = register_user(&deps, &ada()).await.unwrap();
    assert_eq!(
        registration.user,
        User {
            id: UserId("usr_1".to_owned()),
            name: "Ada Lovelace".to_owned(),
            email: email("ada@example.com"),
        }
    );
    assert!(registration.email_sent && registration.audit_recorded);
    assert!(!registration.degraded && registration.warnings.is_empty());
    assert!(registration.registered_at > NOW);

    // What the servers saw.
    assert_eq!(services.users.users(), vec![registration.user.clone()]);
    let outbox = services.email.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].0.to, email("ada@example.com"));
    assert_eq!(outbox[0].1, "Ada Lovelace");
    let events = services.audit.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, AuditAction::UserRegistered);
    assert_eq!(events[0].user_id, registration.user.id);
    assert_eq!(events[0].at, registration.registered_at);
    services.stop().await;
}

#[tokio::test]
async fn loopback_email_failing_degrades() {
    let services = Services::start().await;
    let deps = clients_for(&services);

    // A domain error over the wire (HTTP 422): degraded, not a network failure.
    let blocked = json!({"name": "Eve", "email": "eve@blocked.example"});
    let registration = register_user(&deps, &blocked).await.unwrap();
    assert!(!registration.email_sent && registration.audit_recorded && registration.degraded);
    assert_eq!(registration.warnings[0].step, Step::WelcomeEmail);
    assert_eq!(registration.warnings[0].network, None);
    assert!(services.email.outbox().is_empty());

    // The email service goes down.
    let email_addr = services.email_server.url();
    let Services {
        users,
        audit,
        user_server,
        email_server,
        audit_server,
        ..
    } = services;
    email_server.shutdown().await.unwrap();
    let registration = register_user(&deps, &ada()).await.unwrap();
    assert!(!registration.email_sent);
    assert!(registration.audit_recorded);
    assert!(registration.degraded);
    assert_eq!(registration.warnings.len(), 1);
    let warning = &registration.warnings[0];
    assert_eq!(warning.step, Step::WelcomeEmail);
    assert_eq!(
        warning.network,
        Some(NetworkError::ConnectionRefused {
            service: "EmailService".to_owned(),
            host: email_addr.trim_start_matches("http://").to_owned(),
        })
    );
    // The user was created and the event recorded all the same.
    assert_eq!(users.users().len(), 2);
    assert_eq!(audit.events().len(), 2);
    user_server.shutdown().await.unwrap();
    audit_server.shutdown().await.unwrap();
}

#[tokio::test]
async fn loopback_duplicate_email() {
    let services = Services::start().await;
    let deps = clients_for(&services);
    register_user(&deps, &ada()).await.unwrap();
    let again = json!({"name": "Ada again", "email": "ADA@example.com"});
    let error = register_user(&deps, &again).await.unwrap_err();
    assert_eq!(
        error,
        RegistrationError::UserAlreadyExists {
            email: email("ADA@example.com")
        }
    );
    assert_eq!(services.users.users().len(), 1);
    assert_eq!(services.email.outbox().len(), 1);
    assert_eq!(services.audit.events().len(), 1);
    services.stop().await;
}

#[tokio::test]
async fn loopback_user_service_unreachable() {
    let services = Services::start().await;
    let nowhere = closed_url();
    let deps = clients(
        nowhere.clone(),
        services.email_server.url(),
        services.audit_server.url(),
    );
    let error = register_user(&deps, &ada()).await.unwrap_err();
    assert_eq!(
        error,
        RegistrationError::Network {
            error: NetworkError::ConnectionRefused {
                service: "UserService".to_owned(),
                host: nowhere.trim_start_matches("http://").to_owned(),
            }
        }
    );
    assert_eq!(
        serde_json::to_value(&error).unwrap()["error"]["type"],
        json!("connection_refused")
    );
    assert!(services.email.outbox().is_empty());
    assert!(services.audit.events().is_empty());
    services.stop().await;
}

#[tokio::test]
async fn loopback_invalid_input() {
    let services = Services::start().await;
    let deps = clients_for(&services);
    for (input, expected) in invalid_inputs() {
        let error = register_user(&deps, &input).await.unwrap_err();
        assert_eq!(paths(&error), expected, "for {input}");
    }
    assert!(services.users.users().is_empty());
    assert!(services.email.outbox().is_empty());
    assert!(services.audit.events().is_empty());
    services.stop().await;
}
