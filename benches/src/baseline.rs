//! RocksDB, two ways: [`DefaultRocks`] as a user would open it instead of
//! coffer (its defaults, one column family, compression off since the bytes are
//! incompressible, `get` returning owned bytes) and [`SameLayout`], opened
//! exactly as the store opens its database, with the store's key layout.

use std::path::Path;

use bytes::Bytes;
use coffer_store::Tuning;
use coffer_store::internals::{self, object_key, segment_key};
use rocksdb::{DB, DBCompressionType, Options, WriteBatch, WriteOptions};

/// Plaintext bytes per segment in the store's layout.
const SEGMENT: usize = 1 << 20;

/// RocksDB with its defaults: what a user stores bytes in without coffer.
pub struct DefaultRocks {
    db: DB,
}

impl DefaultRocks {
    /// Opens (creating) a database in `dir`: default options but for
    /// compression, which is off.
    pub fn open(dir: &Path) -> Self {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(DBCompressionType::None);
        Self {
            db: DB::open(&options, dir).expect("default RocksDB opens"),
        }
    }

    /// Puts `body` under `key`, default write options.
    pub fn put(&self, key: &str, body: &[u8]) {
        self.db.put(key, body).expect("put");
    }

    /// The value under `key`, as owned bytes.
    pub fn get(&self, key: &str) -> Vec<u8> {
        self.db.get(key).expect("get").expect("present")
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) {
        self.db.delete(key).expect("delete");
    }

    /// Writes the memtable to disk and waits for it.
    pub fn flush(&self) {
        self.db.flush().expect("flush");
    }

    /// Flushes and waits until no flush or compaction runs or is pending.
    pub fn settle(&self) {
        self.flush();
        internals::wait_until_idle_db(&self.db).expect("properties");
    }

    /// The database.
    pub fn db(&self) -> &DB {
        &self.db
    }
}

/// Plain RocksDB opened exactly as the store opens its database, values in the
/// store's layout: small ones in the objects family, larger ones as 1 MiB
/// segments in the chunks family.
pub struct SameLayout {
    db: DB,
    inline_threshold: usize,
}

impl SameLayout {
    /// Opens (creating) a database in `dir` with the store's options for
    /// `tuning`, values up to `inline_threshold` (default: the store's) in the
    /// objects family.
    pub fn open(dir: &Path, tuning: &Tuning, inline_threshold: Option<usize>) -> Self {
        let cache = internals::block_cache(tuning);
        let families = internals::column_families(tuning, &cache);
        let db = DB::open_cf_descriptors(&internals::db_options(tuning), dir, families)
            .expect("baseline opens");
        Self {
            db,
            inline_threshold: inline_threshold.unwrap_or_else(internals::inline_threshold),
        }
    }

    /// Puts `body` under `key` as the store lays it out.
    pub fn put(&self, key: &str, body: &Bytes) {
        let objects = self.db.cf_handle("objects").expect("cf");
        let mut batch = WriteBatch::default();
        if body.len() <= self.inline_threshold {
            batch.put_cf(objects, object_key("bench", key), body);
        } else {
            let chunks = self.db.cf_handle("chunks").expect("cf");
            let id = object_id(key);
            for (i, piece) in body.chunks(SEGMENT).enumerate() {
                batch.put_cf(chunks, segment_key(&id, i as u32), piece);
            }
            batch.put_cf(objects, object_key("bench", key), [0u8; 64]);
        }
        self.db
            .write_opt(batch, &WriteOptions::default())
            .expect("baseline put");
    }

    /// Writes every column family's memtable to disk and waits for it.
    pub fn flush(&self) {
        for family in internals::family_names() {
            let cf = self.db.cf_handle(family).expect("cf");
            self.db.flush_cf(cf).expect("flush");
        }
    }

    /// Flushes and waits until no flush or compaction runs or is pending.
    pub fn settle(&self) {
        self.flush();
        internals::wait_until_idle_db(&self.db).expect("properties");
    }

    /// The value under `key` of `size` bytes, as owned bytes.
    pub fn get(&self, key: &str, size: usize) -> Bytes {
        let objects = self.db.cf_handle("objects").expect("cf");
        let record = self
            .db
            .get_cf(objects, object_key("bench", key))
            .expect("get")
            .expect("present");
        if size <= self.inline_threshold {
            return record.into();
        }
        let chunks = self.db.cf_handle("chunks").expect("cf");
        let id = object_id(key);
        let mut out = Vec::with_capacity(size);
        for i in 0..size.div_ceil(SEGMENT) {
            out.extend_from_slice(
                &self
                    .db
                    .get_cf(chunks, segment_key(&id, i as u32))
                    .expect("get")
                    .expect("segment"),
            );
        }
        out.into()
    }
}

fn object_id(key: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    for (slot, byte) in id.iter_mut().zip(key.bytes().cycle()) {
        *slot = byte;
    }
    id
}
