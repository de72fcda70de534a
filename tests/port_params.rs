//! Attributes on port method parameters (issue "A trustworthy boundary", item 5): refinements
//! reach the arguments schema, the descriptor, the client's check and the server's validation;
//! `#[lfts(rename = "…")]` sets a parameter's wire name, in the arguments object, a REST path
//! and a query string.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lfts::http::serve;
use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct Receipt {
    pub to: String,
    pub subject: String,
    pub reply_to: Option<String>,
    pub priority: u8,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub enum MailError {
    #[lfts(network)]
    Network(NetworkError),
}

#[lfts::port]
pub trait Mail: Send + Sync {
    async fn send(
        &self,
        #[lfts(email)] to: String,
        #[lfts(min_len = 1)]
        #[lfts(max_len = 20)]
        subject: String,
        #[lfts(rename = "replyTo", email)] reply_to: Option<String>,
        #[lfts(min = 1, max = 5)] priority: u8,
        #[lfts(max_items = 2)] tags: Vec<String>,
    ) -> Result<Receipt, MailError>;

    #[lfts(http(get = "/boxes/{boxId}"))]
    async fn mailbox(
        &self,
        #[lfts(rename = "boxId", pattern = "^[a-z]+$")] box_id: String,
        #[lfts(rename = "pageSize", max = 50)] page_size: u32,
    ) -> Result<Receipt, MailError>;
}

/// Counts the calls that reach the implementation.
#[derive(Clone, Default)]
struct Counting {
    calls: Arc<AtomicUsize>,
}

impl Mail for Counting {
    async fn send(
        &self,
        to: String,
        subject: String,
        reply_to: Option<String>,
        priority: u8,
        tags: Vec<String>,
    ) -> Result<Receipt, MailError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Receipt {
            to,
            subject,
            reply_to,
            priority,
            tags,
        })
    }

    async fn mailbox(&self, box_id: String, page_size: u32) -> Result<Receipt, MailError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Receipt {
            to: box_id,
            subject: String::new(),
            reply_to: None,
            priority: 1,
            tags: vec![page_size.to_string()],
        })
    }
}

async fn post(url: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The JSON Pointer paths of a `400 invalid_arguments` body.
fn error_paths(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .or_else(|| body["errors"]["errors"].as_array())
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| e["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn valid() -> Value {
    json!({"to": "a@example.com", "subject": "hi", "replyTo": null, "priority": 3, "tags": []})
}

#[tokio::test]
async fn the_server_refuses_arguments_that_break_a_refinement_naming_the_parameter() {
    let service = Counting::default();
    let server = serve(MailServer::new(service.clone()).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.url();

    let (status, body) = post(&url, "/Mail/send", valid()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["to"], "a@example.com");

    let cases = [
        ("to", json!("not an email"), "/to"),
        ("subject", json!(""), "/subject"),
        ("subject", json!("x".repeat(21)), "/subject"),
        ("replyTo", json!("nobody"), "/replyTo"),
        ("priority", json!(0), "/priority"),
        ("priority", json!(6), "/priority"),
        ("tags", json!(["a", "b", "c"]), "/tags"),
    ];
    for (key, value, path) in cases {
        let mut args = valid();
        args[key] = value;
        let (status, body) = post(&url, "/Mail/send", args.clone()).await;
        assert_eq!(status, 400, "{args} gave {body}");
        assert_eq!(body["error"], "invalid_arguments", "{body}");
        assert_eq!(error_paths(&body), [path], "{args} gave {body}");
    }

    // The renamed parameter is known by its wire name only.
    let mut args = valid();
    args.as_object_mut().unwrap().remove("replyTo");
    args["reply_to"] = json!("a@example.com");
    let (status, body) = post(&url, "/Mail/send", args).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("reply_to"), "{body}");

    assert_eq!(service.calls.load(Ordering::SeqCst), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_client_refuses_to_send_a_call_that_breaks_a_refinement() {
    let service = Counting::default();
    let server = serve(MailServer::new(service.clone()).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let client = MailClient::new(server.url()).unwrap();

    let receipt = client
        .send(
            "a@example.com".into(),
            "hi".into(),
            Some("b@example.com".into()),
            2,
            vec!["x".into()],
        )
        .await
        .unwrap();
    assert_eq!(receipt.reply_to.as_deref(), Some("b@example.com"));
    assert_eq!(service.calls.load(Ordering::SeqCst), 1);

    let bad_calls = [
        client
            .send("nope".into(), "hi".into(), None, 2, vec![])
            .await,
        client
            .send("a@example.com".into(), String::new(), None, 2, vec![])
            .await,
        client
            .send(
                "a@example.com".into(),
                "hi".into(),
                Some("nope".into()),
                2,
                vec![],
            )
            .await,
        client
            .send("a@example.com".into(), "hi".into(), None, 9, vec![])
            .await,
        client.mailbox("UPPER".into(), 10).await,
        client.mailbox("lower".into(), 51).await,
    ];
    for result in bad_calls {
        match result {
            Err(MailError::Network(e @ NetworkError::SerializationError { .. })) => {
                // Refused before sending (the server's count below proves nothing was sent).
                assert!(e.to_string().contains("fail their constraints"), "{e}");
            }
            other => panic!("expected a serialization error, got {other:?}"),
        }
    }
    assert_eq!(
        service.calls.load(Ordering::SeqCst),
        1,
        "a refused call reached the server"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_renamed_parameter_uses_its_wire_name_in_the_body_the_path_and_the_query() {
    let args = MailSendArgs {
        to: "a@example.com".into(),
        subject: "hi".into(),
        reply_to: None,
        priority: 1,
        tags: vec![],
    };
    let json = serde_json::to_value(&args).unwrap();
    assert!(json.get("replyTo").is_some(), "{json}");
    assert!(json.get("reply_to").is_none(), "{json}");

    let service = Counting::default();
    let server = serve(MailServer::new(service.clone()).router(), "127.0.0.1:0")
        .await
        .unwrap();
    let url = server.url();

    // Through the client: the path template and query use the wire names.
    let client = MailClient::new(&url).unwrap();
    let receipt = client.mailbox("inbox".into(), 7).await.unwrap();
    assert_eq!(
        (receipt.to.as_str(), receipt.tags[0].as_str()),
        ("inbox", "7")
    );

    // Raw: `pageSize` is the query key, and is validated as the parameter it names.
    let get = |path: &str| {
        let url = format!("{url}{path}");
        async move {
            let response = reqwest::get(url).await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                serde_json::from_str::<Value>(&response.text().await.unwrap()).unwrap(),
            )
        }
    };
    let (status, body) = get("/boxes/inbox?pageSize=9").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tags"], json!(["9"]));
    let (status, body) = get("/boxes/inbox?pageSize=99").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_paths(&body), ["/pageSize"], "{body}");
    let (status, body) = get("/boxes/In-Box?pageSize=1").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_paths(&body), ["/boxId"], "{body}");

    assert_eq!(service.calls.load(Ordering::SeqCst), 2);
    server.shutdown().await.unwrap();
}

#[test]
fn the_descriptor_carries_wire_names_and_refinements() {
    let descriptor = MailServer::<Counting>::descriptor();
    let json = descriptor.to_json();
    let send = json["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "send")
        .unwrap();
    assert_eq!(
        send["params"],
        json!(["to", "subject", "replyTo", "priority", "tags"])
    );
    let mailbox = descriptor.method("mailbox").unwrap();
    assert_eq!(mailbox.info().params, ["boxId", "pageSize"]);

    let schema = descriptor
        .method("send")
        .unwrap()
        .args_schema()
        .to_json_schema();
    let text = schema.to_string();
    for needle in [
        r#""format":"email""#,
        r#""minLength":1"#,
        r#""maxLength":20"#,
        r#""maxItems":2"#,
        r#""replyTo""#,
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let schema = mailbox.args_schema().to_json_schema().to_string();
    assert!(schema.contains(r#""pattern":"^[a-z]+$""#), "{schema}");
    assert!(schema.contains(r#""pageSize""#), "{schema}");

    // The refinements are part of the contract: the same port without them differs.
    assert!(json.to_string().contains("replyTo"), "{json}");
}
