//! `opml codec encode` / `opml codec decode`: a guest's typed input from JSON, its typed output
//! to JSON, by a schema of its types (`crate::schema`).

use std::io::Write;
use std::path::PathBuf;

use alloy_dyn_abi::{DynSolType, DynSolValue};
use anyhow::{Context, Result, ensure};
use clap::{Args, Subcommand};
use opml_codec::FrameReader;
use serde_json::Value;

use crate::guest_input::read_file;
use crate::schema::Schema;

/// Arguments of `opml codec`.
#[derive(Args)]
pub(crate) struct CodecArgs {
    #[command(subcommand)]
    command: CodecCommand,
}

#[derive(Subcommand)]
enum CodecCommand {
    /// Encode JSON values as a guest input: one frame per value (what `opml_guest::read`
    /// takes), each by its --schema, after the raw --prefix bytes.
    Encode(EncodeArgs),
    /// Decode a guest's output (hex, or a file) to JSON: one frame per --schema, in order,
    /// printing one JSON value per line; or, with --abi, an ABI-encoded output (what
    /// `opml_guest::commit_abi` writes), printing its values as a JSON array.
    Decode(DecodeArgs),
}

/// Arguments of `opml codec encode`.
#[derive(Args)]
pub(crate) struct EncodeArgs {
    /// The type of each value, in order (repeat it for several values): u8..u128, i8..i128,
    /// f32, f64, bool, string, bytes, vec<T>, option<T>, [T; N], (T, ...), {name: T, ...},
    /// enum{A, B(T), ...}; e.g. '{text: string, numbers: vec<i32>}'.
    #[arg(long, short, required = true, value_name = "SCHEMA")]
    schema: Vec<String>,
    /// The values, as JSON, one per --schema.
    #[arg(required = true, value_name = "JSON")]
    values: Vec<String>,
    /// Raw bytes (hex) to put before the frames, e.g. a mode byte the guest reads with
    /// `read_slice`.
    #[arg(long, value_name = "HEX")]
    prefix: Option<String>,
    /// Write the input bytes to this file (for `--input`); default: print them as 0x hex.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Arguments of `opml codec decode`.
#[derive(Args)]
pub(crate) struct DecodeArgs {
    /// The type of each frame, in order (repeat it for several frames); see `encode`.
    #[arg(long, short, required_unless_present = "abi", value_name = "SCHEMA")]
    schema: Vec<String>,
    /// Decode the bytes as `abi.encode` of values of these Solidity types instead, e.g.
    /// 'uint256,uint32,string' (what `abi.decode(output, (uint256, uint32, string))` reads).
    #[arg(long, conflicts_with_all = ["schema", "skip"], value_name = "TYPES")]
    abi: Option<String>,
    /// The bytes, as hex (with or without 0x; the "output" of `opml run --report`).
    #[arg(
        required_unless_present = "file",
        conflicts_with = "file",
        value_name = "HEX"
    )]
    hex: Option<String>,
    /// Read the bytes from this file instead (e.g. `opml run`'s standard output).
    #[arg(long, short, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Raw bytes to skip before the first frame.
    #[arg(long, default_value_t = 0, value_name = "N")]
    skip: usize,
}

/// Runs `opml codec`.
pub(crate) fn codec(args: CodecArgs) -> Result<u8> {
    match args.command {
        CodecCommand::Encode(args) => encode(args),
        CodecCommand::Decode(args) => decode(args),
    }
}

fn encode(args: EncodeArgs) -> Result<u8> {
    ensure!(
        args.schema.len() == args.values.len(),
        "{} schemas for {} values: give one --schema per value",
        args.schema.len(),
        args.values.len()
    );
    let mut bytes = match &args.prefix {
        Some(prefix) => parse_hex(prefix).context("--prefix")?,
        None => Vec::new(),
    };
    for (i, (schema, json)) in args.schema.iter().zip(&args.values).enumerate() {
        let schema = Schema::parse(schema)?;
        let value: Value =
            serde_json::from_str(json).with_context(|| format!("value {}: invalid JSON", i + 1))?;
        let frame = schema
            .encode_frame(&value)
            .with_context(|| format!("value {} as {schema}", i + 1))?;
        bytes.extend_from_slice(&frame);
    }
    match &args.output {
        Some(path) => std::fs::write(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("0x{}", hex::encode(&bytes)),
    }
    Ok(0)
}

fn decode(args: DecodeArgs) -> Result<u8> {
    let bytes = match (&args.hex, &args.file) {
        (_, Some(path)) => read_file(path)?,
        (Some(text), None) => parse_hex(text)?,
        (None, None) => unreachable!("clap requires one"),
    };
    if let Some(types) = &args.abi {
        println!("{}", decode_abi(types, &bytes)?);
        return Ok(0);
    }
    let schemas = args
        .schema
        .iter()
        .map(|s| Schema::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let rest = bytes
        .get(args.skip..)
        .with_context(|| format!("--skip {} is past the {} bytes", args.skip, bytes.len()))?;
    let mut out = std::io::stdout().lock();
    for value in decode_frames(&schemas, rest)? {
        writeln!(out, "{value}")?;
    }
    Ok(0)
}

/// Decodes `bytes` as one frame per schema, in order; every byte must belong to a frame.
pub(crate) fn decode_frames(schemas: &[Schema], bytes: &[u8]) -> Result<Vec<Value>> {
    let mut reader = FrameReader::new(bytes);
    let mut values = Vec::with_capacity(schemas.len());
    for (i, schema) in schemas.iter().enumerate() {
        let payload = reader
            .payload()
            .with_context(|| format!("frame {}", i + 1))?;
        values.push(
            schema
                .decode(payload)
                .with_context(|| format!("frame {} as {schema}", i + 1))?,
        );
    }
    ensure!(
        reader.is_empty(),
        "{} bytes follow the {} frames of the schemas",
        reader.remaining().len(),
        schemas.len()
    );
    Ok(values)
}

/// Decodes `bytes` as `abi.encode` of values of `types` (comma-separated Solidity types, with
/// or without the parentheses of a tuple) to a JSON array of the values.
pub(crate) fn decode_abi(types: &str, bytes: &[u8]) -> Result<Value> {
    let types = types.trim();
    let tuple = if types.starts_with('(') {
        types.to_owned()
    } else {
        format!("({types})")
    };
    let ty = DynSolType::parse(&tuple).with_context(|| format!("ABI types {types:?}"))?;
    let value = ty
        .abi_decode_params(bytes)
        .with_context(|| format!("the bytes are not abi.encode of {tuple}"))?;
    Ok(abi_json(&value))
}

/// An ABI value as JSON: integers beyond 2^53 as decimal strings, bytes and addresses as hex.
fn abi_json(value: &DynSolValue) -> Value {
    const EXACT: u64 = 1 << 53;
    match value {
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Uint(n, _) => match u64::try_from(*n) {
            Ok(small) if small <= EXACT => Value::from(small),
            _ => Value::String(n.to_string()),
        },
        DynSolValue::Int(n, _) => match i64::try_from(*n) {
            Ok(small) if small.unsigned_abs() <= EXACT => Value::from(small),
            _ => Value::String(n.to_string()),
        },
        DynSolValue::FixedBytes(word, size) => {
            Value::String(format!("0x{}", hex::encode(&word[..*size])))
        }
        DynSolValue::Address(address) => Value::String(address.to_checksum(None)),
        DynSolValue::Bytes(bytes) => Value::String(format!("0x{}", hex::encode(bytes))),
        DynSolValue::String(text) => Value::String(text.clone()),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            Value::Array(items.iter().map(abi_json).collect())
        }
        other => Value::String(format!("{other:?}")),
    }
}

/// Hex bytes, with or without `0x`, surrounding whitespace ignored.
fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).with_context(|| format!("{text:?} is not hex"))
}
