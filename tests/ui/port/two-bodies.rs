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
    #[lfts(http(post = "/users"))]
    async fn create(&self, #[lfts(body)] user: User, #[lfts(body)] other: User) -> Result<User, UserError>;
}

fn main() {}
