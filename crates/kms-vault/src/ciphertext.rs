//! Transit's ciphertext string, `vault:v<N>:<base64>`.

use std::fmt;

use crate::{Error, Result};

const PREFIX: &str = "vault:v";

/// A Transit ciphertext: `vault:v<N>:<base64>`, where `N` is the key version
/// that sealed it. Opaque otherwise; not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransitCiphertext {
    text: String,
    version: u32,
}

impl TransitCiphertext {
    /// Checks the form; [`Error::InvalidArgument`] unless it is
    /// `vault:v<N>:<base64>` with `N` ≥ 1.
    pub fn parse(text: impl Into<String>) -> Result<Self> {
        let text = text.into();
        let invalid = || {
            Error::InvalidArgument(format!(
                "not a Transit ciphertext (vault:v<N>:<base64>): {:?}",
                text.chars().take(40).collect::<String>()
            ))
        };
        let rest = text.strip_prefix(PREFIX).ok_or_else(invalid)?;
        let (digits, body) = rest.split_once(':').ok_or_else(invalid)?;
        let version = digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse::<u32>().ok())
            .flatten()
            .filter(|&v| v >= 1)
            .ok_or_else(invalid)?;
        let base64_only = body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if body.is_empty() || !base64_only {
            return Err(invalid());
        }
        Ok(Self { text, version })
    }

    /// The key version that sealed it.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The ciphertext as Transit wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The ciphertext as Transit wrote it.
    pub fn into_string(self) -> String {
        self.text
    }
}

impl fmt::Display for TransitCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_version() {
        let ct = TransitCiphertext::parse("vault:v12:AbC+/0==").expect("parses");
        assert_eq!(ct.version(), 12);
        assert_eq!(ct.as_str(), "vault:v12:AbC+/0==");
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "",
            "vault:v1:",
            "vault:v0:AAAA",
            "vault:v:AAAA",
            "vault:v+1:AAAA",
            "vault:v1AAAA",
            "vault:v99999999999:AAAA",
            "vault:v1:AA AA",
            "vault:v1:AA:AA",
            "v1:AAAA",
        ] {
            assert!(TransitCiphertext::parse(bad).is_err(), "{bad:?}");
        }
    }
}
