//! The derive's and `#[port]`'s output names everything by absolute path (DESIGN.md, "Quality
//! bar"): it compiles without the prelude and beside local items that shadow prelude names, and
//! the generic parameters and locals `#[port]` introduces never capture a user's name (issue "A
//! trustworthy boundary", item 13).
//!
//! Not covered: a renamed `lfts` dependency. Generated code names `::lfts`, and there is no
//! `#[lfts(crate = "...")]` override; a user who renames the dependency can add
//! `extern crate renamed as lfts;` at the crate root.

#![allow(dead_code)]

/// Every shape the derive expands differently, with no prelude in scope.
mod no_prelude {
    #![no_implicit_prelude]

    #[derive(::core::fmt::Debug, ::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct User {
        #[lfts(email)]
        pub email: ::std::string::String,
        #[lfts(min = 1, max = 150)]
        pub age: u8,
        #[lfts(pattern = "^[a-z]+$", min_len = 1)]
        pub handle: ::std::string::String,
        #[lfts(min_items = 1)]
        pub tags: ::std::vec::Vec<::std::string::String>,
        #[lfts(url)]
        pub site: ::std::option::Option<::std::string::String>,
        #[serde(default)]
        pub id: UserId,
    }

    #[derive(
        ::core::fmt::Debug,
        ::core::default::Default,
        ::serde::Serialize,
        ::serde::Deserialize,
        ::lfts::Schema,
    )]
    #[lfts(brand = "UserId")]
    pub struct UserId(#[lfts(uuid)] pub ::std::string::String);

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[lfts(non_empty)]
    pub struct Name(pub ::std::string::String);

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Pair(pub u8, #[lfts(positive)] pub i32);

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Unit;

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(transparent)]
    pub struct Wrapper {
        #[lfts(max_len = 3)]
        pub inner: ::std::string::String,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Page<T> {
        pub items: ::std::vec::Vec<T>,
        #[serde(flatten)]
        pub extra: ::std::collections::BTreeMap<::std::string::String, u32>,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub struct Tree {
        pub children: ::std::vec::Vec<Tree>,
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    pub enum External {
        Unit,
        Newtype(#[lfts(min = 0)] i64),
        Tuple(u8, ::std::string::String),
        Struct {
            #[lfts(email)]
            email: ::std::string::String,
        },
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(tag = "kind")]
    pub enum Internal {
        A,
        B { x: i32 },
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(tag = "t", content = "c")]
    pub enum Adjacent {
        A,
        B(u8, u8),
    }

    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(untagged)]
    pub enum Untagged {
        Flag(bool),
        Text(#[lfts(non_empty)] ::std::string::String),
    }

    /// A port error enum: the derive also writes `From<NetworkError>` and `RemoteError`.
    #[derive(::serde::Serialize, ::serde::Deserialize, ::lfts::Schema)]
    #[serde(tag = "kind", content = "detail")]
    pub enum CreateError {
        #[lfts(status = 409)]
        Taken,
        #[lfts(network)]
        Network(::lfts::NetworkError),
    }
}

/// Local items named like everything generated code might use unqualified.
mod shadowed {
    use serde::{Deserialize, Serialize};

    struct Result;
    struct Ok;
    struct Err;
    type Option = ();
    struct Some;
    struct None;
    struct Vec;
    struct String;
    struct Box;
    struct Default;
    trait Schema {}
    trait Into {}
    trait From {}
    mod std {}
    mod core {}
    mod lfts {}
    mod __private {}
    fn format() {}
    fn vec() {}

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub struct User {
        #[lfts(email)]
        pub email: ::std::string::String,
        pub age: ::core::option::Option<u8>,
        pub tree: ::std::vec::Vec<Node>,
    }

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub struct Node(#[lfts(min_len = 1)] pub ::std::string::String);

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub struct Generic<T> {
        #[lfts(non_empty)]
        pub items: ::std::vec::Vec<T>,
    }

    #[derive(Serialize, Deserialize, ::lfts::Schema)]
    pub enum Error {
        #[lfts(status = 404)]
        Missing,
        #[lfts(network)]
        Network(::lfts::NetworkError),
    }
}

/// A port, its client, server, mock, layered impl and dyn form, with no prelude in scope.
mod port_no_prelude {
    #![no_implicit_prelude]

    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::serde::Serialize,
        ::serde::Deserialize,
        ::lfts::Schema,
    )]
    pub struct Order {
        pub id: u64,
        pub items: ::std::vec::Vec<::std::string::String>,
    }

    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::serde::Serialize,
        ::serde::Deserialize,
        ::lfts::Schema,
    )]
    pub enum OrderError {
        #[lfts(status = 404)]
        Missing,
        #[lfts(network)]
        Network { error: ::lfts::NetworkError },
    }

    #[::lfts::port]
    pub trait Orders {
        /// Places an order.
        async fn place(
            &self,
            items: ::std::vec::Vec<::std::string::String>,
            note: ::std::option::Option<::std::string::String>,
        ) -> ::core::result::Result<Order, OrderError>;
        #[lfts(idempotent)]
        async fn get(&self, id: u64) -> ::core::result::Result<Order, OrderError>;
        #[lfts(http(get = "/orders/{id}"))]
        async fn find(&self, id: u64) -> ::core::result::Result<Order, OrderError>;
        async fn ping(&self) -> ::core::result::Result<(), OrderError>;
    }
}

/// Local items named like everything generated code might use unqualified, and like every
/// generic parameter and local it might introduce.
mod port_shadowed {
    #![allow(non_camel_case_types)]
    use ::lfts::{NetworkError, Schema};
    use ::serde::{Deserialize, Serialize};

    struct Result;
    struct Ok;
    struct Err;
    type Option = ();
    struct Some;
    struct None;
    struct Vec;
    struct String;
    struct Box;
    struct Arc;
    struct Default;
    struct Clone;
    struct Future;
    struct Pin;
    struct Fn;
    trait Send {}
    trait Sync {}
    trait Sized {}
    trait Into {}
    trait From {}
    trait Layer {}
    trait Port {}
    trait PortError {}
    mod std {}
    mod core {}
    mod lfts {}
    mod serde {}
    mod __private {}
    fn format() {}
    fn vec() {}
    static DESCRIPTOR: () = ();
    static INFO: () = ();

    macro_rules! wire_type {
        ($($name:ident),*) => {$(
            #[derive(Debug, ::core::clone::Clone, PartialEq, Serialize, Deserialize, Schema)]
            pub struct $name(pub u8);
        )*};
    }
    // Named like the generic parameters of the generated impls (`S` of the server, `P` and `L`
    // of `Layered<P, L>`, `T` of the dyn forwarding impls, `F` and `Fut` of the mock setters)
    // and of the library's own (`A`, `E`).
    wire_type!(P, L, S, T, E, F, Fut, A);

    #[derive(Debug, ::core::clone::Clone, PartialEq, Serialize, Deserialize, Schema)]
    pub enum Failure {
        #[lfts(status = 409)]
        Conflict,
        #[lfts(network)]
        Network { error: NetworkError },
    }

    #[::lfts::port]
    pub trait Everything {
        #[allow(clippy::too_many_arguments)]
        async fn all(
            &self,
            p: P,
            l: L,
            s: S,
            t: T,
            e: E,
            f: F,
            fut: Fut,
            a: A,
        ) -> ::core::result::Result<T, Failure>;
        async fn returns_s(&self) -> ::core::result::Result<S, Failure>;
        async fn returns_p(&self, x: P) -> ::core::result::Result<P, Failure>;
        async fn returns_l(&self, x: L) -> ::core::result::Result<L, Failure>;
        async fn returns_f(&self, x: F) -> ::core::result::Result<F, Failure>;
        async fn returns_fut(&self, x: Fut) -> ::core::result::Result<Fut, Failure>;
        /// Arguments named like the locals generated code would otherwise use.
        #[allow(clippy::too_many_arguments)]
        async fn locals(
            &self,
            inner: u8,
            args: u8,
            service: u8,
            behaviour: u8,
            recorded: u8,
            state: u8,
            f: u8,
            info: u8,
            transport: u8,
        ) -> ::core::result::Result<u8, Failure>;
    }

    /// A port named like each generic parameter, in a module of its own (a trait and a type
    /// cannot share a name). Its method takes and returns a type of the same one-letter kind.
    macro_rules! port_named {
        ($($module:ident: $name:ident),*) => {$(
            pub mod $module {
                use ::lfts::{NetworkError, Schema};
                use ::serde::{Deserialize, Serialize};

                #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
                pub enum Failure {
                    #[lfts(network)]
                    Network { error: NetworkError },
                }

                #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
                pub struct Value(pub u8);

                #[::lfts::port]
                pub trait $name {
                    async fn echo(&self, v: Value) -> ::core::result::Result<Value, Failure>;
                }

                pub struct Local;

                impl $name for Local {
                    async fn echo(&self, v: Value) -> ::core::result::Result<Value, Failure> {
                        ::core::result::Result::Ok(v)
                    }
                }
            }
        )*};
    }
    port_named!(
        trait_p: P,
        trait_l: L,
        trait_s: S,
        trait_t: T,
        trait_e: E,
        trait_f: F,
        trait_fut: Fut,
        trait_a: A
    );
}

#[test]
fn derived_code_works_without_the_prelude() {
    use lfts::Schema as _;
    let user = serde_json::json!({
        "email": "ada@example.com", "age": 36, "handle": "ada", "tags": ["x"], "site": null
    });
    let parsed = lfts::validate::<no_prelude::User>(&user);
    assert!(parsed.is_ok(), "{parsed:?}");
    let bad = serde_json::json!({"email": "nope", "age": 0, "handle": "", "tags": [], "site": "x"});
    let errors = lfts::validate::<no_prelude::User>(&bad).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/email", "/age", "/handle", "/tags", "/site"],
        "{errors}"
    );

    let _ = no_prelude::Tree::schema();
    let _ = no_prelude::Page::<no_prelude::Tree>::schema();
    let _ = no_prelude::External::schema();
    let _ = no_prelude::Internal::schema();
    let _ = no_prelude::Adjacent::schema();
    let _ = no_prelude::Untagged::schema();
    let _ = no_prelude::Name::schema();
    let _ = no_prelude::Pair::schema();
    let _ = no_prelude::Unit::schema();
    let _ = no_prelude::Wrapper::schema();
    assert!(lfts::check(&no_prelude::Name(String::new())).is_err());
    assert!(
        lfts::check(&no_prelude::Wrapper {
            inner: "long".into()
        })
        .is_err()
    );

    let taken = no_prelude::CreateError::Taken;
    assert_eq!(lfts::RemoteError::status(&taken), 409);
    assert!(lfts::RemoteError::network(&taken).is_none());
}

#[test]
fn derived_code_ignores_shadowing_items() {
    use lfts::Schema as _;
    let node = shadowed::Node("x".into());
    assert!(lfts::check(&node).is_ok());
    assert!(lfts::check(&shadowed::Node(String::new())).is_err());
    let _ = shadowed::User::schema();
    let _ = shadowed::Generic::<u8>::schema();
    assert!(lfts::check(&shadowed::Generic::<u8> { items: vec![] }).is_err());
    assert_eq!(lfts::RemoteError::status(&shadowed::Error::Missing), 404);
}

#[tokio::test]
async fn port_code_works_without_the_prelude() {
    use lfts::LayerExt;
    use port_no_prelude::{
        DynOrders, MockOrders, Order, OrderError, Orders, OrdersClient, OrdersServer,
    };

    let mock = MockOrders::new()
        .on_get(|id| async move { Ok(Order { id, items: vec![] }) })
        .on_ping(|| async { Ok(()) })
        .expect_get()
        .times(2);
    assert_eq!(mock.get(7).await.unwrap().id, 7);
    let layered = mock.clone().layer(lfts::resilience::Identity);
    assert_eq!(layered.get(8).await.unwrap().id, 8);
    let dynamic: std::sync::Arc<dyn DynOrders> = std::sync::Arc::new(mock.clone());
    assert_eq!(dynamic.ping().await, Ok(()));
    assert_eq!(
        mock.calls_to_get().iter().map(|a| a.id).collect::<Vec<_>>(),
        [7, 8]
    );
    mock.verify();

    let _router = OrdersServer::new(mock.clone()).router();
    let _client = OrdersClient::new("http://127.0.0.1:9").unwrap();
    let _: Result<Order, OrderError> = Err(OrderError::Missing);
    assert_eq!(
        <OrdersClient as lfts::Port>::descriptor().methods().len(),
        4
    );
}

#[tokio::test]
async fn port_code_ignores_shadowing_items_and_generic_names() {
    use lfts::LayerExt;
    use port_shadowed::*;

    let mock = MockEverything::new()
        .on_all(|_p, _l, _s, t, _e, _f, _fut, _a| async move { Ok(t) })
        .on_returns_s(|| async { Ok(S(1)) })
        .on_locals(
            |inner, args, service, behaviour, recorded, state, f, info, transport| async move {
                Ok(inner + args + service + behaviour + recorded + state + f + info + transport)
            },
        );
    let layered = mock.clone().layer(lfts::resilience::Identity);
    assert_eq!(
        layered
            .all(P(1), L(2), S(3), T(4), E(5), F(6), Fut(7), A(8))
            .await
            .unwrap(),
        T(4)
    );
    assert_eq!(layered.returns_s().await.unwrap(), S(1));
    // Each argument reaches the behaviour as itself, through the layer's replay closure too.
    assert_eq!(layered.locals(1, 2, 3, 4, 5, 6, 7, 8, 9).await.unwrap(), 45);
    let dynamic: std::sync::Arc<dyn DynEverything> = std::sync::Arc::new(mock.clone());
    assert_eq!(dynamic.returns_s().await.unwrap(), S(1));
    assert_eq!(mock.calls_to_locals()[0].transport, 9);
    mock.verify();
    let _router = EverythingServer::new(mock).router();

    // The ports named `P`, `L`, `S`, `T`, `E`, `F`, `Fut` and `A`.
    use port_shadowed::{trait_a, trait_e, trait_f, trait_fut, trait_l, trait_p, trait_s, trait_t};
    use trait_s::S as _;
    let s = trait_s::Local.layer(lfts::resilience::Identity);
    assert_eq!(s.echo(trait_s::Value(3)).await.unwrap(), trait_s::Value(3));
    let _ = trait_s::SServer::new(trait_s::Local).router();
    let _ = trait_p::PServer::new(trait_p::Local).router();
    let _ = trait_l::LServer::new(trait_l::Local).router();
    let _ = trait_t::TServer::new(trait_t::Local).router();
    let _ = trait_e::EServer::new(trait_e::Local).router();
    let _ = trait_f::FServer::new(trait_f::Local).router();
    let _ = trait_fut::FutServer::new(trait_fut::Local).router();
    let _ = trait_a::AServer::new(trait_a::Local).router();
    let mock = trait_t::MockT::new().on_echo(|v| async move { Ok(v) });
    let dynamic: Box<dyn trait_t::DynT> = Box::new(mock);
    use trait_t::T as _;
    assert_eq!(
        dynamic.echo(trait_t::Value(1)).await.unwrap(),
        trait_t::Value(1)
    );
}
