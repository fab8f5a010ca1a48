//! HTTPS: the gateway serves a certificate and key from PEM files (made
//! here with the `openssl` command), and `object_store`'s S3 client talks
//! to it over TLS; a plain-HTTP request to the TLS port gets no answer, and
//! a file that holds no certificate is refused with its name.

use std::process::Command;

use bytes::Bytes;
use coffer_gateway::{AccessKeys, Gateway};
use coffer_keyring::Caller;
use coffer_store::Store;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStoreExt};

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_https_with_a_pem_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let Err(refused) = coffer_gateway::tls_acceptor(&key, &key) else {
        panic!("a key is no certificate");
    };
    assert!(refused.to_string().contains("key.pem"), "{refused}");
    let acceptor = coffer_gateway::tls_acceptor(&cert, &key).expect("loads");

    let store = Store::open(dir.path().join("store"), common::store_options()).expect("opens");
    store.create_bucket("secure").expect("bucket");
    let mut keys = AccessKeys::new();
    keys.insert(common::TRUSTED_ID, common::TRUSTED_SECRET, Caller::Trusted)
        .expect("key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(coffer_gateway::serve(
        listener,
        Gateway::new(store.clone(), keys).into_service(),
        Some(acceptor),
        async move {
            let _ = stopped.await;
        },
    ));

    let s3 = AmazonS3Builder::new()
        .with_endpoint(format!("https://{address}"))
        .with_region("us-east-1")
        .with_bucket_name("secure")
        .with_access_key_id(common::TRUSTED_ID)
        .with_secret_access_key(common::TRUSTED_SECRET)
        .with_client_options(ClientOptions::new().with_allow_invalid_certificates(true))
        .build()
        .expect("client");
    s3.put(
        &Path::from("over-tls"),
        Bytes::from_static(b"sealed twice").into(),
    )
    .await
    .expect("put over TLS");
    let body = s3
        .get(&Path::from("over-tls"))
        .await
        .expect("get over TLS")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&body[..], b"sealed twice");

    let plain = AmazonS3Builder::new()
        .with_endpoint(format!("http://{address}"))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name("secure")
        .with_access_key_id(common::TRUSTED_ID)
        .with_secret_access_key(common::TRUSTED_SECRET)
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .expect("client");
    assert!(plain.get(&Path::from("over-tls")).await.is_err());

    let _ = stop.send(());
    server.await.expect("joins").expect("stops cleanly");
    assert_eq!(
        &store.get_object("secure", "over-tls").expect("stored").body[..],
        b"sealed twice"
    );
}
