//! The derive's model: serde's parsed container, with our `#[lfts]` attributes beside each
//! container, variant and field. Borrows the syn input so every node keeps its span.

use serde_derive_internals::ast::Variant as SerdeVariant;
use std::collections::BTreeSet;

use serde_derive_internals::ast::{Container, Data as SerdeData, Field as SerdeField, Style};

use super::attr::{self, Attrs};
use crate::ctxt::Ctxt;

pub struct Input<'a> {
    pub serde: &'a Container<'a>,
    pub lfts: Attrs,
    pub docs: Option<String>,
    pub data: Data<'a>,
}

pub enum Data<'a> {
    Struct(Style, Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>),
}

pub struct Variant<'a> {
    pub serde: &'a SerdeVariant<'a>,
    pub lfts: Attrs,
    pub fields: Vec<Field<'a>>,
}

pub struct Field<'a> {
    pub serde: &'a SerdeField<'a>,
    pub lfts: Attrs,
}

impl<'a> Input<'a> {
    pub fn from_container(cx: &Ctxt, serde: &'a Container<'a>) -> Input<'a> {
        let fields = |fields: &'a [SerdeField<'a>]| {
            fields
                .iter()
                .map(|f| Field {
                    serde: f,
                    lfts: Attrs::parse(cx, &f.original.attrs),
                })
                .collect::<Vec<_>>()
        };
        let data = match &serde.data {
            SerdeData::Struct(style, fs) => Data::Struct(*style, fields(fs)),
            SerdeData::Enum(variants) => Data::Enum(
                variants
                    .iter()
                    .map(|v| Variant {
                        serde: v,
                        lfts: Attrs::parse(cx, &v.original.attrs),
                        fields: fields(&v.fields),
                    })
                    .collect(),
            ),
        };
        Input {
            serde,
            lfts: Attrs::parse(cx, &serde.original.attrs),
            docs: attr::docs(&serde.original.attrs),
            data,
        }
    }
}

/// The accepted names of a field or variant (serde's `alias`) other than its wire name.
fn other_names<'a>(wire: &str, aliases: &'a BTreeSet<String>) -> Vec<&'a str> {
    aliases
        .iter()
        .map(String::as_str)
        .filter(|a| *a != wire)
        .collect()
}

impl Field<'_> {
    /// Serde reads this field from the wire.
    pub fn on_wire(&self) -> bool {
        !self.serde.attrs.skip_deserializing()
    }

    /// The wire name of a named field.
    pub fn wire_name(&self) -> &str {
        self.serde.attrs.name().deserialize_name()
    }

    /// Other accepted names (serde's `alias`), without the wire name itself.
    pub fn aliases(&self) -> Vec<&str> {
        other_names(self.wire_name(), self.serde.attrs.aliases())
    }
}

impl Variant<'_> {
    /// Serde reads this variant from the wire.
    pub fn on_wire(&self) -> bool {
        !self.serde.attrs.skip_deserializing()
    }

    /// The wire name of the variant.
    pub fn wire_name(&self) -> &str {
        self.serde.attrs.name().deserialize_name()
    }

    /// Other accepted names (serde's `alias`), without the wire name itself.
    pub fn aliases(&self) -> Vec<&str> {
        other_names(self.wire_name(), self.serde.attrs.aliases())
    }
}
