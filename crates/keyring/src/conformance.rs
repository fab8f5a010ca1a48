//! The conformance suite every [`Kms`] implementation runs in its tests
//! (feature `conformance`). Each check panics with a message naming what broke.

use std::time::Duration;

use coffer_policy::{PolicyDocument, Principal};

use crate::{Caller, CreateKeyOptions, EncryptionContext, Error, KeyState, Kms};

/// A KMS under test and control over its clock.
pub trait Subject {
    /// The KMS.
    fn kms(&self) -> &dyn Kms;
    /// Moves the KMS's clock forward (deletion windows, rotation periods).
    fn advance_clock(&self, by: Duration);
}

const TRUSTED: Caller = Caller::Trusted;
const DAY: Duration = Duration::from_secs(24 * 3600);

fn context(object: &[u8]) -> EncryptionContext {
    EncryptionContext::new(b"conformance-store", "bucket", object)
}

fn new_key(subject: &dyn Subject) -> String {
    subject
        .kms()
        .create_key(CreateKeyOptions::default(), &TRUSTED)
        .expect("create_key")
        .key_id
}

/// Runs every check.
pub fn run_all(subject: &dyn Subject) {
    round_trip(subject);
    wrong_context_fails(subject);
    disabled_key_refuses(subject);
    pending_deletion_refuses_until_cancelled(subject);
    destroyed_material_is_unreadable(subject);
    rotation_keeps_old_data_keys_readable(subject);
    unauthorized_caller_is_refused(subject);
    aliases_and_default_key_resolve(subject);
}

/// Generate, then decrypt, gives the same data key; the wrapped key names the
/// key id and its current version.
pub fn round_trip(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let (key, wrapped) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    assert_eq!(wrapped.key_id(), id, "wrapped key names its CMK id");
    assert_eq!(
        wrapped.key_version(),
        kms.describe_key(&id, &TRUSTED)
            .expect("describe")
            .current_version
    );
    let again = kms
        .decrypt(&wrapped, &context(b"a"), &TRUSTED)
        .expect("decrypt");
    assert_eq!(
        key.expose_secret(),
        again.expose_secret(),
        "decrypt returns the generated key"
    );
    let (other, _) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    assert_ne!(
        key.expose_secret(),
        other.expose_secret(),
        "data keys are fresh"
    );
}

/// A wrapped key opened for another context is an integrity error.
pub fn wrong_context_fails(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let (_, wrapped) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    assert!(matches!(
        kms.decrypt(&wrapped, &context(b"b"), &TRUSTED),
        Err(Error::Integrity(_))
    ));
}

/// A disabled key refuses generate and decrypt until enabled again.
pub fn disabled_key_refuses(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let (_, wrapped) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    kms.disable_key(&id, &TRUSTED).expect("disable");
    assert_eq!(
        kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Disabled
    );
    assert!(matches!(
        kms.generate_data_key(&id, &context(b"a"), &TRUSTED),
        Err(Error::KeyDisabled(_))
    ));
    assert!(matches!(
        kms.decrypt(&wrapped, &context(b"a"), &TRUSTED),
        Err(Error::KeyDisabled(_))
    ));
    kms.enable_key(&id, &TRUSTED).expect("enable");
    kms.decrypt(&wrapped, &context(b"a"), &TRUSTED)
        .expect("decrypts once enabled");
}

/// A key pending deletion refuses use; the window is 7 to 366 days; cancelling
/// restores it.
pub fn pending_deletion_refuses_until_cancelled(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let (_, wrapped) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    for days in [0, 6, 367] {
        assert!(
            matches!(
                kms.schedule_key_deletion(&id, days, &TRUSTED),
                Err(Error::InvalidArgument(_))
            ),
            "{days} days"
        );
    }
    kms.schedule_key_deletion(&id, 7, &TRUSTED)
        .expect("schedule");
    assert!(matches!(
        kms.decrypt(&wrapped, &context(b"a"), &TRUSTED),
        Err(Error::KeyPendingDeletion { .. })
    ));
    assert!(matches!(
        kms.generate_data_key(&id, &context(b"a"), &TRUSTED),
        Err(Error::KeyPendingDeletion { .. })
    ));
    subject.advance_clock(6 * DAY);
    kms.cancel_key_deletion(&id, &TRUSTED).expect("cancel");
    kms.decrypt(&wrapped, &context(b"a"), &TRUSTED)
        .expect("decrypts after cancel");
}

/// After the deletion window the material is destroyed: permanently unreadable.
pub fn destroyed_material_is_unreadable(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let (_, wrapped) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    kms.schedule_key_deletion(&id, 7, &TRUSTED)
        .expect("schedule");
    subject.advance_clock(7 * DAY + Duration::from_secs(1));
    assert!(matches!(
        kms.decrypt(&wrapped, &context(b"a"), &TRUSTED),
        Err(Error::KeyDestroyed(_))
    ));
    assert!(
        kms.cancel_key_deletion(&id, &TRUSTED).is_err(),
        "a destroyed key cannot come back"
    );
    assert_eq!(
        kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::Destroyed
    );
}

/// Rotation (on demand and automatic) keeps data keys under older material
/// readable, and rewrap moves them to the current material.
pub fn rotation_keeps_old_data_keys_readable(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let (key, old) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let v2 = kms.rotate_key(&id, &TRUSTED).expect("rotate");
    assert_eq!(v2, old.key_version() + 1);
    let (_, new) = kms
        .generate_data_key(&id, &context(b"b"), &TRUSTED)
        .expect("generate");
    assert_eq!(new.key_version(), v2);
    assert_eq!(
        kms.decrypt(&old, &context(b"a"), &TRUSTED)
            .expect("old decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    let moved = kms
        .rewrap(&old, &context(b"a"), &TRUSTED)
        .expect("rewrap")
        .expect("was old");
    assert_eq!(moved.key_version(), v2);
    assert_eq!(
        kms.decrypt(&moved, &context(b"a"), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(
        kms.rewrap(&moved, &context(b"a"), &TRUSTED)
            .expect("rewrap")
            .is_none()
    );

    kms.set_rotation_period(&id, Some(30 * DAY), &TRUSTED)
        .expect("period");
    subject.advance_clock(31 * DAY);
    let (_, rotated) = kms
        .generate_data_key(&id, &context(b"c"), &TRUSTED)
        .expect("generate");
    assert_eq!(rotated.key_version(), v2 + 1, "automatic rotation happened");
    assert_eq!(
        kms.describe_key(&id, &TRUSTED)
            .expect("describe")
            .current_version,
        v2 + 1
    );
    kms.decrypt(&old, &context(b"a"), &TRUSTED)
        .expect("oldest still decrypts");
}

/// A principal without the action on the key is refused, and nothing is returned.
pub fn unauthorized_caller_is_refused(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let resource = kms
        .describe_key(&id, &TRUSTED)
        .expect("describe")
        .resource_name;
    let (_, wrapped) = kms
        .generate_data_key(&id, &context(b"a"), &TRUSTED)
        .expect("generate");
    let nobody = Caller::Principal(Principal::new("nobody", "0"));
    assert!(matches!(
        kms.generate_data_key(&id, &context(b"a"), &nobody),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        kms.decrypt(&wrapped, &context(b"a"), &nobody),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        kms.disable_key(&id, &nobody),
        Err(Error::AccessDenied { .. })
    ));
    let policy = PolicyDocument::parse(&format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"{resource}"}}]}}"#
    ))
    .expect("policy");
    let reader = Caller::Principal(Principal::new("reader", "0").with_policy(policy));
    kms.decrypt(&wrapped, &context(b"a"), &reader)
        .expect("reader may decrypt");
    assert!(matches!(
        kms.generate_data_key(&id, &context(b"a"), &reader),
        Err(Error::AccessDenied { .. })
    ));
}

/// Aliases resolve to ids (and wrapped keys carry the id, never the alias); the
/// default managed key exists once and cannot be disabled or deleted.
pub fn aliases_and_default_key_resolve(subject: &dyn Subject) {
    let kms = subject.kms();
    let id = new_key(subject);
    let alias = format!("alias/conformance-{}", &id[..8]);
    kms.create_alias(&alias, &id, &TRUSTED).expect("alias");
    let (_, wrapped) = kms
        .generate_data_key(&alias, &context(b"a"), &TRUSTED)
        .expect("via alias");
    assert_eq!(wrapped.key_id(), id);
    assert_eq!(
        kms.describe_key(&alias, &TRUSTED).expect("describe").key_id,
        id
    );
    assert!(matches!(
        kms.generate_data_key("alias/missing", &context(b"a"), &TRUSTED),
        Err(Error::KeyNotFound(_))
    ));
    let default = kms.default_key_id(&TRUSTED).expect("default key");
    assert_eq!(kms.default_key_id(&TRUSTED).expect("same default"), default);
    assert!(matches!(
        kms.disable_key(&default, &TRUSTED),
        Err(Error::ManagedKey(_))
    ));
    assert!(matches!(
        kms.schedule_key_deletion(&default, 7, &TRUSTED),
        Err(Error::ManagedKey(_))
    ));
}
