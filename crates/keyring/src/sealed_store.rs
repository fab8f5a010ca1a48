//! Every key record sealed whole under the root key, bound to its name.
//!
//! [`SealedKeyStore`] wraps any [`KeyStore`]: values are sealed as they are
//! written and opened as they are read, so the master keyring, the local KMS and
//! the store's own secrets get the same protection without knowing of it. A
//! record edited, truncated, or moved to another name fails to open
//! ([`Error::Integrity`]); a record from another store (another root key) too.
//!
//! ```text
//! sealed record = "CFSR" ‖ u8 version = 1 ‖ nonce (12, random)
//!                 ‖ AES-256-GCM(k, nonce, aad, value) ‖ tag (16)
//! k   = HKDF-SHA256(root key, info = "coffer/sealed-record/v1")
//! aad = "CFSR" ‖ 0x01 ‖ record name (UTF-8)
//! ```
//!
//! The record `root/check` proves the root key: its value is
//! `"coffer keys v2"` followed by the store secret, 32 random bytes drawn when
//! the record is first written, from which the store derives keys of its own
//! (for example the key that authenticates object records); resealing under a
//! new root key keeps it, so what it authenticates stays valid. Stores written before records were sealed whole (layout
//! 1: only key material was sealed, inside JSON) are migrated on first open
//! with their root key, in one atomic write.

use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{Error, KeyStore, Result, RootKey};

const MAGIC: &[u8; 4] = b"CFSR";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 1;
const TAG_LEN: usize = 16;
const SEAL_INFO: &[u8] = b"coffer/sealed-record/v1";
/// The record that proves the root key.
pub(crate) const CHECK_NAME: &str = "root/check";
const CHECK_PREFIX: &[u8] = b"coffer keys v2";
const SECRET_LEN: usize = 32;

/// What [`SealedKeyStore::open`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeysLayout {
    /// The store had no key records: it is new.
    New,
    /// Records were sealed whole already.
    Sealed,
    /// The store was written before records were sealed whole; every record was
    /// sealed now (values unchanged inside).
    MigratedFromLegacy,
}

/// A [`KeyStore`] whose every value is sealed under the root key and bound to its
/// record name. See the module docs for the layout.
pub struct SealedKeyStore {
    inner: Arc<dyn KeyStore>,
    key: LessSafeKey,
    secret: Zeroizing<[u8; SECRET_LEN]>,
}

/// Records a new or migrated store writes together with its `root/check`
/// record, in the same atomic write (so they exist exactly when it does).
pub type InitialRecords<'a> = &'a dyn Fn(KeysLayout) -> Vec<(String, Vec<u8>)>;

impl SealedKeyStore {
    /// Opens `inner` with `root`: checks the root key ([`Error::WrongRootKey`],
    /// changing nothing, if it is not this store's), enrolls it in a new store,
    /// and seals the records of a store written in the legacy layout.
    ///
    /// A store that has key records but no `root/check` record is refused
    /// ([`Error::Integrity`]): the record was removed, and the store cannot
    /// tell which root key it belongs to.
    pub fn open(inner: Arc<dyn KeyStore>, root: &RootKey) -> Result<(Self, KeysLayout)> {
        Self::open_with(inner, root, &|_| Vec::new())
    }

    /// [`SealedKeyStore::open`], writing `initial(layout)` with the `root/check`
    /// record when this open creates it (a new store, or a legacy one sealed now).
    pub fn open_with(
        inner: Arc<dyn KeyStore>,
        root: &RootKey,
        initial: InitialRecords<'_>,
    ) -> Result<(Self, KeysLayout)> {
        let mut store = Self {
            key: sealing_key(root),
            inner,
            secret: Zeroizing::new([0; SECRET_LEN]),
        };
        let layout = match store.inner.get(CHECK_NAME)? {
            Some(raw) if raw.starts_with(MAGIC) => {
                let value = store
                    .open_value(CHECK_NAME, &raw)
                    .map_err(|_| Error::WrongRootKey)?;
                let secret = value
                    .strip_prefix(CHECK_PREFIX)
                    .filter(|s| s.len() == SECRET_LEN)
                    .ok_or(Error::WrongRootKey)?;
                store.secret.copy_from_slice(secret);
                KeysLayout::Sealed
            }
            Some(raw) => {
                root.sealer()
                    .open_key(CHECK_NAME, &raw)
                    .map_err(|_| Error::WrongRootKey)?;
                store.draw_secret()?;
                store.migrate_legacy(initial(KeysLayout::MigratedFromLegacy))?;
                KeysLayout::MigratedFromLegacy
            }
            None => {
                if !store.inner.scan("")?.is_empty() {
                    return Err(Error::Integrity(
                        "the key records have no root/check record: it was removed",
                    ));
                }
                store.draw_secret()?;
                let mut changes = vec![(CHECK_NAME.to_owned(), Some(store.check_value()))];
                changes.extend(
                    initial(KeysLayout::New)
                        .into_iter()
                        .map(|(n, v)| (n, Some(v))),
                );
                store.apply(changes)?;
                KeysLayout::New
            }
        };
        Ok((store, layout))
    }

    /// A 32-byte key for one `purpose`, derived from the store secret (see the
    /// module docs): the same for every open of this store, whatever its root key.
    pub fn derive_key(&self, purpose: &[u8]) -> Zeroizing<[u8; 32]> {
        let prk = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, &self.secret[..]);
        let mut key = Zeroizing::new([0u8; 32]);
        prk.expand(&[purpose], ring::hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut key[..]))
            .expect("32 bytes is within HKDF-SHA256's output limit");
        key
    }

    /// A store over `inner` whose secret is `secret`, as if `root/check` held
    /// it: for test vectors of what the secret derives and seals.
    #[cfg(test)]
    pub(crate) fn with_secret(
        inner: Arc<dyn KeyStore>,
        root: &RootKey,
        secret: [u8; SECRET_LEN],
    ) -> Self {
        Self {
            key: sealing_key(root),
            inner,
            secret: Zeroizing::new(secret),
        }
    }

    fn draw_secret(&mut self) -> Result<()> {
        SystemRandom::new()
            .fill(&mut self.secret[..])
            .map_err(|_| Error::Randomness)
    }

    pub(crate) fn check_value(&self) -> Vec<u8> {
        [CHECK_PREFIX, &self.secret[..]].concat()
    }

    /// Reseals every record of `inner` from `old` to `new` in one atomic write:
    /// afterwards `new` opens the store and `old` does not. Fails with
    /// [`Error::WrongRootKey`], changing nothing, unless `old` is the store's
    /// root key; fails with [`Error::Integrity`] if any record does not open.
    /// Returns how many records were resealed.
    ///
    /// Records that still hold material sealed in the legacy layout are
    /// refused: open the store once with this version first.
    pub fn rotate_root_key(
        inner: Arc<dyn KeyStore>,
        old: &RootKey,
        new: &RootKey,
    ) -> Result<usize> {
        match inner.get(CHECK_NAME)? {
            None => {
                return Err(Error::InvalidArgument(
                    "there is no store to rotate the root key of".into(),
                ));
            }
            Some(raw) if !raw.starts_with(MAGIC) => {
                return Err(Error::InvalidArgument(
                    "the store was written by an earlier version; open it once with this version before rotating its root key".into(),
                ));
            }
            Some(_) => {}
        }
        let (from, _) = Self::open(Arc::clone(&inner), old)?;
        let to = Self {
            key: sealing_key(new),
            inner: Arc::clone(&inner),
            secret: Zeroizing::new(*from.secret),
        };
        let mut changes = Vec::new();
        for (name, raw) in inner.scan("")? {
            let value = from.open_value(&name, &raw)?;
            if crate::legacy::holds_legacy_material(&value) {
                return Err(Error::InvalidArgument(format!(
                    "record {name} still holds material in the legacy layout; open the store once with this version before rotating its root key"
                )));
            }
            changes.push((name.clone(), Some(to.seal_value(&name, &value)?)));
        }
        let count = changes.len();
        inner.apply(changes)?;
        Ok(count)
    }

    fn migrate_legacy(&self, initial: Vec<(String, Vec<u8>)>) -> Result<()> {
        let mut changes = Vec::new();
        for (name, value) in self.inner.scan("")? {
            let value = Zeroizing::new(value);
            if name == CHECK_NAME {
                continue;
            }
            changes.push((name.clone(), Some(self.seal_value(&name, &value)?)));
        }
        let count = changes.len();
        let check = Zeroizing::new(self.check_value());
        changes.push((
            CHECK_NAME.to_owned(),
            Some(self.seal_value(CHECK_NAME, &check)?),
        ));
        for (name, value) in initial {
            let value = Zeroizing::new(value);
            changes.push((name.clone(), Some(self.seal_value(&name, &value)?)));
        }
        self.inner.apply(changes)?;
        tracing::info!(records = count, "key records sealed whole (layout 2)");
        Ok(())
    }

    fn seal_value(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Randomness)?;
        self.seal_value_with_nonce(name, value, nonce)
    }

    /// [`SealedKeyStore::seal_value`] with the nonce given, so that a test can
    /// fix its bytes. Never call it with a nonce that was not just drawn at
    /// random.
    pub(crate) fn seal_value_with_nonce(
        &self,
        name: &str,
        value: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + value.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(value);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(name)),
                &mut out[start..],
            )
            .map_err(|_| Error::Integrity("sealing a key record"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    pub(crate) fn open_value(&self, name: &str, raw: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if raw.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || &raw[..MAGIC.len()] != MAGIC {
            return Err(Error::Integrity("a key record is not sealed"));
        }
        if raw[MAGIC.len()] != VERSION {
            return Err(Error::Integrity("a key record has an unknown version"));
        }
        let nonce = Nonce::try_assume_unique_for_key(&raw[HEADER_LEN..HEADER_LEN + NONCE_LEN])
            .map_err(|_| Error::Integrity("nonce"))?;
        let mut body = Zeroizing::new(raw[HEADER_LEN + NONCE_LEN..].to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad(name)), &mut body)
            .map_err(|_| {
                Error::Integrity("a key record failed to authenticate: edited, moved or truncated")
            })?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

/// 32 bytes of key material kept as hex inside a sealed record (`what` names
/// the record in the error if it is malformed).
pub(crate) fn material_from_hex(hex: &str, what: &'static str) -> Result<Zeroizing<[u8; 32]>> {
    let mut material = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex, &mut material[..]).map_err(|_| Error::Integrity(what))?;
    Ok(material)
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN + name.len());
    aad.extend_from_slice(MAGIC);
    aad.push(VERSION);
    aad.extend_from_slice(name.as_bytes());
    aad
}

fn sealing_key(root: &RootKey) -> LessSafeKey {
    let key = root.derive(SEAL_INFO);
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key[..]).expect("32-byte key"))
}

impl KeyStore for SealedKeyStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.inner.get(name)? {
            Some(raw) => Ok(Some(self.open_value(name, &raw)?.to_vec())),
            None => Ok(None),
        }
    }

    fn scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.inner
            .scan(prefix)?
            .into_iter()
            .map(|(name, raw)| {
                let value = self.open_value(&name, &raw)?.to_vec();
                Ok((name, value))
            })
            .collect()
    }

    fn apply(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        self.inner.apply(self.seal_changes(changes)?)
    }

    fn apply_lazily(&self, changes: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        self.inner.apply_lazily(self.seal_changes(changes)?)
    }

    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }
}

impl SealedKeyStore {
    fn seal_changes(
        &self,
        changes: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>> {
        changes
            .into_iter()
            .map(|(name, value)| {
                let sealed = match value {
                    Some(value) => {
                        let value = Zeroizing::new(value);
                        Some(self.seal_value(&name, &value)?)
                    }
                    None => None,
                };
                Ok((name, sealed))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryKeyStore;

    fn open(inner: &Arc<MemoryKeyStore>, root: &RootKey) -> Result<(SealedKeyStore, KeysLayout)> {
        SealedKeyStore::open(Arc::clone(inner) as Arc<dyn KeyStore>, root)
    }

    #[test]
    fn records_are_sealed_and_bound_to_their_names() {
        let inner = Arc::new(MemoryKeyStore::new());
        let root = RootKey::from_bytes([1; 32]);
        let (sealed, layout) = open(&inner, &root).expect("opens");
        assert_eq!(layout, KeysLayout::New);
        sealed
            .apply(vec![
                (
                    "kms/key/a".into(),
                    Some(b"{\"state\":\"Enabled\"}".to_vec()),
                ),
                (
                    "kms/key/b".into(),
                    Some(b"{\"state\":\"Disabled\"}".to_vec()),
                ),
            ])
            .expect("writes");
        let raw_a = inner.get("kms/key/a").expect("get").expect("present");
        assert!(!raw_a.windows(7).any(|w| w == b"Enabled"), "sealed on disk");
        assert_eq!(
            sealed.get("kms/key/a").expect("opens").expect("present"),
            b"{\"state\":\"Enabled\"}"
        );
        // Moved to another name: refused.
        inner
            .apply(vec![("kms/key/b".into(), Some(raw_a.clone()))])
            .expect("raw write");
        assert!(matches!(sealed.get("kms/key/b"), Err(Error::Integrity(_))));
        // Edited: refused.
        let mut edited = raw_a;
        let last = edited.len() - 1;
        edited[last] ^= 1;
        inner
            .apply(vec![("kms/key/a".into(), Some(edited))])
            .expect("raw write");
        assert!(matches!(sealed.scan("kms/"), Err(Error::Integrity(_))));
        // Another root key does not open the store.
        assert!(matches!(
            open(&inner, &RootKey::from_bytes([2; 32])),
            Err(Error::WrongRootKey)
        ));
    }

    #[test]
    fn a_removed_check_record_is_refused() {
        let inner = Arc::new(MemoryKeyStore::new());
        let root = RootKey::from_bytes([1; 32]);
        let (sealed, _) = open(&inner, &root).expect("opens");
        sealed
            .apply(vec![("master/state".into(), Some(b"{}".to_vec()))])
            .expect("writes");
        inner
            .apply(vec![(CHECK_NAME.into(), None)])
            .expect("raw delete");
        assert!(matches!(open(&inner, &root), Err(Error::Integrity(_))));
    }

    #[test]
    fn legacy_stores_are_sealed_on_first_open() {
        let inner = Arc::new(MemoryKeyStore::new());
        let root = RootKey::from_bytes([1; 32]);
        let legacy_check = root.sealer().seal(CHECK_NAME, &[0x5A; 32]).expect("seals");
        inner
            .apply(vec![
                (CHECK_NAME.into(), Some(legacy_check)),
                ("kms/alias/alias/x".into(), Some(b"key-1".to_vec())),
            ])
            .expect("raw writes");
        assert!(matches!(
            open(&inner, &RootKey::from_bytes([2; 32])),
            Err(Error::WrongRootKey)
        ));
        let (sealed, layout) = open(&inner, &root).expect("opens");
        assert_eq!(layout, KeysLayout::MigratedFromLegacy);
        assert_eq!(
            sealed
                .get("kms/alias/alias/x")
                .expect("opens")
                .expect("present"),
            b"key-1"
        );
        let (_, layout) = open(&inner, &root).expect("opens again");
        assert_eq!(layout, KeysLayout::Sealed);
    }

    #[test]
    fn rotating_the_root_key_reseals_every_record() {
        let inner = Arc::new(MemoryKeyStore::new());
        let old = RootKey::from_bytes([1; 32]);
        let new = RootKey::from_bytes([2; 32]);
        let (sealed, _) = open(&inner, &old).expect("opens");
        sealed
            .apply(vec![("store/x".into(), Some(b"value".to_vec()))])
            .expect("writes");
        let secret = sealed.derive_key(b"test");
        assert!(matches!(
            SealedKeyStore::rotate_root_key(Arc::clone(&inner) as Arc<dyn KeyStore>, &new, &old),
            Err(Error::WrongRootKey)
        ));
        let count =
            SealedKeyStore::rotate_root_key(Arc::clone(&inner) as Arc<dyn KeyStore>, &old, &new)
                .expect("rotates");
        assert_eq!(count, 2);
        assert!(matches!(open(&inner, &old), Err(Error::WrongRootKey)));
        let (sealed, layout) = open(&inner, &new).expect("new key opens");
        assert_eq!(layout, KeysLayout::Sealed);
        assert_eq!(
            sealed.get("store/x").expect("opens").expect("present"),
            b"value"
        );
        assert_eq!(sealed.derive_key(b"test"), secret);
    }
}
