//! The reader on small files written by the test writer: every value type, every check.

mod support;

use opml_gguf::{Array, GgmlType, Gguf, GgufError, Value};
use opml_llm::quant::{BlockFormat, f16_to_f32};
use support::{T, V, build, f32_bytes, s, sample, sample_kvs, sample_tensors, t};

fn parse_err(bytes: &[u8]) -> GgufError {
    match Gguf::parse(bytes) {
        Ok(_) => panic!("parsed"),
        Err(e) => e,
    }
}

fn with_kvs(kvs: &[(&str, V)]) -> Vec<u8> {
    build(3, kvs, &[], 32).bytes
}

fn with_tensors(tensors: &[T]) -> Vec<u8> {
    build(3, &[], tensors, 32).bytes
}

#[test]
fn every_value_type_reads_back() {
    let file = sample();
    let g = Gguf::parse(&file.bytes).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_offset() % 64, 0);
    let keys: Vec<_> = g.metadata().iter().map(|(k, _)| *k).collect();
    let want: Vec<_> = sample_kvs().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want);
    assert_eq!(g.get("u8"), Some(&Value::U8(200)));
    assert_eq!(g.get("i8"), Some(&Value::I8(-100)));
    assert_eq!(g.get("u16"), Some(&Value::U16(60_000)));
    assert_eq!(g.get("i16"), Some(&Value::I16(-30_000)));
    assert_eq!(g.u32("u32").unwrap(), 4_000_000_000);
    assert_eq!(g.get("i32"), Some(&Value::I32(-2_000_000_000)));
    assert_eq!(g.f32("f32").unwrap().to_bits(), 1e-5f32.to_bits());
    assert!(g.bool("bool").unwrap());
    assert_eq!(g.str("string").unwrap(), "héllo ✓");
    assert_eq!(g.u64("u64").unwrap(), u64::MAX);
    assert_eq!(g.get("i64"), Some(&Value::I64(i64::MIN)));
    assert_eq!(g.get("f64"), Some(&Value::F64(-2.5e300)));
    assert_eq!(g.str_array("tokens").unwrap(), ["<s>", "", "Ġthe"]);
    assert_eq!(g.i32_array("token_type").unwrap(), [1, -3, 6]);
    assert_eq!(
        g.get("bools"),
        Some(&Value::Array(Array::Bool(vec![false, true])))
    );
    assert_eq!(g.get("empty"), Some(&Value::Array(Array::U64(vec![]))));
    assert_eq!(
        g.get("nested"),
        Some(&Value::Array(Array::Array(vec![
            Array::U32(vec![1, 2]),
            Array::String(vec!["x"]),
            Array::Array(vec![Array::F64(vec![0.5])]),
        ])))
    );
    assert_eq!(
        g.get("nested").unwrap().type_description(),
        "array<array<u32>>"
    );
    assert_eq!(g.get("missing"), None);
}

#[test]
fn typed_getters_name_the_key() {
    let file = sample();
    let g = Gguf::parse(&file.bytes).unwrap();
    let e = g.u32("nope").unwrap_err();
    assert_eq!(e, GgufError::MissingKey { key: "nope".into() });
    assert!(e.to_string().contains("\"nope\""), "{e}");
    let e = g.u32("general.architecture").unwrap_err();
    assert!(matches!(&e, GgufError::WrongType { key, expected, found }
        if key == "general.architecture" && expected == "u32" && found == "string"));
    assert!(e.to_string().contains("general.architecture"), "{e}");
    assert!(
        matches!(g.str_array("token_type"), Err(GgufError::WrongType { found, .. }) if found == "array<i32>")
    );
    assert!(matches!(
        g.i32_array("tokens"),
        Err(GgufError::WrongType { .. })
    ));
    assert!(matches!(g.f32("u32"), Err(GgufError::WrongType { .. })));
    assert!(matches!(g.str("u32"), Err(GgufError::WrongType { .. })));
}

#[test]
fn tensors_are_listed_bounded_and_dequantized() {
    let file = sample();
    let g = Gguf::parse(&file.bytes).unwrap();
    let tensors = sample_tensors();
    assert_eq!(g.tensors().len(), tensors.len());
    for (info, want) in g.tensors().iter().zip(&tensors) {
        assert_eq!(info.name(), want.name);
        assert_eq!(info.dims(), want.dims);
        assert_eq!(info.ggml_type().id(), want.type_id);
        assert_eq!(info.offset() % 64, 0);
        assert_eq!(g.tensor_bytes(info), want.data, "{}", want.name);
        assert_eq!(g.tensor(want.name.as_str()), Some(info));
    }
    let f32s = g.tensor("f32").unwrap();
    let want = [1.0, -2.0, 0.5, f32::MAX, -0.0, 1e-40];
    let got = g.dequantize(f32s).unwrap();
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want.iter().map(|v: &f32| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(f32s.rows(), 2);
    assert_eq!(
        g.dequantize_rows(f32s, 1..2).unwrap()[..2],
        [f32::MAX, -0.0]
    );

    let f16s = g.tensor("f16").unwrap();
    assert_eq!(
        g.dequantize(f16s).unwrap(),
        [1.0, -2.0, 65504.0, f16_to_f32(1)]
    );

    for (name, format) in [("q4_1", BlockFormat::Q4_1), ("q8_0", BlockFormat::Q8_0)] {
        let info = g.tensor(name).unwrap();
        let bytes = g.tensor_bytes(info);
        let mut want = vec![0f32; info.elements() as usize];
        format.dequantize(bytes, &mut want);
        assert_eq!(g.dequantize(info).unwrap(), want, "{name}");
        let row = info.row_len() as usize;
        let last = info.rows() - 1;
        assert_eq!(
            g.dequantize_rows(info, last..last + 1).unwrap(),
            want[last as usize * row..],
            "{name}"
        );
    }
    assert_eq!(g.tensor("q8_0").unwrap().rows(), 4);
    assert_eq!(g.dequantize(g.tensor("scalar").unwrap()).unwrap(), [7.0]);
    assert_eq!(g.dequantize(g.tensor("empty").unwrap()).unwrap(), []);

    let q4_0 = g.tensor("q4_0").unwrap();
    assert_eq!(q4_0.ggml_type(), GgmlType::Q4_0);
    assert_eq!(g.tensor_bytes(q4_0).len(), 18);
    let e = g.dequantize(q4_0).unwrap_err();
    assert!(
        matches!(&e, GgufError::UnsupportedType { tensor, ggml_type: GgmlType::Q4_0 } if tensor == "q4_0")
    );
    assert!(e.to_string().contains("Q4_0"), "{e}");

    let q4_1 = g.tensor("q4_1").unwrap();
    assert!(matches!(
        g.dequantize_rows(q4_1, 2..4),
        Err(GgufError::BadRequest { .. })
    ));
}

#[test]
fn header_errors() {
    assert!(matches!(parse_err(b""), GgufError::BadMagic { found } if found.is_empty()));
    assert!(matches!(
        parse_err(b"GGML\x03\0\0\0"),
        GgufError::BadMagic { .. }
    ));
    assert!(matches!(
        parse_err(b"GGUF\x03\0"),
        GgufError::Truncated { .. }
    ));
    for version in [1, 2, 4] {
        let e = parse_err(&build(version, &[], &[], 32).bytes);
        assert_eq!(e, GgufError::UnsupportedVersion { version });
    }
    // A file with nothing in it is valid.
    let empty = build(3, &[], &[], 32).bytes;
    let g = Gguf::parse(&empty).unwrap();
    assert!(g.metadata().is_empty() && g.tensors().is_empty());
    // Counts larger than the file can hold.
    let mut huge = empty.clone();
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = parse_err(&huge);
    assert!(
        matches!(
            e,
            GgufError::CountTooLarge {
                offset: 16,
                count: u64::MAX,
                ..
            }
        ),
        "{e}"
    );
    let mut huge = empty;
    huge[8..16].copy_from_slice(&1000u64.to_le_bytes());
    assert!(matches!(
        parse_err(&huge),
        GgufError::CountTooLarge { offset: 8, .. }
    ));
}

#[test]
fn metadata_errors() {
    let e = parse_err(&with_kvs(&[("a", V::U8(1)), ("a", V::U8(2))]));
    assert_eq!(e, GgufError::DuplicateKey { key: "a".into() });
    let e = parse_err(&with_kvs(&[("k", V::Raw(13, vec![0; 8]))]));
    assert!(
        matches!(&e, GgufError::UnknownValueType { type_id: 13, context, .. } if context.contains("\"k\"")),
        "{e}"
    );
    let e = parse_err(&with_kvs(&[("k", V::Array(99, vec![]))]));
    assert!(
        matches!(e, GgufError::UnknownValueType { type_id: 99, .. }),
        "{e}"
    );
    let e = parse_err(&with_kvs(&[("k", V::Raw(7, vec![2]))]));
    assert!(matches!(e, GgufError::InvalidBool { value: 2, .. }), "{e}");
    let e = parse_err(&with_kvs(&[(
        "k",
        V::Raw(8, [&1u64.to_le_bytes()[..], &[0xff]].concat()),
    )]));
    assert!(
        matches!(&e, GgufError::InvalidUtf8 { context, .. } if context.contains("\"k\"")),
        "{e}"
    );
    let mut bad_key = with_kvs(&[("k", V::U8(0))]);
    bad_key[32] = 0xc0;
    assert!(matches!(
        parse_err(&bad_key),
        GgufError::InvalidUtf8 { offset: 32, .. }
    ));
    // Arrays nest 8 levels deep, not 9.
    let nest = |levels: usize| {
        let mut v = V::Array(0, vec![]);
        for _ in 1..levels {
            v = V::Array(9, vec![v]);
        }
        with_kvs(&[("deep", v)])
    };
    Gguf::parse(&nest(8)).unwrap();
    let e = parse_err(&nest(9));
    assert!(matches!(e, GgufError::NestingTooDeep { .. }), "{e}");
    // An array count beyond the file, a string length beyond the file.
    let mut big = with_kvs(&[("k", V::Array(6, vec![V::F32(1.0)]))]);
    let at = 24 + 8 + 1 + 4 + 4;
    big[at..at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(
        matches!(parse_err(&big), GgufError::CountTooLarge { offset, count, .. } if offset == at as u64 && count == 1 << 60)
    );
    let file = with_kvs(&[("k", s("value"))]);
    // The header ends after the value (the padding after it is the empty data section's).
    for cut in 0..24 + 8 + 1 + 4 + 8 + 5 {
        assert!(Gguf::parse(&file[..cut]).is_err(), "{cut}");
    }
}

#[test]
fn alignment_must_be_a_nonzero_power_of_two_u32() {
    for a in [0, 3, 48] {
        let e = parse_err(&with_kvs(&[("general.alignment", V::U32(a))]));
        assert_eq!(e, GgufError::BadAlignment { alignment: a });
    }
    let e = parse_err(&with_kvs(&[("general.alignment", V::U64(32))]));
    assert!(matches!(e, GgufError::WrongType { .. }), "{e}");
    let g_bytes = with_kvs(&[("general.alignment", V::U32(1))]);
    assert_eq!(Gguf::parse(&g_bytes).unwrap().alignment(), 1);
    let g_bytes = with_kvs(&[]);
    assert_eq!(Gguf::parse(&g_bytes).unwrap().alignment(), 32);
}

#[test]
fn tensor_errors() {
    let ok = |name: &str| t(name, &[4], 0, f32_bytes(&[1.0; 4]));
    Gguf::parse(&with_tensors(&[ok("a"), ok("b")])).unwrap();

    let e = parse_err(&with_tensors(&[ok("a"), ok("a")]));
    assert_eq!(e, GgufError::DuplicateTensor { tensor: "a".into() });
    let e = parse_err(&with_tensors(&[t(
        "a",
        &[1, 1, 1, 1, 1],
        0,
        f32_bytes(&[1.0]),
    )]));
    assert_eq!(
        e,
        GgufError::TooManyDims {
            tensor: "a".into(),
            n_dims: 5
        }
    );
    for type_id in [4, 5, 31, 42, u32::MAX] {
        let e = parse_err(&with_tensors(&[t("a", &[32], type_id, vec![0; 64])]));
        assert_eq!(
            e,
            GgufError::UnknownGgmlType {
                tensor: "a".into(),
                type_id
            }
        );
    }
    let e = parse_err(&with_tensors(&[t("a", &[16, 2], 3, vec![0; 20])]));
    assert_eq!(
        e,
        GgufError::RowNotBlockMultiple {
            tensor: "a".into(),
            row: 16,
            block: 32
        }
    );
    let e = parse_err(&with_tensors(&[t("a", &[1 << 32, 1 << 32], 0, vec![])]));
    assert!(matches!(e, GgufError::SizeOverflow { .. }), "{e}");
    let e = parse_err(&with_tensors(&[t("a", &[1 << 62, 4], 0, vec![])]));
    assert!(matches!(e, GgufError::SizeOverflow { .. }), "{e}");
    let e = parse_err(&with_tensors(&[t("a", &[1 << 62], 0, vec![])]));
    assert!(matches!(e, GgufError::SizeOverflow { .. }), "{e}");
    let e = parse_err(&with_tensors(&[t("a", &[1 << 40], 0, vec![])]));
    assert!(
        matches!(&e, GgufError::TensorOutOfBounds { tensor, .. } if tensor == "a"),
        "{e}"
    );

    let mut misaligned = ok("b");
    misaligned.offset = Some(48);
    let e = parse_err(&with_tensors(&[ok("a"), misaligned]));
    assert_eq!(
        e,
        GgufError::MisalignedTensor {
            tensor: "b".into(),
            offset: 48,
            alignment: 32
        }
    );

    let mut far = ok("b");
    far.offset = Some(u64::MAX - 31);
    let e = parse_err(&with_tensors(&[ok("a"), far]));
    assert!(matches!(e, GgufError::TensorOutOfBounds { .. }), "{e}");

    let mut first = t("a", &[16], 0, f32_bytes(&[1.0; 16]));
    first.offset = Some(0);
    let mut second = ok("b");
    second.offset = Some(32);
    let e = parse_err(&with_tensors(&[second, first]));
    assert_eq!(
        e,
        GgufError::OverlappingTensors {
            first: "a".into(),
            second: "b".into()
        }
    );

    // An empty tensor inside another one holds no bytes.
    let mut inside = t("e", &[0], 0, vec![]);
    inside.offset = Some(32);
    let mut big = t("a", &[16], 0, f32_bytes(&[1.0; 16]));
    big.offset = Some(0);
    Gguf::parse(&with_tensors(&[big, inside])).unwrap();

    // The data section cut short.
    let file = with_tensors(&[ok("a")]);
    let e = parse_err(&file[..file.len() - 1]);
    assert!(
        matches!(e, GgufError::TensorOutOfBounds { size: 16, .. }),
        "{e}"
    );
}

#[test]
fn ggml_types_round_trip_their_ids() {
    for ty in GgmlType::all() {
        assert_eq!(GgmlType::from_id(ty.id()), Some(ty));
        assert_eq!(ty.to_string(), format!("{ty:?}"));
    }
    assert_eq!(GgmlType::Q4_1.block_size(), 32);
    assert_eq!(
        GgmlType::Q4_1.type_size(),
        BlockFormat::Q4_1.block_bytes() as u64
    );
    assert_eq!(
        GgmlType::Q8_0.type_size(),
        BlockFormat::Q8_0.block_bytes() as u64
    );
}

#[test]
fn empty_tensors_with_huge_rows_are_refused() {
    // No elements, but a row of 2^62 f32 values is 2^64 bytes.
    let e = parse_err(&with_tensors(&[t("a", &[1 << 62, 0], 0, vec![])]));
    assert!(matches!(e, GgufError::SizeOverflow { .. }), "{e}");
    let g_bytes = with_tensors(&[t("a", &[1 << 40, 0], 0, vec![])]);
    let g = Gguf::parse(&g_bytes).unwrap();
    let info = g.tensor("a").unwrap();
    assert_eq!((info.rows(), info.row_bytes()), (0, 1 << 42));
    assert_eq!(g.dequantize(info).unwrap(), []);
    let debug = format!("{g:?}");
    assert!(debug.contains("tensors: 1") && debug.len() < 200, "{debug}");
}
