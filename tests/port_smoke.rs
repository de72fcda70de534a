use lfts::{LayerExt, NetworkError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct User {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CreateUserError {
    #[lfts(status = 409)]
    UserAlreadyExists,
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait UserService: Send + Sync {
    /// Creates a user.
    async fn create_user(&self, name: String) -> Result<User, CreateUserError>;
    #[lfts(idempotent)]
    async fn get_user(&self, id: u64) -> Result<User, CreateUserError>;
}

struct Local;

impl UserService for Local {
    async fn create_user(&self, name: String) -> Result<User, CreateUserError> {
        if name == "taken" {
            return Err(CreateUserError::UserAlreadyExists);
        }
        Ok(User { id: 1, name })
    }
    async fn get_user(&self, id: u64) -> Result<User, CreateUserError> {
        Ok(User {
            id,
            name: "x".into(),
        })
    }
}

#[tokio::test]
async fn roundtrip() {
    let server = lfts::http::serve(UserServiceServer::new(Local).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let client = UserServiceClient::new(server.url()).unwrap();
    assert_eq!(client.create_user("ada".into()).await.unwrap().name, "ada");
    assert_eq!(
        client.create_user("taken".into()).await,
        Err(CreateUserError::UserAlreadyExists)
    );
    let layered = client.clone().layer(lfts::resilience::Identity);
    assert_eq!(layered.get_user(7).await.unwrap().id, 7);
    let dynamic: std::sync::Arc<dyn DynUserService> = std::sync::Arc::new(client.clone());
    assert_eq!(dynamic.get_user(8).await.unwrap().id, 8);
    let report = client.check_contract().await.unwrap();
    assert!(report.matches, "{report:?}");
    let mock = MockUserService::new().on_get_user(|id| async move {
        Ok(User {
            id,
            name: "m".into(),
        })
    });
    assert_eq!(mock.get_user(3).await.unwrap().id, 3);
    assert_eq!(mock.call_count("get_user"), 1);
    server.shutdown().await.unwrap();
}

fn user(id: u64) -> User {
    User {
        id,
        name: "m".into(),
    }
}

/// The message of a panic caught by `catch_unwind`.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

fn panics(f: impl FnOnce()) -> String {
    let payload =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    panic_message(payload)
}

#[test]
fn mock_unexpected_call_panics_with_port_method_and_arguments() {
    let mock = MockUserService::new();
    // The panic comes at the call, before any future is polled.
    let message = panics(|| drop(mock.create_user("ada".into())));
    assert!(
        message.contains("unexpected call to port `UserService`, method `create_user`")
            && message.contains(r#"{"name":"ada"}"#)
            && message.contains("on_create_user"),
        "{message}"
    );
    // Remembered for `verify`, in case the panic was caught somewhere out of sight.
    let report = panics(|| mock.verify());
    assert!(report.contains("create_user"), "{report}");
}

#[tokio::test]
async fn mock_unexpected_call_cannot_be_swallowed_by_a_server() {
    // A mock served over HTTP: the server answers the panicking call with a 500, which a
    // best-effort caller would ignore. `verify` still fails.
    let mock = MockUserService::new().on_get_user(|id| async move { Ok(user(id)) });
    let server = lfts::http::serve(UserServiceServer::new(mock.clone()).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let client = UserServiceClient::new(server.url()).unwrap();
    assert!(client.create_user("ada".into()).await.is_err());
    assert_eq!(client.get_user(4).await.unwrap().id, 4);
    server.shutdown().await.unwrap();
    let report = panics(|| mock.verify());
    assert!(
        report.contains("unexpected call to port `UserService`, method `create_user`")
            && report.contains(r#"{"name":"ada"}"#),
        "{report}"
    );
}

#[tokio::test]
async fn mock_records_typed_arguments() {
    let mock = MockUserService::new()
        .on_get_user(|id| async move { Ok(user(id)) })
        .on_create_user(|name| async move { Ok(User { id: 1, name }) });
    mock.get_user(3).await.unwrap();
    mock.create_user("ada".into()).await.unwrap();
    mock.get_user(5).await.unwrap();
    let ids: Vec<u64> = mock.calls_to_get_user().iter().map(|a| a.id).collect();
    assert_eq!(ids, [3, 5]);
    let created: Vec<UserServiceCreateUserArgs> = mock.calls_to_create_user();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].name, "ada");
    assert_eq!(
        format!("{:?}", created[0]),
        r#"UserServiceCreateUserArgs {"name":"ada"}"#
    );
    // The untyped log is unchanged: every call, in order, with its JSON.
    let methods: Vec<&str> = mock.calls().iter().map(|c| c.method).collect();
    assert_eq!(methods, ["get_user", "create_user", "get_user"]);
    assert_eq!(mock.calls()[1].args, serde_json::json!({"name": "ada"}));
    mock.verify();
}

#[tokio::test]
async fn mock_expectations_are_verified() {
    let mock = MockUserService::new()
        .on_get_user(|id| async move { Ok(user(id)) })
        .expect_get_user()
        .times(2)
        .expect_create_user()
        .never();
    mock.get_user(1).await.unwrap();
    let report = panics(|| mock.verify());
    assert!(
        report.contains(
            "method `get_user` was expected to be called exactly 2 times, and was called 1 time"
        ),
        "{report}"
    );
    mock.get_user(2).await.unwrap();
    mock.verify();

    // A call past the upper bound panics at once.
    let message = panics(|| drop(mock.get_user(3)));
    assert!(
        message
            .contains("`get_user` was expected to be called exactly 2 times, but this is call 3")
            && message.contains(r#"{"id":3}"#),
        "{message}"
    );
    let _ = panics(|| mock.verify());

    let at_least = MockUserService::new()
        .on_get_user(|id| async move { Ok(user(id)) })
        .expect_get_user()
        .at_least(1);
    let clone = at_least.clone();
    clone.get_user(1).await.unwrap();
    // Clones share calls and expectations.
    at_least.verify();
}

#[test]
fn mock_unverified_expectations_fail_on_drop() {
    let mock = MockUserService::new().expect_get_user().times(1);
    let clone = mock.clone();
    drop(mock);
    // The check runs when the last clone goes.
    let message = panics(move || drop(clone));
    assert!(
        message.contains(
            "method `get_user` was expected to be called exactly 1 time, and was called 0 times"
        ) && message.contains("dropped"),
        "{message}"
    );

    // No second panic while already panicking (that would abort the test binary).
    let message = panics(|| {
        let _mock = MockUserService::new().expect_get_user().times(1);
        panic!("the test failed first");
    });
    assert_eq!(message, "the test failed first");

    // Nothing expected, nothing called: nothing to report.
    drop(MockUserService::new());
}
