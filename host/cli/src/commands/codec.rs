//! `opml codec encode` / `opml codec decode`: a guest's typed input from JSON, its typed output
//! to JSON, by a schema of its types (`crate::schema`).

use std::io::Write;
use std::path::PathBuf;

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
    /// Decode a guest's output (hex, or a file) to JSON: one frame per --schema, in order;
    /// prints one JSON value per line.
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
    #[arg(long, short, required = true, value_name = "SCHEMA")]
    schema: Vec<String>,
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

/// Hex bytes, with or without `0x`, surrounding whitespace ignored.
fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).with_context(|| format!("{text:?} is not hex"))
}
