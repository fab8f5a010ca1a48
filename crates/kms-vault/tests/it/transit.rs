//! Transit against a real OpenBao dev server: sealing data keys bound to
//! associated data, rotation and the decryption floor, soft deletion, deletion,
//! no key ever created by accident, least-privilege tokens, namespaces, TLS with
//! a CA file, and token files. Each test starts its own server.

use crate::common;

use coffer_keyring::DataKey;
use coffer_kms_vault::{
    ConfigError, Error, TokenSource, TransitCiphertext, VaultToken, VaultTransit,
};
use common::{BaoServer, key_name};

const AD: &[u8] = b"store-1/photos/object-1";

fn data_key() -> DataKey {
    DataKey::generate().expect("randomness")
}

#[test]
fn round_trip_binds_the_associated_data() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("round-trip");
    let created = transit.create_key(&name).expect("create");
    assert_eq!(created.key_type, "aes256-gcm96");
    assert_eq!(created.latest_version, 1);

    let key = data_key();
    let sealed = transit.encrypt(&name, &key, AD).expect("encrypt");
    assert!(sealed.as_str().starts_with("vault:v1:"), "{sealed}");
    assert_eq!(sealed.version(), 1);
    let opened = transit.decrypt(&name, &sealed, AD).expect("decrypt");
    assert_eq!(opened.expose_secret(), key.expose_secret());

    let other = transit.encrypt(&name, &key, AD).expect("encrypt");
    assert_ne!(other, sealed, "every encryption has a fresh nonce");

    for wrong in [
        &b"store-1/photos/object-2"[..],
        b"",
        b"store-1/photos/object-1\0",
    ] {
        assert!(
            matches!(
                transit.decrypt(&name, &sealed, wrong),
                Err(Error::Integrity { ref key }) if *key == name
            ),
            "decrypted with associated data {wrong:?}"
        );
    }

    let other_key = key_name("other");
    transit.create_key(&other_key).expect("create");
    assert!(matches!(
        transit.decrypt(&other_key, &sealed, AD),
        Err(Error::Integrity { .. })
    ));
}

#[test]
fn rotation_keeps_old_versions_readable_until_the_floor_rises() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("rotation");
    transit.create_key(&name).expect("create");
    let key = data_key();
    let v1 = transit.encrypt(&name, &key, AD).expect("encrypt");

    assert_eq!(transit.rotate(&name).expect("rotate"), 2);
    let v2 = transit.encrypt(&name, &key, AD).expect("encrypt");
    assert!(v2.as_str().starts_with("vault:v2:"), "{v2}");
    let opened = transit.decrypt(&name, &v1, AD).expect("v1 still decrypts");
    assert_eq!(opened.expose_secret(), key.expose_secret());

    // Rewrap moves v1 to v2 with the same associated data, and leaves v2 alone.
    let moved = transit
        .rewrap(&name, &v1, AD)
        .expect("rewrap")
        .expect("v1 is old");
    assert_eq!(moved.version(), 2);
    let opened = transit.decrypt(&name, &moved, AD).expect("decrypt");
    assert_eq!(opened.expose_secret(), key.expose_secret());
    assert!(transit.rewrap(&name, &v2, AD).expect("rewrap").is_none());
    assert!(matches!(
        transit.rewrap(&name, &v1, b"other object"),
        Err(Error::Integrity { .. })
    ));

    let floor = transit
        .set_min_decryption_version(&name, 2)
        .expect("raise the floor");
    assert_eq!(floor.min_decryption_version, 2);
    assert!(matches!(
        transit.decrypt(&name, &v1, AD),
        Err(Error::VersionRetired { version: 1, .. })
    ));
    transit.decrypt(&name, &v2, AD).expect("v2 decrypts");
    transit
        .decrypt(&name, &moved, AD)
        .expect("rewrapped decrypts");

    transit
        .set_min_decryption_version(&name, 1)
        .expect("lower the floor");
    transit
        .decrypt(&name, &v1, AD)
        .expect("v1 decrypts again: Transit keeps retired versions until trimmed");
}

#[test]
fn soft_delete_blocks_every_use_until_restored() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("soft-delete");
    transit.create_key(&name).expect("create");
    let key = data_key();
    let sealed = transit.encrypt(&name, &key, AD).expect("encrypt");

    transit.soft_delete(&name).expect("soft-delete");
    let state = transit
        .read_key(&name)
        .expect("read")
        .expect("still exists");
    assert_eq!(state.soft_deleted, Some(true));
    assert!(matches!(
        transit.decrypt(&name, &sealed, AD),
        Err(Error::SoftDeleted { .. })
    ));
    assert!(matches!(
        transit.encrypt(&name, &key, AD),
        Err(Error::SoftDeleted { .. })
    ));
    // OpenBao answers a rotation of a soft-deleted key with 500; it must be
    // reported as soft-deleted, not retried as a server failure.
    let slow = server.slow_retry_client();
    let started = std::time::Instant::now();
    assert!(matches!(slow.rotate(&name), Err(Error::SoftDeleted { .. })));
    assert!(matches!(
        slow.create_key(&name),
        Err(Error::SoftDeleted { .. })
    ));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "retried"
    );
    transit
        .soft_delete(&name)
        .expect("soft-deleting again is a no-op");

    transit.soft_delete_restore(&name).expect("restore");
    assert_eq!(
        transit
            .read_key(&name)
            .expect("read")
            .expect("exists")
            .soft_deleted,
        Some(false)
    );
    let opened = transit.decrypt(&name, &sealed, AD).expect("decrypts again");
    assert_eq!(opened.expose_secret(), key.expose_secret());
    transit
        .soft_delete_restore(&name)
        .expect("restoring again is a no-op");

    let missing = key_name("missing");
    assert!(matches!(
        transit.soft_delete(&missing),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        transit.soft_delete_restore(&missing),
        Err(Error::NotFound { .. })
    ));
    assert!(!transit.key_exists(&missing).expect("read"));
}

/// What the client guards against: the server itself creates a key on the
/// first encrypt under an unknown name.
#[test]
fn transit_itself_creates_keys_on_encrypt() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let name = key_name("auto-created");
    let (status, body) = server.http(
        "POST",
        &format!("transit/encrypt/{name}"),
        r#"{"plaintext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(server.client().key_exists(&name).expect("read"));
}

#[test]
fn no_call_creates_a_missing_key() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("never-created");
    let not_found = |result: Result<(), Error>, what: &str| {
        assert!(
            matches!(result, Err(Error::NotFound { ref key }) if *key == name),
            "{what}: {result:?}"
        );
        assert!(
            !transit.key_exists(&name).expect("read"),
            "{what} created the key"
        );
    };
    assert!(transit.read_key(&name).expect("read").is_none());
    not_found(transit.encrypt(&name, &data_key(), AD).map(drop), "encrypt");
    let sealed = TransitCiphertext::parse(
        "vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w==",
    )
    .expect("ciphertext");
    not_found(transit.decrypt(&name, &sealed, AD).map(drop), "decrypt");
    not_found(transit.rewrap(&name, &sealed, AD).map(drop), "rewrap");
    not_found(transit.rotate(&name).map(drop), "rotate");
    not_found(
        transit.set_min_decryption_version(&name, 1).map(drop),
        "set_min_decryption_version",
    );
    not_found(transit.delete(&name), "delete");
}

/// The server-side guard behind the client's check: a token with `update` but
/// not `create` on `transit/encrypt/*` cannot create keys by encrypting.
#[test]
fn a_least_privilege_token_cannot_create_keys() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let name = key_name("existing");
    server.client().create_key(&name).expect("create");
    let token = server.token_with_policy(
        "coffer-data-plane",
        r#"
        path "transit/encrypt/*" { capabilities = ["update"] }
        path "transit/decrypt/*" { capabilities = ["update"] }
        path "transit/keys/*" { capabilities = ["read"] }
        "#,
    );
    let mut config = server.config();
    config.token = TokenSource::Value(VaultToken::new(token.clone()).expect("token"));
    let transit = VaultTransit::new(config).expect("client");

    let key = data_key();
    let sealed = transit.encrypt(&name, &key, AD).expect("encrypt");
    transit.decrypt(&name, &sealed, AD).expect("decrypt");

    let missing = key_name("missing");
    let (status, body) = server.http_as(
        &token,
        None,
        "POST",
        &format!("transit/encrypt/{missing}"),
        r#"{"plaintext":"AAAA"}"#,
    );
    assert_eq!(status, 403, "{body}");
    assert!(!server.client().key_exists(&missing).expect("read"));

    let denied = transit.rotate(&name).expect_err("rotation is not granted");
    assert!(
        matches!(denied, Error::PermissionDenied { .. }),
        "{denied:?}"
    );
    for shown in [
        denied.to_string(),
        format!("{denied:?}"),
        format!("{transit:?}"),
    ] {
        assert!(!shown.contains(&token), "the token leaked: {shown}");
        assert!(
            !shown.contains(server.root_token()),
            "the token leaked: {shown}"
        );
    }
}

#[test]
fn delete_destroys_the_key() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("deleted");
    transit.create_key(&name).expect("create");
    let sealed = transit.encrypt(&name, &data_key(), AD).expect("encrypt");
    transit.delete(&name).expect("delete");
    assert!(!transit.key_exists(&name).expect("read"));
    assert!(matches!(
        transit.decrypt(&name, &sealed, AD),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(transit.delete(&name), Err(Error::NotFound { .. })));

    // A soft-deleted key can be deleted for good.
    let soft = key_name("soft-then-hard");
    transit.create_key(&soft).expect("create");
    transit.soft_delete(&soft).expect("soft-delete");
    transit.delete(&soft).expect("delete");
    assert!(!transit.key_exists(&soft).expect("read"));
}

#[test]
fn create_is_idempotent_and_names_are_plain() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("created");
    let first = transit.create_key(&name).expect("create");
    transit.rotate(&name).expect("rotate");
    let again = transit.create_key(&name).expect("create again");
    assert_eq!(again.latest_version, 2, "the existing key is left as it is");
    assert_eq!(again.name, first.name);

    // A name that would reach another endpoint is refused before sending.
    for bad in [
        format!("{name}/rotate"),
        "..".to_owned(),
        String::new(),
        "a b".to_owned(),
    ] {
        assert!(
            matches!(transit.create_key(&bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert_eq!(
        transit
            .read_key(&name)
            .expect("read")
            .expect("exists")
            .latest_version,
        2
    );

    // A key of a type that cannot bind associated data is refused.
    let rsa = key_name("rsa");
    let (status, body) = server.http(
        "POST",
        &format!("transit/keys/{rsa}"),
        r#"{"type":"rsa-2048"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(matches!(
        transit.encrypt(&rsa, &data_key(), AD),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn namespaces_and_mounts_are_separate() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let (status, body) = server.http("POST", "sys/namespaces/team-a", "{}");
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.http_as(
        server.root_token(),
        Some("team-a"),
        "POST",
        "sys/mounts/kms",
        r#"{"type":"transit"}"#,
    );
    assert_eq!(status, 204, "{body}");

    let mut config = server.config();
    config.namespace = Some("team-a".to_owned());
    config.mount = "kms".to_owned();
    let team = VaultTransit::new(config).expect("client");
    let name = key_name("namespaced");
    team.create_key(&name).expect("create in the namespace");
    let key = data_key();
    let sealed = team.encrypt(&name, &key, AD).expect("encrypt");
    assert_eq!(
        team.decrypt(&name, &sealed, AD)
            .expect("decrypt")
            .expose_secret(),
        key.expose_secret()
    );
    assert!(!server.client().key_exists(&name).expect("read"));

    let mut config = server.config();
    config.namespace = Some("no-such-team".to_owned());
    let lost = VaultTransit::new(config).expect("client");
    assert!(matches!(
        lost.read_key(&name),
        Err(Error::Http { status: 404, ref message }) if message.contains("namespace")
    ));
    let mut config = server.config();
    config.mount = "no-such-mount".to_owned();
    let unmounted = VaultTransit::new(config).expect("client");
    assert!(matches!(
        unmounted.read_key(&name),
        Err(Error::Http { status: 404, .. })
    ));
}

/// Transit's own rewrap endpoint takes no `associated_data`, so it cannot open
/// coffer's ciphertexts; `VaultTransit::rewrap` decrypts and encrypts instead.
/// If a later OpenBao accepts it, this test says so.
#[test]
fn transit_rewrap_endpoint_ignores_associated_data() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let transit = server.client();
    let name = key_name("rewrap");
    transit.create_key(&name).expect("create");
    let sealed = transit.encrypt(&name, &data_key(), AD).expect("encrypt");
    transit.rotate(&name).expect("rotate");
    let body = serde_json::json!({
        "ciphertext": sealed.as_str(),
        "associated_data": "c3RvcmUtMS9waG90b3Mvb2JqZWN0LTE=",
    });
    let (status, text) = server.http("POST", &format!("transit/rewrap/{name}"), &body.to_string());
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("message authentication failed"), "{text}");
}

#[test]
fn tls_with_the_servers_ca_file() {
    let Some(server) = BaoServer::start_tls() else {
        return;
    };
    assert!(server.address().starts_with("https://"));
    let transit = server.client();
    let name = key_name("tls");
    transit.create_key(&name).expect("create over TLS");
    let key = data_key();
    let sealed = transit.encrypt(&name, &key, AD).expect("encrypt");
    transit.decrypt(&name, &sealed, AD).expect("decrypt");

    // Without the CA the certificate is not trusted: a TLS error, at once.
    let untrusting = server.slow_retry_client();
    let started = std::time::Instant::now();
    let error = untrusting.key_exists(&name).expect_err("untrusted");
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "retried"
    );

    let mut config = server.config();
    config.ca_file = Some(server.address().into()); // not a file
    assert!(matches!(
        VaultTransit::new(config),
        Err(ConfigError::CaFile { .. })
    ));
}

#[test]
fn a_token_file_is_read_for_every_request() {
    let Some(server) = BaoServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{}\n", server.root_token())).expect("write");
    let mut config = server.config();
    config.token = TokenSource::File(path.clone());
    let transit = VaultTransit::new(config).expect("client");
    let name = key_name("token-file");
    transit.create_key(&name).expect("create");

    std::fs::write(&path, "s.revoked").expect("write");
    assert!(matches!(
        transit.key_exists(&name),
        Err(Error::PermissionDenied { .. })
    ));
    std::fs::write(&path, server.root_token()).expect("write");
    assert!(transit.key_exists(&name).expect("read"));
    std::fs::remove_file(&path).expect("remove");
    assert!(matches!(
        transit.key_exists(&name),
        Err(Error::Config(ConfigError::TokenFile { .. }))
    ));
}
