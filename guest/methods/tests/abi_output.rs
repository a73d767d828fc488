//! The `abi-sum` guest in the VM: its output is the ABI encoding a contract decodes, and the
//! forge test's fixture (`contracts/test/fixtures/abi-sum.json`, read by
//! `contracts/test/AbiOutput.t.sol`) is that run's. `OPML_WRITE_FIXTURES=1` rewrites it.

use std::path::Path;

use opml_guest::abi::AbiParams;
use opml_methods::{ABI_SUM_ELF, ABI_SUM_ID, GUESTS_BUILT};
use opml_vm::Executor;

fn input() -> abi_sum::Input {
    abi_sum::Input {
        numbers: vec![u64::MAX, u64::MAX, 42],
        label: "the sum of three numbers, past 2^64".into(),
    }
}

#[test]
fn the_guest_commits_the_abi_encoding_and_the_fixture_is_current() {
    if !GUESTS_BUILT {
        return;
    }
    let executor = Executor::new(ABI_SUM_ELF).write(&input()).unwrap();
    let input_bytes = executor.input().to_vec();
    let session = executor.run().unwrap();
    let (sum, count, label) = abi_sum::output(&input());
    assert_eq!(
        session.output,
        (sum, count, label.clone()).abi_encode_params()
    );
    assert_eq!(session.program_id, ABI_SUM_ID);

    let expected_sum = 2 * u128::from(u64::MAX) + 42;
    assert_eq!(sum, expected_sum.into());
    let fixture = format!(
        "{{\n  \"program_id\": \"0x{}\",\n  \"input\": \"0x{}\",\n  \"input_commitment\": \"0x{}\",\n  \
         \"output\": \"0x{}\",\n  \"sum\": \"{expected_sum}\",\n  \"count\": {count},\n  \
         \"label\": \"{label}\"\n}}\n",
        hex(&session.program_id),
        hex(&input_bytes),
        hex(&session.input_commitment),
        hex(&session.output),
    );
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/test/fixtures/abi-sum.json");
    if std::env::var_os("OPML_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, &fixture).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fixture,
        "{} is stale: rewrite it with OPML_WRITE_FIXTURES=1 cargo test -p opml-methods --test abi_output",
        path.display()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
