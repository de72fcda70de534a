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

/// Crosses the wire with serde, but has no schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Opaque;

#[lfts::port]
pub trait Users {
    async fn get(&self, id: Opaque) -> Result<User, UserError>;
}
fn main() {}
