use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct User {
    pub id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub enum UserError {
    NotFound,
    #[lfts(network)]
    Network(NetworkError),
}

#[lfts::port]
pub trait Users {
    #[lfts(idempotent, http(get = "/users"))]
    async fn find(&self, #[lfts(body)] filter: User) -> Result<User, UserError>;
}

fn main() {}
