//! The `echo` guest built natively: on a malformed length prefix it exits with the same code as
//! in the VM (`guest/methods/tests/guests.rs`), `exit_code::BAD_INPUT`, and says why.

use std::io::Write;
use std::process::{Command, Stdio};

use opml_guest::platform::exit_code;

#[test]
fn a_length_prefix_beyond_the_input_is_bad_input() {
    for (announced, present) in [(0x5000_0000u32, 10usize), (0x0100_0000, 100_000), (33, 32)] {
        let mut input = vec![echo::MODE_TYPED];
        input.extend_from_slice(&announced.to_le_bytes());
        input.resize(input.len() + present, 0x5a);
        let mut child = Command::new(env!("CARGO_BIN_EXE_echo"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the native echo starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(&input)
            .expect("the input is written");
        let output = child.wait_with_output().expect("the native echo runs");
        assert_eq!(
            output.status.code(),
            Some(exit_code::BAD_INPUT as i32),
            "{announced} bytes announced"
        );
        assert!(output.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!("opml-guest: bad input: input ended after {present} of {announced} bytes\n")
        );
    }
}
