//! A local anvil node for tests and demos: started on a free port, killed on drop.
//!
//! The binary is the pinned one `toolchain/scripts/install.sh` installs under
//! `toolchain/contracts/node_modules`, or the one the `OPML_ANVIL` environment variable names.
//! The node runs the Cancun rules (what the contracts are compiled for), mines every transaction
//! at once (automine), and funds anvil's ten dev accounts; their keys are read from anvil's own
//! `--config-out` file, not restated here.

use std::fmt;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::Address;

use crate::error::ChainError;
use crate::rpc::{PrivateKeySigner, RpcChain, parse_key};

/// The environment variable that overrides the anvil executable.
pub const ANVIL_ENV: &str = "OPML_ANVIL";

/// The anvil that `toolchain/scripts/install.sh` installs.
const INSTALLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../toolchain/contracts/node_modules/.bin/anvil"
);

/// How long anvil may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A running anvil node; dropping it kills the node.
pub struct Anvil {
    child: Child,
    /// Holds the config file and the log.
    dir: PathBuf,
    url: String,
    keys: Vec<PrivateKeySigner>,
}

impl fmt::Debug for Anvil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anvil")
            .field("pid", &self.child.id())
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Anvil {
    /// The anvil executable: `$OPML_ANVIL`, or the one `toolchain/scripts/install.sh`
    /// installs. An error says how to install it when it is missing.
    pub fn executable() -> Result<PathBuf, ChainError> {
        let (path, origin) = match std::env::var_os(ANVIL_ENV) {
            Some(path) => (PathBuf::from(path), ANVIL_ENV),
            None => (PathBuf::from(INSTALLED), "the pinned toolchain"),
        };
        if path.is_file() {
            Ok(path)
        } else {
            Err(ChainError::Node(format!(
                "no anvil at {} ({origin}): run `bash toolchain/scripts/install.sh`, or set \
                 {ANVIL_ENV} to an anvil executable",
                path.display()
            )))
        }
    }

    /// Starts anvil on a free local port and waits until it answers `eth_chainId`.
    pub fn spawn() -> Result<Anvil, ChainError> {
        let executable = Anvil::executable()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| ChainError::Node(format!("no free local port: {err}")))?
            .port();
        let dir = std::env::temp_dir().join(format!("opml-anvil-{}-{port}", std::process::id()));
        let io = |err: std::io::Error| ChainError::Node(format!("{}: {err}", dir.display()));
        fs::create_dir_all(&dir).map_err(io)?;
        let log = File::create(dir.join("anvil.log")).map_err(io)?;
        let config = dir.join("config.json");
        let child = Command::new(&executable)
            .arg("--port")
            .arg(port.to_string())
            .args(["--hardfork", "cancun", "--silent", "--config-out"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(|err| {
                ChainError::Node(format!("cannot start {}: {err}", executable.display()))
            })?;
        // From here on, dropping `anvil` kills the node.
        let mut anvil = Anvil {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            keys: Vec::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = anvil
                .child
                .try_wait()
                .map_err(|err| ChainError::Node(format!("cannot wait for anvil: {err}")))?
            {
                return Err(ChainError::Node(format!(
                    "anvil exited ({status}) before answering; its log:\n{}",
                    anvil.log()
                )));
            }
            // The config file is written before the node listens; it may be read half-written.
            if let Ok(keys) = read_keys(&config)
                && RpcChain::connect_with_timeout(&anvil.url, &[], PROBE_TIMEOUT).is_ok()
            {
                anvil.keys = keys;
                return Ok(anvil);
            }
            if Instant::now() > deadline {
                return Err(ChainError::Timeout {
                    what: format!(
                        "anvil to answer eth_chainId on {}; its log:\n{}",
                        anvil.url,
                        anvil.log()
                    ),
                    after: START_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The keys of anvil's funded dev accounts.
    pub fn keys(&self) -> &[PrivateKeySigner] {
        &self.keys
    }

    /// A chain on this node that sends from every dev account.
    pub fn connect(&self) -> Result<RpcChain, ChainError> {
        RpcChain::connect(&self.url, &self.keys)
    }

    /// What anvil wrote to its output, for error messages.
    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("anvil.log")).unwrap_or_default()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // The node may have exited already; there is nothing to do about a failure here.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The dev account keys in anvil's `--config-out` file, checked against the accounts it lists.
fn read_keys(config: &Path) -> Result<Vec<PrivateKeySigner>, ChainError> {
    let bad = |what: &str| ChainError::Node(format!("{}: {what}", config.display()));
    let text = fs::read_to_string(config).map_err(|err| bad(&err.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| bad(&err.to_string()))?;
    let strings = |field: &str| -> Result<Vec<&str>, ChainError> {
        json.get(field)
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad(&format!("no {field} array")))?
            .iter()
            .map(|value| {
                value
                    .as_str()
                    .ok_or_else(|| bad(&format!("a non-string in {field}")))
            })
            .collect()
    };
    let keys = strings("private_keys")?
        .into_iter()
        .map(parse_key)
        .collect::<Result<Vec<_>, _>>()?;
    let accounts = strings("available_accounts")?
        .into_iter()
        .map(|account| {
            account
                .parse::<Address>()
                .map_err(|err| bad(&err.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let derived: Vec<Address> = keys.iter().map(PrivateKeySigner::address).collect();
    if keys.is_empty() || derived != accounts {
        return Err(bad("the private keys do not match the available accounts"));
    }
    Ok(keys)
}
