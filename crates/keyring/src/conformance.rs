//! The conformance suite every KMS backend runs in its tests (feature
//! `conformance`), through the [`Kms`] layer, unchanged for every backend.
//!
//! It is capability-aware: a check that needs an administration operation
//! runs it only where the backend [`supports`](crate::KeyAdministration::supports)
//! it, and [`unsupported_operations_say_so`] checks that every other one is a
//! clear [`Error::Unsupported`] naming the backend. What the service under test
//! does not enforce, or a clock the test cannot move, is said by the
//! [`Subject`], never faked. Each check panics with a message naming what broke.
//!
//! The checks, in the order [`run_all`] runs them:
//!
//! | check | needs |
//! | --- | --- |
//! | [`round_trip`] | create or a given key |
//! | [`wrong_context_fails`] | — |
//! | [`tampered_wrapped_keys_fail`] | — |
//! | [`disabled_key_refuses`] | enable, disable |
//! | [`pending_deletion_refuses_until_cancelled`] | schedule, cancel deletion |
//! | [`cancelling_a_deletion_never_enables_a_key`] | enable, disable, schedule, cancel deletion |
//! | [`destroyed_material_is_unreadable`] | schedule deletion and a movable clock, or immediate deletion |
//! | [`rotation_keeps_old_data_keys_readable`] | rotate (automatic rotation: a movable clock) |
//! | [`retired_versions_refuse_to_decrypt`] | rotate, a minimum decryption version |
//! | [`unauthorized_caller_is_refused`] | — |
//! | [`every_spelling_of_a_key_is_checked_as_its_id`] | disable (aliases: also by alias) |
//! | [`aliases_resolve`] | aliases |
//! | [`default_key_is_one_key`] | a default key |
//! | [`every_call_is_audited`] | — |
//! | [`failed_audit_fails_the_call`] | — |
//! | [`unsupported_operations_say_so`] | — |

use std::sync::Arc;
use std::time::Duration;

use coffer_policy::{PolicyDocument, Principal};

use crate::audit::{AuditOutcome, MemoryAuditSink};
use crate::{
    AdminOperation, Caller, CreateKeyOptions, EncryptionContext, Error, ImportOptions, KeyState,
    Kms, KmsBackend, KmsOptions, WrappedKey,
};

/// A backend under test: the service behind it and what the test can do to it.
pub trait Subject {
    /// The backend.
    fn backend(&self) -> Arc<dyn KmsBackend>;

    /// Moves the backend's clock forward (deletion windows, rotation
    /// periods); `false` if the backend's clock is a real server's.
    fn advance_clock(&self, by: Duration) -> bool;

    /// Whether the service refuses data-key use under a disabled key or one
    /// pending deletion. Real services do; some emulators (moto) do not, and
    /// the check then stops at the reported state.
    fn enforces_key_state(&self) -> bool {
        true
    }

    /// Whether the service reports the rotation period it was given. Real
    /// services do; some emulators (moto) keep only "rotation enabled".
    fn keeps_rotation_period(&self) -> bool {
        true
    }

    /// A key to run the data-plane checks under, for a backend that cannot
    /// create keys; `None` (the default) creates one per check.
    fn existing_key(&self) -> Option<String> {
        None
    }

    /// Other names the service accepts for the key `key_id` (with `alias`
    /// pointing at it, where the backend has aliases): for AWS KMS, its key
    /// ARN and the alias's ARN. None by default.
    fn spellings(&self, key_id: &str, alias: Option<&str>) -> Vec<String> {
        let _ = (key_id, alias);
        Vec::new()
    }
}

const TRUSTED: Caller = Caller::Trusted;
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The suite's view of a subject: the backend behind the layer, with the
/// layer's audit events kept.
struct Harness<'a> {
    subject: &'a dyn Subject,
    kms: Kms,
    audit: MemoryAuditSink,
}

impl<'a> Harness<'a> {
    fn new(subject: &'a dyn Subject) -> Self {
        let audit = MemoryAuditSink::new();
        let options = KmsOptions::default()
            .with_account("cn-hangzhou", "1416614965931234")
            .with_audit(Arc::new(audit.clone()))
            .with_fail_fast_for(Duration::ZERO);
        Self {
            subject,
            kms: Kms::new(subject.backend(), options),
            audit,
        }
    }

    fn supports(&self, operation: AdminOperation) -> bool {
        self.kms.supports(operation)
    }

    /// A fresh key (or the subject's own), with its id.
    fn key(&self) -> String {
        if let Some(id) = self.subject.existing_key() {
            return id;
        }
        assert!(
            self.supports(AdminOperation::CreateKey),
            "{}: a backend that cannot create keys must give the suite one (Subject::existing_key)",
            self.kms.backend_name()
        );
        self.kms
            .create_key(
                CreateKeyOptions::new().with_description("coffer conformance"),
                &TRUSTED,
            )
            .expect("create_key")
            .key_id
    }

    /// A fresh key the check may change (disable, delete): never the
    /// subject's own. `None` if the backend cannot create one.
    fn own_key(&self) -> Option<String> {
        self.supports(AdminOperation::CreateKey).then(|| {
            self.kms
                .create_key(
                    CreateKeyOptions::new().with_description("coffer conformance"),
                    &TRUSTED,
                )
                .expect("create_key")
                .key_id
        })
    }
}

fn context(object: &[u8]) -> EncryptionContext {
    EncryptionContext::new(b"conformance-store", "bucket", object)
}

/// Runs every check.
pub fn run_all(subject: &dyn Subject) {
    round_trip(subject);
    wrong_context_fails(subject);
    tampered_wrapped_keys_fail(subject);
    disabled_key_refuses(subject);
    pending_deletion_refuses_until_cancelled(subject);
    cancelling_a_deletion_never_enables_a_key(subject);
    destroyed_material_is_unreadable(subject);
    rotation_keeps_old_data_keys_readable(subject);
    retired_versions_refuse_to_decrypt(subject);
    unauthorized_caller_is_refused(subject);
    every_spelling_of_a_key_is_checked_as_its_id(subject);
    aliases_resolve(subject);
    default_key_is_one_key(subject);
    every_call_is_audited(subject);
    failed_audit_fails_the_call(subject);
    unsupported_operations_say_so(subject);
}

/// Generate, then decrypt, gives the same data key; the wrapped key names the
/// key id and its current version; data keys are fresh.
pub fn round_trip(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let (key, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    assert_eq!(wrapped.key_id(), id, "wrapped key names its CMK id");
    let described = h.kms.describe_key(&id, &TRUSTED).expect("describe");
    assert_eq!(wrapped.key_version(), described.current_version);
    assert_eq!(described.state, KeyState::Enabled);
    assert!(
        described.resource_name.ends_with(&format!(":key/{id}")),
        "{}",
        described.resource_name
    );
    let decoded = WrappedKey::decode(&wrapped.encode()).expect("the record decodes");
    let again = h
        .kms
        .decrypt(&decoded, &context(b"a"), &TRUSTED)
        .expect("decrypt");
    assert_eq!(
        key.expose_secret(),
        again.expose_secret(),
        "decrypt returns the generated key"
    );
    let (other, _) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    assert_ne!(
        key.expose_secret(),
        other.expose_secret(),
        "data keys are fresh"
    );
    assert!(h.kms.requests() > 0, "the backend counts its requests");
}

/// A wrapped key opened for another context (another object's, another
/// bucket's) is an integrity error: it cannot be moved between objects.
pub fn wrong_context_fails(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    for other in [
        context(b"b"),
        EncryptionContext::new(b"conformance-store", "other-bucket", b"a"),
        EncryptionContext::new(b"another-store", "bucket", b"a"),
    ] {
        let opened = h.kms.decrypt(&wrapped, &other, &TRUSTED);
        assert!(
            matches!(opened, Err(Error::Integrity(_))),
            "opened for {other}: {:?}",
            opened.map(|_| ())
        );
    }
}

/// A wrapped key whose body was changed does not open.
pub fn tampered_wrapped_keys_fail(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let bytes = wrapped.encode();
    // The last byte is part of the body (an authentication tag, or base64 of one).
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    if let Ok(tampered) = WrappedKey::decode(&flipped) {
        assert!(
            h.kms.decrypt(&tampered, &context(b"a"), &TRUSTED).is_err(),
            "a wrapped key with a flipped bit opened"
        );
    }
}

/// A disabled key refuses generate and decrypt until enabled again.
pub fn disabled_key_refuses(subject: &dyn Subject) {
    let h = Harness::new(subject);
    if !(h.supports(AdminOperation::DisableKey) && h.supports(AdminOperation::EnableKey)) {
        return;
    }
    let Some(id) = h.own_key() else { return };
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    h.kms.disable_key(&id, &TRUSTED).expect("disable");
    assert_eq!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Disabled
    );
    if subject.enforces_key_state() {
        assert!(matches!(
            h.kms.generate_data_key(&id, &context(b"a"), &TRUSTED),
            Err(Error::KeyDisabled(_))
        ));
        assert!(matches!(
            h.kms.decrypt(&wrapped, &context(b"a"), &TRUSTED),
            Err(Error::KeyDisabled(_))
        ));
    }
    h.kms.enable_key(&id, &TRUSTED).expect("enable");
    assert_eq!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Enabled
    );
    h.kms
        .decrypt(&wrapped, &context(b"a"), &TRUSTED)
        .expect("decrypts once enabled");
}

/// A key pending deletion refuses use; the window is 7 to 366 days; cancelling
/// makes it usable again.
pub fn pending_deletion_refuses_until_cancelled(subject: &dyn Subject) {
    let h = Harness::new(subject);
    if !(h.supports(AdminOperation::ScheduleKeyDeletion)
        && h.supports(AdminOperation::CancelKeyDeletion))
    {
        return;
    }
    let Some(id) = h.own_key() else { return };
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    for days in [0, 6, 367] {
        assert!(
            matches!(
                h.kms.schedule_key_deletion(&id, days, &TRUSTED),
                Err(Error::InvalidArgument(_))
            ),
            "{days} days"
        );
    }
    h.kms
        .schedule_key_deletion(&id, 7, &TRUSTED)
        .expect("schedule");
    assert!(matches!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::PendingDeletion { .. }
    ));
    if subject.enforces_key_state() {
        assert!(matches!(
            h.kms.decrypt(&wrapped, &context(b"a"), &TRUSTED),
            Err(Error::KeyPendingDeletion { .. })
        ));
        assert!(matches!(
            h.kms.generate_data_key(&id, &context(b"a"), &TRUSTED),
            Err(Error::KeyPendingDeletion { .. })
        ));
    }
    subject.advance_clock(6 * DAY);
    h.kms.cancel_key_deletion(&id, &TRUSTED).expect("cancel");
    assert_eq!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Disabled,
        "a cancelled deletion leaves the key disabled, as AWS KMS does"
    );
    if h.supports(AdminOperation::EnableKey) {
        h.kms.enable_key(&id, &TRUSTED).expect("enable");
        h.kms
            .decrypt(&wrapped, &context(b"a"), &TRUSTED)
            .expect("decrypts once enabled after the cancel");
    }
}

/// Scheduling a deletion and cancelling it never enables a key: a disabled
/// key stays disabled, so a principal allowed to schedule and cancel but
/// denied `kms:EnableKey` cannot use them to enable it (and the backend
/// makes no call of its own to enable it).
pub fn cancelling_a_deletion_never_enables_a_key(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let needed = [
        AdminOperation::DisableKey,
        AdminOperation::EnableKey,
        AdminOperation::ScheduleKeyDeletion,
        AdminOperation::CancelKeyDeletion,
    ];
    if !needed.iter().all(|&operation| h.supports(operation)) {
        return;
    }
    let Some(id) = h.own_key() else { return };
    h.kms.disable_key(&id, &TRUSTED).expect("disable");
    let policy = PolicyDocument::parse(
        r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Action":["kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:DescribeKey"],"Resource":"acs:kms:*:*:key/*"},
            {"Effect":"Deny","Action":"kms:EnableKey","Resource":"acs:kms:*:*:key/*"}]}"#,
    )
    .expect("policy");
    let operator =
        Caller::Principal(Principal::new("operator", "1416614965931234").with_policy(policy));
    h.kms
        .schedule_key_deletion(&id, 7, &operator)
        .expect("the operator may schedule");
    h.kms
        .cancel_key_deletion(&id, &operator)
        .expect("the operator may cancel");
    assert_eq!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Disabled,
        "a schedule and a cancel enabled a disabled key"
    );
    assert!(matches!(
        h.kms.enable_key(&id, &operator),
        Err(Error::AccessDenied { .. })
    ));
    assert_eq!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Disabled
    );
}

/// A `Deny` on a key holds however the caller names it: by id, by alias, and
/// by every other spelling the service accepts ([`Subject::spellings`]); each
/// refusal is audited under the key id; a spelling that names no key is
/// refused, never checked as written.
pub fn every_spelling_of_a_key_is_checked_as_its_id(subject: &dyn Subject) {
    let h = Harness::new(subject);
    if !h.supports(AdminOperation::DisableKey) {
        return;
    }
    let Some(id) = h.own_key() else { return };
    let mut names = vec![id.clone()];
    let mut alias = None;
    if h.supports(AdminOperation::CreateAlias) {
        let name = format!("alias/conformance-spelling-{}", &id[..8.min(id.len())]);
        h.kms
            .create_alias(&name, &id, &TRUSTED)
            .expect("create alias");
        names.push(name.clone());
        alias = Some(name);
    }
    names.extend(subject.spellings(&id, alias.as_deref()));
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":"kms:*","Resource":"acs:kms:*:1416614965931234:key/*"}},
            {{"Effect":"Deny","Action":"kms:DisableKey","Resource":"acs:kms:*:1416614965931234:key/{id}"}}]}}"#
    ))
    .expect("policy");
    let caller =
        Caller::Principal(Principal::new("spelling", "1416614965931234").with_policy(policy));
    let before = h.audit.events().len();
    for name in &names {
        assert!(
            matches!(
                h.kms.disable_key(name, &caller),
                Err(Error::AccessDenied { .. })
            ),
            "disabling {id} as {name:?} slipped past the Deny"
        );
    }
    assert_eq!(
        h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Enabled,
        "the key stays enabled"
    );
    let denials = h
        .audit
        .events()
        .into_iter()
        .skip(before)
        .filter(|e| {
            e.action == "kms:DisableKey"
                && e.outcome == AuditOutcome::Denied
                && e.key_id.as_deref() == Some(id.as_str())
        })
        .count();
    assert_eq!(
        denials,
        names.len(),
        "each denial is audited under the key id"
    );
    for nonsense in ["alias/conformance-no-such-alias", "key/../../x"] {
        assert!(
            !matches!(h.kms.disable_key(nonsense, &caller), Ok(())),
            "{nonsense:?} was accepted"
        );
    }
}

/// Once a key is destroyed (its deletion window passed, or deleted at once
/// where the service offers that), data under it is permanently unreadable.
pub fn destroyed_material_is_unreadable(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let Some(id) = h.own_key() else { return };
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    if h.supports(AdminOperation::ScheduleKeyDeletion) {
        h.kms
            .schedule_key_deletion(&id, 7, &TRUSTED)
            .expect("schedule");
        if !subject.advance_clock(7 * DAY + Duration::from_secs(1)) {
            // The window is a real server's days: cancel, and try deleting now.
            if h.supports(AdminOperation::CancelKeyDeletion) {
                h.kms.cancel_key_deletion(&id, &TRUSTED).expect("cancel");
            }
            return destroyed_now(&h, &id, &wrapped);
        }
        assert!(matches!(
            h.kms.decrypt(&wrapped, &context(b"a"), &TRUSTED),
            Err(Error::KeyDestroyed(_))
        ));
        if h.supports(AdminOperation::CancelKeyDeletion) {
            assert!(
                h.kms.cancel_key_deletion(&id, &TRUSTED).is_err(),
                "a destroyed key cannot come back"
            );
        }
        assert_eq!(
            h.kms.describe_key(&id, &TRUSTED).expect("describe").state,
            KeyState::Destroyed
        );
    } else {
        destroyed_now(&h, &id, &wrapped);
    }
}

fn destroyed_now(h: &Harness<'_>, id: &str, wrapped: &WrappedKey) {
    if !h.supports(AdminOperation::DeleteKey) {
        return;
    }
    h.kms.delete_key(id, &TRUSTED).expect("delete");
    let opened = h.kms.decrypt(wrapped, &context(b"a"), &TRUSTED);
    assert!(
        matches!(opened, Err(Error::KeyDestroyed(_) | Error::KeyNotFound(_))),
        "decrypt under a deleted key: {:?}",
        opened.map(|_| ())
    );
    assert!(matches!(
        h.kms.generate_data_key(id, &context(b"a"), &TRUSTED),
        Err(Error::KeyNotFound(_))
    ));
}

/// Rotation (on demand and, with a movable clock, automatic) keeps data keys
/// under older material readable, and rewrap moves them to the current
/// material.
pub fn rotation_keeps_old_data_keys_readable(subject: &dyn Subject) {
    let h = Harness::new(subject);
    if !h.supports(AdminOperation::RotateKey) {
        return;
    }
    let id = h.key();
    let (key, old) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let v2 = h.kms.rotate_key(&id, &TRUSTED).expect("rotate");
    assert_eq!(v2, old.key_version() + 1);
    assert_eq!(
        h.kms
            .describe_key(&id, &TRUSTED)
            .expect("describe")
            .current_version,
        v2
    );
    let (_, new) = h
        .kms
        .generate_data_key(&id, &context(b"b"), &TRUSTED)
        .expect("generate");
    assert_eq!(new.key_version(), v2);
    assert_eq!(
        h.kms
            .decrypt(&old, &context(b"a"), &TRUSTED)
            .expect("old decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    let moved = h
        .kms
        .rewrap(&old, &context(b"a"), &TRUSTED)
        .expect("rewrap")
        .expect("was old");
    assert_eq!(moved.key_version(), v2);
    assert_eq!(
        h.kms
            .decrypt(&moved, &context(b"a"), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(
        h.kms.decrypt(&moved, &context(b"other"), &TRUSTED).is_err(),
        "a rewrapped key stays bound to its context"
    );
    assert!(
        h.kms
            .rewrap(&moved, &context(b"a"), &TRUSTED)
            .expect("rewrap")
            .is_none()
    );

    if !h.supports(AdminOperation::SetRotationPeriod) {
        return;
    }
    // 90 days: within coffer's 7 to 365 and AWS KMS's 90 to 2560.
    h.kms
        .set_rotation_period(&id, Some(90 * DAY), &TRUSTED)
        .expect("period");
    if subject.advance_clock(91 * DAY) {
        let (_, rotated) = h
            .kms
            .generate_data_key(&id, &context(b"c"), &TRUSTED)
            .expect("generate");
        assert_eq!(rotated.key_version(), v2 + 1, "automatic rotation happened");
        h.kms
            .decrypt(&old, &context(b"a"), &TRUSTED)
            .expect("oldest still decrypts");
    } else if subject.keeps_rotation_period() {
        assert_eq!(
            h.kms
                .describe_key(&id, &TRUSTED)
                .expect("describe")
                .rotation_period,
            Some(90 * DAY)
        );
    }
    h.kms
        .set_rotation_period(&id, None, &TRUSTED)
        .expect("clear the period");
}

/// After a rewrap, raising the minimum decryption version retires the old
/// material: data keys under it refuse to decrypt, rewrapped ones decrypt;
/// lowering it again brings the old ones back.
pub fn retired_versions_refuse_to_decrypt(subject: &dyn Subject) {
    let h = Harness::new(subject);
    if !(h.supports(AdminOperation::RotateKey)
        && h.supports(AdminOperation::SetMinDecryptionVersion))
    {
        return;
    }
    let Some(id) = h.own_key() else { return };
    let (key, old) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let v2 = h.kms.rotate_key(&id, &TRUSTED).expect("rotate");
    let moved = h
        .kms
        .rewrap(&old, &context(b"a"), &TRUSTED)
        .expect("rewrap")
        .expect("was old");
    assert_eq!(
        h.kms
            .describe_key(&id, &TRUSTED)
            .expect("describe")
            .min_decryption_version,
        1
    );
    h.kms
        .set_min_decryption_version(&id, v2, &TRUSTED)
        .expect("retire the old version");
    assert_eq!(
        h.kms
            .describe_key(&id, &TRUSTED)
            .expect("describe")
            .min_decryption_version,
        v2,
        "describe reports the minimum decryption version"
    );
    let refused = h.kms.decrypt(&old, &context(b"a"), &TRUSTED);
    assert!(
        matches!(refused, Err(Error::UnknownKeyVersion { .. })),
        "a retired version decrypted: {:?}",
        refused.map(|_| ())
    );
    assert_eq!(
        h.kms
            .decrypt(&moved, &context(b"a"), &TRUSTED)
            .expect("the rewrapped key decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(matches!(
        h.kms.set_min_decryption_version(&id, v2 + 1, &TRUSTED),
        Err(Error::InvalidArgument(_) | Error::Backend { .. })
    ));
    h.kms
        .set_min_decryption_version(&id, 1, &TRUSTED)
        .expect("lower the floor");
    h.kms
        .decrypt(&old, &context(b"a"), &TRUSTED)
        .expect("the old version decrypts again");
}

/// A principal without the action on the key is refused before anything
/// reaches the backend, and nothing is returned; an allowed action works.
pub fn unauthorized_caller_is_refused(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let resource = h
        .kms
        .describe_key(&id, &TRUSTED)
        .expect("describe")
        .resource_name;
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let nobody = Caller::Principal(Principal::new("nobody", "1416614965931234"));
    let before = h.kms.requests();
    assert!(matches!(
        h.kms.generate_data_key(&id, &context(b"a"), &nobody),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        h.kms.decrypt(&wrapped, &context(b"a"), &nobody),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        h.kms.describe_key(&id, &nobody),
        Err(Error::AccessDenied { .. })
    ));
    for operation in [AdminOperation::DisableKey, AdminOperation::RotateKey] {
        if h.supports(operation) {
            let refused = match operation {
                AdminOperation::DisableKey => h.kms.disable_key(&id, &nobody).map(drop),
                _ => h.kms.rotate_key(&id, &nobody).map(drop),
            };
            assert!(
                matches!(refused, Err(Error::AccessDenied { .. })),
                "{operation:?}"
            );
        }
    }
    assert_eq!(
        h.kms.requests(),
        before,
        "a denied call reached the backend"
    );
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"{resource}"}}]}}"#
    ))
    .expect("policy");
    let reader =
        Caller::Principal(Principal::new("reader", "1416614965931234").with_policy(policy));
    h.kms
        .decrypt(&wrapped, &context(b"a"), &reader)
        .expect("reader may decrypt");
    assert!(matches!(
        h.kms.generate_data_key(&id, &context(b"a"), &reader),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        h.kms.authorize(&reader, "kms:GenerateDataKey", &id),
        Err(Error::AccessDenied { .. })
    ));
    h.kms
        .authorize(&reader, "kms:Decrypt", &id)
        .expect("authorize alone checks the same policy");
}

/// Aliases resolve to ids, and wrapped keys carry the id, never the alias.
pub fn aliases_resolve(subject: &dyn Subject) {
    let h = Harness::new(subject);
    if !(h.supports(AdminOperation::CreateAlias) && h.supports(AdminOperation::DeleteAlias)) {
        return;
    }
    let id = h.key();
    let suffix: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let alias = format!("alias/conformance-{suffix}");
    h.kms.create_alias(&alias, &id, &TRUSTED).expect("alias");
    let (_, wrapped) = h
        .kms
        .generate_data_key(&alias, &context(b"a"), &TRUSTED)
        .expect("via alias");
    assert_eq!(wrapped.key_id(), id);
    assert_eq!(
        h.kms
            .describe_key(&alias, &TRUSTED)
            .expect("describe")
            .key_id,
        id
    );
    if h.supports(AdminOperation::ListAliases) {
        let aliases = h.kms.list_aliases(&TRUSTED).expect("list aliases");
        assert!(
            aliases.iter().any(|(a, k)| a == &alias && k == &id),
            "{aliases:?}"
        );
    }
    assert!(matches!(
        h.kms
            .generate_data_key("alias/conformance-missing", &context(b"a"), &TRUSTED),
        Err(Error::KeyNotFound(_))
    ));
    h.kms.delete_alias(&alias, &TRUSTED).expect("delete alias");
    assert!(matches!(
        h.kms.describe_key(&alias, &TRUSTED),
        Err(Error::KeyNotFound(_))
    ));
}

/// The default key is one key, the same on every call, usable for data keys.
pub fn default_key_is_one_key(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let default = match h.kms.default_key_id(&TRUSTED) {
        Ok(default) => default,
        Err(Error::Unsupported { backend, .. }) => {
            assert_eq!(backend, h.kms.backend_name());
            return;
        }
        Err(other) => panic!("default key: {other}"),
    };
    assert_eq!(
        h.kms.default_key_id(&TRUSTED).expect("same default"),
        default
    );
    let (key, wrapped) = h
        .kms
        .generate_data_key(&default, &context(b"a"), &TRUSTED)
        .expect("generates under the default key");
    assert_eq!(
        h.kms
            .decrypt(&wrapped, &context(b"a"), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
}

/// Every call through the layer is one audit event with the caller, the
/// backend, the action and the key, whatever the backend; none holds key
/// material.
pub fn every_call_is_audited(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let (key, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let mallory = Caller::Principal(Principal::new("mallory", "1416614965931234"));
    assert!(h.kms.decrypt(&wrapped, &context(b"a"), &mallory).is_err());
    assert!(h.kms.decrypt(&wrapped, &context(b"b"), &TRUSTED).is_err());
    let events = h.audit.events();
    let summary: Vec<(&str, &str, &AuditOutcome)> = events
        .iter()
        .map(|e| (e.caller.as_str(), e.action.as_str(), &e.outcome))
        .collect();
    let tail = &summary[summary.len() - 3..];
    assert_eq!(
        tail[0],
        ("trusted", "kms:GenerateDataKey", &AuditOutcome::Allowed)
    );
    assert_eq!(tail[1], ("mallory", "kms:Decrypt", &AuditOutcome::Denied));
    assert!(matches!(
        tail[2],
        ("trusted", "kms:Decrypt", AuditOutcome::Failed(_))
    ));
    let generated = &events[events.len() - 3];
    assert_eq!(generated.key_id.as_deref(), Some(id.as_str()));
    assert_eq!(generated.key_version, Some(wrapped.key_version()));
    assert_eq!(generated.bucket.as_deref(), Some("bucket"));
    assert_eq!(generated.source, h.kms.backend_name());
    let denied = &events[events.len() - 2];
    assert_eq!(
        denied.resource.as_deref(),
        Some(h.kms.resource_name(&id).as_str()),
        "a denial names the resource refused"
    );
    assert!(
        generated
            .context
            .as_deref()
            .is_some_and(|c| c.contains("bucket=bucket")),
        "{:?}",
        generated.context
    );
    let secret_hex: String = key
        .expose_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        events
            .iter()
            .all(|e| !format!("{e:?}").contains(&secret_hex)),
        "an audit event holds key material"
    );
}

/// Every administration operation the backend does not offer is
/// [`Error::Unsupported`] naming the backend and the action, is audited as
/// failed, and changes nothing; it is never a silent no-op.
pub fn unsupported_operations_say_so(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let backend = h.kms.backend_name();
    for operation in AdminOperation::ALL {
        if h.supports(operation) {
            continue;
        }
        let k = &h.kms;
        let result: Result<(), Error> = match operation {
            AdminOperation::CreateKey => k.create_key(CreateKeyOptions::new(), &TRUSTED).map(drop),
            AdminOperation::ListKeys => k.list_keys(&TRUSTED).map(drop),
            AdminOperation::CreateAlias => k.create_alias("alias/conformance-x", &id, &TRUSTED),
            AdminOperation::DeleteAlias => k.delete_alias("alias/conformance-x", &TRUSTED),
            AdminOperation::ListAliases => k.list_aliases(&TRUSTED).map(drop),
            AdminOperation::EnableKey => k.enable_key(&id, &TRUSTED),
            AdminOperation::DisableKey => k.disable_key(&id, &TRUSTED),
            AdminOperation::ScheduleKeyDeletion => {
                k.schedule_key_deletion(&id, 7, &TRUSTED).map(drop)
            }
            AdminOperation::CancelKeyDeletion => k.cancel_key_deletion(&id, &TRUSTED),
            AdminOperation::DeleteKey => k.delete_key(&id, &TRUSTED),
            AdminOperation::RotateKey => k.rotate_key(&id, &TRUSTED).map(drop),
            AdminOperation::SetRotationPeriod => {
                k.set_rotation_period(&id, Some(90 * DAY), &TRUSTED)
            }
            AdminOperation::SetMinDecryptionVersion => {
                k.set_min_decryption_version(&id, 1, &TRUSTED)
            }
            AdminOperation::GetParametersForImport => k
                .get_parameters_for_import(&id, ImportOptions::default(), &TRUSTED)
                .map(drop),
            AdminOperation::ImportKeyMaterial => {
                k.import_key_material(&id, &"0".repeat(32), &[0; 256], &TRUSTED)
            }
            AdminOperation::ImportPlainKeyMaterial => {
                k.import_key_material_plain(&id, &[0; 32], &TRUSTED)
            }
            AdminOperation::DeleteKeyMaterial => k.delete_key_material(&id, &TRUSTED),
        };
        match result {
            Err(Error::Unsupported {
                backend: named,
                operation: what,
            }) => {
                assert_eq!(named, backend, "{operation:?}");
                assert_eq!(what, operation.action(), "{operation:?}");
            }
            other => panic!(
                "{backend} does not list {operation:?} as supported, yet it answered {:?}",
                other.map(|_| ())
            ),
        }
        let last = h.audit.events().pop().expect("an event");
        assert_eq!(last.action, operation.action());
        assert!(matches!(last.outcome, AuditOutcome::Failed(_)));
    }
    let described = h.kms.describe_key(&id, &TRUSTED).expect("describe");
    assert_eq!(
        described.state,
        KeyState::Enabled,
        "nothing changed the key"
    );
}

/// A sink that refuses every event.
struct BrokenSink;

impl crate::AuditSink for BrokenSink {
    fn record(&self, _: &crate::AuditEvent) -> Result<(), crate::AuditWriteError> {
        Err(crate::AuditWriteError("disk full".into()))
    }
}

/// When the audit sink cannot record a call, the call fails with
/// [`Error::AuditFailed`] and hands out nothing: no data key is generated or
/// unwrapped unaudited, and a denial is not silently unrecorded.
pub fn failed_audit_fails_the_call(subject: &dyn Subject) {
    let h = Harness::new(subject);
    let id = h.key();
    let (_, wrapped) = h
        .kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let broken = Kms::new(
        subject.backend(),
        KmsOptions::default()
            .with_audit(Arc::new(BrokenSink))
            .with_fail_fast_for(Duration::ZERO),
    );
    let failed = |result: Result<(), Error>, what: &str| match result {
        Err(Error::AuditFailed { action, reason }) => {
            assert!(action.starts_with("kms:"), "{what}: {action}");
            assert_eq!(reason, "disk full", "{what}");
        }
        other => panic!("{what}: {other:?}"),
    };
    failed(
        broken
            .generate_data_key(&id, &context(b"b"), &TRUSTED)
            .map(drop),
        "generate",
    );
    failed(
        broken.decrypt(&wrapped, &context(b"a"), &TRUSTED).map(drop),
        "decrypt",
    );
    let mallory = Caller::Principal(Principal::new("mallory", "1416614965931234"));
    failed(
        broken.decrypt(&wrapped, &context(b"a"), &mallory).map(drop),
        "a denied decrypt",
    );
    // The working layer still opens it: the broken one changed nothing.
    h.kms
        .decrypt(&wrapped, &context(b"a"), &TRUSTED)
        .expect("decrypt through an audited layer");
}
