//! The binary encoding coffer's records share: little-endian integers, and
//! byte strings behind a `u16` (`bytes16`, `str16`) or `u32` (`bytes32`)
//! length. Reading checks every length against what is there, so a damaged
//! record is an error, never a panic or a read past its end.

use std::collections::BTreeMap;

use crate::{Error, ObjectAttributes, ProtectionMode, Result};

fn corrupt(what: &str) -> Error {
    Error::CorruptRecord(what.to_owned())
}

/// Appends `bytes16`: a `u16` length, then the bytes
/// ([`Error::InvalidArgument`] beyond 65535 bytes).
pub fn put_len16(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| Error::InvalidArgument("a name or value exceeds 65535 bytes".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Appends `bytes32`: a `u32` length, then the bytes
/// ([`Error::InvalidArgument`] beyond 4 GiB).
pub fn put_len32(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| Error::InvalidArgument("a value exceeds 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// The protection mode as records number it: 0 none, 1 AES256, 2 KMS.
pub fn mode_byte(mode: ProtectionMode) -> u8 {
    match mode {
        ProtectionMode::None => 0,
        ProtectionMode::Aes256 => 1,
        ProtectionMode::Kms => 2,
    }
}

/// The protection mode of record number `byte`.
pub fn mode_from_byte(byte: u8) -> Result<ProtectionMode> {
    match byte {
        0 => Ok(ProtectionMode::None),
        1 => Ok(ProtectionMode::Aes256),
        2 => Ok(ProtectionMode::Kms),
        _ => Err(corrupt("unknown protection mode")),
    }
}

/// The attributes with their record numbers.
fn attribute_fields(attributes: &ObjectAttributes) -> [(u8, &Option<String>); 5] {
    [
        (1, &attributes.content_type),
        (2, &attributes.content_disposition),
        (3, &attributes.content_encoding),
        (4, &attributes.content_language),
        (5, &attributes.cache_control),
    ]
}

/// The attribute of record number `id`.
fn attribute_field_mut(attributes: &mut ObjectAttributes, id: u8) -> Option<&mut Option<String>> {
    match id {
        1 => Some(&mut attributes.content_type),
        2 => Some(&mut attributes.content_disposition),
        3 => Some(&mut attributes.content_encoding),
        4 => Some(&mut attributes.content_language),
        5 => Some(&mut attributes.cache_control),
        _ => None,
    }
}

/// Appends the attributes that are set: a `u8` count, then each as its
/// record number (`u8`: 1 content type, 2 disposition, 3 encoding,
/// 4 language, 5 cache control) and a `str16`.
pub fn put_attributes(out: &mut Vec<u8>, attributes: &ObjectAttributes) -> Result<()> {
    let set: Vec<_> = attribute_fields(attributes)
        .into_iter()
        .filter_map(|(id, value)| value.as_ref().map(|v| (id, v)))
        .collect();
    out.push(set.len() as u8);
    for (id, value) in set {
        out.push(id);
        put_len16(out, value.as_bytes())?;
    }
    Ok(())
}

/// Appends user metadata: a `u32` count, then each name as `str16` and
/// value as `bytes32`, in name order.
pub fn put_user_metadata(out: &mut Vec<u8>, metadata: &BTreeMap<String, String>) -> Result<()> {
    let count = u32::try_from(metadata.len()).map_err(|_| corrupt("metadata count"))?;
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in metadata {
        put_len16(out, name.as_bytes())?;
        put_len32(out, value.as_bytes())?;
    }
    Ok(())
}

/// Reads the fields of a record in order, every length checked
/// ([`Error::CorruptRecord`] when one does not fit).
pub struct Reader<'a> {
    /// The record.
    pub raw: &'a [u8],
    /// Where the next field starts.
    pub at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `raw`.
    pub fn new(raw: &'a [u8]) -> Self {
        Self { raw, at: 0 }
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).ok_or_else(|| corrupt("length"))?;
        let slice = self
            .raw
            .get(self.at..end)
            .ok_or_else(|| corrupt("truncated"))?;
        self.at = end;
        Ok(slice)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| corrupt("u32"))?,
        ))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| corrupt("u64"))?,
        ))
    }

    /// A `bytes16`.
    pub fn bytes16(&mut self) -> Result<&'a [u8]> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| corrupt("u16"))?);
        self.take(usize::from(len))
    }

    /// A `str16` (UTF-8).
    pub fn str16(&mut self) -> Result<String> {
        String::from_utf8(self.bytes16()?.to_vec()).map_err(|_| corrupt("string"))
    }

    /// Attributes as [`put_attributes`] wrote them.
    pub fn attributes(&mut self) -> Result<ObjectAttributes> {
        let mut attributes = ObjectAttributes::default();
        for _ in 0..self.u8()? {
            let id = self.u8()?;
            let value = self.str16()?;
            *attribute_field_mut(&mut attributes, id)
                .ok_or_else(|| corrupt("unknown attribute"))? = Some(value);
        }
        Ok(attributes)
    }

    /// User metadata as [`put_user_metadata`] wrote it.
    pub fn user_metadata(&mut self) -> Result<BTreeMap<String, String>> {
        let count = self.u32()?;
        let mut metadata = BTreeMap::new();
        for _ in 0..count {
            let name = self.str16()?;
            let len = self.u32()? as usize;
            let value = String::from_utf8(self.take(len)?.to_vec())
                .map_err(|_| corrupt("metadata value"))?;
            metadata.insert(name, value);
        }
        Ok(metadata)
    }

    /// Whether every byte was read.
    pub fn at_end(&self) -> bool {
        self.at == self.raw.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_and_short_input_is_an_error() {
        let mut out = vec![7];
        out.extend_from_slice(&9u32.to_le_bytes());
        put_len16(&mut out, b"name").expect("fits");
        let mut r = Reader::new(&out);
        assert_eq!(r.u8().expect("u8"), 7);
        assert_eq!(r.u32().expect("u32"), 9);
        assert_eq!(r.str16().expect("str16"), "name");
        assert!(r.at_end());
        assert!(matches!(r.u8(), Err(Error::CorruptRecord(_))));
        let mut short = Reader::new(&out[..out.len() - 1]);
        short.take(5).expect("header");
        assert!(matches!(short.bytes16(), Err(Error::CorruptRecord(_))));
        assert!(put_len16(&mut Vec::new(), &[0; 65536]).is_err());
    }
}
