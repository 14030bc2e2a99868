//! Resolution through the real registry.
