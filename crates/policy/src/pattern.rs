//! Wildcard patterns: `*` matches any run of characters, `?` any one character.

/// A pattern for an action or a resource name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    ignore_case: bool,
}

impl Pattern {
    /// A case-sensitive pattern (resource names, condition values).
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            ignore_case: false,
        }
    }

    /// A case-insensitive pattern (actions: `kms:list*` matches `kms:ListKeys`).
    pub fn ignoring_case(text: &str) -> Self {
        Self {
            text: text.to_ascii_lowercase(),
            ignore_case: true,
        }
    }

    /// The pattern as written (lowercased if case-insensitive).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `candidate` matches the whole pattern.
    pub fn matches(&self, candidate: &str) -> bool {
        if self.ignore_case {
            glob(
                self.text.as_bytes(),
                candidate.to_ascii_lowercase().as_bytes(),
            )
        } else {
            glob(self.text.as_bytes(), candidate.as_bytes())
        }
    }
}

/// Iterative wildcard matching with single-star backtracking: linear in practice,
/// never exponential.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let p = Pattern::new("acs:kms:*:1416614965931234:*");
        assert!(p.matches("acs:kms:local:1416614965931234:key/abc"));
        assert!(!p.matches("acs:kms:local:999:key/abc"));
        assert!(Pattern::new("a?c").matches("abc"));
        assert!(!Pattern::new("a?c").matches("ac"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("aXbYbZc"));
        assert!(!Pattern::new("a*b*c").matches("aXbYbZ"));
        assert!(Pattern::ignoring_case("kms:List*").matches("KMS:listkeys"));
        assert!(!Pattern::new("Key").matches("key"));
    }

    proptest::proptest! {
        #[test]
        fn literal_patterns_match_only_themselves(a in "[a-z:/]{0,12}", b in "[a-z:/]{0,12}") {
            proptest::prop_assert_eq!(Pattern::new(&a).matches(&b), a == b);
            let joined = format!("{a}{b}");
            let prefix = format!("{a}*");
            let suffix = format!("*{b}");
            proptest::prop_assert!(Pattern::new(&prefix).matches(&joined));
            proptest::prop_assert!(Pattern::new(&suffix).matches(&joined));
        }
    }
}
