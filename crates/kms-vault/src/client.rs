//! [`VaultTransit`]: the Transit operations coffer needs, one method each.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_keyring::DataKey;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::config::is_plain_name;
use crate::key::KeyWire;
use crate::transport::{Call, Idempotence, Method, Reply, Transport};
use crate::{ConfigError, Error, Result, TransitCiphertext, TransitKey, VaultConfig};

/// A blocking client of one Transit mount.
///
/// Transit creates a key the first time something is encrypted under an
/// unknown name. This client never does: [`encrypt`](Self::encrypt) reads the
/// key first and fails with [`Error::NotFound`]. That check races a concurrent
/// delete, so also give coffer's token `update` but not `create` on
/// `<mount>/encrypt/*`; the server then refuses to create a key on encrypt.
///
/// Every call has the configured timeouts and retries while the server is
/// unavailable ([`RetryPolicy`](crate::RetryPolicy)). `Send + Sync`: share one
/// client; it keeps a connection pool.
///
/// The token's policy for sealing and opening data keys (mount `transit`):
///
/// ```hcl
/// path "transit/keys/*"    { capabilities = ["read"] }    # the existence check
/// path "transit/encrypt/*" { capabilities = ["update"] }  # no "create"
/// path "transit/decrypt/*" { capabilities = ["update"] }
/// ```
///
/// Key administration also needs `create`/`update` on `transit/keys/*` (create,
/// rotate, configure, restore) and `delete` (soft-delete, delete).
pub struct VaultTransit {
    transport: Transport,
    mount: String,
}

impl fmt::Debug for VaultTransit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultTransit")
            .field("mount", &self.mount)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct CiphertextData {
    ciphertext: String,
}

#[derive(Deserialize)]
struct PlaintextData {
    plaintext: Zeroizing<String>,
}

impl VaultTransit {
    /// A client for `config`. Reads the token (and CA file) now; sends nothing.
    pub fn new(config: VaultConfig) -> Result<Self, ConfigError> {
        let (transport, mount) = Transport::new(config)?;
        Ok(Self { transport, mount })
    }

    /// Requests sent to the server so far (every attempt counts), for
    /// measuring KMS traffic.
    pub fn requests(&self) -> u64 {
        self.transport.requests()
    }

    /// The names of every key of the mount (needs `list` on `<mount>/keys`).
    pub fn list_keys(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Keys {
            keys: Vec<String>,
        }
        match self.send("", Method::Get, "keys?list=true".to_owned(), None) {
            Ok(reply) => Ok(parse_data::<Keys>(&reply)?.keys),
            // No key at all is a 404.
            Err(Error::NotFound { .. }) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// Sets the key's automatic rotation period (`None`: no automatic
    /// rotation). The server refuses periods under an hour.
    pub fn set_auto_rotate_period(
        &self,
        name: &str,
        period: Option<std::time::Duration>,
    ) -> Result<TransitKey> {
        let seconds = period.map_or(0, |p| p.as_secs());
        self.configure(
            name,
            serde_json::json!({ "auto_rotate_period": format!("{seconds}s") }),
        )
    }

    /// The Transit mount path this client uses.
    pub fn mount(&self) -> &str {
        &self.mount
    }

    /// The key's state, or `None` if there is no such key.
    pub fn read_key(&self, name: &str) -> Result<Option<TransitKey>> {
        check_name(name)?;
        match self.send(name, Method::Get, format!("keys/{name}"), None) {
            Ok(reply) => Ok(Some(parse_key(&reply)?)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Whether the key exists (soft-deleted keys exist).
    pub fn key_exists(&self, name: &str) -> Result<bool> {
        Ok(self.read_key(name)?.is_some())
    }

    /// Creates an `aes256-gcm96` key. Transit answers a create of an existing
    /// key with that key unchanged, so this returns whatever key has the name;
    /// [`Error::InvalidArgument`] if that one cannot bind associated data (see
    /// [`TransitKey::binds_associated_data`]), [`Error::SoftDeleted`] if it is
    /// soft-deleted.
    pub fn create_key(&self, name: &str) -> Result<TransitKey> {
        check_name(name)?;
        let body = serde_json::json!({ "type": "aes256-gcm96" }).to_string();
        let reply = self.send(name, Method::Post, format!("keys/{name}"), Some(&body))?;
        let key = if reply.status == 204 {
            // Servers before OpenBao 2 / Vault 1.12 answer without the key.
            self.read_key(name)?
                .ok_or_else(|| Error::NotFound { key: name.into() })?
        } else {
            parse_key(&reply)?
        };
        usable(name, &key)?;
        Ok(key)
    }

    /// Seals `plaintext` under the key's latest version, bound to
    /// `associated_data`: the ciphertext decrypts only with the same bytes.
    ///
    /// Reads the key first and never lets Transit create it:
    /// [`Error::NotFound`] for a missing key, [`Error::SoftDeleted`],
    /// [`Error::InvalidArgument`] for a key type that does not bind associated
    /// data.
    pub fn encrypt(
        &self,
        name: &str,
        plaintext: &DataKey,
        associated_data: &[u8],
    ) -> Result<TransitCiphertext> {
        let key = self
            .read_key(name)?
            .ok_or_else(|| Error::NotFound { key: name.into() })?;
        usable(name, &key)?;
        self.encrypt_existing(name, plaintext, associated_data)
    }

    /// Opens a ciphertext made by [`encrypt`](Self::encrypt) with the same
    /// `associated_data`. [`Error::Integrity`] for other associated data,
    /// another key or a modified ciphertext; [`Error::VersionRetired`] below
    /// the key's minimum decryption version; [`Error::NotFound`];
    /// [`Error::SoftDeleted`]. Transit does not create keys on decrypt.
    pub fn decrypt(
        &self,
        name: &str,
        ciphertext: &TransitCiphertext,
        associated_data: &[u8],
    ) -> Result<DataKey> {
        check_name(name)?;
        let body = serde_json::json!({
            "ciphertext": ciphertext.as_str(),
            "associated_data": BASE64.encode(associated_data),
        })
        .to_string();
        let call = Call {
            version: Some(ciphertext.version()),
            ..self.call(name, Method::Post, format!("decrypt/{name}"), Some(&body))
        };
        let reply = self.transport.call(&call)?;
        let data: PlaintextData = parse_data(&reply)?;
        let bytes = Zeroizing::new(
            BASE64
                .decode(data.plaintext.as_bytes())
                .map_err(|_| Error::InvalidResponse("decrypt: plaintext is not base64".into()))?,
        );
        DataKey::try_from_slice(&bytes).map_err(|_| {
            Error::InvalidResponse(format!(
                "decrypt: plaintext has {} bytes, not a 32-byte data key",
                bytes.len()
            ))
        })
    }

    /// Moves a ciphertext to the key's latest version; `None` if it is already
    /// there. The data key passes through this process: Transit's own
    /// `rewrap` endpoint has no `associated_data` and cannot open these
    /// ciphertexts. Errors as [`decrypt`](Self::decrypt) and
    /// [`encrypt`](Self::encrypt).
    pub fn rewrap(
        &self,
        name: &str,
        ciphertext: &TransitCiphertext,
        associated_data: &[u8],
    ) -> Result<Option<TransitCiphertext>> {
        let key = self
            .read_key(name)?
            .ok_or_else(|| Error::NotFound { key: name.into() })?;
        usable(name, &key)?;
        if ciphertext.version() >= key.latest_version {
            return Ok(None);
        }
        let plaintext = self.decrypt(name, ciphertext, associated_data)?;
        self.encrypt_existing(name, &plaintext, associated_data)
            .map(Some)
    }

    /// Adds a key version; new ciphertexts use it, older ones still decrypt.
    /// Returns the new latest version. Not retried once the request may have
    /// been sent (a second rotation would be another version).
    /// [`Error::NotFound`], [`Error::SoftDeleted`].
    pub fn rotate(&self, name: &str) -> Result<u32> {
        check_name(name)?;
        let call = Call {
            idempotence: Idempotence::Unsafe,
            ..self.call(name, Method::Post, format!("keys/{name}/rotate"), None)
        };
        let reply = self.transport.call(&call)?;
        let key = if reply.status == 204 {
            self.read_key(name)?
                .ok_or_else(|| Error::NotFound { key: name.into() })?
        } else {
            parse_key(&reply)?
        };
        Ok(key.latest_version)
    }

    /// Sets the oldest version that still decrypts; ciphertexts of older
    /// versions fail with [`Error::VersionRetired`] until it is lowered again.
    /// [`Error::NotFound`]; [`Error::Http`] (400) for a version above the latest.
    pub fn set_min_decryption_version(&self, name: &str, version: u32) -> Result<TransitKey> {
        self.configure(
            name,
            serde_json::json!({ "min_decryption_version": version }),
        )
    }

    /// Soft-deletes the key: every use is refused ([`Error::SoftDeleted`]), the
    /// material is kept until [`soft_delete_restore`](Self::soft_delete_restore)
    /// or [`delete`](Self::delete). Deleting a soft-deleted key again is a
    /// no-op. [`Error::NotFound`]; [`Error::Http`] (405) from servers without
    /// soft deletion.
    pub fn soft_delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let reply = self.send(
            name,
            Method::Delete,
            format!("keys/{name}/soft-delete"),
            None,
        )?;
        // A key that does not exist is answered with an empty 204.
        if reply.status == 204 {
            return Err(Error::NotFound { key: name.into() });
        }
        match parse_key(&reply)?.soft_deleted {
            Some(true) => Ok(()),
            _ => Err(Error::InvalidResponse(format!(
                "soft-delete of {name:?} answered a key that is not soft-deleted"
            ))),
        }
    }

    /// Makes a soft-deleted key usable again (a no-op for a key that is not
    /// soft-deleted). [`Error::NotFound`].
    pub fn soft_delete_restore(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let reply = self.send(
            name,
            Method::Post,
            format!("keys/{name}/soft-delete-restore"),
            Some("{}"),
        )?;
        if reply.status == 204 {
            return Err(Error::NotFound { key: name.into() });
        }
        match parse_key(&reply)?.soft_deleted {
            Some(false) | None => Ok(()),
            Some(true) => Err(Error::InvalidResponse(format!(
                "soft-delete-restore of {name:?} answered a key still soft-deleted"
            ))),
        }
    }

    /// Destroys the key and every version: everything sealed under it is lost
    /// for good. Sets `deletion_allowed` first. [`Error::NotFound`].
    pub fn delete(&self, name: &str) -> Result<()> {
        self.configure(name, serde_json::json!({ "deletion_allowed": true }))?;
        let call = Call {
            idempotence: Idempotence::Unsafe,
            ..self.call(name, Method::Delete, format!("keys/{name}"), None)
        };
        self.transport.call(&call).map(drop)
    }

    fn configure(&self, name: &str, settings: serde_json::Value) -> Result<TransitKey> {
        check_name(name)?;
        let body = settings.to_string();
        let reply = self.send(
            name,
            Method::Post,
            format!("keys/{name}/config"),
            Some(&body),
        )?;
        if reply.status == 204 {
            return self
                .read_key(name)?
                .ok_or_else(|| Error::NotFound { key: name.into() });
        }
        parse_key(&reply)
    }

    /// Encrypts under a key already checked to exist.
    fn encrypt_existing(
        &self,
        name: &str,
        plaintext: &DataKey,
        associated_data: &[u8],
    ) -> Result<TransitCiphertext> {
        #[derive(serde::Serialize)]
        struct Request<'a> {
            plaintext: &'a str,
            associated_data: &'a str,
        }
        let encoded = Zeroizing::new(BASE64.encode(plaintext.expose_secret()));
        let mut body = Zeroizing::new(Vec::with_capacity(256));
        serde_json::to_writer(
            &mut *body,
            &Request {
                plaintext: &encoded,
                associated_data: &BASE64.encode(associated_data),
            },
        )
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let call = Call {
            body: Some(&body),
            ..self.call(name, Method::Post, format!("encrypt/{name}"), None)
        };
        let reply = self.transport.call(&call)?;
        let data: CiphertextData = parse_data(&reply)?;
        TransitCiphertext::parse(data.ciphertext)
            .map_err(|e| Error::InvalidResponse(format!("encrypt: {e}")))
    }

    fn call<'a>(
        &self,
        key: &'a str,
        method: Method,
        path: String,
        body: Option<&'a str>,
    ) -> Call<'a> {
        Call {
            method,
            path: format!("{}/{path}", self.mount),
            body: body.map(str::as_bytes),
            idempotence: Idempotence::Safe,
            key,
            version: None,
        }
    }

    fn send(&self, key: &str, method: Method, path: String, body: Option<&str>) -> Result<Reply> {
        self.transport.call(&self.call(key, method, path, body))
    }
}

/// Refuses names that would change the URL's meaning (`/`, `..`, `?`): every
/// name is one path segment sent as is.
fn check_name(name: &str) -> Result<()> {
    if is_plain_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "transit key name {name:?}: use 1 to 128 letters, digits, '_', '-' and '.'"
        )))
    }
}

/// A key coffer may seal data keys under.
fn usable(name: &str, key: &TransitKey) -> Result<()> {
    if key.is_soft_deleted() {
        return Err(Error::SoftDeleted { key: name.into() });
    }
    if !key.binds_associated_data() || !key.supports_encryption {
        return Err(Error::InvalidArgument(format!(
            "transit key {name:?} is of type {}{}; coffer needs one of {:?} without derivation",
            key.key_type,
            if key.derived { " (derived)" } else { "" },
            crate::AEAD_KEY_TYPES
        )));
    }
    Ok(())
}

fn parse_data<T: DeserializeOwned>(reply: &Reply) -> Result<T> {
    serde_json::from_str::<Envelope<T>>(&reply.body)
        .map(|envelope| envelope.data)
        .map_err(|e| Error::InvalidResponse(format!("HTTP {}: {e}", reply.status)))
}

fn parse_key(reply: &Reply) -> Result<TransitKey> {
    parse_data::<KeyWire>(reply).map(TransitKey::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_client_is_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<VaultTransit>();
    }

    #[test]
    fn names_are_one_path_segment() {
        for good in ["coffer", "coffer-photos_1.v2", &"k".repeat(128)] {
            check_name(good).expect(good);
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b",
            "a#b",
            "a%2fb",
            "a b",
            &"k".repeat(129),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
