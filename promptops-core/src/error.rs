//! Printing an error with its sources.
//!
//! Errors keep what they wrap as a `source()` and are flattened into one line only where they
//! are printed (an event, a CLI message). This is the one function that walks the chain, in the
//! lowest crate every promptops crate can use, so every printed chain reads alike.

use std::error::Error;

/// An error and its sources, `: `-separated, leaving out a source whose message is empty or
/// already in the text so far (many errors repeat their source's message in their own).
pub fn chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !message.is_empty() && !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1
                .as_deref()
                .map(|layer| layer as &(dyn Error + 'static))
        }
    }

    #[test]
    fn sources_are_appended_once() {
        let err = Layer(
            "GET x",
            Some(Box::new(Layer(
                "connect: refused",
                Some(Box::new(Layer("refused", None))),
            ))),
        );
        assert_eq!(chain(&err), "GET x: connect: refused");
        assert_eq!(chain(&Layer("alone", None)), "alone");
    }
}
