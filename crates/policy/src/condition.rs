//! Statement conditions: an operator, a request key and the values it is compared with.

use crate::Pattern;

/// A condition operator. Keys are case-insensitive; values are compared as the
/// operator says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operator {
    /// The key is present and one of its values equals one of the policy values.
    StringEquals,
    /// The key is absent, or none of its values equals any policy value.
    StringNotEquals,
    /// As `StringEquals`, ignoring ASCII case.
    StringEqualsIgnoreCase,
    /// As `StringNotEquals`, ignoring ASCII case.
    StringNotEqualsIgnoreCase,
    /// The key is present and one of its values matches one of the wildcard patterns.
    StringLike,
    /// The key is absent, or none of its values matches any pattern.
    StringNotLike,
    /// `"true"`: the key is absent; `"false"`: the key is present.
    Null,
    /// The key is present and one of its values is the policy's `true`/`false`.
    Bool,
}

impl Operator {
    /// The operator named in a policy document.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "Null" => Self::Null,
            "Bool" => Self::Bool,
            _ => return None,
        })
    }
}

/// One condition of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// How the request's values are compared.
    pub operator: Operator,
    /// The request key, lowercased (keys are case-insensitive).
    pub key: String,
    /// The policy's values.
    pub values: Vec<String>,
}

impl Condition {
    /// Whether the condition holds for the request's values of its key (`None`
    /// when the request does not carry the key).
    pub fn holds(&self, request: Option<&[String]>) -> bool {
        let any = |test: &dyn Fn(&str, &str) -> bool| {
            request.is_some_and(|values| {
                values
                    .iter()
                    .any(|v| self.values.iter().any(|p| test(v, p)))
            })
        };
        let equal = |v: &str, p: &str| v == p;
        let equal_ignoring_case = |v: &str, p: &str| v.eq_ignore_ascii_case(p);
        let like = |v: &str, p: &str| Pattern::new(p).matches(v);
        match self.operator {
            Operator::StringEquals => any(&equal),
            Operator::StringNotEquals => !any(&equal),
            Operator::StringEqualsIgnoreCase => any(&equal_ignoring_case),
            Operator::StringNotEqualsIgnoreCase => !any(&equal_ignoring_case),
            Operator::StringLike => any(&like),
            Operator::StringNotLike => !any(&like),
            Operator::Bool => any(&equal_ignoring_case),
            Operator::Null => {
                let want_absent = self.values.iter().any(|p| p.eq_ignore_ascii_case("true"));
                want_absent == request.is_none()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(operator: Operator, values: &[&str]) -> Condition {
        Condition {
            operator,
            key: "k".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn operators() {
        let kms = ["KMS".to_string()];
        let present = Some(&kms[..]);
        assert!(condition(Operator::StringEquals, &["KMS"]).holds(present));
        assert!(!condition(Operator::StringEquals, &["KMS"]).holds(None));
        assert!(!condition(Operator::StringNotEquals, &["KMS"]).holds(present));
        assert!(condition(Operator::StringNotEquals, &["KMS"]).holds(None));
        assert!(condition(Operator::StringEqualsIgnoreCase, &["kms"]).holds(present));
        assert!(condition(Operator::StringLike, &["K*"]).holds(present));
        assert!(!condition(Operator::StringNotLike, &["K?S"]).holds(present));
        assert!(condition(Operator::Null, &["true"]).holds(None));
        assert!(!condition(Operator::Null, &["true"]).holds(present));
        assert!(condition(Operator::Null, &["false"]).holds(present));
        let yes = ["true".to_string()];
        assert!(condition(Operator::Bool, &["TRUE"]).holds(Some(&yes)));
        assert!(!condition(Operator::Bool, &["false"]).holds(Some(&yes)));
    }
}
