//! BYOK as a key owner does it: material wrapped by the `openssl` command line
//! to the RSA key from `get_parameters_for_import`, then imported; and every way
//! an import token is refused (unknown, for another key, used, expired,
//! tampered material), including after the KMS is reopened.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::{
    Caller, CreateKeyOptions, EncryptionContext, Error, ImportOptions, ImportParameters, KeyState,
    KeyStore, Kms, KmsOptions, LocalKms, LocalKmsOptions, ManualClock, MemoryKeyStore, RootKey,
    WrappingKeySpec, wrap_key_material_for_import,
};
use ring::rand::{SecureRandom, SystemRandom};

const TRUSTED: Caller = Caller::Trusted;
const ROOT: [u8; 32] = [9; 32];

struct Fixture {
    store: Arc<MemoryKeyStore>,
    clock: ManualClock,
    kms: Kms,
}

fn open(store: &Arc<MemoryKeyStore>, clock: &ManualClock) -> Kms {
    let options = LocalKmsOptions::default().with_clock(Arc::new(clock.clone()));
    let local = LocalKms::open(store.clone(), &RootKey::from_bytes(ROOT), options).expect("opens");
    Kms::new(Arc::new(local), KmsOptions::default())
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryKeyStore::new());
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let kms = open(&store, &clock);
    Fixture { store, clock, kms }
}

fn external_key(kms: &Kms) -> String {
    let options = CreateKeyOptions::new().with_description("byok").external();
    kms.create_key(options, &TRUSTED).expect("creates").key_id
}

fn parameters(kms: &Kms, id: &str) -> ImportParameters {
    kms.get_parameters_for_import(id, ImportOptions::default(), &TRUSTED)
        .expect("parameters")
}

fn random_material() -> [u8; 32] {
    let mut material = [0u8; 32];
    SystemRandom::new().fill(&mut material).expect("random");
    material
}

fn ctx() -> EncryptionContext {
    EncryptionContext::new(b"store", "bucket", b"object")
}

fn pending_imports(store: &MemoryKeyStore) -> usize {
    store.scan("kms/import/").expect("scans").len()
}

/// Whether the `openssl` command runs here. In CI (`CI=true`) it must; elsewhere
/// a missing one skips the test with a note.
fn openssl_available() -> bool {
    let why = match Command::new("openssl").arg("version").output() {
        Ok(output) if output.status.success() => return true,
        Ok(output) => format!("`openssl version` exited with {}", output.status),
        Err(error) => format!("`openssl` could not be run: {error}"),
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}; CI must have the openssl command line for the BYOK test"
    );
    eprintln!("skipping the openssl BYOK test: {why} (install openssl to run it)");
    false
}

/// The key owner's steps: write the PEM public key and the material to files,
/// wrap with `openssl pkeyutl`, read the wrapped bytes.
fn wrap_with_openssl(dir: &Path, public_key_pem: &str, material: &[u8; 32]) -> Vec<u8> {
    let pem = dir.join("wrapping.pem");
    let plain = dir.join("material.bin");
    let wrapped = dir.join("wrapped.bin");
    std::fs::write(&pem, public_key_pem).expect("writes the public key");
    std::fs::write(&plain, material).expect("writes the material");
    let output = Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-inkey"])
        .arg(&pem)
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
            "-in",
        ])
        .arg(&plain)
        .arg("-out")
        .arg(&wrapped)
        .output()
        .expect("runs openssl");
    assert!(
        output.status.success(),
        "openssl pkeyutl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(&wrapped).expect("reads wrapped.bin")
}

#[test]
fn material_wrapped_by_openssl_imports_and_works() {
    if !openssl_available() {
        return;
    }
    let f = fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    for spec in [WrappingKeySpec::Rsa2048, WrappingKeySpec::Rsa3072] {
        let id = external_key(&f.kms);
        let params = f
            .kms
            .get_parameters_for_import(
                &id,
                ImportOptions {
                    wrapping_key_spec: spec,
                },
                &TRUSTED,
            )
            .expect("parameters");
        assert_eq!(params.wrapping_key_spec, spec);
        assert!(
            params
                .public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        let material = random_material();
        let wrapped = wrap_with_openssl(dir.path(), &params.public_key_pem, &material);
        assert_eq!(wrapped.len(), spec.bits() / 8);
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED)
            .expect("imports what openssl wrapped");

        let (key, wrapped_key) = f
            .kms
            .generate_data_key(&id, &ctx(), &TRUSTED)
            .expect("generates");
        assert_eq!(
            f.kms
                .decrypt(&wrapped_key, &ctx(), &TRUSTED)
                .expect("decrypts")
                .expose_secret(),
            key.expose_secret()
        );

        // A key with material takes no new parameters; once its material is
        // deleted, other material is refused and the original brings it back.
        assert!(matches!(
            f.kms
                .get_parameters_for_import(&id, ImportOptions::default(), &TRUSTED),
            Err(Error::InvalidArgument(_))
        ));
        f.kms
            .delete_key_material(&id, &TRUSTED)
            .expect("deletes material");
        let params = parameters(&f.kms, &id);
        let other = wrap_with_openssl(dir.path(), &params.public_key_pem, &random_material());
        assert!(matches!(
            f.kms
                .import_key_material(&id, &params.import_token, &other, &TRUSTED),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(
            f.kms.describe_key(&id, &TRUSTED).expect("describe").state,
            KeyState::PendingImport
        );
        let params = parameters(&f.kms, &id);
        let same = wrap_with_openssl(dir.path(), &params.public_key_pem, &material);
        f.kms
            .import_key_material(&id, &params.import_token, &same, &TRUSTED)
            .expect("re-imports the same material");
        assert_eq!(
            f.kms
                .decrypt(&wrapped_key, &ctx(), &TRUSTED)
                .expect("decrypts")
                .expose_secret(),
            key.expose_secret()
        );
    }
    assert_eq!(pending_imports(&f.store), 0, "used tokens leave no record");
}

#[test]
fn unknown_and_malformed_tokens_are_refused() {
    let f = fixture();
    let id = external_key(&f.kms);
    let params = parameters(&f.kms, &id);
    let wrapped = wrap_key_material_for_import(&params, &[1; 32]).expect("wraps");
    for token in [
        "",
        "00",
        "../key/x",
        &"0".repeat(32),
        &params.import_token.to_uppercase(),
    ] {
        assert!(
            matches!(
                f.kms.import_key_material(&id, token, &wrapped, &TRUSTED),
                Err(Error::InvalidImportToken)
            ),
            "token {token:?}"
        );
    }
    f.kms
        .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED)
        .expect("the real token still works");
}

#[test]
fn a_token_for_another_key_is_refused_and_used_up() {
    let f = fixture();
    let (mine, other) = (external_key(&f.kms), external_key(&f.kms));
    let params = parameters(&f.kms, &mine);
    let wrapped = wrap_key_material_for_import(&params, &[2; 32]).expect("wraps");
    assert!(matches!(
        f.kms
            .import_key_material(&other, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::InvalidImportToken)
    ));
    assert_eq!(
        f.kms
            .describe_key(&other, &TRUSTED)
            .expect("describe")
            .state,
        KeyState::PendingImport
    );
    assert!(
        matches!(
            f.kms
                .import_key_material(&mine, &params.import_token, &wrapped, &TRUSTED),
            Err(Error::InvalidImportToken)
        ),
        "a token is single use, even when presented for the wrong key"
    );
}

#[test]
fn a_token_is_used_once() {
    let f = fixture();
    let id = external_key(&f.kms);
    let params = parameters(&f.kms, &id);
    let wrapped = wrap_key_material_for_import(&params, &[3; 32]).expect("wraps");
    assert_eq!(pending_imports(&f.store), 1);
    f.kms
        .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED)
        .expect("imports");
    assert_eq!(pending_imports(&f.store), 0);
    f.kms
        .delete_key_material(&id, &TRUSTED)
        .expect("deletes material");
    assert!(matches!(
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::InvalidImportToken)
    ));
}

#[test]
fn an_expired_token_is_refused_and_removed() {
    let f = fixture();
    let id = external_key(&f.kms);
    let params = parameters(&f.kms, &id);
    assert_eq!(
        params.expires_at,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 24 * 3600)
    );
    let wrapped = wrap_key_material_for_import(&params, &[4; 32]).expect("wraps");
    f.clock.advance(Duration::from_secs(24 * 3600));
    assert!(matches!(
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::ImportTokenExpired)
    ));
    assert_eq!(pending_imports(&f.store), 0);

    // Tokens nobody presents are removed when new parameters are handed out.
    let forgotten = parameters(&f.kms, &id);
    f.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let fresh = parameters(&f.kms, &id);
    let names: Vec<String> = f
        .store
        .scan("kms/import/")
        .expect("scans")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, [format!("kms/import/{}", fresh.import_token)]);
    assert_ne!(forgotten.import_token, fresh.import_token);
}

#[test]
fn tampered_or_misshapen_wrapped_material_is_refused() {
    let f = fixture();
    let id = external_key(&f.kms);
    let params = parameters(&f.kms, &id);
    let mut wrapped = wrap_key_material_for_import(&params, &[5; 32]).expect("wraps");
    wrapped[17] ^= 0x40;
    assert!(matches!(
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::Integrity(_))
    ));
    let params = parameters(&f.kms, &id);
    let wrapped = wrap_key_material_for_import(&params, &[5; 32]).expect("wraps");
    assert!(matches!(
        f.kms
            .import_key_material(&id, &params.import_token, &wrapped[1..], &TRUSTED),
        Err(Error::InvalidArgument(_))
    ));
    // Material wrapped to another token's key does not unwrap.
    let first = parameters(&f.kms, &id);
    let second = parameters(&f.kms, &id);
    let wrapped = wrap_key_material_for_import(&first, &[5; 32]).expect("wraps");
    assert!(matches!(
        f.kms
            .import_key_material(&id, &second.import_token, &wrapped, &TRUSTED),
        Err(Error::Integrity(_))
    ));
    assert_eq!(
        f.kms.describe_key(&id, &TRUSTED).expect("describe").state,
        KeyState::PendingImport
    );
}

#[test]
fn a_token_survives_reopening_the_kms() {
    let f = fixture();
    let id = external_key(&f.kms);
    let params = parameters(&f.kms, &id);
    let material = [6; 32];
    let wrapped = wrap_key_material_for_import(&params, &material).expect("wraps");
    drop(f.kms);

    // The pending import is stored, sealed whole: not even the key id shows.
    let record = f
        .store
        .get(&format!("kms/import/{}", params.import_token))
        .expect("reads")
        .expect("the pending import is stored");
    assert!(record.starts_with(b"CFSR"), "a sealed record");
    assert!(!record.windows(id.len()).any(|w| w == id.as_bytes()));

    let kms = open(&f.store, &f.clock);
    kms.import_key_material(&id, &params.import_token, &wrapped, &TRUSTED)
        .expect("imports after reopening");
    let (key, wrapped_key) = kms
        .generate_data_key(&id, &ctx(), &TRUSTED)
        .expect("generates");
    drop(kms);
    let kms = open(&f.store, &f.clock);
    assert_eq!(
        kms.decrypt(&wrapped_key, &ctx(), &TRUSTED)
            .expect("decrypts")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(matches!(
        kms.import_key_material(&id, &params.import_token, &wrapped, &TRUSTED),
        Err(Error::InvalidImportToken)
    ));
}
