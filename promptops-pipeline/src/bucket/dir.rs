//! A local directory standing in for the bucket (the embedded default, `promptops pipeline
//! run`): key `a/b.json` is the file `ROOT/a/b.json`, and an object's metadata is the sidecar
//! `ROOT/a/b.json.meta.json`, a JSON object of strings.
//!
//! # No symlinks, anywhere in a key
//!
//! The bucket's files are input like any other: a template may be a link to
//! `/proc/self/environ`, `beta/outputs` a link to a directory outside, a temporary file's name a
//! planted link to a file to overwrite. So nothing here follows a symbolic link, in any
//! component of a key, for reads, writes and listings alike; a link is refused with
//! [`BucketError::Refused`], which names it.
//!
//! How: every path is opened relative to the root directory with [`cap_std`] (a kept
//! capability library, Bytecode Alliance), one component at a time: directories with
//! `open_dir_nofollow`, the last component with `FollowSymlinks::No`, new files with
//! `create_new` (`O_EXCL`, which never follows a link and refuses an existing name). Checking
//! each component with `symlink_metadata` and then opening the path would race with a
//! directory swapped for a link in between, and `O_NOFOLLOW` on the whole path covers only
//! its last component; `std` has no `openat` to do better. cap-std's opens are relative to an
//! open directory handle, so a component swapped after it was checked is not re-resolved,
//! and cap-std never resolves a path outside its root (`openat2` with `RESOLVE_BENEATH` on
//! Linux, its own resolver elsewhere): the refusal of links is a rule on top of a sandbox that
//! would hold even without it. The root itself is the operator's choice and may be a link.
//!
//! Reads are bounded: the size is checked on the open file before reading, and the read stops
//! one byte past the limit in case the file grew. Only regular files are read; a FIFO is
//! opened non-blocking, so it cannot hang a read.
//!
//! # Writes, and the output/sidecar rule
//!
//! [`DirBucket::write`] writes the body and the sidecar to fresh temporary files beside their
//! targets (`.{name}.{pid}.{random}.tmp`, created with `O_EXCL`, so two writers never share
//! one and a planted name is skipped, never written through), fsyncs both, then, holding an
//! exclusive lock on the directory (`flock`, which serialises writers across tasks and
//! processes), renames **the sidecar first and the output last**, and fsyncs the directory.
//!
//! The sidecar carries the output's `content-hash` (SHA-256 of the output's bytes) and its
//! `source-key` (the input). So a reader can check a pair: **an output and its sidecar
//! describe the same input when `sha256(output) == sidecar["content-hash"]`**; the input is
//! then `sidecar["source-key"]`. Under the lock, pairs are renamed whole, so after any set of
//! concurrent writes the pair is the last writer's. Only a crash between the two renames
//! leaves a newer sidecar beside an older output; the hash check shows it, and running the
//! input again repairs it. An output never exists without a sidecar.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

use super::{page, BucketError, Listed, Object, Page, META_SUFFIX};

/// Sidecars larger than this (64 KiB) are refused: metadata is a handful of short strings.
pub const MAX_SIDECAR_BYTES: usize = 64 * 1024;

/// How many temporary names a write tries before it gives up (each is fresh; only a planted
/// file can take one).
const TEMP_ATTEMPTS: usize = 8;

/// Numbers the temporary files of this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A directory as a bucket; see the module docs for the rules it keeps.
#[derive(Debug, Clone)]
pub struct DirBucket {
    root: PathBuf,
}

impl DirBucket {
    /// The bucket rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirBucket { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open_root(&self) -> Result<Dir, BucketError> {
        Dir::open_ambient_dir(&self.root, ambient_authority())
            .map_err(|err| BucketError::storage(self.root.display().to_string(), err))
    }

    /// Reads `key` and its sidecar, refusing objects larger than `limit` bytes without reading
    /// them, and any symlink on the way. Blocking.
    pub fn read(&self, key: &str, limit: usize) -> Result<Object, BucketError> {
        let (dirs, name) = split_key(key)?;
        let root = self.open_root()?;
        let Some(dir) = open_dirs(&root, &dirs, false, key)? else {
            return Err(BucketError::NotFound(key.to_owned()));
        };
        let body = read_file(&dir, &dirs, name, limit, key)?
            .ok_or_else(|| BucketError::NotFound(key.to_owned()))?;
        let sidecar = format!("{name}{META_SUFFIX}");
        let metadata = match read_file(&dir, &dirs, &sidecar, MAX_SIDECAR_BYTES, key)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                BucketError::storage(
                    format!("{key}{META_SUFFIX}: not a JSON object of strings"),
                    err,
                )
            })?,
            None => BTreeMap::new(),
        };
        Ok(Object { body, metadata })
    }

    /// Writes `key` and its sidecar (see the module docs: fresh temporary files, fsync, the
    /// sidecar renamed first and the output last under the directory's lock, the directory
    /// fsynced). Creates missing directories; refuses any symlink on the way. Blocking.
    pub fn write(
        &self,
        key: &str,
        body: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BucketError> {
        let (dirs, name) = split_key(key)?;
        let meta = serde_json::to_vec_pretty(metadata)
            .map_err(|err| BucketError::storage(format!("{key}{META_SUFFIX}"), err))?;
        let root = self.open_root()?;
        let dir = open_dirs(&root, &dirs, true, key)?.ok_or_else(|| {
            BucketError::storage_failure(format!("{key}: its directory vanished"))
        })?;
        let sidecar = format!("{name}{META_SUFFIX}");
        for target in [name, sidecar.as_str()] {
            // Renaming over a link would replace the link, not write through it; refusing it
            // says clearly that someone planted one.
            if is_symlink(&dir, target) {
                return Err(refused(key, &dirs, target, "is a symbolic link"));
            }
        }
        let sidecar_temp = write_temp(&dir, &sidecar, &meta, key)?;
        let body_temp = match write_temp(&dir, name, body, key) {
            Ok(temp) => temp,
            Err(err) => {
                let _ = dir.remove_file(&sidecar_temp);
                return Err(err);
            }
        };
        rename_pair(&dir, (&sidecar_temp, &sidecar), (&body_temp, name)).inspect_err(|_| {
            let _ = dir.remove_file(&sidecar_temp);
            let _ = dir.remove_file(&body_temp);
        })
    }

    /// Lists up to `max` objects under `prefix` (a directory: `prompt_inputs/`), after the
    /// page `token` names. Never follows a symlink: a link in the prefix is refused, and a
    /// link inside it is listed (with size 0) but never followed, so reading it is refused
    /// and its input gets an errors object. Sidecars and dot files are not objects. Blocking.
    pub fn list(&self, prefix: &str, token: Option<&str>, max: usize) -> Result<Page, BucketError> {
        let trimmed = prefix.trim_end_matches('/');
        let segments = if trimmed.is_empty() {
            Vec::new()
        } else {
            split_key(trimmed).map(|(mut dirs, last)| {
                dirs.push(last);
                dirs
            })?
        };
        let root = self.open_root()?;
        let Some(dir) = open_dirs(&root, &segments, false, prefix)? else {
            return Ok(Page::default());
        };
        let entries = dir
            .entries()
            .map_err(|err| BucketError::storage(prefix, err))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| BucketError::storage(prefix, err))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || name.ends_with(META_SUFFIX) {
                continue;
            }
            // The entry's own type: a link is a link, whatever it points at.
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let size = if file_type.is_file() {
                entry.metadata().map(|meta| meta.len()).unwrap_or_default()
            } else if file_type.is_symlink() {
                0
            } else {
                continue;
            };
            keys.push(Listed {
                key: format!("{prefix}{name}"),
                size,
            });
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        let start = token.map_or(0, |token| {
            keys.partition_point(|listed| listed.key.as_str() <= token)
        });
        Ok(page(
            keys.into_iter().skip(start).take(max + 1).collect(),
            max,
        ))
    }
}

/// The directories and the file name of a key, refusing keys that cannot name an object (an
/// empty, `.` or `..` segment, a leading `/`, a backslash, a NUL).
fn split_key(key: &str) -> Result<(Vec<&str>, &str), BucketError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains(['\\', '\0'])
        || key
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        return Err(BucketError::BadKey(key.to_owned()));
    }
    let mut segments: Vec<&str> = key.split('/').collect();
    let name = segments.pop().unwrap_or_default();
    Ok((segments, name))
}

/// Opens the directory `segments` names under `root`, refusing a symlink in any component;
/// with `create`, missing directories are made. `Ok(None)`: one is missing (without `create`).
fn open_dirs(
    root: &Dir,
    segments: &[&str],
    create: bool,
    key: &str,
) -> Result<Option<Dir>, BucketError> {
    let mut dir = root
        .try_clone()
        .map_err(|err| BucketError::storage(key, err))?;
    for (depth, segment) in segments.iter().enumerate() {
        let mut opened = dir.open_dir_nofollow(segment);
        if create && matches!(&opened, Err(err) if err.kind() == ErrorKind::NotFound) {
            match dir.create_dir(segment) {
                Ok(()) => {}
                // Another writer made it first.
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {}
                Err(err) => return Err(BucketError::storage(segments[..=depth].join("/"), err)),
            }
            opened = dir.open_dir_nofollow(segment);
        }
        dir = match opened {
            Ok(next) => next,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(open_error(&dir, key, &segments[..depth], segment, err)),
        };
    }
    Ok(Some(dir))
}

/// Reads the regular file `name` in `dir` (the directory `parents` of `key`) without following
/// a link, at most `limit` bytes. `Ok(None)`: there is none.
fn read_file(
    dir: &Dir,
    parents: &[&str],
    name: &str,
    limit: usize,
    key: &str,
) -> Result<Option<Vec<u8>>, BucketError> {
    let mut options = OpenOptions::new();
    options.read(true).follow(FollowSymlinks::No);
    #[cfg(unix)]
    {
        use cap_std::fs::OpenOptionsExt;
        // A FIFO planted under an object's name must not hang the open.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = match dir.open_with(name, &options) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(open_error(dir, key, parents, name, err)),
    };
    let meta = file
        .metadata()
        .map_err(|err| BucketError::storage(key, err))?;
    if !meta.is_file() {
        return Err(refused(key, parents, name, "is not a regular file"));
    }
    let too_large = |size: u64| BucketError::TooLarge {
        key: key.to_owned(),
        size,
        limit,
    };
    if meta.len() > limit as u64 {
        return Err(too_large(meta.len()));
    }
    let mut body = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(limit));
    file.take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|err| BucketError::storage(key, err))?;
    if body.len() > limit {
        // It grew after the size check.
        return Err(too_large(body.len() as u64));
    }
    Ok(Some(body))
}

/// Writes `bytes` to a fresh temporary file beside `target` in `dir` and fsyncs it; returns
/// its name.
fn write_temp(dir: &Dir, target: &str, bytes: &[u8], key: &str) -> Result<String, BucketError> {
    let storage = |err: io::Error| BucketError::storage(key, err);
    let random = RandomState::new();
    for _ in 0..TEMP_ATTEMPTS {
        let count = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = format!(
            ".{target}.{}.{:016x}.tmp",
            std::process::id(),
            random.hash_one(count)
        );
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .follow(FollowSymlinks::No);
        let mut file = match dir.open_with(&temp, &options) {
            Ok(file) => file,
            // Planted, or left by a crashed run: never reused, never written through.
            Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(storage(err)),
        };
        if let Err(err) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            let _ = dir.remove_file(&temp);
            return Err(storage(err));
        }
        return Ok(temp);
    }
    Err(BucketError::storage_failure(format!(
        "{key}: no free temporary name beside {target} after {TEMP_ATTEMPTS} tries"
    )))
}

/// Renames the sidecar's temporary file, then the output's, holding the directory's lock, and
/// fsyncs the directory so both renames are durable.
fn rename_pair(
    dir: &Dir,
    (sidecar_temp, sidecar): (&str, &str),
    (body_temp, name): (&str, &str),
) -> Result<(), BucketError> {
    let storage = |err: io::Error| BucketError::storage(name, err);
    // The directory opened for reading (cap-std's own handle is `O_PATH`, which can neither
    // be locked nor fsynced).
    let handle = dir.open(".").map_err(storage)?.into_std();
    handle.lock().map_err(storage)?;
    let renamed = dir
        .rename(sidecar_temp, dir, sidecar)
        .and_then(|()| dir.rename(body_temp, dir, name));
    // Unlocked before the fsync, which covers these renames whoever holds the lock next.
    let _ = handle.unlock();
    renamed.map_err(storage)?;
    handle.sync_all().map_err(storage)
}

fn is_symlink(dir: &Dir, name: &str) -> bool {
    dir.symlink_metadata(name)
        .is_ok_and(|meta| meta.file_type().is_symlink())
}

/// The error for a failed no-follow open of `name` (under `parents` of `key`): a link is
/// refused by name; anything else is a storage error.
fn open_error(dir: &Dir, key: &str, parents: &[&str], name: &str, err: io::Error) -> BucketError {
    if is_symlink(dir, name) {
        refused(key, parents, name, "is a symbolic link")
    } else {
        BucketError::storage(format!("{key}: {}", path_of(parents, name)), err)
    }
}

fn path_of(parents: &[&str], name: &str) -> String {
    parents
        .iter()
        .copied()
        .chain([name])
        .collect::<Vec<_>>()
        .join("/")
}

fn refused(key: &str, parents: &[&str], name: &str, what: &str) -> BucketError {
    let path = path_of(parents, name);
    let subject = if path == key {
        "it".to_owned()
    } else {
        format!("`{path}`")
    };
    BucketError::Refused {
        key: key.to_owned(),
        reason: format!(
            "{subject} {what}; the local bucket reads and writes only regular files and directories, and follows no symbolic links"
        ),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A fresh directory under the target's temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("promptops-dirbucket-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            Scratch(dir)
        }

        fn write(&self, path: &str, body: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, body).expect("write");
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn is_refused(result: Result<impl std::fmt::Debug, BucketError>, needle: &str) {
        match result {
            Err(BucketError::Refused { reason, .. }) => {
                assert!(reason.contains(needle), "{reason}")
            }
            other => panic!("expected a refusal naming {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn reads_follow_no_symlink_in_any_component() {
        let outside = Scratch::new("outside-read");
        outside.write("secret.txt", "secret");
        outside.write("dir/secret.txt", "secret");
        let root = Scratch::new("read");
        root.write("a/plain.txt", "plain");
        symlink(outside.0.join("secret.txt"), root.0.join("a/file-link.txt")).expect("link");
        symlink(outside.0.join("dir"), root.0.join("dir-link")).expect("link");
        // A link that stays inside the bucket is refused too.
        symlink(root.0.join("a"), root.0.join("inner-link")).expect("link");
        let bucket = DirBucket::new(&root.0);
        assert_eq!(
            bucket.read("a/plain.txt", 100).expect("read").body,
            b"plain"
        );
        is_refused(bucket.read("a/file-link.txt", 100), "it is a symbolic link");
        is_refused(
            bucket.read("dir-link/secret.txt", 100),
            "`dir-link` is a symbolic link",
        );
        is_refused(bucket.read("inner-link/plain.txt", 100), "`inner-link`");
        // A sidecar that is a link is refused with its object.
        root.write("b/x.json", "{}");
        symlink(
            outside.0.join("secret.txt"),
            root.0.join("b/x.json.meta.json"),
        )
        .expect("link");
        is_refused(bucket.read("b/x.json", 100), "`b/x.json.meta.json`");
        assert!(matches!(
            bucket.read("a/../a/plain.txt", 100),
            Err(BucketError::BadKey(_))
        ));
    }

    #[test]
    fn reads_are_bounded_and_regular_files_only() {
        let root = Scratch::new("bounded");
        root.write("big.txt", &"x".repeat(1000));
        std::fs::create_dir_all(root.0.join("dir.txt")).expect("mkdir");
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.0.join("fifo.txt"))
            .status()
            .expect("mkfifo");
        assert!(fifo.success());
        let bucket = DirBucket::new(&root.0);
        assert!(matches!(
            bucket.read("big.txt", 999),
            Err(BucketError::TooLarge { size: 1000, .. })
        ));
        is_refused(bucket.read("dir.txt", 100), "not a regular file");
        // Opened without blocking, then refused.
        is_refused(bucket.read("fifo.txt", 100), "not a regular file");
    }

    #[test]
    fn writes_follow_no_symlink_and_leave_no_temporary_file() {
        let outside = Scratch::new("outside-write");
        outside.write("victim.txt", "precious");
        let root = Scratch::new("write");
        let bucket = DirBucket::new(&root.0);
        let meta = BTreeMap::from([("content-hash".to_owned(), "h".to_owned())]);
        bucket
            .write("beta/outputs/a.md", b"A", &meta)
            .expect("write");
        assert_eq!(
            std::fs::read_to_string(root.0.join("beta/outputs/a.md")).expect("read"),
            "A"
        );
        let sidecar: BTreeMap<String, String> = serde_json::from_slice(
            &std::fs::read(root.0.join("beta/outputs/a.md.meta.json")).expect("sidecar"),
        )
        .expect("json");
        assert_eq!(sidecar, meta);
        // A link where the output goes, where its sidecar goes, or as a directory: refused.
        symlink(
            outside.0.join("victim.txt"),
            root.0.join("beta/outputs/b.md"),
        )
        .expect("link");
        is_refused(
            bucket.write("beta/outputs/b.md", b"B", &meta),
            "it is a symbolic link",
        );
        symlink(
            outside.0.join("victim.txt"),
            root.0.join("beta/outputs/c.md.meta.json"),
        )
        .expect("link");
        is_refused(
            bucket.write("beta/outputs/c.md", b"C", &meta),
            "c.md.meta.json",
        );
        symlink(&outside.0, root.0.join("prod")).expect("link");
        is_refused(
            bucket.write("prod/outputs/d.md", b"D", &meta),
            "`prod` is a symbolic link",
        );
        assert_eq!(
            std::fs::read_to_string(outside.0.join("victim.txt")).expect("victim"),
            "precious"
        );
        assert!(!outside.0.join("outputs").exists());
        let names: Vec<String> = std::fs::read_dir(root.0.join("beta/outputs"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn listing_follows_no_symlink() {
        let outside = Scratch::new("outside-list");
        outside.write("inputs/x.json", "{}");
        let root = Scratch::new("list");
        root.write("prompt_inputs/a.json", "{}");
        root.write("prompt_inputs/a.json.meta.json", "{}");
        root.write("prompt_inputs/.hidden.json", "{}");
        symlink(
            outside.0.join("inputs/x.json"),
            root.0.join("prompt_inputs/b.json"),
        )
        .expect("link");
        symlink(outside.0.join("inputs"), root.0.join("linked")).expect("link");
        let bucket = DirBucket::new(&root.0);
        let page = bucket.list("prompt_inputs/", None, 10).expect("list");
        let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
        // The link is listed (so its input gets an errors object), never followed.
        assert_eq!(keys, ["prompt_inputs/a.json", "prompt_inputs/b.json"]);
        assert_eq!(page.objects[1].size, 0);
        is_refused(
            bucket.list("linked/", None, 10),
            "`linked` is a symbolic link",
        );
        assert_eq!(
            bucket.list("missing/", None, 10).expect("list"),
            Page::default()
        );
    }
}
