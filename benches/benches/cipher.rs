//! Criterion benchmarks of sealing and opening payloads, one thread and all cores.

use bytes::Bytes;
use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn payloads(c: &mut Criterion) {
    let key = DataKey::from_bytes([7; 32]);
    let id = ObjectIdentity::new(b"bench-store", "bench", b"object");
    let all_cores = std::thread::available_parallelism().map_or(1, usize::from);
    for (operation, threads) in [
        ("seal", 1),
        ("open", 1),
        ("seal", all_cores),
        ("open", all_cores),
    ] {
        let cipher = PayloadCipher::new(threads);
        let mut group = c.benchmark_group(format!("{operation}/{threads}-threads"));
        for size in [4 * 1024, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024] {
            let data: Bytes = vec![0x5A; size].into();
            let payload = cipher.seal(&key, &id, data.clone()).expect("seals");
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(size),
                &size,
                |b, _| match operation {
                    "seal" => b.iter(|| cipher.seal(&key, &id, data.clone()).expect("seals")),
                    _ => b.iter(|| cipher.open(&key, &id, payload.clone()).expect("opens")),
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, payloads);
criterion_main!(benches);
