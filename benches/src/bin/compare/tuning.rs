//! `--tuning=<name>=<value>,...`: storage settings other than the defaults, for
//! measuring candidates against each other (how the defaults were chosen).
//!
//! Names: `blob_files` (true/false), `blob_cache_mib`, `block_cache_mib`,
//! `object_write_buffer_mib`, `chunk_write_buffer_mib`, `chunk_write_buffers`,
//! `blob_gc_age_cutoff`, `object_blob_min_kib`, `object_bloom_bits`,
//! `inline_kib`.

use coffer_store::{StoreOptions, Tuning};

/// A storage configuration under test.
#[derive(Clone, Debug, Default)]
pub(crate) struct Candidate {
    pub(crate) tuning: Tuning,
    /// The inline threshold, if not the default.
    pub(crate) inline_bytes: Option<usize>,
}

impl Candidate {
    /// `options` with this candidate's settings.
    pub(crate) fn apply(&self, options: StoreOptions) -> StoreOptions {
        let options = options.with_tuning(self.tuning.clone());
        match self.inline_bytes {
            Some(bytes) => options.with_inline_threshold(bytes),
            None => options,
        }
    }
}

/// Parses `name=value,...` over the defaults.
pub(crate) fn parse(spec: &str) -> Result<Candidate, String> {
    let mut candidate = Candidate::default();
    for setting in spec.split(',').filter(|s| !s.is_empty()) {
        let (name, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("{setting:?} is not name=value"))?;
        let number = || {
            value
                .parse::<f64>()
                .map_err(|_| format!("{name}: {value:?} is not a number"))
        };
        let mib = || number().map(|n| (n * 1024.0 * 1024.0) as usize);
        let t = &mut candidate.tuning;
        match name {
            "blob_files" => {
                *t = t.clone().with_blob_files(
                    value
                        .parse()
                        .map_err(|_| format!("blob_files: {value:?} is not true or false"))?,
                )
            }
            "blob_cache_mib" => *t = t.clone().with_blob_cache_bytes(mib()?),
            "block_cache_mib" => *t = t.clone().with_block_cache_bytes(mib()?),
            "object_write_buffer_mib" => *t = t.clone().with_object_write_buffer_bytes(mib()?),
            "chunk_write_buffer_mib" => *t = t.clone().with_chunk_write_buffer_bytes(mib()?),
            "chunk_write_buffers" => *t = t.clone().with_chunk_write_buffers(number()? as usize),
            "blob_gc_age_cutoff" => *t = t.clone().with_blob_gc_age_cutoff(number()?),
            "object_blob_min_kib" => {
                *t = t
                    .clone()
                    .with_object_blob_min_bytes((number()? * 1024.0) as usize)
            }
            "object_bloom_bits" => *t = t.clone().with_object_bloom_bits(number()?),
            "write_thread_spin" => *t = t.clone().with_write_thread_spin(number()? != 0.0),
            "inline_kib" => candidate.inline_bytes = Some((number()? * 1024.0) as usize),
            other => return Err(format!("unknown setting {other:?}")),
        }
    }
    Ok(candidate)
}
