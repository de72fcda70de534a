//! [`MethodInfo`]: the static facts about one port method.

use std::fmt;

/// An HTTP method a REST mapping can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`: arguments other than path parameters go in the query string.
    Get,
    /// `POST`: arguments other than path parameters go in a JSON body.
    Post,
    /// `PUT`: arguments other than path parameters go in a JSON body.
    Put,
    /// `PATCH`: arguments other than path parameters go in a JSON body.
    Patch,
    /// `DELETE`: arguments other than path parameters go in the query string.
    Delete,
}

impl HttpMethod {
    /// The method's name in capitals (`"GET"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// Whether the arguments that are not path parameters travel in the query string (`GET`,
    /// `DELETE`) rather than in a JSON body.
    pub const fn args_in_query(self) -> bool {
        matches!(self, HttpMethod::Get | HttpMethod::Delete)
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method's mapping onto an existing REST API (`#[lfts(http(get = "/users/{id}"))]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpMapping {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template, relative to the client's base URL, with `{name}` for a path
    /// parameter filled from the argument of that name (`"/users/{id}"`).
    pub path: &'static str,
    /// The argument (its wire name) whose JSON is the whole request body
    /// (`#[lfts(body)]`), for `POST`, `PUT` and `PATCH`; the other arguments that are not
    /// path parameters then go in the query string. `None`: the body is a JSON object of
    /// those arguments.
    pub body: Option<&'static str>,
}

impl HttpMapping {
    /// Where the arguments that are not path parameters go: the query string for `GET` and
    /// `DELETE`, and for a method whose body is one argument (`#[lfts(body)]`).
    pub const fn args_in_query(&self) -> bool {
        self.method.args_in_query() || self.body.is_some()
    }
}

/// The static facts about one port method, which transports and resilience layers read.
///
/// `#[lfts::port]` emits one `static` per method; it is const-constructible for that:
///
/// ```
/// use lfts::port::{HttpMapping, HttpMethod, MethodInfo};
///
/// static GET_USER: MethodInfo = MethodInfo {
///     port: "UserService",
///     name: "get_user",
///     params: &["id"],
///     idempotent: true,
///     http: Some(HttpMapping { method: HttpMethod::Get, path: "/users/{id}", body: None }),
/// };
/// assert_eq!(GET_USER.to_string(), "UserService.get_user");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodInfo {
    /// The port's name (the trait's name).
    pub port: &'static str,
    /// The method's name, as written in the trait.
    pub name: &'static str,
    /// The parameter names, in order; they are the keys of the arguments object.
    pub params: &'static [&'static str],
    /// Whether the call may be replayed safely (`#[lfts(idempotent)]`).
    pub idempotent: bool,
    /// A REST mapping; `None` for the default protocol (`POST {base}/{Port}/{method}`).
    pub http: Option<HttpMapping>,
}

impl MethodInfo {
    /// The HTTP method the call uses: the mapping's, or `POST`.
    pub const fn http_method(&self) -> HttpMethod {
        match self.http {
            Some(m) => m.method,
            None => HttpMethod::Post,
        }
    }
}

impl fmt::Display for MethodInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.port, self.name)
    }
}
