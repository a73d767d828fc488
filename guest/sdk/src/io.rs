//! The input stream, the public output and the debug log.
//!
//! Every transfer loops on short counts, as the VM returns at most up to the end of a 32-byte
//! leaf per call. Typed values are frames of `opml_codec`; their staging buffers are placed so
//! that the buffer's offset within a 32-byte leaf equals the stream's, which lets every `ecall`
//! move a whole leaf (the SDK heap returns every block of 32 bytes or more 32-byte aligned).

use alloc::vec::Vec;
use core::fmt;

use opml_platform::{exit_code, fd, memory::LEAF_SIZE, syscall as nr};
use serde::{Serialize, de::DeserializeOwned};

use crate::sys;

const LEAF: usize = LEAF_SIZE as usize;

/// Why a value could not be read from the input stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The input ended early.
    EndOfInput {
        /// Bytes asked for.
        wanted: usize,
        /// Bytes there were.
        got: usize,
    },
    /// The frame's payload does not decode as the requested type.
    Decode(opml_codec::Error),
    /// A frame header announces more bytes than a buffer can hold; the value is the length.
    FrameTooLarge(usize),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::EndOfInput { wanted, got } => {
                write!(f, "input ended after {got} of {wanted} bytes")
            }
            ReadError::Decode(err) => write!(f, "{err}"),
            ReadError::FrameTooLarge(len) => write!(f, "a frame of {len} bytes is too large"),
        }
    }
}

impl core::error::Error for ReadError {}

impl ReadError {
    /// Reports the error on the debug log and exits with [`exit_code::BAD_INPUT`], as the
    /// non-`try_` reading functions do.
    pub fn exit(&self) -> ! {
        crate::log!("opml-guest: bad input: {self}");
        sys::exit(exit_code::BAD_INPUT)
    }
}

/// A byte count kept in a static: bytes taken from the input, bytes put to the output.
#[cfg(target_os = "none")]
struct Counter(core::cell::Cell<usize>);

// SAFETY: a guest runs on a single hart with no threads and no interrupt or signal handlers, so
// no two accesses to a counter can ever overlap. (riscv32im has no atomic instructions to use.)
#[cfg(target_os = "none")]
unsafe impl Sync for Counter {}

#[cfg(target_os = "none")]
impl Counter {
    const fn new() -> Self {
        Counter(core::cell::Cell::new(0))
    }
    fn get(&self) -> usize {
        self.0.get()
    }
    fn add(&self, n: usize) {
        self.0.set(self.0.get() + n);
    }
}

/// A byte count kept in a static (natively: an atomic, as test threads share it).
#[cfg(not(target_os = "none"))]
struct Counter(core::sync::atomic::AtomicUsize);

#[cfg(not(target_os = "none"))]
impl Counter {
    const fn new() -> Self {
        Counter(core::sync::atomic::AtomicUsize::new(0))
    }
    fn get(&self) -> usize {
        self.0.load(core::sync::atomic::Ordering::Relaxed)
    }
    fn add(&self, n: usize) {
        self.0.fetch_add(n, core::sync::atomic::Ordering::Relaxed);
    }
}

static INPUT_POSITION: Counter = Counter::new();
static OUTPUT_POSITION: Counter = Counter::new();

/// Reads into `len` bytes at `dst` until they are full or the input ends; returns the count.
/// A failed read (impossible in the VM; natively a broken standard input) counts as the end.
///
/// # Safety
///
/// `dst` must be valid for `len` bytes of writes.
unsafe fn read_raw(dst: *mut u8, len: usize) -> usize {
    let mut done = 0;
    while done < len {
        // SAFETY: `done < len`, so the `len - done` bytes from `dst + done` are the caller's.
        let n = unsafe {
            sys::syscall(
                nr::READ,
                fd::STDIN as usize,
                dst.add(done) as usize,
                len - done,
            )
        };
        if n <= 0 {
            break;
        }
        done += n as usize;
    }
    INPUT_POSITION.add(done);
    done
}

/// Reads exactly `len` bytes to `dst`.
///
/// # Safety
///
/// `dst` must be valid for `len` bytes of writes.
unsafe fn read_exact_raw(dst: *mut u8, len: usize) -> Result<(), ReadError> {
    // SAFETY: forwarded from the caller.
    let got = unsafe { read_raw(dst, len) };
    if got == len {
        Ok(())
    } else {
        Err(ReadError::EndOfInput { wanted: len, got })
    }
}

/// Writes all of `bytes` to `descriptor`; on failure returns the negated errno.
fn write_all(descriptor: u32, bytes: &[u8]) -> Result<(), isize> {
    let mut done = 0;
    while done < bytes.len() {
        // SAFETY: the `bytes.len() - done` bytes from `done` on are readable.
        let n = unsafe {
            sys::syscall(
                nr::WRITE,
                descriptor as usize,
                bytes.as_ptr().add(done) as usize,
                bytes.len() - done,
            )
        };
        if n <= 0 {
            return Err(n);
        }
        done += n as usize;
    }
    Ok(())
}

/// Appends `bytes` to the public output; a failure to write the output is fatal.
fn write_output(bytes: &[u8]) {
    if let Err(errno) = write_all(fd::STDOUT, bytes) {
        panic!("writing the public output failed: {errno}");
    }
    OUTPUT_POSITION.add(bytes.len());
}

/// Reads a frame header and returns the payload length.
fn read_header() -> Result<usize, ReadError> {
    let mut header = [0u8; opml_codec::HEADER_LEN];
    // SAFETY: `header` is HEADER_LEN writable bytes.
    unsafe { read_exact_raw(header.as_mut_ptr(), header.len())? };
    Ok(opml_codec::payload_len(header))
}

/// The first buffer for a frame's payload. A larger payload's buffer doubles as its bytes
/// arrive, so a header that announces more than the input holds costs no more memory than the
/// input does (and in the VM the SDK heap grows the buffer in place).
const FIRST_BUFFER: usize = 64 * 1024;

/// Reads a `len`-byte payload into a new buffer, after `phase` zero bytes of padding; the
/// payload is `buffer[phase..]`. Fails with [`ReadError::EndOfInput`] when the input ends first,
/// whatever `len` announced: the buffer only grows as input arrives.
fn read_payload(len: usize, phase: usize) -> Result<Vec<u8>, ReadError> {
    let too_large = |_| ReadError::FrameTooLarge(len);
    let end = len
        .checked_add(phase)
        .ok_or(ReadError::FrameTooLarge(len))?;
    let mut capacity = end.min(FIRST_BUFFER);
    let mut buf = Vec::new();
    buf.try_reserve_exact(capacity).map_err(too_large)?;
    buf.resize(phase, 0);
    loop {
        let filled = buf.len();
        let room = capacity - filled;
        // SAFETY: the vector has room for `capacity` bytes, of which the first `filled` are
        // initialized; `read_raw` initializes the `got` bytes it reports.
        let got = unsafe {
            let got = read_raw(buf.as_mut_ptr().add(filled), room);
            buf.set_len(filled + got);
            got
        };
        if got < room {
            return Err(ReadError::EndOfInput {
                wanted: len,
                got: buf.len() - phase,
            });
        }
        if capacity == end {
            return Ok(buf);
        }
        capacity = end.min(capacity.saturating_mul(2));
        buf.try_reserve_exact(capacity - buf.len())
            .map_err(too_large)?;
    }
}

/// Reads the next frame and returns its payload. A header that announces more bytes than the
/// input holds gives [`ReadError::EndOfInput`], in the VM as natively: the buffer grows only as
/// bytes arrive, never to the announced length up front.
pub fn try_read_frame() -> Result<Vec<u8>, ReadError> {
    let len = read_header()?;
    read_payload(len, 0)
}

/// Reads the next frame and returns its payload; a truncated input exits with
/// [`exit_code::BAD_INPUT`].
pub fn read_frame() -> Vec<u8> {
    try_read_frame().unwrap_or_else(|err| err.exit())
}

/// Reads the next frame and decodes it as a `T`; a header announcing more than the input holds
/// is [`ReadError::EndOfInput`], as for [`try_read_frame`].
pub fn try_read<T: DeserializeOwned>() -> Result<T, ReadError> {
    let len = read_header()?;
    // Stage the payload at the input stream's offset within a leaf, so every read moves a whole
    // leaf; the padding in front of it is never read.
    let phase = INPUT_POSITION.get() % LEAF;
    let staging = read_payload(len, phase)?;
    opml_codec::from_payload(&staging[phase..]).map_err(ReadError::Decode)
}

/// Reads the next frame and decodes it as a `T`; a truncated or undecodable input exits with
/// [`exit_code::BAD_INPUT`] after saying why on the debug log.
pub fn read<T: DeserializeOwned>() -> T {
    try_read().unwrap_or_else(|err| err.exit())
}

/// Fills `buf` with raw input bytes; if the input ends first, exits with
/// [`exit_code::BAD_INPUT`].
pub fn read_slice(buf: &mut [u8]) {
    let wanted = buf.len();
    let got = read_up_to(buf);
    if got != wanted {
        ReadError::EndOfInput { wanted, got }.exit();
    }
}

/// Reads raw input bytes into `buf` until it is full or the input ends; returns the count, which
/// is less than `buf.len()` only at the end of the input.
pub fn read_up_to(buf: &mut [u8]) -> usize {
    // SAFETY: `buf` is `buf.len()` writable bytes.
    unsafe { read_raw(buf.as_mut_ptr(), buf.len()) }
}

/// Reads the rest of the input stream as raw bytes.
pub fn read_to_end() -> Vec<u8> {
    /// The first buffer size; later ones double.
    const FIRST: usize = 1024;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        buf.reserve(FIRST);
        let room = buf.capacity() - buf.len();
        // SAFETY: `room` bytes of spare capacity follow the initialized ones, and `read_raw`
        // initializes the `n` bytes it reports.
        unsafe {
            let n = read_raw(buf.as_mut_ptr().add(buf.len()), room);
            buf.set_len(buf.len() + n);
            if n < room {
                return buf;
            }
        }
    }
}

/// Bytes taken from the input stream so far through this crate's functions.
pub fn input_position() -> usize {
    INPUT_POSITION.get()
}

/// Appends `value` to the public output as one frame (see `opml_codec`).
///
/// # Panics
///
/// If the value cannot be serialized (a sequence of unknown length, say).
pub fn commit<T: Serialize + ?Sized>(value: &T) {
    // Build the frame at the output stream's offset within a leaf, so every write moves a whole
    // leaf; the padding in front of it is not written.
    let phase = OUTPUT_POSITION.get() % LEAF;
    let mut staging = Vec::with_capacity(2 * LEAF);
    staging.resize(phase, 0);
    if let Err(err) = opml_codec::encode_into(value, &mut staging) {
        panic!("cannot commit the value: {err}");
    }
    write_output(&staging[phase..]);
}

/// Appends raw bytes to the public output, without a frame header.
pub fn commit_slice(bytes: &[u8]) {
    write_output(bytes);
}

/// Appends `payload` to the public output as one frame: a reader of the output gets it back with
/// `opml_codec::FrameReader::payload`.
///
/// # Panics
///
/// If `payload` is 4 GiB or longer.
pub fn commit_frame(payload: &[u8]) {
    match opml_codec::frame_header(payload.len()) {
        Ok(header) => write_output(&header),
        Err(err) => panic!("cannot commit the frame: {err}"),
    }
    write_output(payload);
}

/// Bytes appended to the public output so far through this crate's functions.
pub fn output_position() -> usize {
    OUTPUT_POSITION.get()
}

/// The debug log as a [`fmt::Write`] sink. Failures to write it are ignored: the log is not part
/// of the program's result.
pub(crate) struct DebugLog;

impl fmt::Write for DebugLog {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let _ = write_all(fd::STDERR, text.as_bytes());
        Ok(())
    }
}

/// Writes `message` and a newline to the debug log (fd 2): shown by the host, not committed.
pub fn log(message: &str) {
    log_fmt(format_args!("{message}"));
}

/// Writes formatted text and a newline to the debug log; what [`log!`](crate::log!) calls.
pub fn log_fmt(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut DebugLog, format_args!("{args}\n"));
}

/// Writes `println!`-style formatted text and a newline to the debug log (fd 2).
///
/// ```no_run
/// opml_guest::log!("read {} values", 3);
/// ```
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log_fmt(::core::format_args!($($arg)*))
    };
}

/// Ends the program with `code` (`opml_platform::exit_code` lists the SDK's conventions).
pub fn exit(code: u32) -> ! {
    sys::exit(code)
}
