//! GPT-2 byte-level BPE with the `smollm` pre-tokenizer (SmolLM2), and its chat template.
//!
//! Prompt text → token ids is part of the disputed computation: [`Tables::encode`] is exact
//! (the ids of Hugging Face `tokenizers` and llama.cpp for the same vocabulary) and
//! deterministic, the same natively and in the VM.
//!
//! # Encoding
//!
//! 1. Control tokens (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, ...) are matched in the
//!    text first, leftmost-longest, as Hugging Face does for special added tokens (llama.cpp's
//!    `parse_special`).
//! 2. Between them, each number character is a piece of its own (Hugging Face's
//!    `Digits(individual_digits)`: Nd Nl No of Unicode 17.0, Rust's `char::is_numeric`), then
//!    GPT-2's pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
//!    splits the rest (`\s` is Unicode `White_Space`, `\p{L}` is Lu Ll Lt Lm Lo, `\p{N}` is Nd
//!    Nl No, general categories of Unicode 16.0). Contractions are case-sensitive ASCII. Checked
//!    against Hugging Face (whose Oniguruma pattern and Rust `Digits` these Unicode versions
//!    reproduce) and llama.cpp for every Unicode scalar value.
//! 3. Each piece's bytes are single-byte tokens merged lowest rank first (ties: leftmost): by
//!    scanning for pieces of up to 24 tokens, with a binary heap above (O(n log n) for n bytes).
//!
//! The input is bytes. Invalid UTF-8 is classified as one U+FFFD (a symbol, `[^\s\p{L}\p{N}]`)
//! per maximal invalid subpart, as `String::from_utf8_lossy` does, but the raw bytes are kept and
//! encoded by their byte tokens.
//!
//! Bytes without a single-byte token are dropped, as Hugging Face's BPE does without an unknown
//! token: SmolLM2 has none for 21 bytes, the control characters 0x04 0x06 0x13 0x14 0x16 0x1D
//! and 0xC0 0xC1 0xF1 0xF2 0xF5..=0xFF (invalid UTF-8, or planes 4 to 11). Their neighbours in
//! the same piece become adjacent and may merge (llama.cpp keeps them apart: the only known
//! difference between the two references). Otherwise decoding gives the input back.
//!
//! # Table blob
//!
//! [`Tables::build`] (host) turns the GGUF's `tokenizer.ggml.tokens`, `token_type` and `merges`
//! into a flat, deterministic blob; [`Tables::parse`] validates it fully and views it without
//! copying (lookups are binary searches; parse only adds the first merge of each left token,
//! `4 (n_tokens + 1)` bytes, and the control tokens). All integers are little-endian `u32`:
//!
//! | field | size (bytes) | content |
//! |---|---|---|
//! | magic | 8 | `OPMLBPE1` |
//! | `n_tokens` | 4 | vocabulary size |
//! | `n_merges` | 4 | number of merges |
//! | `n_normal` | 4 | number of normal tokens (type 1) |
//! | `text_len` | 4 | total length of the tokens' bytes |
//! | offsets | 4 (`n_tokens` + 1) | token `i`'s bytes are `text[offsets[i]..offsets[i + 1]]`; non-decreasing, `offsets[0] = 0`, `offsets[n_tokens] = text_len` |
//! | sorted | 4 `n_normal` | the ids of the normal tokens, by their bytes, strictly increasing (lexicographic) |
//! | merges | 16 `n_merges` | `(left, right, rank, merged)` sorted strictly by `(left, right)`; `rank` is the merge's index in the GGUF list (a permutation of `0..n_merges`), `merged`'s bytes are `left`'s then `right`'s; all three are normal tokens |
//! | types | `n_tokens` | one byte per token: 1 normal, 3 control |
//! | text | `text_len` | the tokens' raw bytes (the byte-level alphabet decoded; control tokens as written) |
//!
//! No token is empty. Only token types 1 (normal) and 3 (control) are supported.

mod bpe;
mod bytelevel;
mod pretok;

use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

pub use bpe::Scratch;

/// The magic number that starts a table blob.
pub const MAGIC: [u8; 8] = *b"OPMLBPE1";
/// Token type of a normal token (GGUF `token_type`).
pub const TYPE_NORMAL: u8 = 1;
/// Token type of a control token (GGUF `token_type`), matched in the text as a special token.
pub const TYPE_CONTROL: u8 = 3;

const HEADER: usize = 24;

/// SmolLM2's default system prompt, inserted when the conversation does not start with one.
pub const DEFAULT_SYSTEM: &[u8] =
    b"You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// Why tables could not be built or parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenizerError {
    /// The token types' count differs from the tokens'.
    TypeCount,
    /// A token type other than 1 (normal) or 3 (control).
    UnsupportedType {
        /// Token id.
        id: u32,
        /// Its type.
        ty: i32,
    },
    /// A normal token with a character outside the byte-level alphabet.
    NotByteLevel {
        /// Token id.
        id: u32,
    },
    /// An empty token.
    EmptyToken {
        /// Token id.
        id: u32,
    },
    /// Two normal (or two control) tokens with the same bytes.
    DuplicateToken {
        /// The later token's id.
        id: u32,
    },
    /// A merge that is not `"left right"` with both sides normal tokens and their concatenation
    /// a normal token.
    BadMerge {
        /// Its rank (index in the merge list).
        rank: u32,
    },
    /// The same pair listed twice.
    DuplicateMerge {
        /// The later merge's rank.
        rank: u32,
    },
    /// Too many tokens, merges or bytes for the `u32` fields.
    TooLarge,
    /// The blob does not start with [`MAGIC`].
    BadMagic,
    /// The blob's length differs from the one its header implies.
    BadLength,
    /// The offsets are not non-decreasing from 0 to `text_len`.
    BadOffsets,
    /// The sorted index is not the normal tokens in strictly increasing byte order.
    BadIndex,
    /// A merge entry is out of order, out of range, or inconsistent.
    BadMergeTable,
    /// A token id out of the vocabulary.
    BadId {
        /// The id.
        id: u32,
    },
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl core::error::Error for TokenizerError {}

fn rd(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A validated view of a table blob.
#[derive(Clone)]
pub struct Tables<'a> {
    n_tokens: usize,
    offsets: &'a [u8],
    sorted: &'a [u8],
    merges: &'a [u8],
    types: &'a [u8],
    text: &'a [u8],
    /// The normal token of each single byte, `u32::MAX` for none.
    byte_ids: [u32; 256],
    /// The control tokens' ids, by their bytes.
    specials: Vec<u32>,
    /// Whether a control token starts with the byte (bit per byte).
    special_first: [u64; 4],
    /// The merges whose left token is `l` are entries `left_start[l]..left_start[l + 1]`.
    left_start: Vec<u32>,
}

impl fmt::Debug for Tables<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tables")
            .field("n_tokens", &self.n_tokens)
            .field("n_merges", &self.n_merges())
            .field("specials", &self.specials)
            .finish_non_exhaustive()
    }
}

/// A merge: its rank and the merged token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    /// Priority: lower merges first.
    pub rank: u32,
    /// The merged token's id.
    pub merged: u32,
}

impl Tables<'static> {
    /// Builds the table blob from a GGUF vocabulary: `tokens` (byte-level alphabet for normal
    /// tokens, plain text for control tokens), their `types`, and the `merges` (`"left right"`,
    /// highest priority first).
    pub fn build(
        tokens: &[&str],
        types: &[i32],
        merges: &[&str],
    ) -> Result<Vec<u8>, TokenizerError> {
        if types.len() != tokens.len() {
            return Err(TokenizerError::TypeCount);
        }
        let n = u32::try_from(tokens.len()).map_err(|_| TokenizerError::TooLarge)?;
        let n_merges = u32::try_from(merges.len()).map_err(|_| TokenizerError::TooLarge)?;
        let mut text = Vec::new();
        let mut offsets = vec![0u32];
        let mut ty = Vec::with_capacity(tokens.len());
        for (id, (tok, &t)) in (0u32..).zip(tokens.iter().zip(types)) {
            match u8::try_from(t) {
                Ok(TYPE_NORMAL) => {
                    for c in tok.chars() {
                        text.push(
                            bytelevel::char_to_byte(c)
                                .ok_or(TokenizerError::NotByteLevel { id })?,
                        );
                    }
                }
                Ok(TYPE_CONTROL) => text.extend_from_slice(tok.as_bytes()),
                _ => return Err(TokenizerError::UnsupportedType { id, ty: t }),
            }
            ty.push(t as u8);
            if tok.is_empty() {
                return Err(TokenizerError::EmptyToken { id });
            }
            offsets.push(u32::try_from(text.len()).map_err(|_| TokenizerError::TooLarge)?);
        }
        let bytes =
            |id: u32| &text[offsets[id as usize] as usize..offsets[id as usize + 1] as usize];
        let mut sorted: Vec<u32> = (0..n).filter(|&i| ty[i as usize] == TYPE_NORMAL).collect();
        sorted.sort_by(|&a, &b| bytes(a).cmp(bytes(b)).then(a.cmp(&b)));
        let mut specials: Vec<u32> = (0..n).filter(|&i| ty[i as usize] == TYPE_CONTROL).collect();
        specials.sort_by(|&a, &b| bytes(a).cmp(bytes(b)).then(a.cmp(&b)));
        for list in [&sorted, &specials] {
            for w in list.windows(2) {
                if bytes(w[0]) == bytes(w[1]) {
                    return Err(TokenizerError::DuplicateToken { id: w[0].max(w[1]) });
                }
            }
        }
        let find = |key: &[u8]| {
            sorted
                .binary_search_by(|&id| bytes(id).cmp(key))
                .ok()
                .map(|k| sorted[k])
        };
        let mut table = Vec::with_capacity(merges.len());
        for (rank, m) in (0u32..).zip(merges) {
            let bad = TokenizerError::BadMerge { rank };
            let (l, r) = m.split_once(' ').ok_or(bad.clone())?;
            let decode = |s: &str| {
                s.chars()
                    .map(bytelevel::char_to_byte)
                    .collect::<Option<Vec<u8>>>()
            };
            let (l, r) = (decode(l).ok_or(bad.clone())?, decode(r).ok_or(bad.clone())?);
            let (li, ri) = (find(&l).ok_or(bad.clone())?, find(&r).ok_or(bad.clone())?);
            let cat = [l, r].concat();
            let merged = find(&cat).ok_or(bad)?;
            table.push([li, ri, rank, merged]);
        }
        table.sort_unstable();
        for w in table.windows(2) {
            if w[0][..2] == w[1][..2] {
                return Err(TokenizerError::DuplicateMerge {
                    rank: w[0][2].max(w[1][2]),
                });
            }
        }
        let text_len = u32::try_from(text.len()).map_err(|_| TokenizerError::TooLarge)?;
        let mut blob = Vec::new();
        blob.extend_from_slice(&MAGIC);
        for v in [n, n_merges, sorted.len() as u32, text_len]
            .iter()
            .chain(&offsets)
            .chain(&sorted)
        {
            blob.extend_from_slice(&v.to_le_bytes());
        }
        for v in table.iter().flatten() {
            blob.extend_from_slice(&v.to_le_bytes());
        }
        blob.extend_from_slice(&ty);
        blob.extend_from_slice(&text);
        Ok(blob)
    }
}

impl<'a> Tables<'a> {
    /// Validates a table blob fully (it may come from untrusted data) and views it.
    pub fn parse(blob: &'a [u8]) -> Result<Self, TokenizerError> {
        use TokenizerError as E;
        if blob.len() < HEADER {
            return Err(E::BadLength);
        }
        if blob[..8] != MAGIC {
            return Err(E::BadMagic);
        }
        let [n, n_merges, n_normal, text_len] = [8, 12, 16, 20].map(|at| rd(blob, at) as u64);
        let sizes = [4 * (n + 1), 4 * n_normal, 16 * n_merges, n, text_len];
        if HEADER as u64 + sizes.iter().sum::<u64>() != blob.len() as u64 {
            return Err(E::BadLength);
        }
        let mut rest = &blob[HEADER..];
        let [offsets, sorted, merges, types, text] = sizes.map(|len| {
            let (head, tail) = rest.split_at(len as usize);
            rest = tail;
            head
        });
        let n_tokens = n as usize;
        let mut t = Tables {
            n_tokens,
            offsets,
            sorted,
            merges,
            types,
            text,
            byte_ids: [0; 256],
            specials: Vec::new(),
            special_first: [0; 4],
            left_start: vec![0; n_tokens + 1],
        };
        // Offsets, types, non-empty tokens.
        if rd(offsets, 0) != 0 || rd(offsets, 4 * n_tokens) as u64 != text_len {
            return Err(E::BadOffsets);
        }
        let mut normal = 0u64;
        for (id, &ty) in types.iter().enumerate() {
            if rd(offsets, 4 * id) >= rd(offsets, 4 * id + 4) {
                return Err(if rd(offsets, 4 * id) > rd(offsets, 4 * id + 4) {
                    E::BadOffsets
                } else {
                    E::EmptyToken { id: id as u32 }
                });
            }
            match ty {
                TYPE_NORMAL => normal += 1,
                TYPE_CONTROL => t.specials.push(id as u32),
                ty => {
                    return Err(E::UnsupportedType {
                        id: id as u32,
                        ty: i32::from(ty),
                    });
                }
            }
        }
        // The sorted index: strictly increasing normal tokens, as many as there are.
        if normal != n_normal {
            return Err(E::BadIndex);
        }
        let mut prev: Option<&[u8]> = None;
        for k in 0..n_normal as usize {
            let id = rd(sorted, 4 * k);
            if id as usize >= n_tokens || types[id as usize] != TYPE_NORMAL {
                return Err(E::BadIndex);
            }
            let b = t.bytes(id);
            if prev.is_some_and(|p| p >= b) {
                return Err(E::BadIndex);
            }
            prev = Some(b);
        }
        for b in 0..=255u8 {
            t.byte_ids[b as usize] = t.token_id(&[b]).unwrap_or(u32::MAX);
        }
        // Control tokens: distinct.
        let mut specials = core::mem::take(&mut t.specials);
        specials.sort_unstable_by(|&a, &b| t.bytes(a).cmp(t.bytes(b)));
        t.specials = specials;
        for w in t.specials.windows(2) {
            if t.bytes(w[0]) == t.bytes(w[1]) {
                return Err(E::DuplicateToken { id: w[0].max(w[1]) });
            }
        }
        for &id in &t.specials {
            let b = t.bytes(id)[0];
            t.special_first[(b >> 6) as usize] |= 1 << (b & 63);
        }
        // Merges: sorted pairs, a permutation of ranks, consistent bytes.
        let mut seen = vec![0u64; (n_merges as usize).div_ceil(64)];
        let mut prev = None;
        for k in 0..n_merges as usize {
            let [l, r, rank, m] = [0, 4, 8, 12].map(|o| rd(merges, 16 * k + o));
            let normal = |id: u32| (id as usize) < n_tokens && types[id as usize] == TYPE_NORMAL;
            if !(normal(l) && normal(r) && normal(m))
                || (rank as u64) >= n_merges
                || prev.is_some_and(|p| p >= (l, r))
                || seen[rank as usize / 64] & (1 << (rank % 64)) != 0
            {
                return Err(E::BadMergeTable);
            }
            seen[rank as usize / 64] |= 1 << (rank % 64);
            prev = Some((l, r));
            t.left_start[l as usize + 1] += 1;
            let (lb, rb, mb) = (t.bytes(l), t.bytes(r), t.bytes(m));
            if mb.len() != lb.len() + rb.len() || mb[..lb.len()] != *lb || mb[lb.len()..] != *rb {
                return Err(E::BadMergeTable);
            }
        }
        for l in 0..n_tokens {
            t.left_start[l + 1] += t.left_start[l];
        }
        Ok(t)
    }

    /// The vocabulary size.
    pub fn n_tokens(&self) -> usize {
        self.n_tokens
    }

    /// The number of merges.
    pub fn n_merges(&self) -> usize {
        self.merges.len() / 16
    }

    /// Bytes of a valid id (checked by the caller).
    fn bytes(&self, id: u32) -> &'a [u8] {
        let at = 4 * id as usize;
        &self.text[rd(self.offsets, at) as usize..rd(self.offsets, at + 4) as usize]
    }

    /// The raw bytes of a token, `None` for an id out of the vocabulary.
    pub fn token_bytes(&self, id: u32) -> Option<&'a [u8]> {
        ((id as usize) < self.n_tokens).then(|| self.bytes(id))
    }

    /// The token type of an id ([`TYPE_NORMAL`] or [`TYPE_CONTROL`]).
    pub fn token_type(&self, id: u32) -> Option<u8> {
        self.types.get(id as usize).copied()
    }

    /// The normal token with exactly these bytes.
    pub fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.sorted.len() / 4);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let id = rd(self.sorted, 4 * mid);
            match self.bytes(id).cmp(bytes) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(id),
            }
        }
        None
    }

    /// The control token with exactly these bytes (e.g. `<|im_end|>`).
    pub fn special_id(&self, bytes: &[u8]) -> Option<u32> {
        self.specials
            .binary_search_by(|&id| self.bytes(id).cmp(bytes))
            .ok()
            .map(|k| self.specials[k])
    }

    /// The control tokens' ids, by their bytes.
    pub fn specials(&self) -> &[u32] {
        &self.specials
    }

    /// The merge of the pair `(left, right)`, if any.
    pub fn merge(&self, left: u32, right: u32) -> Option<Merge> {
        let l = left as usize;
        if l >= self.n_tokens {
            return None;
        }
        let (mut lo, mut hi) = (self.left_start[l] as usize, self.left_start[l + 1] as usize);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = 16 * mid;
            match rd(self.merges, at + 4).cmp(&right) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => {
                    return Some(Merge {
                        rank: rd(self.merges, at + 8),
                        merged: rd(self.merges, at + 12),
                    });
                }
            }
        }
        None
    }

    /// The longest control token at the start of `s`.
    fn special_at(&self, s: &[u8]) -> Option<(u32, usize)> {
        let b = s[0];
        if self.special_first[(b >> 6) as usize] & (1 << (b & 63)) == 0 {
            return None;
        }
        let mut best: Option<(u32, usize)> = None;
        for &id in &self.specials {
            let t = self.bytes(id);
            if s.starts_with(t) && best.is_none_or(|(_, len)| t.len() > len) {
                best = Some((id, t.len()));
            }
        }
        best
    }

    /// Encodes `text`, appending the ids to `out`.
    pub fn encode(&self, text: &[u8], out: &mut Vec<u32>) {
        self.encode_with(text, out, &mut Scratch::default());
    }

    /// [`Tables::encode`] reusing the working memory of `scratch` across calls.
    pub fn encode_with(&self, text: &[u8], out: &mut Vec<u32>, scratch: &mut Scratch) {
        let mut start = 0;
        let mut i = 0;
        while i < text.len() {
            if let Some((id, len)) = self.special_at(&text[i..]) {
                self.encode_plain(&text[start..i], out, scratch);
                out.push(id);
                i += len;
                start = i;
            } else {
                i += 1;
            }
        }
        self.encode_plain(&text[start..], out, scratch);
    }

    /// Encodes a text without control tokens.
    fn encode_plain(&self, text: &[u8], out: &mut Vec<u32>, scratch: &mut Scratch) {
        pretok::split(text, |piece| bpe::merge_piece(self, piece, out, scratch));
    }

    /// The bytes of a sequence of ids (control tokens as their text).
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::new();
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id).ok_or(TokenizerError::BadId { id })?);
        }
        Ok(out)
    }

    /// Encodes [`chat_prompt`]`(user)`, appending the ids to `out`.
    pub fn encode_chat(&self, user: &[u8], out: &mut Vec<u32>) {
        self.encode(&chat_prompt(user), out);
    }
}

/// Calls `f` with each pre-token piece of `text` (a text without control tokens), in order: the
/// `smollm` pre-tokenizer, the pieces BPE merges within.
pub fn pre_tokenize(text: &[u8], f: impl FnMut(&[u8])) {
    pretok::split(text, f);
}

/// SmolLM2's chat template applied to one user message, with the default system prompt and the
/// generation prompt:
/// `<|im_start|>system\n{DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n`.
/// Control tokens written in `user` are encoded as control tokens, as the references do.
pub fn chat_prompt(user: &[u8]) -> Vec<u8> {
    let parts: [&[u8]; 5] = [
        b"<|im_start|>system\n",
        DEFAULT_SYSTEM,
        b"<|im_end|>\n<|im_start|>user\n",
        user,
        b"<|im_end|>\n<|im_start|>assistant\n",
    ];
    parts.concat()
}
