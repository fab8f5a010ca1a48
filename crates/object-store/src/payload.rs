//! A `PutPayload` handed to the store without gathering it into one buffer:
//! a single chunk goes as it is, several are read one after another.

use bytes::Bytes;
use coffer_sse::ChunksReader;
use object_store::PutPayload;

/// The payload's bytes as the store takes them.
pub(crate) enum PayloadBody {
    /// Zero or one chunk: the bytes themselves, not copied.
    Whole(Bytes),
    /// Several chunks, read in order.
    Chunks(PayloadReader),
}

impl PayloadBody {
    pub(crate) fn new(payload: PutPayload) -> Self {
        let mut chunks = payload.into_iter();
        match (chunks.next(), chunks.size_hint().0) {
            (None, _) => Self::Whole(Bytes::new()),
            (Some(only), 0) => Self::Whole(only),
            (Some(first), _) => {
                let chunks: Chunks = std::iter::once(first).chain(chunks).map(Ok);
                Self::Chunks(ChunksReader::new(chunks))
            }
        }
    }
}

/// Reads a payload's chunks in order.
pub(crate) type PayloadReader = ChunksReader<Chunks>;

/// A payload's chunks, as the reader takes them.
pub(crate) type Chunks = std::iter::Map<
    std::iter::Chain<std::iter::Once<Bytes>, object_store::PutPayloadIntoIter>,
    fn(Bytes) -> coffer_sse::Result<Bytes>,
>;

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn one_chunk_is_not_copied_and_several_read_in_order() {
        let one = Bytes::from(vec![7u8; 100]);
        match PayloadBody::new(PutPayload::from(one.clone())) {
            PayloadBody::Whole(body) => assert_eq!(body.as_ptr(), one.as_ptr()),
            PayloadBody::Chunks(_) => panic!("one chunk is whole"),
        }
        assert!(matches!(
            PayloadBody::new(PutPayload::new()),
            PayloadBody::Whole(body) if body.is_empty()
        ));
        let chunks = [
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defgh"),
        ];
        let PayloadBody::Chunks(mut reader) = PayloadBody::new(PutPayload::from_iter(chunks))
        else {
            panic!("several chunks are read");
        };
        let mut out = Vec::new();
        let mut buffer = [0u8; 2];
        loop {
            let n = reader.read(&mut buffer).expect("reads");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buffer[..n]);
        }
        assert_eq!(out, b"abcdefgh");
    }
}
