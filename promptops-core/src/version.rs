//! Prompt versions: dotted numerics of one to three parts.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A prompt version: `3`, `1.2` or `1.2.0`.
///
/// Prompt files use whole numbers (`version: 3`); the registry also accepts dotted versions as
/// the seed writes them (`1.0.0`). Missing parts are zero, so `1.2` and `1.2.0` are the same
/// version (equal, same hash) and versions order numerically (`1.10.0` after `1.9.0`). A
/// version remembers how it was written, so it displays as given (`2.0` stays `2.0`).
///
/// On the wire a version is a JSON string (`"3"`, `"1.2.0"`); a non-negative integer is also
/// accepted when reading.
#[derive(Clone, Copy)]
pub struct Version {
    parts: [u32; 3],
    /// How many parts were written (1 to 3).
    written: u8,
}

/// Why a text is not a [`Version`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError {
    /// The text that was given.
    pub text: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a version: expected 1 to 3 dot-separated numbers without leading zeros, \
             like `3` or `1.2.0`",
            self.text
        )
    }
}

impl std::error::Error for VersionError {}

impl Version {
    /// A whole-number version, as prompt files write it.
    pub const fn new(major: u32) -> Self {
        Version {
            parts: [major, 0, 0],
            written: 1,
        }
    }

    /// The three numeric parts, missing ones as zero.
    pub const fn parts(&self) -> [u32; 3] {
        self.parts
    }

    /// The first part: the whole number of a prompt file's `version`.
    pub const fn major(&self) -> u32 {
        self.parts[0]
    }

    /// The version in its canonical three-part form (`1.2` → `1.2.0`), which is equal to
    /// `self`; useful as a storage key, where `1.2` and `1.2.0` must collide.
    pub fn canonical(&self) -> String {
        let [a, b, c] = self.parts;
        format!("{a}.{b}.{c}")
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || VersionError {
            text: text.to_owned(),
        };
        let mut parts = [0u32; 3];
        let mut written = 0u8;
        for piece in text.split('.') {
            let slot = parts.get_mut(usize::from(written)).ok_or_else(error)?;
            let digits_only = !piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit());
            if !digits_only || (piece.len() > 1 && piece.starts_with('0')) {
                return Err(error());
            }
            *slot = piece.parse().map_err(|_| error())?;
            written += 1;
        }
        Ok(Version { parts, written })
    }
}

impl From<u32> for Version {
    fn from(major: u32) -> Self {
        Version::new(major)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, part) in self.parts[..usize::from(self.written)].iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({self})")
    }
}

// Equality, ordering and hashing look at the numbers only, not at how many parts were
// written: `1.2` and `1.2.0` are one version.
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VersionVisitor;

        impl Visitor<'_> for VersionVisitor {
            type Value = Version;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a version such as \"3\" or \"1.2.0\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Version, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Version, E> {
                u32::try_from(value)
                    .map(Version::new)
                    .map_err(|_| E::custom(format!("version {value} is too large")))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Version, E> {
                u64::try_from(value)
                    .map_err(|_| E::custom(format!("version {value} is negative")))
                    .and_then(|value| self.visit_u64(value))
            }
        }

        deserializer.deserialize_any(VersionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn v(text: &str) -> Version {
        text.parse().unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn parses_one_to_three_parts_and_displays_as_written() {
        for text in ["0", "2", "1.2", "1.2.0", "10.0.3", "4294967295"] {
            assert_eq!(v(text).to_string(), text);
        }
        assert_eq!(v("1.2").canonical(), "1.2.0");
        assert_eq!(v("7").major(), 7);
        assert_eq!(Version::new(3), v("3"));
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            ".",
            "1.",
            ".1",
            "1..2",
            "01",
            "1.02",
            "1.2.3.4",
            "v1",
            "1.2-rc",
            " 1",
            "-1",
            "+1",
            "1e3",
            "4294967296",
            "١",
        ] {
            let err = text.parse::<Version>().unwrap_err();
            assert_eq!(err.text, text);
            assert!(err.to_string().contains("not a version"), "{err}");
        }
    }

    #[test]
    fn equal_ignoring_trailing_zero_parts_and_ordered_numerically() {
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("2"), v("2.0.0"));
        let set: HashSet<Version> = [v("2"), v("2.0"), v("2.0.0")].into_iter().collect();
        assert_eq!(set.len(), 1);
        let mut list = [v("1.10.0"), v("1.9.0"), v("2"), v("1.9"), v("0.1")];
        list.sort();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0.1", "1.9.0", "1.9", "1.10.0", "2"]);
        assert!(v("1.10.0") > v("1.9.9"));
    }

    #[test]
    fn serde_writes_a_string_and_reads_strings_or_integers() {
        assert_eq!(serde_json::to_string(&v("1.2")).unwrap(), "\"1.2\"");
        assert_eq!(
            serde_json::from_str::<Version>("\"1.2.0\"").unwrap(),
            v("1.2")
        );
        assert_eq!(serde_json::from_str::<Version>("3").unwrap(), v("3"));
        for bad in ["-1", "1.5", "\"01\"", "null", "4294967296", "[1]"] {
            assert!(serde_json::from_str::<Version>(bad).is_err(), "{bad}");
        }
    }
}
