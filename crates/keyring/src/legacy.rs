//! Recognising records written in key-record layout 1, where key material was
//! sealed on its own (a `sealed` field) inside unsealed JSON.

/// Whether the (opened) record `value` still holds material sealed in layout 1:
/// a `"sealed":` field in its JSON (searched as bytes, so no copy of the
/// record's secrets is made). Such records are rewritten when the keyring or
/// KMS that owns them opens.
pub(crate) fn holds_legacy_material(value: &[u8]) -> bool {
    value.windows(9).any(|w| w == b"\"sealed\":")
}
