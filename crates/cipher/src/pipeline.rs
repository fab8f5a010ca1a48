//! The parallel chunk pipeline: runs of chunks are sealed or opened on a pool of
//! worker threads, in place, into one preallocated buffer.
//!
//! A run is cut into batches of 16 to 64 chunks (256 KiB to 1 MiB of plaintext),
//! so that a 1 MiB object still spreads over every worker while a large one is
//! handed out 1 MiB at a time; smaller runs stay on the calling thread. Each
//! batch owns a disjoint piece of the output buffer (`BytesMut::split_off`),
//! which is joined back without copying when every batch is done
//! (`BytesMut::unsplit`). Every thread, the calling one included, claims the
//! next batch until none is left, so a worker that wakes late simply takes
//! fewer. Every worker builds its own ring key from the shared, zeroizing
//! message keys. The output is bit-identical whatever the number of threads.

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use bytes::{Bytes, BytesMut};
use crossbeam_channel::{Receiver, Sender};

use crate::cobblestone::{
    CHUNK_LEN, ChunkCipher, MessageKeys, SEALED_CHUNK_LEN, TAG_LEN, sealed_chunk_count,
};
use crate::{Error, Result};

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
        let chunks = sealed_chunk_count(sealed.len(), ends_message)?;
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
        self.batch_ranges(chunks)
            .map(|range| {
                let (input, output_len) = cut(range.start, range.end);
                Batch {
                    first: first_chunk + range.start as u64,
                    chunks: range.len(),
                    input,
                    output_len,
                }
            })
            .collect()
    }

    /// The chunk ranges of the batches [`Pipeline::batches`] cuts `chunks` into.
    pub(crate) fn batch_ranges(&self, chunks: usize) -> impl Iterator<Item = Range<usize>> {
        let count = chunks
            .div_ceil(MAX_BATCH_CHUNKS)
            .max(self.pool.threads.min(chunks / MIN_BATCH_CHUNKS));
        even_ranges(chunks, count)
    }

    /// Batches for work done where the data lies, which needs no memory per
    /// batch: one on a single thread, else two per thread (so that a worker that
    /// wakes late takes less), each of at least 256 KiB.
    pub(crate) fn in_place_batch_ranges(
        &self,
        chunks: usize,
    ) -> impl Iterator<Item = Range<usize>> {
        even_ranges(chunks, self.in_place_batch_count(chunks))
    }

    /// How many batches [`Pipeline::in_place_batch_ranges`] makes (at least one).
    pub(crate) fn in_place_batch_count(&self, chunks: usize) -> usize {
        if self.pool.threads == 1 {
            1
        } else {
            (2 * self.pool.threads)
                .min(chunks / MIN_BATCH_CHUNKS)
                .max(1)
        }
    }
}

impl Pipeline {
    /// Runs `work` over every batch, each appending to its own piece of `out`,
    /// then joins the pieces in order. The first failure in chunk order is the one
    /// reported.
    fn run<F>(
        &self,
        keys: &Arc<MessageKeys>,
        batches: Vec<Batch>,
        total_len: usize,
        out: &mut BytesMut,
        work: F,
    ) -> Result<()>
    where
        F: Fn(&ChunkCipher<'_>, &Batch, &mut BytesMut) -> Result<()> + Send + Sync + 'static,
    {
        out.reserve(total_len);
        let mut free = out.split_off(out.len());
        let jobs: Vec<(Batch, BytesMut)> = batches
            .into_iter()
            .map(|batch| {
                let rest = free.split_off(batch.output_len);
                (batch, std::mem::replace(&mut free, rest))
            })
            .collect();
        let done = self.run_jobs(keys, jobs, move |cipher, (batch, piece)| {
            work(cipher, batch, piece)
        })?;
        for ((_, piece), outcome) in done {
            outcome?;
            out.unsplit(piece);
        }
        Ok(())
    }

    /// Runs `work` on every job, on this thread and the workers (or only on this
    /// thread when there is one job or no worker), and gives each job back with
    /// its outcome, in job order.
    pub(crate) fn run_jobs<T, F>(
        &self,
        keys: &Arc<MessageKeys>,
        jobs: Vec<T>,
        work: F,
    ) -> Result<Vec<(T, Result<()>)>>
    where
        T: Send + 'static,
        F: Fn(&ChunkCipher<'_>, &mut T) -> Result<()> + Send + Sync + 'static,
    {
        let tasks = match &self.pool.tasks {
            Some(tasks) if jobs.len() > 1 => tasks,
            _ => {
                let cipher = keys.chunk_cipher();
                return Ok(jobs
                    .into_iter()
                    .map(|mut job| {
                        let outcome = work(&cipher, &mut job);
                        (job, outcome)
                    })
                    .collect());
            }
        };
        // Every thread, this one included, claims the next job until none is
        // left, so a worker that wakes late takes less and none waits idle.
        let count = jobs.len();
        let board = Arc::new(Board {
            jobs: jobs.into_iter().map(|job| Mutex::new(Some(job))).collect(),
            next: AtomicUsize::new(0),
        });
        let work = Arc::new(work);
        let (done, results) = crossbeam_channel::bounded(count);
        for _ in 1..self.pool.threads.min(count) {
            let (board, keys, work, done) = (
                Arc::clone(&board),
                Arc::clone(keys),
                Arc::clone(&work),
                done.clone(),
            );
            let task: Task = Box::new(move || {
                let cipher = keys.worker_cipher();
                while let Some((slot, mut job)) = board.claim() {
                    let outcome = work(&cipher, &mut job);
                    if done.send((slot, job, outcome)).is_err() {
                        break;
                    }
                }
            });
            tasks.send(task).map_err(|_| Error::WorkerLost)?;
        }
        drop(done);
        let mut ordered: Vec<Option<(T, Result<()>)>> = (0..count).map(|_| None).collect();
        let mut mine = 0;
        let cipher = keys.chunk_cipher();
        while let Some((slot, mut job)) = board.claim() {
            let outcome = work(&cipher, &mut job);
            ordered[slot] = Some((job, outcome));
            mine += 1;
        }
        for _ in mine..count {
            let (slot, job, outcome) = results.recv().map_err(|_| Error::WorkerLost)?;
            ordered[slot] = Some((job, outcome));
        }
        ordered
            .into_iter()
            .map(|job| job.ok_or(Error::WorkerLost))
            .collect()
    }
}

/// `0..chunks` cut into `count` (at least one) ranges of nearly equal length.
fn even_ranges(chunks: usize, count: usize) -> impl Iterator<Item = Range<usize>> {
    let per_batch = chunks.div_ceil(count.max(1)).max(1);
    (0..chunks)
        .step_by(per_batch)
        .map(move |from| from..(from + per_batch).min(chunks))
}

/// Jobs shared by the threads of one operation, each claimed once.
struct Board<T> {
    jobs: Vec<Mutex<Option<T>>>,
    next: AtomicUsize,
}

impl<T> Board<T> {
    /// The next unclaimed job and its slot, if any is left.
    fn claim(&self) -> Option<(usize, T)> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed);
        let job = self
            .jobs
            .get(slot)?
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some((slot, job))
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
