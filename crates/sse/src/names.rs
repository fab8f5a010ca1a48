//! Bucket and object names, validated by the usual object-store rules.

use crate::{Error, Result};

/// Bucket names: 3 to 63 characters of lowercase letters, digits and hyphens,
/// starting and ending with a letter or digit.
pub fn validate_bucket(name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let valid = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "bucket name {name:?}: use 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit"
        )))
    }
}

/// Object keys: 1 to 1023 bytes of UTF-8, not starting with `/` or `\`.
pub fn validate_key(key: &str) -> Result<()> {
    let valid = (1..=1023).contains(&key.len()) && !key.starts_with('/') && !key.starts_with('\\');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "object key {:?}: use 1 to 1023 bytes, not starting with '/' or '\\'",
            key.chars().take(64).collect::<String>()
        )))
    }
}

/// Checks a region or account for use in resource names (`acs:oss:<region>:<account>:…`).
pub fn validate_name_part(what: &str, value: &str) -> Result<()> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} {value:?} must be 1 to 64 letters, digits, '-' or '_'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "photos-2024", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Photos",
            "-abc",
            "abc-",
            "a_b",
            "a.b",
            &"a".repeat(64),
            "a\0b",
        ] {
            assert!(validate_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_keys() {
        assert!(validate_key("a/b/c.jpg").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("/abs").is_err());
        assert!(validate_key(&"k".repeat(1024)).is_err());
    }
}
