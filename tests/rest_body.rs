//! `#[lfts(body)]`: a REST-mapped argument whose JSON is the whole request body, against a
//! plain axum server (what the client sends) and the generated server (a round trip).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::RawQuery;
use axum::routing::{post, put};
use lfts::http::serve;
use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Doc {
    pub title: String,
    pub words: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocError {
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait Docs: Send + Sync {
    #[lfts(http(put = "/docs/{id}"))]
    async fn save(
        &self,
        id: String,
        #[lfts(body)] doc: Doc,
        version: Option<u32>,
    ) -> Result<Doc, DocError>;

    #[lfts(http(post = "/tags"))]
    async fn tag(&self, #[lfts(body, min_items = 1)] tags: Vec<String>) -> Result<u32, DocError>;
}

/// A request the plain server saw: its body and its query string.
type Seen = (String, Option<String>);

struct Store;

impl Docs for Store {
    async fn save(&self, id: String, doc: Doc, version: Option<u32>) -> Result<Doc, DocError> {
        Ok(Doc {
            title: format!("{id}:{}:{}", doc.title, version.unwrap_or(0)),
            words: doc.words,
        })
    }

    async fn tag(&self, tags: Vec<String>) -> Result<u32, DocError> {
        Ok(u32::try_from(tags.len()).unwrap_or(u32::MAX))
    }
}

#[tokio::test]
async fn the_body_argument_is_the_whole_body_and_the_others_go_in_the_query() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let rest = Router::new()
        .route(
            "/docs/{id}",
            put({
                let seen = Arc::clone(&seen);
                move |RawQuery(query): RawQuery, body: String| {
                    seen.lock().unwrap().push((body.clone(), query));
                    async move { ([("content-type", "application/json")], body) }
                }
            }),
        )
        .route(
            "/tags",
            post({
                let seen = Arc::clone(&seen);
                move |body: String| {
                    seen.lock().unwrap().push((body, None));
                    async { ([("content-type", "application/json")], "2") }
                }
            }),
        );
    let server = serve(rest, "127.0.0.1:0").await.unwrap();
    let docs = DocsClient::new(server.url()).unwrap();
    let doc = Doc {
        title: "hello".into(),
        words: 2,
    };
    assert_eq!(
        docs.save("d1".into(), doc.clone(), Some(3)).await,
        Ok(doc.clone())
    );
    assert_eq!(docs.tag(vec!["a".into(), "b".into()]).await, Ok(2));
    // The refinement on the body argument is checked before anything is sent.
    assert!(docs.tag(Vec::new()).await.is_err());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, r#"{"title":"hello","words":2}"#);
    assert_eq!(seen[0].1.as_deref(), Some("version=3"));
    assert_eq!(seen[1].0, r#"["a","b"]"#);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_generated_server_reads_the_body_argument() {
    let server = serve(DocsServer::new(Store).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let docs = DocsClient::new(server.url()).unwrap();
    let saved = docs
        .save(
            "d1".into(),
            Doc {
                title: "t".into(),
                words: 1,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(saved.title, "d1:t:0");
    assert_eq!(docs.tag(vec!["x".into()]).await, Ok(1));
    // A hostile body: not the argument's type, or a refinement broken, is a 400 naming it.
    let raw = reqwest::Client::new();
    for (body, path) in [(r#"{"title":1}"#, "/docs/d1"), ("[]", "/tags")] {
        let method = if path == "/tags" {
            reqwest::Method::POST
        } else {
            reqwest::Method::PUT
        };
        let response = raw
            .request(method, format!("{}{path}", server.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains("invalid_arguments"), "{text}");
    }
    server.shutdown().await.unwrap();
}
