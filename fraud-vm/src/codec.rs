//! The byte codec of the crate's proof formats: 32-byte words as `abi.encode` lays out static
//! types ([`Words`], for the step machine's parts and proofs), and the one bounds-checked
//! [`Reader`] of encoded bytes (step proofs, and the state tree's proofs in
//! [`crate::smt::Proof::decode`]), which rejects every non-canonical encoding.
//!
//! Canonical means one byte string per value: a `uint64` word has its upper 24 bytes zero, an
//! address word its upper 12, a flag is 0 or 1, an enum one of its defined values. A verifier
//! that hashes the bytes it was given (as a Solidity verifier would hash its calldata) and one that
//! hashes a re-encoding of what it decoded therefore agree.

use alloy_primitives::{Address, Bloom, B256, U256};

/// Why bytes are not a proof (or part).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends before the value does.
    #[error("truncated: {what} needs {need} more bytes, {have} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// Bytes remain after the last value.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A tag no value has.
    #[error("unknown {what} tag {tag}")]
    UnknownTag {
        /// Which tag.
        what: &'static str,
        /// Its value.
        tag: u8,
    },
    /// A value with more than one encoding was not given in its canonical one.
    #[error("non-canonical {0}")]
    NonCanonical(&'static str),
}

/// Bounds-checked cursor over encoded bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated {
                what,
                need: n,
                have: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A 32-byte word.
    pub fn b256(&mut self, what: &'static str) -> Result<B256, DecodeError> {
        Ok(B256::from(self.array::<32>(what)?))
    }

    /// `n` 32-byte words.
    pub fn b256s(&mut self, n: usize, what: &'static str) -> Result<Vec<B256>, DecodeError> {
        (0..n).map(|_| self.b256(what)).collect()
    }

    /// A value of `T`'s word encoding.
    pub fn words<T: Words>(&mut self) -> Result<T, DecodeError> {
        T::decode_words(self.take(T::WORDS * 32, T::NAME)?)
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

/// A value encoded as a fixed number of 32-byte words (`abi.encode` of static types).
pub trait Words: Sized {
    /// Number of words.
    const WORDS: usize;
    /// What it is, for errors.
    const NAME: &'static str;
    /// Appends the encoding.
    fn encode_words(&self, out: &mut Vec<u8>);
    /// Decodes exactly `WORDS * 32` bytes, rejecting non-canonical ones.
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError>;
}

/// `bytes` as a word whose first `pad` bytes must be zero; the rest.
fn unpad<'a>(bytes: &'a [u8], pad: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
    if bytes[..pad].iter().any(|b| *b != 0) {
        return Err(DecodeError::NonCanonical(what));
    }
    Ok(&bytes[pad..])
}

impl Words for u64 {
    const WORDS: usize = 1;
    const NAME: &'static str = "uint64 word";
    fn encode_words(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0u8; 24]);
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(unpad(bytes, 24, Self::NAME)?);
        Ok(u64::from_be_bytes(b))
    }
}

impl Words for u128 {
    const WORDS: usize = 1;
    const NAME: &'static str = "uint128 word";
    fn encode_words(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut b = [0u8; 16];
        b.copy_from_slice(unpad(bytes, 16, Self::NAME)?);
        Ok(u128::from_be_bytes(b))
    }
}

impl Words for bool {
    const WORDS: usize = 1;
    const NAME: &'static str = "bool word";
    fn encode_words(&self, out: &mut Vec<u8>) {
        (*self as u64).encode_words(out)
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        match u64::decode_words(bytes) {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            _ => Err(DecodeError::NonCanonical(Self::NAME)),
        }
    }
}

impl Words for U256 {
    const WORDS: usize = 1;
    const NAME: &'static str = "uint256 word";
    fn encode_words(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes::<32>());
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(U256::from_be_slice(bytes))
    }
}

impl Words for B256 {
    const WORDS: usize = 1;
    const NAME: &'static str = "bytes32 word";
    fn encode_words(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_slice());
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(B256::from_slice(bytes))
    }
}

impl Words for Address {
    const WORDS: usize = 1;
    const NAME: &'static str = "address word";
    fn encode_words(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0u8; 12]);
        out.extend_from_slice(self.as_slice());
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Address::from_slice(unpad(bytes, 12, Self::NAME)?))
    }
}

impl Words for Bloom {
    const WORDS: usize = 8;
    const NAME: &'static str = "bloom (8 words)";
    fn encode_words(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_slice());
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Bloom::from_slice(bytes))
    }
}

/// Implements [`Words`] for a `#[repr(u8)]` enum as one `uint64` word.
macro_rules! enum_words {
    ($ty:ty, $name:literal, [$($variant:path),+ $(,)?]) => {
        impl $crate::codec::Words for $ty {
            const WORDS: usize = 1;
            const NAME: &'static str = $name;
            fn encode_words(&self, out: &mut Vec<u8>) {
                <u64 as $crate::codec::Words>::encode_words(&(*self as u64), out)
            }
            fn decode_words(bytes: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                let v = <u64 as $crate::codec::Words>::decode_words(bytes)?;
                $(if v == $variant as u64 {
                    return Ok($variant);
                })+
                Err($crate::codec::DecodeError::NonCanonical($name))
            }
        }
    };
}
pub(crate) use enum_words;

/// Declares a struct whose every field is one [`Words`] value and gives it `abi.encode`-style
/// [`Words`], `encode`, `decode` and `hash` (`keccak256` of the encoding) from the one field
/// list, with `FIELDS` naming the fields in encoding order. A field added to the struct is
/// therefore encoded, hashed and decoded; there is no second list to forget it in.
macro_rules! word_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident: $ty:ty,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )+
        }

        impl $name {
            /// Field names in encoding order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];

            /// The fixed-width encoding: each field as its words, in declaration order.
            pub fn encode(&self) -> Vec<u8> {
                let mut out = Vec::with_capacity(<Self as $crate::codec::Words>::WORDS * 32);
                $crate::codec::Words::encode_words(self, &mut out);
                out
            }

            /// The exact inverse of [`Self::encode`].
            pub fn decode(bytes: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                let mut r = $crate::codec::Reader::new(bytes);
                let part = r.words()?;
                r.finish()?;
                Ok(part)
            }

            /// `keccak256` of [`Self::encode`].
            pub fn hash(&self) -> alloy_primitives::B256 {
                alloy_primitives::keccak256(self.encode())
            }
        }

        impl $crate::codec::Words for $name {
            const WORDS: usize = 0 $(+ <$ty as $crate::codec::Words>::WORDS)+;
            const NAME: &'static str = stringify!($name);
            fn encode_words(&self, out: &mut Vec<u8>) {
                $($crate::codec::Words::encode_words(&self.$field, out);)+
            }
            fn decode_words(bytes: &[u8]) -> Result<Self, $crate::codec::DecodeError> {
                let mut r = $crate::codec::Reader::new(bytes);
                let part = Self {
                    $($field: r.words()?,)+
                };
                r.finish()?;
                Ok(part)
            }
        }
    };
}
pub(crate) use word_struct;
