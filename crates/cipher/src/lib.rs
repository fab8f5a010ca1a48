//! coffer's payload format: every object's bytes sealed under its own data key
//! with the C2SP chunked-encryption construction (Cobblestone-256: HKDF-SHA512 +
//! AES-256-GCM in 16 KiB chunks), bound to the object's identity, and sealed or
//! opened on several cores.
//!
//! ```
//! use bytes::Bytes;
//! use coffer_cipher::{DataKey, ObjectIdentity, PayloadCipher};
//!
//! let cipher = PayloadCipher::default();
//! let key = DataKey::generate()?;
//! let id = ObjectIdentity::new(b"store-1", "photos", b"object-42");
//! let payload = cipher.seal(&key, &id, Bytes::from_static(b"hello"))?;
//! assert_eq!(cipher.open(&key, &id, payload.clone())?, "hello");
//!
//! // Bound to its object: the same key cannot open it as another object.
//! let other = ObjectIdentity::new(b"store-1", "photos", b"object-43");
//! assert!(cipher.open(&key, &other, payload).is_err());
//! # Ok::<(), coffer_cipher::Error>(())
//! ```
//!
//! The byte layout is documented in `docs/format.md`; the modules below each
//! document their part of it.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod cobblestone;
pub mod danger;
mod data_key;
mod error;
pub mod header;
mod identity;
mod in_place;
mod payload;
mod pipeline;
mod reader;
mod segments;
mod writer;

pub use cobblestone::{CHUNK_LEN, Layout, SEALED_CHUNK_LEN, Salt};
pub use data_key::{DATA_KEY_LEN, DataKey};
pub use error::{Error, FormatError, IntegrityError, Result};
pub use header::{HEADER_LEN, Header, Suite};
pub use identity::ObjectIdentity;
pub use in_place::PayloadBuffer;
pub use payload::{PayloadCipher, PayloadKeys};
pub use pipeline::Pipeline;
pub use reader::PayloadReader;
pub use segments::{PAYLOAD_PREFIX_LEN, PayloadOpener, PayloadSealer};
pub use writer::PayloadWriter;
