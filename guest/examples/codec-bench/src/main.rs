//! The `codec-bench` guest program; see the library for the modes.
#![cfg_attr(target_os = "none", no_std, no_main)]

use codec_bench::{Payload, bincode_config, checksum, mode};
use opml_guest::platform::exit_code;

opml_guest::entry!(main);

fn main() {
    let mut selected = [0u8];
    opml_guest::read_slice(&mut selected);
    let summary = match selected[0] {
        mode::READ => opml_guest::read_frame().len() as u32,
        mode::POSTCARD_DECODE => checksum(&postcard_decode()),
        mode::POSTCARD_ROUNDTRIP => {
            let payload = postcard_decode();
            let encoded = opml_guest::codec::to_payload(&payload)
                .unwrap_or_else(|err| fail(format_args!("{err}")));
            checksum(&payload) ^ encoded.len() as u32
        }
        mode::BINCODE_DECODE => checksum(&bincode_decode()),
        mode::BINCODE_ROUNDTRIP => {
            let payload = bincode_decode();
            let encoded = bincode::serde::encode_to_vec(&payload, bincode_config())
                .unwrap_or_else(|err| fail(format_args!("{err}")));
            checksum(&payload) ^ encoded.len() as u32
        }
        mode::SDK_ROUNDTRIP => {
            let payload: Payload = opml_guest::read();
            opml_guest::commit(&payload);
            return;
        }
        other => fail(format_args!("unknown mode {other}")),
    };
    opml_guest::commit_slice(&summary.to_le_bytes());
}

fn postcard_decode() -> Payload {
    let bytes = opml_guest::read_frame();
    opml_guest::codec::from_payload(&bytes).unwrap_or_else(|err| fail(format_args!("{err}")))
}

fn bincode_decode() -> Payload {
    let bytes = opml_guest::read_frame();
    match bincode::serde::decode_from_slice(&bytes, bincode_config()) {
        Ok((payload, _)) => payload,
        Err(err) => fail(format_args!("{err}")),
    }
}

/// Reports bad input and exits with `exit_code::BAD_INPUT`.
fn fail(why: core::fmt::Arguments<'_>) -> ! {
    opml_guest::log!("codec-bench: {why}");
    opml_guest::exit(exit_code::BAD_INPUT)
}
