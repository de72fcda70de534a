//! Ports: service interfaces described once and reachable in-process, over HTTP or through a
//! mock.
//!
//! This module holds what every port shares, whatever its transport:
//! - [`NetworkError`], the exhaustive enum of ways a remote call can fail on the way, and
//!   [`RemoteError`], the trait a port's error type implements so that it can carry one;
//! - [`MethodInfo`], the static facts about one method (port, name, parameters, idempotency,
//!   REST mapping) that transports and resilience layers read;
//! - [`PortDescriptor`], the schema of a whole port (the `PORT`/`PORT_METHOD` tree, its
//!   fingerprint and JSON form) and [`ContractDiff`], what differs between two versions of it;
//! - [`Port`], implemented by `#[lfts::port]` to reach a port's descriptor without an instance.

mod descriptor;
mod error;
mod method;

pub use descriptor::{
    ContractDiff, ContractReport, MethodChange, MethodDescriptor, MethodPart, PortDescriptor,
    PortDescriptorBuilder,
};
pub use error::{NetworkError, RemoteError};
pub use method::{HttpMapping, HttpMethod, MethodInfo};

/// A service interface declared with `#[lfts::port]`.
///
/// The macro implements it so that the port's name and descriptor are reachable without an
/// instance (for a server's `GET /{Port}`, a client's contract check, or documentation).
pub trait Port {
    /// The port's name: the trait's name, and the first path segment of its HTTP routes.
    const NAME: &'static str;

    /// The port's descriptor, built once per process.
    fn descriptor() -> &'static PortDescriptor;
}
