//! Running `opml` as a process against a node, as one of its dev accounts: shared by the
//! tests that play the roles on anvil (`#[path = "common/opml.rs"] mod opml;`, apart from
//! `common` so that the tests without a node do not compile it).

use std::fs::File;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use opml_chain::PrivateKeySigner;

/// How long one `opml` process may take.
pub(crate) const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// How an `opml` process ended.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    /// Its stdout, failing the test unless it succeeded.
    pub(crate) fn ok(self, args: &[&str]) -> String {
        assert!(
            self.status.success(),
            "opml {args:?}: {}\n{}\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self.stdout
    }
}

/// Runs `opml <args> --rpc-url <url>` with `key` in OPML_KEY, its output going to the files
/// `<n>.out` and `<n>.err` in `dir`; fails the test if it takes longer than
/// [`PROCESS_TIMEOUT`].
pub(crate) fn opml(
    dir: &Path,
    n: usize,
    url: &str,
    key: &PrivateKeySigner,
    args: &[&str],
) -> Finished {
    let out = dir.join(format!("{n}.out"));
    let err = dir.join(format!("{n}.err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_opml"))
        .args(args)
        .args(["--rpc-url", url])
        .env("OPML_KEY", hex::encode(key.to_bytes()))
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("opml runs");
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("opml {args:?} did not finish in {PROCESS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Finished {
        status,
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}
