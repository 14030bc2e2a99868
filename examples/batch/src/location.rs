//! Where a job reads and writes: a local file or an S3 object (`s3://bucket/key`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::shard::Shard;

/// The placeholder in an output location that a sharded run replaces with its shard
/// (`results-{shard}.jsonl` → `results-0003-of-0008.jsonl`), so that one command line (an AWS
/// Batch job definition) serves every shard.
pub const SHARD_PLACEHOLDER: &str = "{shard}";

/// An S3 object: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Uri {
    /// The bucket.
    pub bucket: String,
    /// The object key (never empty).
    pub key: String,
}

/// An `s3://` URI that names no object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{uri:?} is not an S3 object URI (s3://bucket/key): {problem}")]
pub struct S3UriError {
    /// The text given.
    pub uri: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl FromStr for S3Uri {
    type Err = S3UriError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem| S3UriError {
            uri: text.to_owned(),
            problem,
        };
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| fail("no s3:// scheme"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| fail("no key after the bucket"))?;
        // S3's bucket naming rules, as far as they decide which part is the bucket.
        if !(3..=63).contains(&bucket.len())
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(fail(
                "the bucket must be 3 to 63 lowercase letters, digits, dots and hyphens",
            ));
        }
        if key.is_empty() {
            return Err(fail("the key is empty"));
        }
        // S3's limit on key length, in UTF-8 bytes.
        if key.len() > 1024 {
            return Err(fail("the key is longer than 1,024 bytes"));
        }
        Ok(S3Uri {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// A job's input or output: a local path or an S3 object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// An S3 object.
    S3(S3Uri),
}

impl FromStr for Location {
    type Err = S3UriError;

    /// `s3://…` is an S3 object; anything else a local path.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with("s3://") {
            text.parse().map(Location::S3)
        } else {
            Ok(Location::File(PathBuf::from(text)))
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::File(path)
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Location::File(path.clone())
    }
}

impl From<&std::path::Path> for Location {
    fn from(path: &std::path::Path) -> Self {
        Location::File(path.to_owned())
    }
}

impl From<&str> for Location {
    /// A local path, whatever the text: use [`str::parse`] for text that may be an `s3://`
    /// URI (a command line).
    fn from(path: &str) -> Self {
        Location::File(PathBuf::from(path))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::S3(uri) => uri.fmt(f),
        }
    }
}

impl Location {
    /// The same place with `suffix` appended to the file name or key
    /// (`results.jsonl` → `results.jsonl.errors.jsonl`).
    pub fn with_suffix(&self, suffix: &str) -> Location {
        match self {
            Location::File(path) => {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                Location::File(PathBuf::from(name))
            }
            Location::S3(uri) => Location::S3(S3Uri {
                bucket: uri.bucket.clone(),
                key: format!("{}{suffix}", uri.key),
            }),
        }
    }

    /// The local path, if this is a file.
    pub fn as_file(&self) -> Option<&std::path::Path> {
        match self {
            Location::File(path) => Some(path),
            Location::S3(_) => None,
        }
    }

    /// Whether this is an S3 object.
    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3(_))
    }

    /// Whether the text of this location contains [`SHARD_PLACEHOLDER`].
    pub fn has_shard_placeholder(&self) -> bool {
        self.to_string().contains(SHARD_PLACEHOLDER)
    }

    /// This location with [`SHARD_PLACEHOLDER`] replaced by `shard` as `IIII-of-NNNN` (zero-padded
    /// to four digits, so that the shards' objects sort in order).
    pub fn for_shard(&self, shard: Shard) -> Location {
        let name = shard_name(shard);
        match self {
            Location::File(path) => Location::File(PathBuf::from(
                path.to_string_lossy().replace(SHARD_PLACEHOLDER, &name),
            )),
            Location::S3(uri) => Location::S3(S3Uri {
                bucket: uri.bucket.clone(),
                key: uri.key.replace(SHARD_PLACEHOLDER, &name),
            }),
        }
    }
}

/// `IIII-of-NNNN`: how [`Location::for_shard`] names a shard.
pub fn shard_name(shard: Shard) -> String {
    format!("{:04}-of-{:04}", shard.index(), shard.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_are_parsed_and_refused_with_a_reason() {
        let uri: S3Uri = "s3://my-bucket.x/in/tickets.jsonl".parse().unwrap();
        assert_eq!(uri.bucket, "my-bucket.x");
        assert_eq!(uri.key, "in/tickets.jsonl");
        assert_eq!(uri.to_string(), "s3://my-bucket.x/in/tickets.jsonl");
        for (bad, problem) in [
            ("s3://bucket", "no key"),
            ("s3://bucket/", "key is empty"),
            ("s3://Bucket/k", "lowercase"),
            ("s3://ab/k", "3 to 63"),
            ("s3:///k", "3 to 63"),
            ("http://bucket/k", "scheme"),
        ] {
            let err = bad.parse::<S3Uri>().unwrap_err();
            assert!(err.to_string().contains(problem), "{bad}: {err}");
        }
        let long = format!("s3://bucket/{}", "k".repeat(1025));
        assert!(long.parse::<S3Uri>().is_err());
    }

    #[test]
    fn locations_are_files_unless_s3() {
        assert_eq!(
            "out/results.jsonl".parse::<Location>().unwrap(),
            Location::File("out/results.jsonl".into())
        );
        let s3: Location = "s3://bucket/run/results.jsonl".parse().unwrap();
        assert!(s3.is_s3());
        assert_eq!(
            s3.with_suffix(".errors.jsonl").to_string(),
            "s3://bucket/run/results.jsonl.errors.jsonl"
        );
        assert!("s3://B/x".parse::<Location>().is_err());
    }

    #[test]
    fn the_shard_placeholder_names_the_shard_zero_padded() {
        let shard = Shard::new(3, 8).unwrap();
        let s3: Location = "s3://bucket/run/results-{shard}.jsonl".parse().unwrap();
        assert!(s3.has_shard_placeholder());
        assert_eq!(
            s3.for_shard(shard).to_string(),
            "s3://bucket/run/results-0003-of-0008.jsonl"
        );
        let file = Location::from("out/{shard}/results.jsonl");
        assert_eq!(
            file.for_shard(shard).to_string(),
            "out/0003-of-0008/results.jsonl"
        );
        assert!(!file.for_shard(shard).has_shard_placeholder());
    }
}
