//! Parsing policy documents:
//! `{"Version":"1","Statement":[{"Effect","Action","Resource","Condition"?,"Sid"?}]}`.

use serde_json::{Map, Value};

use crate::{Condition, Operator, Pattern};

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants the matching requests unless a Deny matches too.
    Allow,
    /// Refuses the matching requests, whatever else allows them.
    Deny,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The optional statement id.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// Action patterns, matched ignoring case.
    pub actions: Vec<Pattern>,
    /// Resource-name patterns, matched case-sensitively.
    pub resources: Vec<Pattern>,
    /// All must hold for the statement to apply.
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The policy language version (`"1"`, or IAM's `"2012-10-17"`).
    pub version: String,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

/// Why a policy document was rejected: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not JSON; the message carries line and column.
    #[error("policy is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not a valid policy.
    #[error("{path}: {problem}")]
    Invalid {
        /// Where, e.g. `Statement[1].Effect`.
        path: String,
        /// What is wrong there.
        problem: String,
    },
}

fn invalid(path: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        path: path.into(),
        problem: problem.into(),
    }
}

impl PolicyDocument {
    /// Parses and validates a policy document. Unknown fields (such as `NotAction`)
    /// are rejected rather than ignored, so a policy never means less than it says.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(text)?;
        Self::from_json(&value)
    }

    /// Validates an already parsed JSON value.
    pub fn from_json(value: &Value) -> Result<Self, PolicyError> {
        let root = value
            .as_object()
            .ok_or_else(|| invalid("(document)", "expected a JSON object"))?;
        only_fields(root, "(document)", &["Version", "Statement"])?;
        let version = match root.get("Version") {
            Some(Value::String(v)) if v == "1" || v == "2012-10-17" => v.clone(),
            Some(other) => {
                return Err(invalid("Version", format!("expected \"1\", found {other}")));
            }
            None => return Err(invalid("Version", "missing")),
        };
        let statements = match root.get("Statement") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_statement(item, &format!("Statement[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
            Some(item @ Value::Object(_)) => vec![parse_statement(item, "Statement")?],
            Some(_) => return Err(invalid("Statement", "expected a list of statements")),
            None => return Err(invalid("Statement", "missing")),
        };
        Ok(Self {
            version,
            statements,
        })
    }
}

fn only_fields(object: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), PolicyError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(
            format!("{path}.{unknown}"),
            format!("unsupported field (expected one of {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn parse_statement(value: &Value, path: &str) -> Result<Statement, PolicyError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid(path, "expected a statement object"))?;
    only_fields(
        object,
        path,
        &["Sid", "Effect", "Action", "Resource", "Condition"],
    )?;
    let sid = match object.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid(format!("{path}.Sid"), "expected a string")),
    };
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(invalid(
                format!("{path}.Effect"),
                format!("expected \"Allow\" or \"Deny\", found \"{other}\""),
            ));
        }
        None => return Err(invalid(format!("{path}.Effect"), "missing or not a string")),
    };
    let actions = string_or_list(object.get("Action"), &format!("{path}.Action"))?
        .iter()
        .map(|a| Pattern::ignoring_case(a))
        .collect();
    let resources = string_or_list(object.get("Resource"), &format!("{path}.Resource"))?
        .iter()
        .map(|r| Pattern::new(r))
        .collect();
    let conditions = match object.get("Condition") {
        None => Vec::new(),
        Some(value) => parse_conditions(value, &format!("{path}.Condition"))?,
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
    })
}

fn string_or_list(value: Option<&Value>, path: &str) -> Result<Vec<String>, PolicyError> {
    let list = match value {
        None => return Err(invalid(path, "missing")),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{path}[{i}]"), "expected a string"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(invalid(path, "expected a string or a list of strings")),
    };
    if list.is_empty() {
        return Err(invalid(path, "must not be empty"));
    }
    Ok(list)
}

fn parse_conditions(value: &Value, path: &str) -> Result<Vec<Condition>, PolicyError> {
    let operators = value
        .as_object()
        .ok_or_else(|| invalid(path, "expected an object of operators"))?;
    let mut conditions = Vec::new();
    for (name, keys) in operators {
        let operator_path = format!("{path}.{name}");
        let operator = Operator::from_name(name).ok_or_else(|| {
            invalid(&operator_path, "unsupported operator (StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike, Null, Bool)")
        })?;
        let keys = keys
            .as_object()
            .ok_or_else(|| invalid(&operator_path, "expected an object of condition keys"))?;
        for (key, values) in keys {
            let key_path = format!("{operator_path}.{key}");
            let scalar = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let values =
                match values {
                    Value::Array(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            scalar(v).ok_or_else(|| {
                                invalid(
                                    format!("{key_path}[{i}]"),
                                    "expected a string, number or boolean",
                                )
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    other => vec![scalar(other).ok_or_else(|| {
                        invalid(&key_path, "expected a value or a list of values")
                    })?],
                };
            if values.is_empty() {
                return Err(invalid(key_path, "must not be empty"));
            }
            if matches!(operator, Operator::Null | Operator::Bool)
                && values
                    .iter()
                    .any(|v| !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false"))
            {
                return Err(invalid(key_path, "expected true or false"));
            }
            conditions.push(Condition {
                operator,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> String {
        PolicyDocument::parse(text)
            .expect_err("must be rejected")
            .to_string()
    }

    #[test]
    fn errors_say_where_and_what() {
        assert_eq!(
            problem(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a","Resource":"r"},{"Effect":"Permit","Action":"a","Resource":"r"}]}"#
            ),
            "Statement[1].Effect: expected \"Allow\" or \"Deny\", found \"Permit\""
        );
        assert!(
            problem(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"a","Resource":"r"}]}"#
            )
            .starts_with("Statement[0].NotAction: unsupported field")
        );
        assert!(
            problem(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"r"}]}"#
            )
            .starts_with("Statement[0].Action: must not be empty")
        );
        assert!(problem(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"a","Resource":"r","Condition":{"NumericLess":{"k":1}}}]}"#)
            .starts_with("Statement[0].Condition.NumericLess: unsupported operator"));
        assert!(problem(r#"{"Version":"3","Statement":[]}"#).starts_with("Version:"));
        assert!(problem("{\"Version\": \"1\",\n \"Statement\": [").contains("line 2"));
    }

    #[test]
    fn single_strings_and_lists() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"1","Statement":{"Sid":"s","Effect":"Deny","Action":"oss:PutObject","Resource":["a","b"],
               "Condition":{"StringNotEquals":{"oss:x-oss-server-side-encryption":"KMS"},"Bool":{"acs:SecureTransport":true}}}}"#,
        )
        .expect("parses");
        let statement = &doc.statements[0];
        assert_eq!(statement.effect, Effect::Deny);
        assert_eq!(statement.resources.len(), 2);
        assert_eq!(statement.conditions.len(), 2);
        assert!(
            statement
                .conditions
                .iter()
                .any(|c| c.key == "oss:x-oss-server-side-encryption")
        );
    }
}
