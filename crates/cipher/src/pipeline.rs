//! The parallel chunk pipeline: runs of chunks are sealed or opened on a pool of
//! worker threads, in place, into one preallocated buffer.
//!
//! A run is cut into batches of 16 to 64 chunks (256 KiB to 1 MiB of plaintext),
//! so that a 1 MiB object still spreads over every worker while a large one is
//! handed out 1 MiB at a time; smaller runs stay on the calling thread. Each batch owns a disjoint piece of the output buffer
//! (`BytesMut::split_off`), which is joined back without copying when every batch
//! is done (`BytesMut::unsplit`). The calling thread seals the last batch itself.
//! Every worker builds its own ring key from the shared, zeroizing message keys.
//! The output is bit-identical whatever the number of threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{Receiver, Sender};

use crate::cobblestone::{CHUNK_LEN, ChunkCipher, MessageKeys, SEALED_CHUNK_LEN, TAG_LEN};
use crate::{Error, IntegrityError, Result};

/// Fewest chunks worth handing to another thread: 256 KiB.
const MIN_BATCH_CHUNKS: usize = 16;
/// Most chunks in one batch: 1 MiB of plaintext.
pub(crate) const MAX_BATCH_CHUNKS: usize = 64;

type Task = Box<dyn FnOnce() + Send>;

/// Consecutive chunks handed to one thread.
struct Batch {
    /// Number of the batch's first chunk in the message.
    first: u64,
    chunks: usize,
    /// Plaintext (sealing) or sealed chunks (opening).
    input: Bytes,
    /// Bytes the batch appends to its piece of the output.
    output_len: usize,
}

/// A pool of worker threads for sealing and opening chunks. Cheap to clone; the
/// threads stop when the last clone is dropped.
#[derive(Clone)]
pub struct Pipeline {
    pool: Arc<Pool>,
}

struct Pool {
    threads: usize,
    tasks: Option<Sender<Task>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// A pipeline that uses `threads` threads in all: the caller's and
    /// `threads - 1` workers. `0` means the number of available cores.
    pub fn new(threads: usize) -> Self {
        let threads = if threads == 0 {
            thread::available_parallelism().map_or(1, usize::from)
        } else {
            threads
        };
        let (tasks, queue) = crossbeam_channel::unbounded::<Task>();
        let workers = (1..threads)
            .filter_map(|index| {
                let queue = queue.clone();
                thread::Builder::new()
                    .name(format!("coffer-cipher-{index}"))
                    .spawn(move || run_worker(&queue))
                    .ok()
            })
            .collect::<Vec<_>>();
        Self {
            pool: Arc::new(Pool {
                threads: workers.len() + 1,
                tasks: (!workers.is_empty()).then_some(tasks),
                workers,
            }),
        }
    }

    /// Threads that take part in one operation, the caller's included.
    pub fn threads(&self) -> usize {
        self.pool.threads
    }

    /// The most plaintext bytes one operation keeps in flight with every thread busy.
    pub fn window_chunks(&self) -> usize {
        self.pool.threads * MAX_BATCH_CHUNKS
    }

    /// Appends to `out` the chunks `first_chunk..` sealed from `plaintext`. If
    /// `ends_message`, the last piece of `plaintext` (possibly empty) is sealed as
    /// the final short chunk; otherwise `plaintext` must be whole chunks.
    pub(crate) fn seal_run(
        &self,
        keys: &Arc<MessageKeys>,
        first_chunk: u64,
        plaintext: Bytes,
        ends_message: bool,
        out: &mut BytesMut,
    ) -> Result<()> {
        debug_assert!(ends_message || plaintext.len().is_multiple_of(CHUNK_LEN));
        let chunks = plaintext.len() / CHUNK_LEN + usize::from(ends_message);
        let sealed_len = plaintext.len() + chunks * TAG_LEN;
        let batches = self.batches(first_chunk, chunks, |from, to| {
            let start = from * CHUNK_LEN;
            let end = (to * CHUNK_LEN).min(plaintext.len());
            (
                plaintext.slice(start..end),
                end - start + (to - from) * TAG_LEN,
            )
        });
        self.run(keys, batches, sealed_len, out, |cipher, batch, seg| {
            for (offset, piece) in pieces(&batch.input, CHUNK_LEN, batch.chunks).enumerate() {
                cipher.seal_append(batch.first + offset as u64, piece, seg);
            }
            Ok(())
        })
    }

    /// Appends to `out` the plaintext of the sealed chunks `first_chunk..` in
    /// `sealed`. If `ends_message`, the last piece is the final short chunk;
    /// otherwise `sealed` must be whole chunks. On failure `out` is restored and
    /// the error names the first chunk that did not authenticate.
    pub(crate) fn open_run(
        &self,
        keys: &Arc<MessageKeys>,
        first_chunk: u64,
        sealed: Bytes,
        ends_message: bool,
        out: &mut BytesMut,
    ) -> Result<()> {
        let full = sealed.len() / SEALED_CHUNK_LEN;
        let rest = sealed.len() % SEALED_CHUNK_LEN;
        let chunks = match (ends_message, rest) {
            (true, r) if r >= TAG_LEN => full + 1,
            (false, 0) => full,
            _ => return Err(IntegrityError::Truncated.into()),
        };
        let opened_len = sealed.len() - chunks * TAG_LEN;
        let batches = self.batches(first_chunk, chunks, |from, to| {
            let start = from * SEALED_CHUNK_LEN;
            let end = (to * SEALED_CHUNK_LEN).min(sealed.len());
            (
                sealed.slice(start..end),
                end - start - (to - from) * TAG_LEN,
            )
        });
        let restore = out.len();
        let result = self.run(keys, batches, opened_len, out, |cipher, batch, seg| {
            for (offset, piece) in pieces(&batch.input, SEALED_CHUNK_LEN, batch.chunks).enumerate()
            {
                cipher.open_append(batch.first + offset as u64, piece, seg)?;
            }
            Ok(())
        });
        if result.is_err() {
            out.truncate(restore);
        }
        result
    }

    /// Cuts a run of `chunks` chunks, the first numbered `first_chunk`, into
    /// batches of at most 1 MiB, and into at least one batch per thread when each
    /// still gets 256 KiB (below that, waking a worker costs more than it saves).
    fn batches(
        &self,
        first_chunk: u64,
        chunks: usize,
        cut: impl Fn(usize, usize) -> (Bytes, usize),
    ) -> Vec<Batch> {
        let count = chunks
            .div_ceil(MAX_BATCH_CHUNKS)
            .max(self.pool.threads.min(chunks / MIN_BATCH_CHUNKS))
            .max(1);
        let per_batch = chunks.div_ceil(count).max(1);
        (0..chunks)
            .step_by(per_batch)
            .map(|from| {
                let to = (from + per_batch).min(chunks);
                let (input, output_len) = cut(from, to);
                Batch {
                    first: first_chunk + from as u64,
                    chunks: to - from,
                    input,
                    output_len,
                }
            })
            .collect()
    }

    /// Runs `work` over every batch, the last one on this thread, each appending to
    /// its own piece of `out`, then joins the pieces in order.
    fn run<F>(
        &self,
        keys: &Arc<MessageKeys>,
        batches: Vec<Batch>,
        total_len: usize,
        out: &mut BytesMut,
        work: F,
    ) -> Result<()>
    where
        F: Fn(&ChunkCipher<'_>, Batch, &mut BytesMut) -> Result<()> + Send + Sync + 'static,
    {
        out.reserve(total_len);
        let tasks = match &self.pool.tasks {
            Some(tasks) if batches.len() > 1 => tasks,
            _ => {
                let cipher = keys.chunk_cipher();
                return batches
                    .into_iter()
                    .try_for_each(|batch| work(&cipher, batch, out));
            }
        };
        let mut free = out.split_off(out.len());
        let pieces: Vec<BytesMut> = batches
            .iter()
            .map(|batch| {
                let rest = free.split_off(batch.output_len);
                std::mem::replace(&mut free, rest)
            })
            .collect();
        let work = Arc::new(work);
        let (done, results) = crossbeam_channel::bounded(batches.len());
        let mut jobs = batches.into_iter().zip(pieces).enumerate();
        let (last_slot, (last_batch, mut last_piece)) =
            jobs.next_back().expect("more than one batch");
        for (slot, (batch, mut piece)) in jobs {
            let (keys, work, done) = (Arc::clone(keys), Arc::clone(&work), done.clone());
            let task: Task = Box::new(move || {
                let outcome = work(&keys.chunk_cipher(), batch, &mut piece);
                let _ = done.send((slot, outcome.map(|()| piece)));
            });
            tasks.send(task).map_err(|_| Error::WorkerLost)?;
        }
        drop(done);
        let last = work(&keys.chunk_cipher(), last_batch, &mut last_piece);
        let count = last_slot + 1;
        let mut ordered: Vec<Option<Result<BytesMut>>> = (0..count).map(|_| None).collect();
        ordered[last_slot] = Some(last.map(|()| last_piece));
        for _ in 0..last_slot {
            let (slot, outcome) = results.recv().map_err(|_| Error::WorkerLost)?;
            ordered[slot] = Some(outcome);
        }
        // Join in chunk order; the first failure in chunk order is the one reported.
        for outcome in ordered {
            out.unsplit(outcome.ok_or(Error::WorkerLost)??);
        }
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tasks = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn run_worker(queue: &Receiver<Task>) {
    while let Ok(task) = queue.recv() {
        // A panicking task must not shrink the pool; its caller sees WorkerLost.
        let _ = catch_unwind(AssertUnwindSafe(task));
    }
}

/// `bytes` cut into `count` pieces of `len` bytes; the last may be shorter, and is
/// empty for an empty final chunk.
fn pieces(bytes: &[u8], len: usize, count: usize) -> impl Iterator<Item = &[u8]> {
    (0..count).map(move |i| &bytes[(i * len).min(bytes.len())..((i + 1) * len).min(bytes.len())])
}
