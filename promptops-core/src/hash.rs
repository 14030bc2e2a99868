//! The project's one SHA-256: a prompt's content hash and the lowercase-hex digest every crate
//! uses (output metadata, registry tokens and documents, template caches).
//!
//! It lives here, in the crate every other one already depends on, so there is one spelling of
//! "SHA-256 as hex" and a content hash computed by the build, the registry and the pipeline
//! cannot drift apart (a different case or truncation would make equal sources look changed).

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A prompt's content hash ([`PromptDef::content_hash`](crate::PromptDef::content_hash)): the
/// SHA-256 of its source as stored (a prompt file's bytes, a pushed document, an S3 template's
/// text), lowercase hex. Equal sources have equal hashes wherever they are hashed.
pub fn content_hash(source: &[u8]) -> String {
    sha256_hex(source)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(content_hash(b"abc"), sha256_hex(b"abc"));
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
