//! Access keys: each id has a secret (what requests are signed with) and the
//! caller its requests run as.

use std::collections::HashMap;
use std::sync::Arc;

use coffer_sse::Caller;
use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};

/// The gateway's access keys. Cheap to clone: clones share the table. The
/// secrets are zeroized when the last clone is dropped and never printed.
#[derive(Clone, Default)]
pub struct AccessKeys {
    keys: Arc<HashMap<String, AccessKey>>,
}

struct AccessKey {
    secret: SecretKey,
    caller: Caller,
}

/// An access key id given twice.
#[derive(Debug, thiserror::Error)]
#[error("access key id {0} is given twice")]
pub struct DuplicateAccessKey(pub String);

impl AccessKeys {
    /// No keys: every request is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `id` with `secret`, its requests running as `caller`
    /// ([`DuplicateAccessKey`] if `id` is already there).
    pub fn insert(
        &mut self,
        id: &str,
        secret: &str,
        caller: Caller,
    ) -> Result<(), DuplicateAccessKey> {
        let keys = unique(&mut self.keys);
        if keys.contains_key(id) {
            return Err(DuplicateAccessKey(id.to_owned()));
        }
        keys.insert(
            id.to_owned(),
            AccessKey {
                secret: SecretKey::from(secret),
                caller,
            },
        );
        Ok(())
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A copy of the secret of `id` (zeroized when dropped;
    /// `InvalidAccessKeyId` for an unknown one).
    pub(crate) fn secret(&self, id: &str) -> S3Result<SecretKey> {
        self.keys
            .get(id)
            .map(|key| SecretKey::from(key.secret.expose()))
            .ok_or_else(|| s3s::s3_error!(InvalidAccessKeyId))
    }

    /// The caller behind `id` (`InvalidAccessKeyId` for an unknown one).
    pub(crate) fn caller(&self, id: &str) -> S3Result<Caller> {
        self.keys
            .get(id)
            .map(|key| key.caller.clone())
            .ok_or_else(|| s3s::s3_error!(InvalidAccessKeyId))
    }
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("AccessKeys")
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl S3Auth for AccessKeys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.keys.get(access_key) {
            Some(key) => Ok(SecretKey::from(key.secret.expose())),
            None => Err(s3s::s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// The table of `keys` to change: `Arc::make_mut` without `Clone` on the
/// secrets (a shared table is rebuilt from copies of its secrets).
fn unique(keys: &mut Arc<HashMap<String, AccessKey>>) -> &mut HashMap<String, AccessKey> {
    if Arc::get_mut(keys).is_none() {
        let copy = keys
            .iter()
            .map(|(id, key)| {
                let copy = AccessKey {
                    secret: SecretKey::from(key.secret.expose()),
                    caller: key.caller.clone(),
                };
                (id.clone(), copy)
            })
            .collect();
        *keys = Arc::new(copy);
    }
    Arc::get_mut(keys).expect("unique after the copy")
}
