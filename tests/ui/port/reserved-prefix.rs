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

/// Generated generic parameters and locals start with `__lfts`/`__Lfts`; a port cannot use
/// such names, or generated code could capture them.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub struct __LftsS(pub u8);

#[lfts::port]
pub trait Users {
    async fn get(&self, __lfts_inner: u64) -> Result<User, UserError>;
    async fn put(&self, value: __LftsS) -> Result<User, UserError>;
}
fn main() {}
