//! User registration across three services, end to end: `cargo run --example registration`.
//!
//! - `domain.rs`: the types and the three ports (`UserService`, `EmailService`,
//!   `AuditService`), described once;
//! - `workflow.rs`: `register_user`, a pure function over the port traits;
//! - `memory.rs`: in-memory implementations of the ports;
//! - this file: starts one real HTTP server per port on `127.0.0.1`, builds the generated
//!   clients wrapped in a per-attempt timeout and a retry, and runs six scenarios, including a
//!   lost response (the retry is answered from the server's idempotency store: one user, not
//!   two), an email service that is down (the registration degrades) and a user service that
//!   cannot be reached (the registration fails with a `connection_refused` value).
//!
//! The same workflow runs against `Mock*` ports in `tests/registration.rs`.

mod domain;
mod memory;
mod workflow;

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lfts::http::{HttpConfig, serve};
use lfts::resilience::{Retry, Timeout};
use lfts::testing::{Fault, FaultPlan, FaultProxy};
use lfts::{LayerExt, Layered};
use serde::Serialize;
use serde_json::{Value, json};

use domain::{
    AuditServiceClient, AuditServiceServer, EmailServiceClient, EmailServiceServer, UserId,
    UserService, UserServiceClient, UserServiceServer,
};
use memory::{InMemoryAudit, InMemoryEmail, InMemoryUsers};
use workflow::{Deps, Registration, RegistrationError, SystemClock, register_user};

/// A generated client behind a per-attempt timeout and, outermost, a retry.
type Resilient<C> = Layered<Layered<C, Timeout>, Retry>;

fn resilient<C>(client: C) -> Resilient<C> {
    client
        .layer(Timeout::per_attempt(Duration::from_millis(500)))
        .layer(
            Retry::exponential()
                .max_attempts(3)
                .base_delay(Duration::from_millis(50))
                .max_delay(Duration::from_millis(400)),
        )
}

/// The clients' HTTP settings: generous transport timeouts (the layers bound each attempt).
fn config(url: impl Into<String>) -> HttpConfig {
    HttpConfig::new(url)
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
}

/// A loopback port nothing listens on: bound by the OS, then released.
fn closed_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn heading(title: &str) {
    println!();
    println!("=== {title} ===");
}

fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<not JSON: {e}>"))
}

/// An outcome as JSON: `{"ok": …}` or `{"error": …}`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Shown<'a> {
    Ok(&'a Registration),
    Error(&'a RegistrationError),
}

/// Prints the input, then the outcome as JSON.
fn show(input: &Value, outcome: &Result<Registration, RegistrationError>, took: Duration) {
    println!("input:   {input}");
    let shown = match outcome {
        Ok(registration) => Shown::Ok(registration),
        Err(error) => Shown::Error(error),
    };
    println!("outcome ({} ms):", took.as_millis());
    println!("{}", pretty(&shown));
}

async fn run<U, E, A>(
    deps: &Deps<U, E, A, SystemClock>,
    input: Value,
) -> Result<Registration, RegistrationError>
where
    U: domain::UserService,
    E: domain::EmailService,
    A: domain::AuditService,
{
    let started = Instant::now();
    let outcome = register_user(deps, &input).await;
    show(&input, &outcome, started.elapsed());
    outcome
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // ----- three services, each behind its own real HTTP server on loopback -------------------
    let users = Arc::new(InMemoryUsers::default());
    let email = Arc::new(InMemoryEmail::default());
    let audit = Arc::new(InMemoryAudit::default());
    let user_server = serve(
        UserServiceServer::from_arc(Arc::clone(&users)).router(),
        "127.0.0.1:0",
    )
    .await?;
    let email_server = serve(
        EmailServiceServer::from_arc(Arc::clone(&email)).router(),
        "127.0.0.1:0",
    )
    .await?;
    let audit_server = serve(
        AuditServiceServer::from_arc(Arc::clone(&audit)).router(),
        "127.0.0.1:0",
    )
    .await?;
    heading("Services");
    println!("UserService   at {}", user_server.url());
    println!("EmailService  at {}", email_server.url());
    println!("AuditService  at {}", audit_server.url());

    let user_client = UserServiceClient::with_config(config(user_server.url()))?;
    let email_client = EmailServiceClient::with_config(config(email_server.url()))?;
    let audit_client = AuditServiceClient::with_config(config(audit_server.url()))?;

    // ----- contracts -------------------------------------------------------------------------
    heading("Contract checks (local descriptor vs GET /{Port})");
    let checks = [
        ("UserService", user_client.check_contract().await),
        ("EmailService", email_client.check_contract().await),
        ("AuditService", audit_client.check_contract().await),
    ];
    for (port, check) in checks {
        match check {
            Ok(report) if report.matches => println!("{port:<13} matches"),
            Ok(report) => println!("{port:<13} DIFFERS: {}", pretty(&report)),
            Err(e) => println!("{port:<13} could not be checked: {e}"),
        }
    }
    let descriptor = UserServiceClient::descriptor();
    println!(
        "UserService descriptor fingerprint: {}",
        descriptor.fingerprint()
    );
    let methods: Vec<String> = descriptor
        .methods()
        .iter()
        .map(|m| {
            let info = m.info();
            let idempotent = if info.idempotent { " (idempotent)" } else { "" };
            format!("{}({}){idempotent}", info.name, info.params.join(", "))
        })
        .collect();
    println!("UserService methods: {}", methods.join(", "));

    let deps = Deps {
        users: resilient(user_client.clone()),
        email: resilient(email_client),
        audit: resilient(audit_client),
        clock: SystemClock,
    };

    // ----- 1 ---------------------------------------------------------------------------------
    heading("1. A successful registration");
    let first = run(
        &deps,
        json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
    )
    .await;
    if let Ok(registration) = &first {
        let id: UserId = registration.user.id.clone();
        match deps.users.get_user(id.clone()).await {
            Ok(user) => println!("read back {}: {}", id.0, pretty(&user)),
            Err(e) => println!("read back {} failed: {e:?}", id.0),
        }
    }
    println!(
        "outbox: {} message(s); audit trail: {} event(s)",
        email.outbox().len(),
        audit.events().len()
    );

    // ----- 2 ---------------------------------------------------------------------------------
    heading("2. The same email again (HTTP 409 -> user_already_exists)");
    run(
        &deps,
        json!({"name": "Ada again", "email": "ADA@example.com"}),
    )
    .await
    .ok();

    // ----- 3 ---------------------------------------------------------------------------------
    heading("3. Invalid input (validated before any call)");
    let invalid = run(&deps, json!({"name": "", "email": "not-an-email"})).await;
    if let Err(RegistrationError::Invalid(errors)) = &invalid {
        println!("{} validation error(s):", errors.len());
        for error in errors.iter() {
            println!("  {error}");
        }
    }

    // ----- 4 ---------------------------------------------------------------------------------
    heading("4. A lost response (the user is created, its answer never arrives)");
    // A fault proxy in front of the user service forwards the first request, lets the server
    // answer, and cuts the connection before the answer reaches the client. The retry layer
    // sends the same idempotency key again, and the server answers it from its store.
    let proxy = FaultProxy::start(
        user_server.addr(),
        FaultPlan::schedule([Fault::DropResponse]),
    )
    .await?;
    println!("UserService behind a fault proxy at {}", proxy.url());
    let lossy = Deps {
        users: resilient(UserServiceClient::with_config(config(proxy.url()))?),
        email: deps.email.clone(),
        audit: deps.audit.clone(),
        clock: SystemClock,
    };
    let before = users.users().len();
    run(
        &lossy,
        json!({"name": "Barbara Liskov", "email": "barbara@example.com"}),
    )
    .await
    .ok();
    let stats = proxy.stats();
    println!(
        "connections: {}, responses dropped: {}; users created by this registration: {} \
         (the replay was answered from the store, not run again)",
        stats.connections,
        stats.dropped_responses,
        users.users().len() - before,
    );
    proxy.shutdown().await;

    // ----- 5 ---------------------------------------------------------------------------------
    heading("5. The email service is DOWN (server shut down)");
    let email_url = email_server.url();
    email_server.shutdown().await?;
    println!("EmailService at {email_url} stopped");
    run(
        &deps,
        json!({"name": "Grace Hopper", "email": "grace@example.com"}),
    )
    .await
    .ok();

    // ----- 6 ---------------------------------------------------------------------------------
    heading("6. The user service is unreachable (nothing listens on its port)");
    let nowhere = format!("http://127.0.0.1:{}", closed_port()?);
    println!("UserService client pointed at {nowhere}");
    let cut_off = Deps {
        users: resilient(UserServiceClient::with_config(config(nowhere))?),
        email: deps.email.clone(),
        audit: deps.audit.clone(),
        clock: SystemClock,
    };
    run(
        &cut_off,
        json!({"name": "Alan Turing", "email": "alan@example.com"}),
    )
    .await
    .ok();

    // ----- shut down -------------------------------------------------------------------------
    heading("Summary");
    println!(
        "users: {}; welcome emails sent: {}; audit events: {}",
        users.users().len(),
        email.outbox().len(),
        audit.events().len()
    );
    user_server.shutdown().await?;
    audit_server.shutdown().await?;
    println!("servers stopped");
    Ok(())
}
