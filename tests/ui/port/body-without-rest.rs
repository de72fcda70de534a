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
    async fn invite(&self, #[lfts(body)] user: User) -> Result<User, UserError>;
}

fn main() {}
