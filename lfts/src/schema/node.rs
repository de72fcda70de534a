//! The schema tree: [`Op`] codes and the [`Node`]s that carry them.

use std::fmt;

/// The LFTS opcode vocabulary.
///
/// Codes `0..=35` follow the order of the LFTS bytecode reference (`packages/lfts-type-spec`),
/// so a TypeScript LFTS runtime reads the JSON encoding of a Rust schema. Codes from `36` on are
/// Rust additions (string-keyed maps, named references, UUIDs, `any`); a reader that does not
/// know them reports an unknown op rather than guessing.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)] // each variant is the opcode of the same name
pub enum Op {
    String = 0,
    Number = 1,
    Boolean = 2,
    Null = 3,
    Undefined = 4,
    Literal = 5,
    Array = 6,
    Tuple = 7,
    Object = 8,
    Property = 9,
    Optional = 10,
    Union = 11,
    Readonly = 12,
    DUnion = 13,
    Brand = 14,
    RefineMin = 15,
    RefineMax = 16,
    RefineInteger = 17,
    RefineMinLength = 18,
    RefineMaxLength = 19,
    RefineMinItems = 20,
    RefineMaxItems = 21,
    RefineEmail = 22,
    RefineUrl = 23,
    RefinePattern = 24,
    RefinePositive = 25,
    RefineNegative = 26,
    RefineNonEmpty = 27,
    ResultOk = 28,
    ResultErr = 29,
    OptionSome = 30,
    OptionNone = 31,
    Metadata = 32,
    Effect = 33,
    Port = 34,
    PortMethod = 35,
    Map = 36,
    Ref = 37,
    RefineUuid = 38,
    Any = 39,
}

impl Op {
    /// Every opcode, in code order.
    pub const ALL: [Op; 40] = [
        Op::String,
        Op::Number,
        Op::Boolean,
        Op::Null,
        Op::Undefined,
        Op::Literal,
        Op::Array,
        Op::Tuple,
        Op::Object,
        Op::Property,
        Op::Optional,
        Op::Union,
        Op::Readonly,
        Op::DUnion,
        Op::Brand,
        Op::RefineMin,
        Op::RefineMax,
        Op::RefineInteger,
        Op::RefineMinLength,
        Op::RefineMaxLength,
        Op::RefineMinItems,
        Op::RefineMaxItems,
        Op::RefineEmail,
        Op::RefineUrl,
        Op::RefinePattern,
        Op::RefinePositive,
        Op::RefineNegative,
        Op::RefineNonEmpty,
        Op::ResultOk,
        Op::ResultErr,
        Op::OptionSome,
        Op::OptionNone,
        Op::Metadata,
        Op::Effect,
        Op::Port,
        Op::PortMethod,
        Op::Map,
        Op::Ref,
        Op::RefineUuid,
        Op::Any,
    ];

    /// The opcode's numeric code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The opcode for a numeric code, if there is one.
    pub fn from_code(code: u8) -> Option<Op> {
        Op::ALL.get(usize::from(code)).copied()
    }

    /// The opcode's name as the LFTS reference spells it (`"REFINE_MIN_LENGTH"`).
    pub const fn name(self) -> &'static str {
        match self {
            Op::String => "STRING",
            Op::Number => "NUMBER",
            Op::Boolean => "BOOLEAN",
            Op::Null => "NULL",
            Op::Undefined => "UNDEFINED",
            Op::Literal => "LITERAL",
            Op::Array => "ARRAY",
            Op::Tuple => "TUPLE",
            Op::Object => "OBJECT",
            Op::Property => "PROPERTY",
            Op::Optional => "OPTIONAL",
            Op::Union => "UNION",
            Op::Readonly => "READONLY",
            Op::DUnion => "DUNION",
            Op::Brand => "BRAND",
            Op::RefineMin => "REFINE_MIN",
            Op::RefineMax => "REFINE_MAX",
            Op::RefineInteger => "REFINE_INTEGER",
            Op::RefineMinLength => "REFINE_MIN_LENGTH",
            Op::RefineMaxLength => "REFINE_MAX_LENGTH",
            Op::RefineMinItems => "REFINE_MIN_ITEMS",
            Op::RefineMaxItems => "REFINE_MAX_ITEMS",
            Op::RefineEmail => "REFINE_EMAIL",
            Op::RefineUrl => "REFINE_URL",
            Op::RefinePattern => "REFINE_PATTERN",
            Op::RefinePositive => "REFINE_POSITIVE",
            Op::RefineNegative => "REFINE_NEGATIVE",
            Op::RefineNonEmpty => "REFINE_NON_EMPTY",
            Op::ResultOk => "RESULT_OK",
            Op::ResultErr => "RESULT_ERR",
            Op::OptionSome => "OPTION_SOME",
            Op::OptionNone => "OPTION_NONE",
            Op::Metadata => "METADATA",
            Op::Effect => "EFFECT",
            Op::Port => "PORT",
            Op::PortMethod => "PORT_METHOD",
            Op::Map => "MAP",
            Op::Ref => "REF",
            Op::RefineUuid => "REFINE_UUID",
            Op::Any => "ANY",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The numeric kind of a `NUMBER` node: which Rust type, and so which JSON numbers, it accepts.
///
/// The integer kinds follow serde_json: an integer kind accepts only JSON numbers that are
/// integers (no fraction, no exponent form that serde_json parses as a float) inside the type's
/// range; `F32` and `F64` accept every JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant names the Rust type
pub enum NumberKind {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl NumberKind {
    /// Every kind, in code order.
    pub const ALL: [NumberKind; 10] = [
        NumberKind::U8,
        NumberKind::U16,
        NumberKind::U32,
        NumberKind::U64,
        NumberKind::I8,
        NumberKind::I16,
        NumberKind::I32,
        NumberKind::I64,
        NumberKind::F32,
        NumberKind::F64,
    ];

    /// The Rust spelling (`"u8"`, `"f64"`), used in the encodings.
    pub const fn name(self) -> &'static str {
        match self {
            NumberKind::U8 => "u8",
            NumberKind::U16 => "u16",
            NumberKind::U32 => "u32",
            NumberKind::U64 => "u64",
            NumberKind::I8 => "i8",
            NumberKind::I16 => "i16",
            NumberKind::I32 => "i32",
            NumberKind::I64 => "i64",
            NumberKind::F32 => "f32",
            NumberKind::F64 => "f64",
        }
    }

    /// The kind for a Rust spelling.
    pub fn from_name(name: &str) -> Option<NumberKind> {
        NumberKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether only integral JSON numbers are accepted.
    pub const fn is_integer(self) -> bool {
        !matches!(self, NumberKind::F32 | NumberKind::F64)
    }

    /// The inclusive integer range of an integer kind, as `i128` so that every bound fits.
    pub const fn int_range(self) -> Option<(i128, i128)> {
        match self {
            NumberKind::U8 => Some((0, u8::MAX as i128)),
            NumberKind::U16 => Some((0, u16::MAX as i128)),
            NumberKind::U32 => Some((0, u32::MAX as i128)),
            NumberKind::U64 => Some((0, u64::MAX as i128)),
            NumberKind::I8 => Some((i8::MIN as i128, i8::MAX as i128)),
            NumberKind::I16 => Some((i16::MIN as i128, i16::MAX as i128)),
            NumberKind::I32 => Some((i32::MIN as i128, i32::MAX as i128)),
            NumberKind::I64 => Some((i64::MIN as i128, i64::MAX as i128)),
            NumberKind::F32 | NumberKind::F64 => None,
        }
    }
}

/// A constant value accepted by a `LITERAL` node.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A JSON string.
    Str(String),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON integer.
    Int(i64),
    /// A JSON number that is not an `i64`.
    Float(f64),
}

/// One property of an `OBJECT` node.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The wire name (after serde's `rename` / `rename_all`).
    pub name: String,
    /// Other names accepted on input (serde's `alias`).
    pub aliases: Vec<String>,
    /// Whether the property must be present. Serde makes a field omittable when it has
    /// `default`, is an `Option`, or is skipped on input.
    pub required: bool,
    /// The property's type.
    pub node: Node,
}

/// An `OBJECT` node: a JSON object with named properties.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    /// The declared properties, in declaration order.
    pub properties: Vec<Property>,
    /// Unknown keys are an error (serde's `deny_unknown_fields`).
    pub strict: bool,
    /// Types whose keys are merged into this object (serde's `flatten` of a map or of a type
    /// that is not a plain struct); unknown keys are checked against each of them.
    pub flatten: Vec<Node>,
}

/// How a `DUNION` (a Rust enum) puts its variant name on the wire; serde's four
/// representations less `untagged`, which is a plain `UNION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagging {
    /// `{"Variant": payload}`, and a bare `"Variant"` string for unit variants (serde default).
    External,
    /// `{"tag": "Variant", ...payload fields}` (serde's `#[serde(tag = "...")]`).
    Internal {
        /// The discriminant key.
        tag: String,
    },
    /// `{"tag": "Variant", "content": payload}` (serde's `tag` + `content`).
    Adjacent {
        /// The discriminant key.
        tag: String,
        /// The payload key.
        content: String,
    },
}

/// One variant of a `DUNION`.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The wire name of the variant.
    pub name: String,
    /// Other names accepted on input (serde's `alias`).
    pub aliases: Vec<String>,
    /// The payload; `None` for a unit variant.
    pub node: Option<Node>,
}

/// A `DUNION` node: a tagged union (a Rust enum that is not `untagged`).
#[derive(Debug, Clone, PartialEq)]
pub struct DUnion {
    /// Where the variant name goes.
    pub tagging: Tagging,
    /// The variants, in declaration order.
    pub variants: Vec<Variant>,
    /// For internal tagging: unknown keys are an error (serde's `deny_unknown_fields`).
    pub strict: bool,
}

/// A compiled `REFINE_PATTERN` regular expression; compares by its source.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles a pattern; an invalid one is an error naming why.
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        // Patterns come from schemas and may come from untrusted bytes: bound the compiled size.
        let regex = regex::RegexBuilder::new(source)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()?;
        Ok(Pattern {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` contains a match (like JSON Schema's `pattern`, the pattern is not
    /// anchored unless it says so).
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

/// A `REFINE_*` constraint on the value of the node it wraps.
#[derive(Debug, Clone, PartialEq)]
pub enum Refinement {
    /// Number `>=` bound.
    Min(f64),
    /// Number `<=` bound.
    Max(f64),
    /// Number is integral.
    Integer,
    /// String has at least this many characters (Unicode scalar values).
    MinLength(u64),
    /// String has at most this many characters.
    MaxLength(u64),
    /// Array or map has at least this many items.
    MinItems(u64),
    /// Array or map has at most this many items.
    MaxItems(u64),
    /// String is an email address (`local@domain`, the HTML living standard's rule).
    Email,
    /// String is an absolute `http`/`https` URL.
    Url,
    /// String is a hyphenated UUID.
    Uuid,
    /// String matches the regular expression.
    Pattern(Pattern),
    /// String, array or map is not empty.
    NonEmpty,
    /// Number `> 0`.
    Positive,
    /// Number `< 0`.
    Negative,
}

impl Refinement {
    /// The opcode of this refinement.
    pub fn op(&self) -> Op {
        match self {
            Refinement::Min(_) => Op::RefineMin,
            Refinement::Max(_) => Op::RefineMax,
            Refinement::Integer => Op::RefineInteger,
            Refinement::MinLength(_) => Op::RefineMinLength,
            Refinement::MaxLength(_) => Op::RefineMaxLength,
            Refinement::MinItems(_) => Op::RefineMinItems,
            Refinement::MaxItems(_) => Op::RefineMaxItems,
            Refinement::Email => Op::RefineEmail,
            Refinement::Url => Op::RefineUrl,
            Refinement::Uuid => Op::RefineUuid,
            Refinement::Pattern(_) => Op::RefinePattern,
            Refinement::NonEmpty => Op::RefineNonEmpty,
            Refinement::Positive => Op::RefinePositive,
            Refinement::Negative => Op::RefineNegative,
        }
    }
}

/// `METADATA` attached to a node: names and docs that do not change what is accepted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// The Rust name of the type.
    pub name: Option<String>,
    /// The doc comment.
    pub description: Option<String>,
}

/// How a port method maps onto HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The path template, with `{name}` for path parameters.
    pub path: String,
}

/// A `PORT_METHOD`: one method of a port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortMethod {
    /// The method name.
    pub name: String,
    /// The named parameters, in order.
    pub params: Vec<(String, Node)>,
    /// The success type.
    pub ok: Node,
    /// The error type.
    pub err: Node,
    /// Whether a call may be replayed safely.
    pub idempotent: bool,
    /// A REST mapping, when the method has one (`#[lfts(http(get = "/users/{id}"))]`).
    pub http: Option<HttpRoute>,
}

/// A `PORT`: a service interface.
#[derive(Debug, Clone, PartialEq)]
pub struct PortNode {
    /// The trait name.
    pub name: String,
    /// The methods, in declaration order.
    pub methods: Vec<PortMethod>,
}

/// The index of a named definition in a [`TypeObject`](super::TypeObject)'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefId(pub u32);

/// One node of a schema tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `STRING`: any JSON string.
    String,
    /// `NUMBER`: a JSON number of the given kind.
    Number(NumberKind),
    /// `BOOLEAN`.
    Boolean,
    /// `NULL`: only `null` (Rust `()` and unit structs).
    Null,
    /// `LITERAL`: exactly this value.
    Literal(Literal),
    /// `ARRAY`: every item has the element type.
    Array(Box<Node>),
    /// `TUPLE`: an array of exactly these item types.
    Tuple(Vec<Node>),
    /// `OBJECT`.
    Object(Object),
    /// `MAP`: an object whose keys have the key type (a string, or a number written as a
    /// string as serde_json does) and whose values have the value type.
    Map {
        /// The key type: `STRING`, a `NUMBER`, or a refinement of one.
        key: Box<Node>,
        /// The value type.
        value: Box<Node>,
    },
    /// `UNION`: the first alternative that accepts the value (serde's `untagged`).
    Union(Vec<Node>),
    /// `DUNION`: a tagged union.
    DUnion(DUnion),
    /// `OPTIONAL`: the inner type or `null` (Rust `Option`).
    Optional(Box<Node>),
    /// `BRAND`: a named newtype over the inner type.
    Brand(String, Box<Node>),
    /// `REF`: the named definition with this index.
    Ref(DefId),
    /// `REFINE_*`: the inner type with a constraint.
    Refine(Refinement, Box<Node>),
    /// `RESULT_OK`: `{"Ok": inner}`, serde's form of `Result::Ok`.
    ResultOk(Box<Node>),
    /// `RESULT_ERR`: `{"Err": inner}`, serde's form of `Result::Err`.
    ResultErr(Box<Node>),
    /// `OPTION_SOME`: a present value of the inner type.
    OptionSome(Box<Node>),
    /// `OPTION_NONE`: an absent value, `null` on the wire.
    OptionNone,
    /// `METADATA`: the inner node with names and docs.
    Metadata(Metadata, Box<Node>),
    /// `PORT`: a service interface (not a value type; validates nothing).
    Port(PortNode),
    /// `ANY`: any JSON value (`serde_json::Value`).
    Any,
}

impl Node {
    /// The opcode of this node.
    pub fn op(&self) -> Op {
        match self {
            Node::String => Op::String,
            Node::Number(_) => Op::Number,
            Node::Boolean => Op::Boolean,
            Node::Null => Op::Null,
            Node::Literal(_) => Op::Literal,
            Node::Array(_) => Op::Array,
            Node::Tuple(_) => Op::Tuple,
            Node::Object(_) => Op::Object,
            Node::Map { .. } => Op::Map,
            Node::Union(_) => Op::Union,
            Node::DUnion(_) => Op::DUnion,
            Node::Optional(_) => Op::Optional,
            Node::Brand(..) => Op::Brand,
            Node::Ref(_) => Op::Ref,
            Node::Refine(r, _) => r.op(),
            Node::ResultOk(_) => Op::ResultOk,
            Node::ResultErr(_) => Op::ResultErr,
            Node::OptionSome(_) => Op::OptionSome,
            Node::OptionNone => Op::OptionNone,
            Node::Metadata(..) => Op::Metadata,
            Node::Port(_) => Op::Port,
            Node::Any => Op::Any,
        }
    }

    /// Wraps `self` in a refinement.
    pub fn refine(self, refinement: Refinement) -> Node {
        Node::Refine(refinement, Box::new(self))
    }

    /// Wraps `self` in a refinement, placed inside any `OPTIONAL` so that it constrains the
    /// present value (a refinement on an `Option<String>` field applies to the string).
    pub fn refine_inner(self, refinement: Refinement) -> Node {
        match self {
            Node::Optional(inner) => Node::Optional(Box::new(inner.refine_inner(refinement))),
            other => other.refine(refinement),
        }
    }
}
