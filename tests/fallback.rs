//! `primary.fallback(secondary)`: the secondary answers only when the primary's call fails on
//! the way (a network error); a domain error is the answer.

use lfts::resilience::{FallbackExt, LayerExt, Retry};
use lfts::{NetworkError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PriceError {
    #[lfts(status = 404)]
    UnknownSku,
    #[lfts(network)]
    Network { error: NetworkError },
}

#[lfts::port]
pub trait Prices: Send + Sync {
    async fn price(&self, sku: String) -> Result<u32, PriceError>;
}

fn refused() -> PriceError {
    PriceError::Network {
        error: NetworkError::ConnectionRefused {
            service: "Prices".into(),
            host: "127.0.0.1:1".into(),
        },
    }
}

#[tokio::test]
async fn the_secondary_answers_only_network_failures() {
    // The primary is down: the cache answers.
    let down = MockPrices::new().on_price(|_| async { Err(refused()) });
    let cache = MockPrices::new().on_price(|sku| async move { Ok(sku.len() as u32) });
    let prices = down.clone().fallback(cache.clone());
    assert_eq!(prices.price("abc".into()).await, Ok(3));
    assert_eq!(cache.calls_to_price()[0].sku, "abc");

    // A domain error is the answer: the cache is never asked.
    let unknown = MockPrices::new().on_price(|_| async { Err(PriceError::UnknownSku) });
    let never = MockPrices::new().expect_price().never();
    let prices = unknown.fallback(never.clone());
    assert_eq!(prices.price("x".into()).await, Err(PriceError::UnknownSku));
    never.verify();

    // Both down: the secondary's failure is the answer.
    let prices = down.fallback(MockPrices::new().on_price(|_| async { Err(refused()) }));
    assert_eq!(prices.price("x".into()).await, Err(refused()));
}

#[tokio::test]
async fn a_remote_primary_that_cannot_be_reached_falls_back_after_its_retries() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let remote = PricesClient::new(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .layer(
            Retry::exponential()
                .max_attempts(2)
                .base_delay(std::time::Duration::from_millis(1)),
        );
    let cache = MockPrices::new()
        .on_price(|_| async { Ok(7) })
        .expect_price()
        .times(1);
    let prices = remote.fallback(cache.clone());
    assert_eq!(prices.price("sku".into()).await, Ok(7));
    cache.verify();
}
