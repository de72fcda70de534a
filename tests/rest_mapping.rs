//! `#[lfts(http(...))]` through the macro: a port describing an existing REST API, called
//! against a hand-written axum server that knows nothing of lfts; and contract drift between
//! two versions of a port.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Pet {
    pub id: u64,
    pub name: String,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PetError {
    #[lfts(status = 404)]
    NotFound,
    #[lfts(status = 409)]
    Duplicate,
    #[lfts(network)]
    Network(NetworkError),
}

/// A third-party pet store, described as a port.
#[lfts::port]
pub trait PetStore {
    #[lfts(idempotent, http(get = "/pets/{id}"))]
    async fn get_pet(&self, id: u64, verbose: Option<bool>) -> Result<Pet, PetError>;
    #[lfts(http(post = "/pets"))]
    async fn add_pet(&self, name: String, tag: Option<String>) -> Result<Pet, PetError>;
    #[lfts(http(delete = "/pets/{id}"))]
    async fn remove_pet(&self, id: u64) -> Result<(), PetError>;
}

type Store = Arc<Mutex<Vec<Pet>>>;

/// The third party: plain axum, plain statuses, bodies that are not lfts error values.
fn third_party(store: Store) -> Router {
    async fn get_pet(
        State(store): State<Store>,
        Path(id): Path<u64>,
        RawQuery(query): RawQuery,
    ) -> Result<Json<Pet>, (StatusCode, &'static str)> {
        let pets = store.lock().expect("lock");
        let pet = pets.iter().find(|p| p.id == id).cloned();
        match pet {
            Some(mut pet) => {
                if query.as_deref() == Some("verbose=true") {
                    pet.tag = Some(format!("{} (verbose)", pet.tag.unwrap_or_default()));
                }
                Ok(Json(pet))
            }
            None => Err((StatusCode::NOT_FOUND, "no such pet")),
        }
    }
    async fn add_pet(
        State(store): State<Store>,
        Json(body): Json<Value>,
    ) -> Result<Json<Pet>, (StatusCode, &'static str)> {
        let mut pets = store.lock().expect("lock");
        let name = body["name"].as_str().unwrap_or_default().to_owned();
        if pets.iter().any(|p| p.name == name) {
            return Err((StatusCode::CONFLICT, "duplicate"));
        }
        let pet = Pet {
            id: pets.len() as u64 + 1,
            name,
            tag: body["tag"].as_str().map(str::to_owned),
        };
        pets.push(pet.clone());
        Ok(Json(pet))
    }
    async fn remove_pet(
        State(store): State<Store>,
        Path(id): Path<u64>,
    ) -> (StatusCode, Json<Value>) {
        let mut pets = store.lock().expect("lock");
        let before = pets.len();
        pets.retain(|p| p.id != id);
        if pets.len() == before {
            (
                StatusCode::NOT_FOUND,
                Json(json!({"message": "gone already"})),
            )
        } else {
            (StatusCode::OK, Json(Value::Null))
        }
    }
    Router::new()
        .route("/pets/{id}", get(get_pet).delete(remove_pet))
        .route("/pets", post(add_pet))
        .with_state(store)
}

#[tokio::test]
async fn a_port_describes_an_existing_rest_api() {
    let store: Store = Arc::default();
    let server = lfts::http::serve(third_party(store.clone()), "127.0.0.1:0")
        .await
        .expect("bind");
    let pets = PetStoreClient::new(server.url()).expect("client");

    let rex = pets
        .add_pet("rex".into(), Some("dog".into()))
        .await
        .expect("added");
    assert_eq!(
        rex,
        Pet {
            id: 1,
            name: "rex".into(),
            tag: Some("dog".into())
        }
    );
    // A bare 409 from the third party maps onto the variant that declares it.
    assert_eq!(
        pets.add_pet("rex".into(), None).await,
        Err(PetError::Duplicate)
    );

    // Path parameter and query parameter.
    assert_eq!(
        pets.get_pet(1, None).await.expect("found").tag.as_deref(),
        Some("dog")
    );
    assert_eq!(
        pets.get_pet(1, Some(true))
            .await
            .expect("found")
            .tag
            .as_deref(),
        Some("dog (verbose)")
    );
    assert_eq!(pets.get_pet(99, None).await, Err(PetError::NotFound));

    assert_eq!(pets.remove_pet(1).await, Ok(()));
    assert_eq!(pets.remove_pet(1).await, Err(PetError::NotFound));
    assert!(store.lock().expect("lock").is_empty());
    server.shutdown().await.expect("shutdown");
}

/// The same `Greeter` port in two versions: v2 changed `greet`'s argument and added a method.
mod v1 {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
    pub enum GreetError {
        #[lfts(network)]
        Network(NetworkError),
    }

    #[lfts::port]
    pub trait Greeter {
        async fn greet(&self, name: String) -> Result<String, GreetError>;
        async fn wave(&self) -> Result<(), GreetError>;
    }

    pub struct Impl;

    impl Greeter for Impl {
        async fn greet(&self, name: String) -> Result<String, GreetError> {
            Ok(format!("hello {name}"))
        }
        async fn wave(&self) -> Result<(), GreetError> {
            Ok(())
        }
    }
}

mod v2 {
    pub use super::v1::GreetError;

    #[lfts::port]
    pub trait Greeter {
        async fn greet(&self, name: String, times: u8) -> Result<String, GreetError>;
        async fn wave(&self) -> Result<(), GreetError>;
        async fn bow(&self) -> Result<(), GreetError>;
    }
}

#[tokio::test]
async fn contract_check_names_what_drifted() {
    let server = lfts::http::serve(v1::GreeterServer::new(v1::Impl).router(), "127.0.0.1:0")
        .await
        .expect("bind");

    let same = v1::GreeterClient::new(server.url()).expect("client");
    let report = same.check_contract().await.expect("descriptor");
    assert!(report.matches, "{report:?}");

    let newer = v2::GreeterClient::new(server.url()).expect("client");
    let report = newer.check_contract().await.expect("descriptor");
    assert!(!report.matches);
    let text = format!("{report:?}");
    assert!(
        text.contains("greet"),
        "the changed method is named: {text}"
    );
    assert!(
        text.contains("bow"),
        "the method missing on the server is named: {text}"
    );
    assert!(
        !text.contains("\"wave\""),
        "an unchanged method is not reported: {text}"
    );

    // The descriptors differ, and each is reachable without an instance.
    assert_ne!(
        <v1::GreeterClient as lfts::Port>::descriptor().fingerprint(),
        <v2::GreeterClient as lfts::Port>::descriptor().fingerprint()
    );
    server.shutdown().await.expect("shutdown");
}
