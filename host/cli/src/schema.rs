//! Schemas: a guest's input and output types written out, so the CLI can encode JSON into the
//! guests' wire format (`opml_codec` frames of postcard) and decode it back without the guest's
//! Rust types.
//!
//! ```text
//! type   = u8 | u16 | u32 | u64 | u128 | i8 | i16 | i32 | i64 | i128 | f32 | f64 | bool
//!        | string | bytes | ()
//!        | vec<type> | option<type> | [type; N]
//!        | (type, type, ...)                   a tuple
//!        | {name: type, name: type, ...}       a struct: its fields in declaration order
//!        | enum{Name, Name(type), ...}         an enum: its variants in declaration order
//! ```
//!
//! A schema mirrors the Rust type field for field (names are for JSON only; the wire format
//! holds the order, not the names). JSON values: integers as numbers (or decimal strings, which
//! 128-bit values are printed as), `bytes` as a `0x` hex string (or an array of numbers),
//! `option` as `null` or the value, tuples and arrays as arrays, structs as objects, a unit
//! variant as `"Name"` and a variant with data as `{"Name": value}` (serde's JSON conventions).

use std::fmt;

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, SeqAccess, VariantAccess};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// A type of the wire format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    /// An unsigned integer of this many bits.
    Unsigned(u8),
    /// A signed integer of this many bits.
    Signed(u8),
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// A UTF-8 string.
    String,
    /// A byte string (`Vec<u8>` with `serde_bytes`, or `&[u8]`).
    Bytes,
    /// `()`.
    Unit,
    /// A sequence of any length.
    Vec(Box<Schema>),
    /// An optional value.
    Option(Box<Schema>),
    /// An array of a fixed length.
    Array(Box<Schema>, usize),
    /// A tuple.
    Tuple(Vec<Schema>),
    /// A struct's fields, in order.
    Struct(Vec<(String, Schema)>),
    /// An enum's variants, in order; `None` for a unit variant.
    Enum(Vec<(String, Option<Schema>)>),
}

impl Schema {
    /// Parses a schema (the grammar is in the module's documentation).
    pub(crate) fn parse(text: &str) -> Result<Schema> {
        let mut parser = Parser { text, at: 0 };
        let schema = parser
            .schema()
            .with_context(|| format!("schema {text:?}, at byte {}", parser.at))?;
        parser.skip_space();
        ensure!(
            parser.at == text.len(),
            "schema {text:?}: unexpected {:?} at byte {}",
            &text[parser.at..],
            parser.at
        );
        Ok(schema)
    }

    /// Encodes `value` as a payload of this type (no frame header).
    pub(crate) fn encode(&self, value: &Value) -> Result<Vec<u8>> {
        ENCODE_ERROR.with_borrow_mut(|error| *error = None);
        opml_codec::to_payload(&Typed(self, value)).map_err(|codec| {
            // The codec keeps no message of a custom error: the first one said is the reason.
            match ENCODE_ERROR.with_borrow_mut(Option::take) {
                Some(message) => anyhow!(message),
                None => anyhow!(codec),
            }
        })
    }

    /// Encodes `value` as one frame of this type.
    pub(crate) fn encode_frame(&self, value: &Value) -> Result<Vec<u8>> {
        let payload = self.encode(value)?;
        let mut frame = opml_codec::frame_header(payload.len())?.to_vec();
        frame.extend_from_slice(&payload);
        Ok(frame)
    }

    /// Decodes a payload of this type (every byte must belong to the value).
    pub(crate) fn decode(&self, payload: &[u8]) -> Result<Value> {
        Ok(opml_codec::from_payload_seed(self, payload)?)
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            items: &[T],
            each: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
        ) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                each(f, item)?;
            }
            Ok(())
        }
        match self {
            Schema::Unsigned(bits) => write!(f, "u{bits}"),
            Schema::Signed(bits) => write!(f, "i{bits}"),
            Schema::F32 => f.write_str("f32"),
            Schema::F64 => f.write_str("f64"),
            Schema::Bool => f.write_str("bool"),
            Schema::String => f.write_str("string"),
            Schema::Bytes => f.write_str("bytes"),
            Schema::Unit => f.write_str("()"),
            Schema::Vec(item) => write!(f, "vec<{item}>"),
            Schema::Option(item) => write!(f, "option<{item}>"),
            Schema::Array(item, len) => write!(f, "[{item}; {len}]"),
            Schema::Tuple(items) => {
                f.write_str("(")?;
                list(f, items, |f, item| write!(f, "{item}"))?;
                f.write_str(")")
            }
            Schema::Struct(fields) => {
                f.write_str("{")?;
                list(f, fields, |f, (name, item)| write!(f, "{name}: {item}"))?;
                f.write_str("}")
            }
            Schema::Enum(variants) => {
                f.write_str("enum{")?;
                list(f, variants, |f, (name, data)| match data {
                    Some(item) => write!(f, "{name}({item})"),
                    None => f.write_str(name),
                })?;
                f.write_str("}")
            }
        }
    }
}

/// A recursive-descent parser of the schema grammar.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    /// Takes `token` if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.at..].starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        ensure!(self.eat(token), "expected {token:?}");
        Ok(())
    }

    /// A name: letters, digits and underscores.
    fn word(&mut self) -> Result<&str> {
        self.skip_space();
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        ensure!(len > 0, "expected a name or a type");
        self.at += len;
        Ok(&rest[..len])
    }

    /// Items separated by commas up to `close` (a trailing comma allowed).
    fn list<T>(
        &mut self,
        close: &str,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut items = Vec::new();
        while !self.eat(close) {
            items.push(item(self)?);
            if !self.eat(",") {
                self.expect(close)?;
                break;
            }
        }
        Ok(items)
    }

    fn schema(&mut self) -> Result<Schema> {
        if self.eat("(") {
            let items = self.list(")", Self::schema)?;
            return Ok(if items.is_empty() {
                Schema::Unit
            } else {
                Schema::Tuple(items)
            });
        }
        if self.eat("[") {
            let item = self.schema()?;
            self.expect(";")?;
            let len = self.word()?;
            let len = len
                .parse()
                .map_err(|_| anyhow!("array length {len:?} is not a number"))?;
            self.expect("]")?;
            return Ok(Schema::Array(Box::new(item), len));
        }
        if self.eat("{") {
            let fields = self.list("}", |p| {
                let name = p.word()?.to_owned();
                p.expect(":")?;
                Ok((name, p.schema()?))
            })?;
            return Ok(Schema::Struct(fields));
        }
        let word = self.word()?;
        Ok(match word {
            "u8" | "u16" | "u32" | "u64" | "u128" => Schema::Unsigned(word[1..].parse()?),
            "i8" | "i16" | "i32" | "i64" | "i128" => Schema::Signed(word[1..].parse()?),
            "f32" => Schema::F32,
            "f64" => Schema::F64,
            "bool" => Schema::Bool,
            "string" | "String" => Schema::String,
            "bytes" => Schema::Bytes,
            "vec" | "Vec" | "option" | "Option" => {
                let option = word.eq_ignore_ascii_case("option");
                self.expect("<")?;
                let item = Box::new(self.schema()?);
                self.expect(">")?;
                if option {
                    Schema::Option(item)
                } else {
                    Schema::Vec(item)
                }
            }
            "enum" => {
                self.expect("{")?;
                let variants = self.list("}", |p| {
                    let name = p.word()?.to_owned();
                    let data = if p.eat("(") {
                        let data = p.schema()?;
                        p.expect(")")?;
                        Some(data)
                    } else {
                        None
                    };
                    Ok((name, data))
                })?;
                ensure!(!variants.is_empty(), "an enum needs a variant");
                Schema::Enum(variants)
            }
            other => bail!(
                "unknown type {other:?} (u8..u128, i8..i128, f32, f64, bool, string, bytes, \
                 vec<T>, option<T>, [T; N], (T, ...), {{name: T, ...}}, enum{{A, B(T), ...}})"
            ),
        })
    }
}

/// A JSON value serialized as a schema's type.
struct Typed<'a>(&'a Schema, &'a Value);

thread_local! {
    /// The first error [`Typed`] met in this thread's current [`Schema::encode`].
    static ENCODE_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A serialization error saying `message` (kept for [`Schema::encode`] if it is the first).
fn custom<E: serde::ser::Error>(message: String) -> E {
    ENCODE_ERROR.with_borrow_mut(|error| {
        error.get_or_insert_with(|| message.clone());
    });
    E::custom(message)
}

/// The JSON kind of a value, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON integer (a number, or a decimal string) as an `i128` or `u128`.
fn integer<T: std::str::FromStr + TryFrom<u64> + TryFrom<i64>>(value: &Value) -> Option<T> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| T::try_from(n).ok())
            .or_else(|| n.as_i64().and_then(|n| T::try_from(n).ok())),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Serialize for Typed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Typed(schema, value) = *self;
        let wrong = || custom::<S::Error>(format!("expected {schema}, found {}", kind(value)));
        let range = || custom::<S::Error>(format!("{value} is out of range of {schema}"));
        match schema {
            Schema::Unsigned(bits) => {
                let n: u128 = integer(value).ok_or_else(range)?;
                match bits {
                    8 => s.serialize_u8(n.try_into().map_err(|_| range())?),
                    16 => s.serialize_u16(n.try_into().map_err(|_| range())?),
                    32 => s.serialize_u32(n.try_into().map_err(|_| range())?),
                    64 => s.serialize_u64(n.try_into().map_err(|_| range())?),
                    _ => s.serialize_u128(n),
                }
            }
            Schema::Signed(bits) => {
                let n: i128 = integer(value).ok_or_else(range)?;
                match bits {
                    8 => s.serialize_i8(n.try_into().map_err(|_| range())?),
                    16 => s.serialize_i16(n.try_into().map_err(|_| range())?),
                    32 => s.serialize_i32(n.try_into().map_err(|_| range())?),
                    64 => s.serialize_i64(n.try_into().map_err(|_| range())?),
                    _ => s.serialize_i128(n),
                }
            }
            Schema::F32 => s.serialize_f32(value.as_f64().ok_or_else(wrong)? as f32),
            Schema::F64 => s.serialize_f64(value.as_f64().ok_or_else(wrong)?),
            Schema::Bool => s.serialize_bool(value.as_bool().ok_or_else(wrong)?),
            Schema::String => s.serialize_str(value.as_str().ok_or_else(wrong)?),
            Schema::Bytes => {
                let bytes = json_bytes(value).map_err(custom::<S::Error>)?;
                s.serialize_bytes(&bytes)
            }
            Schema::Unit => match value {
                Value::Null => s.serialize_unit(),
                Value::Array(items) if items.is_empty() => s.serialize_unit(),
                _ => Err(wrong()),
            },
            Schema::Vec(item) => {
                let items = value.as_array().ok_or_else(wrong)?;
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for each in items {
                    seq.serialize_element(&Typed(item, each))?;
                }
                seq.end()
            }
            Schema::Option(item) => match value {
                Value::Null => s.serialize_none(),
                some => s.serialize_some(&Typed(item, some)),
            },
            Schema::Array(item, len) => {
                let items = value.as_array().ok_or_else(wrong)?;
                if items.len() != *len {
                    return Err(custom::<S::Error>(format!(
                        "expected {len} items for {schema}, found {}",
                        items.len()
                    )));
                }
                let mut tuple = s.serialize_tuple(*len)?;
                for each in items {
                    tuple.serialize_element(&Typed(item, each))?;
                }
                tuple.end()
            }
            Schema::Tuple(items) => {
                let values = value.as_array().ok_or_else(wrong)?;
                if values.len() != items.len() {
                    return Err(custom::<S::Error>(format!(
                        "expected {} items for {schema}, found {}",
                        items.len(),
                        values.len()
                    )));
                }
                let mut tuple = s.serialize_tuple(items.len())?;
                for (item, each) in items.iter().zip(values) {
                    tuple.serialize_element(&Typed(item, each))?;
                }
                tuple.end()
            }
            Schema::Struct(fields) => {
                let object = value.as_object().ok_or_else(wrong)?;
                if let Some(extra) = object.keys().find(|k| !fields.iter().any(|(n, _)| n == *k)) {
                    return Err(custom::<S::Error>(format!(
                        "{schema} has no field {extra:?}"
                    )));
                }
                // A struct is its fields in order, as a tuple.
                let mut tuple = s.serialize_tuple(fields.len())?;
                for (name, item) in fields {
                    let field = match (object.get(name), item) {
                        (Some(field), _) => field,
                        (None, Schema::Option(_)) => &Value::Null,
                        (None, _) => {
                            return Err(custom::<S::Error>(format!("missing field {name:?}")));
                        }
                    };
                    tuple.serialize_element(&Typed(item, field))?;
                }
                tuple.end()
            }
            Schema::Enum(variants) => {
                let (name, data) = match value {
                    Value::String(name) => (name, None),
                    Value::Object(object) if object.len() == 1 => {
                        let (name, data) = object.iter().next().ok_or_else(wrong)?;
                        (name, Some(data))
                    }
                    _ => return Err(wrong()),
                };
                let index = variants
                    .iter()
                    .position(|(n, _)| n == name)
                    .ok_or_else(|| {
                        custom::<S::Error>(format!("{schema} has no variant {name:?}"))
                    })?;
                let index = index as u32;
                match (&variants[index as usize].1, data) {
                    (None, None) => s.serialize_unit_variant("", index, ""),
                    (Some(item), Some(data)) => {
                        s.serialize_newtype_variant("", index, "", &Typed(item, data))
                    }
                    (None, Some(_)) => Err(custom::<S::Error>(format!(
                        "variant {name:?} holds no data: write it as \"{name}\""
                    ))),
                    (Some(_), None) => Err(custom::<S::Error>(format!(
                        "variant {name:?} holds data: write it as {{\"{name}\": ...}}"
                    ))),
                }
            }
        }
    }
}

/// `bytes` in JSON: a `0x` hex string, or an array of numbers.
fn json_bytes(value: &Value) -> Result<Vec<u8>, String> {
    match value {
        Value::String(text) => {
            let digits = text.strip_prefix("0x").unwrap_or(text);
            hex::decode(digits).map_err(|err| format!("bytes {text:?}: {err}"))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| format!("{item} is not a byte"))
            })
            .collect(),
        other => Err(format!(
            "expected bytes (a 0x hex string), found {}",
            kind(other)
        )),
    }
}

/// Integers beyond JSON's exact range (2^53) are printed as decimal strings, as they are read.
fn json_integer(n: i128) -> Value {
    const EXACT: i128 = 1 << 53;
    if (-EXACT..=EXACT).contains(&n) {
        Value::Number(Number::from(n as i64))
    } else {
        Value::String(n.to_string())
    }
}

impl<'de> DeserializeSeed<'de> for &Schema {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let visitor = Visit(self);
        match self {
            Schema::Unsigned(8) => d.deserialize_u8(visitor),
            Schema::Unsigned(16) => d.deserialize_u16(visitor),
            Schema::Unsigned(32) => d.deserialize_u32(visitor),
            Schema::Unsigned(64) => d.deserialize_u64(visitor),
            Schema::Unsigned(_) => d.deserialize_u128(visitor),
            Schema::Signed(8) => d.deserialize_i8(visitor),
            Schema::Signed(16) => d.deserialize_i16(visitor),
            Schema::Signed(32) => d.deserialize_i32(visitor),
            Schema::Signed(64) => d.deserialize_i64(visitor),
            Schema::Signed(_) => d.deserialize_i128(visitor),
            Schema::F32 => d.deserialize_f32(visitor),
            Schema::F64 => d.deserialize_f64(visitor),
            Schema::Bool => d.deserialize_bool(visitor),
            Schema::String => d.deserialize_str(visitor),
            Schema::Bytes => d.deserialize_bytes(visitor),
            Schema::Unit => d.deserialize_unit(visitor),
            Schema::Vec(_) => d.deserialize_seq(visitor),
            Schema::Option(_) => d.deserialize_option(visitor),
            Schema::Array(_, len) => d.deserialize_tuple(*len, visitor),
            Schema::Tuple(items) => d.deserialize_tuple(items.len(), visitor),
            Schema::Struct(fields) => d.deserialize_tuple(fields.len(), visitor),
            Schema::Enum(_) => d.deserialize_enum("", &[], visitor),
        }
    }
}

/// The visitor of a schema's value.
struct Visit<'a>(&'a Schema);

impl<'de> de::Visitor<'de> for Visit<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(json_integer(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(json_integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(json_integer(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or_else(|_| Value::String(v.to_string()), json_integer))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::String(format!("0x{}", hex::encode(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Schema::Option(item) => item.as_ref().deserialize(d),
            _ => Err(de::Error::custom("unexpected option")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let missing = || de::Error::custom("the sequence ended early");
        match self.0 {
            Schema::Vec(item) => {
                let mut items = Vec::new();
                while let Some(each) = seq.next_element_seed(item.as_ref())? {
                    items.push(each);
                }
                Ok(Value::Array(items))
            }
            Schema::Array(item, len) => (0..*len)
                .map(|_| seq.next_element_seed(item.as_ref())?.ok_or_else(missing))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Schema::Tuple(items) => items
                .iter()
                .map(|item| seq.next_element_seed(item)?.ok_or_else(missing))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Schema::Struct(fields) => {
                let mut object = Map::new();
                for (name, item) in fields {
                    let value = seq.next_element_seed(item)?.ok_or_else(missing)?;
                    object.insert(name.clone(), value);
                }
                Ok(Value::Object(object))
            }
            _ => Err(de::Error::custom("unexpected sequence")),
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let Schema::Enum(variants) = self.0 else {
            return Err(de::Error::custom("unexpected enum"));
        };
        let (index, variant): (u32, _) = data.variant()?;
        let (name, item) = variants.get(index as usize).ok_or_else(|| {
            de::Error::custom(format!("variant index {index} is not in {}", self.0))
        })?;
        match item {
            None => {
                variant.unit_variant()?;
                Ok(Value::String(name.clone()))
            }
            Some(item) => {
                let value = variant.newtype_variant_seed(item)?;
                Ok(Value::Object(Map::from_iter([(name.clone(), value)])))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    /// Every kind of type, as a guest declares it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        small: u8,
        wide: u64,
        huge: u128,
        negative: i32,
        tiny: i8,
        ratio: f32,
        flag: bool,
        name: String,
        #[serde(with = "bytes")]
        blob: Vec<u8>,
        list: Vec<i64>,
        maybe: Option<u16>,
        nothing: Option<u16>,
        fixed: [u8; 3],
        pair: (u32, String),
        kinds: Vec<Kind>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Empty,
        Number(u32),
        Named { x: i16 },
    }

    /// `Vec<u8>` as serde bytes (what `serde_bytes` does).
    mod bytes {
        pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
        pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<u8>, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_bytes(V)
        }
    }

    const SCHEMA: &str = "{small: u8, wide: u64, huge: u128, negative: i32, tiny: i8, \
        ratio: f32, flag: bool, name: string, blob: bytes, list: vec<i64>, maybe: option<u16>, \
        nothing: option<u16>, fixed: [u8; 3], pair: (u32, string), \
        kinds: vec<enum{Empty, Number(u32), Named({x: i16})}>}";

    fn everything() -> Everything {
        Everything {
            small: 255,
            wide: u64::MAX,
            huge: u128::MAX - 1,
            negative: -300,
            tiny: -128,
            ratio: 1.5,
            flag: true,
            name: "straße".into(),
            blob: vec![0, 1, 0xff],
            list: vec![i64::MIN, 0, 1 << 40],
            maybe: Some(7),
            nothing: None,
            fixed: [1, 2, 3],
            pair: (128, "x".into()),
            kinds: vec![Kind::Empty, Kind::Number(300), Kind::Named { x: -2 }],
        }
    }

    fn everything_json() -> Value {
        json!({
            "small": 255, "wide": u64::MAX.to_string(), "huge": (u128::MAX - 1).to_string(),
            "negative": -300, "tiny": -128, "ratio": 1.5, "flag": true, "name": "straße",
            "blob": "0x0001ff", "list": [i64::MIN.to_string(), 0, 1u64 << 40], "maybe": 7,
            "nothing": null, "fixed": [1, 2, 3], "pair": [128, "x"],
            "kinds": ["Empty", {"Number": 300}, {"Named": {"x": -2}}],
        })
    }

    #[test]
    fn json_encodes_as_the_guest_codec_does_and_decodes_back() {
        let schema = Schema::parse(SCHEMA).unwrap();
        let payload = schema.encode(&everything_json()).unwrap();
        assert_eq!(payload, opml_codec::to_payload(&everything()).unwrap());
        assert_eq!(
            opml_codec::from_payload::<Everything>(&payload).unwrap(),
            everything()
        );
        assert_eq!(schema.decode(&payload).unwrap(), everything_json());
        let frame = schema.encode_frame(&everything_json()).unwrap();
        assert_eq!(frame, opml_codec::encode(&everything()).unwrap());
        // The schema prints as it parses.
        assert_eq!(Schema::parse(&schema.to_string()).unwrap(), schema);
    }

    #[test]
    fn the_echo_guest_types() {
        let request = Schema::parse("{text: string, numbers: vec<i32>}").unwrap();
        let value = json!({"text": "hi", "numbers": [1, -2]});
        assert_eq!(
            request.encode_frame(&value).unwrap(),
            opml_codec::encode(&echo::Request {
                text: "hi".into(),
                numbers: vec![1, -2]
            })
            .unwrap()
        );
        let reply =
            Schema::parse("{shout: string, sum: i64, count: u32, max: option<i32>}").unwrap();
        let bytes = opml_codec::to_payload(&echo::reply(&echo::Request {
            text: "hi".into(),
            numbers: vec![1, -2],
        }))
        .unwrap();
        assert_eq!(
            reply.decode(&bytes).unwrap(),
            json!({"shout": "IH", "sum": -1, "count": 2, "max": 1})
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = |schema: &str, value: Value| {
            format!(
                "{:#}",
                Schema::parse(schema)
                    .and_then(|s| s.encode(&value))
                    .unwrap_err()
            )
        };
        assert!(error("u8", json!(256)).contains("out of range"));
        assert!(error("{a: u8}", json!({"b": 1})).contains("no field \"b\""));
        assert!(error("{a: u8}", json!({})).contains("missing field \"a\""));
        assert!(error("vec<u8>", json!("x")).contains("expected vec<u8>, found a string"));
        assert!(error("u7", json!(1)).contains("unknown type \"u7\""));
        assert!(error("vec<u8", json!(1)).contains("expected \">\""));
        assert!(error("enum{A}", json!("B")).contains("no variant \"B\""));
        let schema = Schema::parse("u32").unwrap();
        assert!(schema.decode(&[0x80]).is_err());
        assert!(schema.decode(&[1, 2]).is_err());
    }
}
