//! `compare -- keys`: data keys generated-and-wrapped and unwrapped per second on
//! one core, by the master keyring and by the local KMS, so we know keys are not
//! the bottleneck for small objects (target: over 100,000 per second each).

use std::hint::black_box;
use std::sync::Arc;

use coffer_keyring::{
    Caller, EncryptionContext, Kms, KmsOptions, LocalKms, LocalKmsOptions, MasterKeyring,
    MemoryKeyStore, RootKey, RotationPolicy,
};

use crate::measure::{Budget, interleaved, round};

const TARGET_PER_S: f64 = 100_000.0;

pub(crate) fn run(budget: &Budget) {
    let root = RootKey::from_bytes([0x11; 32]);
    let master = MasterKeyring::open(
        Arc::new(MemoryKeyStore::new()),
        &root,
        RotationPolicy::default(),
        Arc::new(coffer_keyring::SystemClock),
    )
    .expect("keyring opens");
    let local = LocalKms::open(
        Arc::new(MemoryKeyStore::new()),
        &root,
        LocalKmsOptions::default(),
    )
    .expect("kms opens");
    // Through the layer every backend is used through, as the store does.
    let kms = Kms::new(Arc::new(local), KmsOptions::default());
    let cmk = kms.default_key_id(&Caller::Trusted).expect("default key");
    let context = EncryptionContext::new(b"bench-store", "bench", b"object-id-16byte");
    let (_, master_wrapped) = master.generate_data_key(&context).expect("wraps");
    let (_, kms_wrapped) = kms
        .generate_data_key(&cmk, &context, &Caller::Trusted)
        .expect("wraps");

    let mut master_wrap = || {
        drop(black_box(
            master.generate_data_key(&context).expect("wraps"),
        ))
    };
    let mut master_unwrap = || {
        drop(black_box(
            master.unwrap(&master_wrapped, &context).expect("unwraps"),
        ))
    };
    let mut kms_wrap = || {
        drop(black_box(
            kms.generate_data_key(&cmk, &context, &Caller::Trusted)
                .expect("wraps"),
        ))
    };
    let mut kms_unwrap = || {
        drop(black_box(
            kms.decrypt(&kms_wrapped, &context, &Caller::Trusted)
                .expect("unwraps"),
        ))
    };
    let rates = interleaved(
        budget,
        &mut [
            &mut master_wrap,
            &mut master_unwrap,
            &mut kms_wrap,
            &mut kms_unwrap,
        ],
    );
    for (case, rate) in [
        "master_generate_and_wrap",
        "master_unwrap",
        "local_kms_generate_data_key",
        "local_kms_decrypt",
    ]
    .into_iter()
    .zip(rates)
    {
        let line = serde_json::json!({
            "case": case,
            "threads": 1,
            "ops_per_s": round(rate),
            "target_ops_per_s": TARGET_PER_S,
            "ratio_vs_target": round(rate / TARGET_PER_S),
        });
        println!("{line}");
    }
}
