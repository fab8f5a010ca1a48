//! Sealing and opening without copying.
//!
//! A [`PayloadBuffer`] is filled with plaintext already in the payload's final
//! layout (room for the 64-byte prefix in front, a 16-byte tag slot after every
//! chunk), so sealing it encrypts every chunk where it lies. Opening an owned
//! payload decrypts every chunk where it lies and moves its plaintext to the
//! front of the same buffer in the same pass (ring decrypts from one offset to
//! another), so the plaintext comes back in the payload's own allocation.
//!
//! In parallel, sealing hands each batch its own piece of the buffer. Opening
//! cannot quite do that: the plaintext of a batch's first chunk lands on the
//! sealed bytes that end the batch before it. So the first chunk or so of every
//! batch but the first is set aside before the batches start; each batch then
//! opens the rest of its chunks in its own piece, and the set-aside chunks are
//! opened into place once every batch is done. The plaintext moves by the
//! prefix plus 16 bytes per chunk before it, so a batch sets aside about one
//! chunk per thousand chunks before it. (Were a whole batch to be set aside, the run opens on one thread.)
//!
//! There are two batches per thread, claimed as threads come free: work in place
//! needs no memory per batch, so batches need not be small.

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use zeroize::Zeroize;

use crate::cobblestone::{CHUNK_LEN, MessageKeys, SEALED_CHUNK_LEN, TAG_LEN, sealed_chunk_count};
use crate::segments::PAYLOAD_PREFIX_LEN;
use crate::{Error, IntegrityError, Pipeline, Result};

/// Plaintext gathered in the layout of the payload that will seal it, so that
/// [`crate::PayloadCipher::seal_in_place`] encrypts it without copying. Fill it
/// with [`PayloadBuffer::extend_from_slice`], [`Write`], or
/// [`PayloadBuffer::read_from`], which reads straight into place.
#[derive(Default)]
pub struct PayloadBuffer {
    /// Prefix room, then every chunk so far: full chunks each followed by a tag
    /// slot, the current partial chunk without one.
    buffer: BytesMut,
    plaintext_len: u64,
}

impl PayloadBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty buffer with room for `plaintext_len` bytes of plaintext and the
    /// whole payload around them.
    pub fn with_capacity(plaintext_len: usize) -> Self {
        let chunks = plaintext_len / CHUNK_LEN + 1;
        let mut buffer = BytesMut::with_capacity(
            PAYLOAD_PREFIX_LEN
                .saturating_add(plaintext_len)
                .saturating_add(chunks.saturating_mul(TAG_LEN)),
        );
        buffer.resize(PAYLOAD_PREFIX_LEN, 0);
        Self {
            buffer,
            plaintext_len: 0,
        }
    }

    /// Plaintext bytes in the buffer.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Whether the buffer holds no plaintext.
    pub fn is_empty(&self) -> bool {
        self.plaintext_len == 0
    }

    /// Appends `data` to the plaintext.
    pub fn extend_from_slice(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = self.room_in_chunk().min(data.len());
            self.buffer.extend_from_slice(&data[..take]);
            self.appended(take);
            data = &data[take..];
        }
    }

    /// Reads from `source` straight into place until it ends or `limit` bytes
    /// have been read, and returns how many were. On an error the bytes read
    /// before it stay in the buffer.
    pub fn read_from(&mut self, source: &mut impl Read, limit: u64) -> io::Result<u64> {
        let mut total = 0u64;
        while total < limit {
            let want = (self.room_in_chunk() as u64).min(limit - total) as usize;
            let start = self.buffer.len();
            self.buffer.resize(start + want, 0);
            let read = source.read(&mut self.buffer[start..]);
            let read = match read {
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
                Err(error) => {
                    self.buffer.truncate(start);
                    return Err(error);
                }
            };
            self.buffer.truncate(start + read);
            if read == 0 && want > 0 {
                break;
            }
            self.appended(read);
            total += read as u64;
        }
        Ok(total)
    }

    fn room_in_chunk(&self) -> usize {
        CHUNK_LEN - (self.plaintext_len % CHUNK_LEN as u64) as usize
    }

    /// Counts `len` more plaintext bytes; a chunk just filled gets its tag slot.
    fn appended(&mut self, len: usize) {
        self.plaintext_len += len as u64;
        if len > 0 && self.plaintext_len.is_multiple_of(CHUNK_LEN as u64) {
            self.buffer.extend_from_slice(&[0; TAG_LEN]);
        }
    }

    /// The whole layout: the prefix room, every chunk and every tag slot, the
    /// final chunk's included.
    pub(crate) fn into_layout(mut self) -> (BytesMut, u64) {
        self.buffer.extend_from_slice(&[0; TAG_LEN]);
        (self.buffer, self.plaintext_len)
    }
}

impl Write for PayloadBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Seals where they lie the chunks that follow the first `prefix_len` bytes of
/// `buffer`: chunk bodies each followed by a tag slot, the last body short.
/// `first_chunk` numbers the first of them.
pub(crate) fn seal_chunks(
    pipeline: &Pipeline,
    keys: &Arc<MessageKeys>,
    first_chunk: u64,
    buffer: &mut BytesMut,
    prefix_len: usize,
) -> Result<()> {
    let chunks = (buffer.len() - prefix_len).div_ceil(SEALED_CHUNK_LEN);
    if pipeline.in_place_batch_count(chunks) == 1 {
        let cipher = keys.chunk_cipher();
        for (index, slot) in buffer[prefix_len..]
            .chunks_mut(SEALED_CHUNK_LEN)
            .enumerate()
        {
            cipher.seal_slot(first_chunk + index as u64, slot);
        }
        return Ok(());
    }
    let mut rest = buffer.split_off(prefix_len);
    let mut jobs = Vec::new();
    for range in pipeline.in_place_batch_ranges(chunks) {
        let tail = rest.split_off((range.len() * SEALED_CHUNK_LEN).min(rest.len()));
        jobs.push((
            first_chunk + range.start as u64,
            std::mem::replace(&mut rest, tail),
        ));
    }
    let done = pipeline.run_jobs(keys, jobs, |cipher, (first, piece)| {
        for (offset, slot) in piece.chunks_mut(SEALED_CHUNK_LEN).enumerate() {
            cipher.seal_slot(*first + offset as u64, slot);
        }
        Ok(())
    })?;
    for ((_, piece), outcome) in done {
        outcome?;
        buffer.unsplit(piece);
    }
    Ok(())
}

/// Opens where they lie the sealed chunks that follow the first `prefix_len`
/// bytes of `buffer`, `first_chunk` numbering the first, and leaves their
/// plaintext, and nothing else, in `buffer`. The last chunk must be short
/// exactly when `ends_message`. On failure `buffer` is zeroized and emptied and
/// the error names the first chunk, in order, that did not authenticate.
pub(crate) fn open_chunks(
    pipeline: &Pipeline,
    keys: &Arc<MessageKeys>,
    first_chunk: u64,
    buffer: &mut BytesMut,
    prefix_len: usize,
    ends_message: bool,
) -> Result<()> {
    let result = open_chunks_or_fail(
        pipeline,
        keys,
        first_chunk,
        buffer,
        prefix_len,
        ends_message,
    );
    if result.is_err() {
        buffer[..].zeroize();
        buffer.clear();
    }
    result
}

/// One batch of an in-place open: its chunks `first..end` (local numbers), of
/// which `first..opened_from` are set aside and opened after the others.
struct Batch {
    first: usize,
    opened_from: usize,
    end: usize,
}

fn open_chunks_or_fail(
    pipeline: &Pipeline,
    keys: &Arc<MessageKeys>,
    first_chunk: u64,
    buffer: &mut BytesMut,
    prefix_len: usize,
    ends_message: bool,
) -> Result<()> {
    let sealed_len = buffer
        .len()
        .checked_sub(prefix_len)
        .ok_or(IntegrityError::Truncated)?;
    let chunks = sealed_chunk_count(sealed_len, ends_message)?;
    let plaintext_len = sealed_len - chunks * TAG_LEN;
    if pipeline.in_place_batch_count(chunks) == 1 {
        // One batch: open every chunk in order, on this thread.
        let cipher = keys.chunk_cipher();
        for chunk in 0..chunks {
            let at = prefix_len + chunk * SEALED_CHUNK_LEN;
            let end = (at + SEALED_CHUNK_LEN).min(buffer.len());
            let (body, tag) = buffer[..end].split_at_mut(end - TAG_LEN);
            cipher.open_moving(first_chunk + chunk as u64, tag, body, at, chunk * CHUNK_LEN)?;
        }
        buffer.truncate(plaintext_len);
        return Ok(());
    }
    let batches = plan(pipeline, chunks, prefix_len);
    let total_len = buffer.len();
    let sealed_at = move |chunk: usize| prefix_len + chunk * SEALED_CHUNK_LEN;
    let sealed_end = move |chunk: usize| sealed_at(chunk + 1).min(total_len);

    // Set aside the chunks whose plaintext lands on the previous batch's input.
    let set_aside: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| buffer[sealed_at(b.first)..sealed_at(b.opened_from)].to_vec())
        .collect();

    // Each batch opens the rest of its chunks in its own piece, which starts
    // where its first opened chunk's plaintext goes.
    let starts: Vec<usize> = batches.iter().map(|b| b.opened_from * CHUNK_LEN).collect();
    let mut pieces = Vec::with_capacity(batches.len());
    let mut rest = buffer.split_off(0);
    for (index, batch) in batches.iter().enumerate().rev() {
        let piece = rest.split_off(starts[index]);
        let ends: Vec<usize> = (batch.opened_from..batch.end).map(sealed_end).collect();
        pieces.push((batch.opened_from, ends, starts[index], piece));
    }
    pieces.reverse();
    buffer.unsplit(rest);
    let done = pipeline.run_jobs(keys, pieces, move |cipher, (from, ends, start, piece)| {
        for (offset, end) in ends.iter().enumerate() {
            let chunk = *from + offset;
            let at = sealed_at(chunk) - *start;
            let body_end = end - *start - TAG_LEN;
            let (body, tag) = piece.split_at_mut(body_end);
            cipher.open_moving(
                first_chunk + chunk as u64,
                &tag[..TAG_LEN],
                body,
                at,
                chunk * CHUNK_LEN - *start,
            )?;
        }
        Ok(())
    })?;
    let mut failure: Option<Error> = None;
    for ((_, _, _, piece), outcome) in done {
        buffer.unsplit(piece);
        if let Err(error) = outcome {
            failure.get_or_insert(error);
        }
    }

    // Then the set-aside chunks, into the plaintext's place.
    let cipher = keys.chunk_cipher();
    for (batch, sealed) in batches.iter().zip(set_aside) {
        for (offset, chunk) in (batch.first..batch.opened_from).enumerate() {
            let sealed =
                &sealed[offset * SEALED_CHUNK_LEN..][..sealed_end(chunk) - sealed_at(chunk)];
            let (body, tag) = sealed.split_at(sealed.len() - TAG_LEN);
            let to = chunk * CHUNK_LEN;
            buffer[to..to + body.len()].copy_from_slice(body);
            let opened = cipher.open_moving(
                first_chunk + chunk as u64,
                tag,
                &mut buffer[..to + body.len()],
                to,
                to,
            );
            if let Err(error) = opened {
                // Set-aside chunks come first in their batch, so a failure here
                // precedes any failure of a later batch, not of an earlier one.
                match &failure {
                    Some(Error::Integrity(IntegrityError::Chunk { index }))
                        if *index < first_chunk + chunk as u64 => {}
                    _ => failure = Some(error),
                }
            }
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    buffer.truncate(plaintext_len);
    Ok(())
}

/// Cuts `chunks` chunks into the pipeline's batches and decides how many of each
/// batch's first chunks to set aside: those whose plaintext would land before
/// the end of the previous batch's sealed bytes. When a whole batch would have
/// to be set aside, the run is opened as one batch on this thread.
fn plan(pipeline: &Pipeline, chunks: usize, prefix_len: usize) -> Vec<Batch> {
    let batches: Vec<Batch> = pipeline
        .in_place_batch_ranges(chunks)
        .map(|range| {
            let distance = prefix_len + range.start * TAG_LEN;
            let aside = if range.start == 0 {
                0
            } else {
                distance.div_ceil(CHUNK_LEN)
            };
            Batch {
                first: range.start,
                opened_from: range.start + aside,
                end: range.end,
            }
        })
        .collect();
    if batches.iter().all(|b| b.opened_from < b.end) {
        batches
    } else {
        vec![Batch {
            first: 0,
            opened_from: 0,
            end: chunks,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_batch_sets_aside_the_chunks_that_land_on_the_one_before() {
        let pipeline = Pipeline::new(2);
        let batches = plan(&pipeline, 193, PAYLOAD_PREFIX_LEN);
        assert_eq!(batches.len(), 4);
        assert_eq!(batches.iter().map(|b| b.end - b.first).sum::<usize>(), 193);
        assert_eq!(batches[0].opened_from, 0);
        for batch in &batches[1..] {
            assert_eq!(batch.opened_from, batch.first + 1);
            // The first opened chunk's plaintext starts past the previous batch's input.
            assert!(
                batch.opened_from * CHUNK_LEN
                    >= PAYLOAD_PREFIX_LEN + batch.first * SEALED_CHUNK_LEN
            );
        }
        assert_eq!(plan(&Pipeline::new(1), 193, PAYLOAD_PREFIX_LEN).len(), 1);
    }

    #[test]
    fn what_is_set_aside_stays_a_small_share_of_a_large_run() {
        let pipeline = Pipeline::new(2);
        // 2^17 chunks (2 GiB): the plaintext of the last batch moves 1.5 MiB.
        let chunks = 1 << 17;
        let batches = plan(&pipeline, chunks, PAYLOAD_PREFIX_LEN);
        assert_eq!(batches.len(), 4);
        let set_aside: usize = batches.iter().map(|b| b.opened_from - b.first).sum();
        // Each batch sets aside about one chunk per thousand before it: 0.15% here.
        assert!(set_aside <= chunks / 512, "{set_aside}");
        assert_eq!(batches.last().map(|b| b.end), Some(chunks));
    }
}
