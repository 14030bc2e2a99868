//! The environment a caller resolves for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The environment a caller resolves for (`?mode=`): what it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Simulation runs: drafts visible.
    Simulation,
    /// Development: drafts visible.
    Dev,
    /// Staging: stable versions only.
    Staging,
    /// Production (the default): stable versions only.
    #[default]
    Production,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 4] = [Mode::Simulation, Mode::Dev, Mode::Staging, Mode::Production];

    /// The spelling in `?mode=`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Simulation => "simulation",
            Mode::Dev => "dev",
            Mode::Staging => "staging",
            Mode::Production => "production",
        }
    }

    /// Whether drafts are visible in this mode.
    pub const fn sees_drafts(self) -> bool {
        matches!(self, Mode::Simulation | Mode::Dev)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `mode` that is none of [`Mode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode {0:?}: expected one of simulation, dev, staging, production")]
pub struct UnknownMode(pub String);

impl FromStr for Mode {
    type Err = UnknownMode;

    /// Parses the exact spelling of `?mode=` (no case folding, no blanks).
    fn from_str(text: &str) -> Result<Mode, UnknownMode> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| UnknownMode(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_through_their_spelling_and_serde() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{mode}\""));
            assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), mode);
        }
        assert_eq!(Mode::default(), Mode::Production);
        let err = "Production".parse::<Mode>().unwrap_err();
        assert!(err.to_string().contains("\"Production\""), "{err}");
        assert!(Mode::Dev.sees_drafts() && !Mode::Staging.sees_drafts());
    }
}
