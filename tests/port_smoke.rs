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
    assert!(matches!(
        mock.create_user("a".into()).await,
        Err(CreateUserError::Network { .. })
    ));
    assert_eq!(mock.call_count("get_user"), 1);
    server.shutdown().await.unwrap();
}
