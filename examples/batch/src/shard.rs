//! Deterministic sharding (`--shard i/n`) and the id fingerprints used for duplicate detection
//! and resume.
//!
//! Both use fixed, documented hashes — never std's randomly seeded hasher — so that every
//! process, machine and release assigns the same id to the same shard:
//!
//! * shard of an id: FNV-1a 64 of the id's UTF-8 bytes, passed through MurmurHash3's `fmix64`
//!   finalizer (plain FNV-1a's low bits are weak: its lowest bit is the parity of the bytes'
//!   lowest bits), then `mod n`;
//! * fingerprint of an id: FNV-1a 128 of its UTF-8 bytes. Sets of fingerprints cost 16 bytes
//!   per id however long the ids are; two distinct ids collide with probability about 2⁻¹²⁸.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV64_OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(FNV64_PRIME)
    })
}

/// FNV-1a, 128-bit.
pub fn fnv1a128(bytes: &[u8]) -> u128 {
    bytes.iter().fold(FNV128_OFFSET, |hash, byte| {
        (hash ^ u128::from(*byte)).wrapping_mul(FNV128_PRIME)
    })
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
pub fn fmix64(mut value: u64) -> u64 {
    value ^= value >> 33;
    value = value.wrapping_mul(0xff51_afd7_ed55_8ccd);
    value ^= value >> 33;
    value = value.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    value ^ (value >> 33)
}

/// The stable 64-bit hash that decides an id's shard.
pub fn shard_hash(id: &str) -> u64 {
    fmix64(fnv1a64(id.as_bytes()))
}

/// A compact, stable stand-in for an id (FNV-1a 128 of its bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    /// The fingerprint of `id`.
    pub fn of(id: &str) -> Self {
        Fingerprint(fnv1a128(id.as_bytes()))
    }
}

/// A set of ids stored as fingerprints (16 bytes per id plus the table's overhead).
#[derive(Debug, Clone, Default)]
pub struct IdSet {
    set: HashSet<Fingerprint>,
}

impl IdSet {
    /// An empty set.
    pub fn new() -> Self {
        IdSet::default()
    }

    /// Adds `id`; `false` when it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        self.set.insert(Fingerprint::of(id))
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(&Fingerprint::of(id))
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// Which slice of the input this process handles: ids whose [`shard_hash`] is `index` mod
/// `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// An invalid `--shard` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `i/n`.
    #[error("shard {0:?} is not of the form i/n (e.g. 0/4)")]
    Syntax(String),
    /// `n` is zero.
    #[error("shard count must be at least 1")]
    ZeroCount,
    /// `i` is not below `n`.
    #[error("shard index {index} must be below the shard count {count} (0..{count})")]
    IndexOutOfRange {
        /// The given index.
        index: u32,
        /// The given count.
        count: u32,
    },
    /// `array/N` outside an AWS Batch array job.
    #[error(
        "--shard array/N takes the index from {ARRAY_INDEX_VAR}, which is not set (AWS Batch \
         sets it in each child of an array job); give the shard as i/n instead"
    )]
    NoArrayIndex,
    /// `AWS_BATCH_JOB_ARRAY_INDEX` is not a number.
    #[error("{ARRAY_INDEX_VAR} is {0:?}, not a shard index")]
    BadArrayIndex(String),
}

/// The environment variable AWS Batch sets in each child of an array job: its index, from 0.
pub const ARRAY_INDEX_VAR: &str = "AWS_BATCH_JOB_ARRAY_INDEX";

/// A `--shard` argument: a fixed shard (`i/n`), or `array/n`, the shard of an AWS Batch array
/// job's child, whose index AWS Batch sets in [`ARRAY_INDEX_VAR`]. One job definition with
/// `--shard array/n` then serves all `n` children (submit the job with an array size of `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `i/n`.
    Fixed(Shard),
    /// `array/n`.
    ArrayIndex {
        /// The number of shards (the array size).
        count: u32,
    },
}

impl FromStr for ShardSpec {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().strip_prefix("array/") {
            Some(count) => {
                let count: u32 = count
                    .trim()
                    .parse()
                    .map_err(|_| ShardError::Syntax(text.to_owned()))?;
                if count == 0 {
                    return Err(ShardError::ZeroCount);
                }
                Ok(ShardSpec::ArrayIndex { count })
            }
            None => text.parse().map(ShardSpec::Fixed),
        }
    }
}

impl ShardSpec {
    /// The shard this process handles; `lookup` reads the environment (`std::env::var`).
    pub fn resolve(self, lookup: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        match self {
            ShardSpec::Fixed(shard) => Ok(shard),
            ShardSpec::ArrayIndex { count } => {
                let index = lookup(ARRAY_INDEX_VAR).ok_or(ShardError::NoArrayIndex)?;
                let index: u32 = index
                    .trim()
                    .parse()
                    .map_err(|_| ShardError::BadArrayIndex(index.clone()))?;
                Shard::new(index, count)
            }
        }
    }
}

impl Shard {
    /// The whole input (`0/1`).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; requires `count ≥ 1` and `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount);
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// The shard's index, `0..count`.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The number of shards.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether this is the only shard.
    pub fn is_all(self) -> bool {
        self.count == 1
    }

    /// Whether the record with this id belongs to this shard.
    pub fn owns_id(self, id: &str) -> bool {
        self.count == 1 || shard_hash(id) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether a line whose id cannot be read (bad JSON, no id) is reported by this shard:
    /// line numbers (1-based) are dealt out round robin, so exactly one shard reports it.
    pub fn owns_line(self, line: u64) -> bool {
        self.count == 1 || line.saturating_sub(1) % u64::from(self.count) == u64::from(self.index)
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(text.to_owned());
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index: u32 = index.trim().parse().map_err(|_| syntax())?;
        let count: u32 = count.trim().parse().map_err(|_| syntax())?;
        Shard::new(index, count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a128(b""), FNV128_OFFSET);
        assert_eq!(fnv1a128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn array_shards_take_their_index_from_aws_batch() {
        let spec: ShardSpec = "array/8".parse().unwrap();
        assert_eq!(spec, ShardSpec::ArrayIndex { count: 8 });
        let env = |value: &'static str| {
            move |name: &str| (name == ARRAY_INDEX_VAR).then(|| value.to_owned())
        };
        assert_eq!(spec.resolve(env("3")), Shard::new(3, 8));
        assert_eq!(spec.resolve(env("0")), Ok(Shard::new(0, 8).unwrap()));
        assert_eq!(
            spec.resolve(env("8")),
            Err(ShardError::IndexOutOfRange { index: 8, count: 8 })
        );
        assert_eq!(
            spec.resolve(env("x")),
            Err(ShardError::BadArrayIndex("x".into()))
        );
        assert_eq!(spec.resolve(|_| None), Err(ShardError::NoArrayIndex));
        assert!(ShardError::NoArrayIndex
            .to_string()
            .contains(ARRAY_INDEX_VAR));
        // A fixed shard ignores the environment.
        let fixed: ShardSpec = "1/4".parse().unwrap();
        assert_eq!(fixed.resolve(env("3")), Shard::new(1, 4));
        assert_eq!("array/0".parse::<ShardSpec>(), Err(ShardError::ZeroCount));
        assert!(matches!(
            "array/x".parse::<ShardSpec>(),
            Err(ShardError::Syntax(_))
        ));
    }

    #[test]
    fn parses_and_validates() {
        assert_eq!("2/4".parse::<Shard>(), Shard::new(2, 4));
        assert_eq!(" 0 / 1 ".parse::<Shard>(), Ok(Shard::ALL));
        assert_eq!(
            "4/4".parse::<Shard>(),
            Err(ShardError::IndexOutOfRange { index: 4, count: 4 })
        );
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::ZeroCount));
        for bad in ["", "1", "a/b", "-1/2", "1/2/3", "1/"] {
            assert!(
                matches!(bad.parse::<Shard>(), Err(ShardError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Shard::new(3, 8).map(|s| s.to_string()),
            Ok("3/8".to_owned())
        );
    }

    #[test]
    fn shards_partition_ids_and_lines_and_are_balanced() {
        let ids: Vec<String> = (0..10_000).map(|n| format!("msg-{n:05}")).collect();
        for count in [1u32, 2, 3, 4, 7, 16] {
            let shards: Vec<Shard> = (0..count).map(|i| Shard::new(i, count).unwrap()).collect();
            let mut sizes = vec![0usize; count as usize];
            for id in &ids {
                let owners: Vec<usize> = (0..shards.len())
                    .filter(|&i| shards[i].owns_id(id))
                    .collect();
                assert_eq!(owners.len(), 1, "{id} in {count} shards");
                sizes[owners[0]] += 1;
            }
            for line in 1..=100u64 {
                assert_eq!(shards.iter().filter(|s| s.owns_line(line)).count(), 1);
            }
            let ideal = ids.len() / count as usize;
            for size in sizes {
                assert!(
                    size.abs_diff(ideal) < ideal / 5 + 10,
                    "{count}: {size} vs {ideal}"
                );
            }
        }
    }

    #[test]
    fn shard_assignment_is_stable() {
        // Fixed hash: these must never change between releases (shard runs may be split
        // across versions).
        assert_eq!(shard_hash("msg-00001"), fmix64(fnv1a64(b"msg-00001")));
        let four: Vec<u32> = ["a", "b", "c", "msg-1", "42"]
            .iter()
            .map(|id| {
                (0..4)
                    .find(|&i| Shard::new(i, 4).unwrap().owns_id(id))
                    .unwrap()
            })
            .collect();
        let again: Vec<u32> = ["a", "b", "c", "msg-1", "42"]
            .iter()
            .map(|id| (shard_hash(id) % 4) as u32)
            .collect();
        assert_eq!(four, again);
    }

    #[test]
    fn id_sets() {
        let mut set = IdSet::new();
        assert!(set.insert("a"));
        assert!(!set.insert("a"));
        assert!(set.insert("A"));
        assert!(set.contains("a") && !set.contains("b"));
        assert_eq!(set.len(), 2);
    }
}
