//! The host side of the data oracle: where a machine finds the preimages its guest asks for,
//! and the host error when it finds none (`docs/vm-spec.md`, "Data oracle").

use std::collections::HashMap;
use std::fmt;

use opml_platform::memory::PREIMAGE_LEN;
use opml_state::{Hash, hash_pair, sha256};

/// One preimage of the data oracle: 64 bytes, the children of a binary SHA-256 tree node, or
/// 64 bytes of data at a leaf.
pub type Preimage = [u8; PREIMAGE_LEN];

/// Where a machine looks up preimages by key (`sha256` of the preimage).
///
/// A machine holds its source behind an `Arc`, shared by every snapshot and clone.
pub trait PreimageSource: Send + Sync {
    /// The preimage whose SHA-256 is `key`, if the source knows it. A source must never return
    /// a preimage of another key: the machine does not check (the step verifier does).
    fn preimage(&self, key: &Hash) -> Option<Preimage>;
}

/// A preimage source in memory: a map from key to preimage, filled through methods that
/// compute every key themselves, so it only ever holds true preimages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preimages {
    map: HashMap<Hash, Preimage>,
}

impl Preimages {
    /// An empty map.
    pub fn new() -> Preimages {
        Preimages::default()
    }

    /// Adds `preimage`; returns its key.
    pub fn insert(&mut self, preimage: Preimage) -> Hash {
        let key = sha256(&preimage);
        self.map.insert(key, preimage);
        key
    }

    /// Parses a preimage file: a sequence of 64-byte records, each one preimage (the format
    /// of `opml check --preimages`). Keys are derived, never read.
    pub fn from_records(bytes: &[u8]) -> Result<Preimages, PreimageFileError> {
        let (records, rest) = bytes.as_chunks::<PREIMAGE_LEN>();
        if !rest.is_empty() {
            return Err(PreimageFileError { len: bytes.len() });
        }
        let mut map = Preimages::new();
        for record in records {
            map.insert(*record);
        }
        Ok(map)
    }

    /// The preimage file of this map: every preimage as a 64-byte record, in key order (the
    /// inverse of [`from_records`](Self::from_records)).
    pub fn records(&self) -> Vec<u8> {
        let mut keys: Vec<&Hash> = self.map.keys().collect();
        keys.sort_unstable();
        keys.iter().flat_map(|key| self.map[*key]).collect()
    }

    /// Adds the binary SHA-256 tree over `leaves` and returns its root key. A leaf's key is the
    /// SHA-256 of its 64 data bytes; an inner node's preimage is `left key ‖ right key`. The
    /// number of leaves is padded up to a power of two with zero leaves (64 zero bytes); no
    /// leaves give the tree of one zero leaf.
    pub fn insert_tree(&mut self, leaves: &[Preimage]) -> Hash {
        let width = leaves.len().max(1).next_power_of_two();
        let mut level: Vec<Hash> = (0..width)
            .map(|i| self.insert(leaves.get(i).copied().unwrap_or([0; PREIMAGE_LEN])))
            .collect();
        while level.len() > 1 {
            level = level
                .chunks_exact(2)
                .map(|pair| {
                    let mut node = [0; PREIMAGE_LEN];
                    node[..32].copy_from_slice(&pair[0]);
                    node[32..].copy_from_slice(&pair[1]);
                    let key = self.insert(node);
                    debug_assert_eq!(key, hash_pair(&pair[0], &pair[1]));
                    key
                })
                .collect();
        }
        level[0]
    }

    /// Number of preimages held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map holds no preimage.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl PreimageSource for Preimages {
    fn preimage(&self, key: &Hash) -> Option<Preimage> {
        self.map.get(key).copied()
    }
}

/// A preimage file whose length is not a multiple of 64 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreimageFileError {
    /// The file's length in bytes.
    pub len: usize,
}

impl fmt::Display for PreimageFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a preimage file is a sequence of {PREIMAGE_LEN}-byte records; this one has {} bytes",
            self.len
        )
    }
}

impl std::error::Error for PreimageFileError {}

/// Why a machine stopped without halting: the host cannot supply what the next step needs.
/// The step has not been taken; the machine is still at it and can go on once the host has
/// the data (see [`Machine::set_preimages`](crate::Machine::set_preimages)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The guest asked for the preimage of `key`, which the machine's source does not hold.
    /// Under the data-availability assumption every key a guest names is derivable from public
    /// data, so the host is missing data it should have been given.
    MissingPreimage {
        /// The key the guest named.
        key: Hash,
        /// The step that needs it.
        step: u64,
    },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::MissingPreimage { key, step } => {
                write!(f, "step {step} reads the preimage of key 0x")?;
                for byte in key {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str(", which the host does not have")
            }
        }
    }
}

impl std::error::Error for HostError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_keys_are_derived() {
        let a = [1u8; PREIMAGE_LEN];
        let b = [2u8; PREIMAGE_LEN];
        let file: Vec<u8> = a.iter().chain(&b).copied().collect();
        let map = Preimages::from_records(&file).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map.preimage(&sha256(&a)), Some(a));
        assert_eq!(map.preimage(&sha256(&b)), Some(b));
        assert_eq!(map.preimage(&[0; 32]), None);
        assert_eq!(
            Preimages::from_records(&file[..100]),
            Err(PreimageFileError { len: 100 })
        );
        assert!(Preimages::from_records(&[]).unwrap().is_empty());
        assert_eq!(Preimages::from_records(&map.records()), Ok(map.clone()));
        let sorted = [sha256(&a), sha256(&b)];
        assert_eq!(
            map.records().len(),
            2 * PREIMAGE_LEN,
            "one record per preimage"
        );
        assert_eq!(
            sha256(&map.records()[..PREIMAGE_LEN]),
            *sorted.iter().min().unwrap()
        );
    }

    #[test]
    fn a_tree_opens_from_its_root_down_to_every_leaf() {
        let leaves: Vec<Preimage> = (0..5u8).map(|i| [i + 1; PREIMAGE_LEN]).collect();
        let mut map = Preimages::new();
        let root = map.insert_tree(&leaves);
        // Five leaves pad to eight: three levels of inner nodes above them.
        let mut found = Vec::new();
        let mut level = vec![root];
        for _ in 0..3 {
            level = level
                .iter()
                .flat_map(|key| {
                    let node = map.preimage(key).expect("inner node");
                    [
                        node[..32].try_into().unwrap(),
                        node[32..].try_into().unwrap(),
                    ]
                })
                .collect::<Vec<Hash>>();
        }
        for key in level {
            found.push(map.preimage(&key).expect("leaf"));
        }
        assert_eq!(&found[..5], &leaves[..]);
        assert!(found[5..].iter().all(|leaf| *leaf == [0; PREIMAGE_LEN]));
        let mut single = Preimages::new();
        assert_eq!(single.insert_tree(&[]), sha256(&[0; PREIMAGE_LEN]));
    }
}
