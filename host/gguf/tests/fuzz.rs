//! No input makes the reader panic or allocate more than a small multiple of the input: random
//! bytes, and random mutations (byte flips, truncations, count and length fields set to huge
//! values) of a valid file and of the real model's header region.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Read;
use std::sync::OnceLock;

use opml_gguf::Gguf;
use proptest::prelude::*;
use support::{model_path, sample};

/// Counts this thread's allocations: the largest one and the sum of all.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    let _ = TOTAL.try_with(|t| t.set(t.get().saturating_add(size)));
}

// SAFETY: forwards to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Parses `bytes` (an error is fine), and checks what the parse allocated; on success, reads
/// every tensor back.
fn parse_bounded(bytes: &[u8]) {
    LARGEST.with(|l| l.set(0));
    TOTAL.with(|t| t.set(0));
    let result = Gguf::parse(bytes);
    let (largest, total) = (LARGEST.with(Cell::get), TOTAL.with(Cell::get));
    // Every allocation is for items that each take at least 8 bytes of the input (1 for u8
    // and bool array elements), stored in at most ~6 times their encoded size (a key/value pair:
    // 13 bytes in the file, 48 in the metadata vector and up to 48 in the key index).
    let cap = 16 * bytes.len() + 64 * 1024;
    assert!(
        largest <= cap,
        "largest allocation {largest} for {} bytes",
        bytes.len()
    );
    assert!(
        total <= 4 * cap,
        "{total} bytes allocated for {} bytes",
        bytes.len()
    );
    match result {
        Ok(gguf) => {
            for info in gguf.tensors() {
                assert_eq!(gguf.tensor_bytes(info).len() as u64, info.byte_size());
                let _ = gguf.dequantize(info);
            }
            for (key, _) in gguf.metadata() {
                let _ = (gguf.u32(key), gguf.str(key), gguf.str_array(key));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// One change to a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Flip a bit of the byte at (index mod length).
    Flip(usize, u8),
    /// Set the byte at (index mod length).
    Set(usize, u8),
    /// Keep only the first (index mod length) bytes.
    Truncate(usize),
    /// Set a u64 count/length field (index mod number of fields) to a value.
    Field(usize, u64),
    /// Set the 8 bytes at (index mod length) to a value.
    U64(usize, u64),
}

fn huge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1 << 32),
        Just(1 << 62),
        Just(u32::MAX as u64),
        0u64..64,
        any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), huge()).prop_map(|(i, v)| Mutation::Field(i, v)),
        (any::<usize>(), huge()).prop_map(|(i, v)| Mutation::U64(i, v)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, fields: &[usize], mutations: &[Mutation]) {
    for m in mutations {
        if bytes.is_empty() {
            return;
        }
        let n = bytes.len();
        match *m {
            Mutation::Flip(i, bit) => bytes[i % n] ^= 1 << bit,
            Mutation::Set(i, v) => bytes[i % n] = v,
            Mutation::Truncate(i) => bytes.truncate(i % n),
            Mutation::Field(i, v) | Mutation::U64(i, v) => {
                let at = match m {
                    Mutation::Field(..) if !fields.is_empty() => fields[i % fields.len()],
                    _ => i % n,
                };
                if at >= n {
                    continue;
                }
                let end = (at + 8).min(n);
                bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
        }
    }
}

/// The real model up to its first tensor's data: the metadata (with the 49152 tokens), the
/// tensor infos and a little data. Only these bytes are read from the file.
fn real_header() -> &'static [u8] {
    static HEADER: OnceLock<Vec<u8>> = OnceLock::new();
    HEADER.get_or_init(|| {
        let mut bytes = Vec::new();
        std::fs::File::open(model_path())
            .unwrap()
            .take(1_785_664 + 4096)
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    })
}

proptest! {
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        parse_bounded(&bytes);
        // With a valid header, so that the counts and values are random.
        let mut with_header = b"GGUF\x03\0\0\0".to_vec();
        with_header.extend_from_slice(&bytes);
        parse_bounded(&with_header);
    }

    #[test]
    fn mutated_sample(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let file = sample();
        let mut bytes = file.bytes;
        mutate(&mut bytes, &file.length_fields, &mutations);
        parse_bounded(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The real header: mutations land in the first 4 KiB (the header and small values), in
    /// the tensor infos at the end, or anywhere.
    #[test]
    fn mutated_real_header(
        region in 0u8..3,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = real_header().to_vec();
        let n = bytes.len();
        let mutations: Vec<_> = mutations
            .into_iter()
            .map(|m| {
                let place = |i: usize| match region {
                    0 => i % 4096,
                    1 => n - 20_000 + i % 20_000,
                    _ => i,
                };
                match m {
                    Mutation::Flip(i, b) => Mutation::Flip(place(i), b),
                    Mutation::Set(i, v) => Mutation::Set(place(i), v),
                    Mutation::Truncate(i) => Mutation::Truncate(place(i)),
                    Mutation::Field(i, v) | Mutation::U64(i, v) => Mutation::U64(place(i), v),
                }
            })
            .collect();
        mutate(&mut bytes, &[], &mutations);
        parse_bounded(&bytes);
    }
}

#[test]
fn the_real_header_parses_up_to_the_missing_data() {
    // The header region holds every tensor info, but not every tensor's bytes.
    let err = Gguf::parse(real_header()).unwrap_err();
    assert!(
        matches!(err, opml_gguf::GgufError::TensorOutOfBounds { .. }),
        "{err}"
    );
}
