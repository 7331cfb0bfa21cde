//! The TIFF structure inside an EXIF APP1 segment: byte order, IFDs and
//! their entries, and typed values.
//!
//! Offsets in this module are relative to the start of the TIFF header (the
//! byte after `Exif\0\0`), as in the EXIF standard. Every read is bounds
//! checked: a corrupt file yields an error or a missing value, never a panic.

use std::fmt;

/// The two TIFF byte orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// `II`: little-endian.
    Intel,
    /// `MM`: big-endian.
    Motorola,
}

impl ByteOrder {
    /// Reads a u16 at `at`, if the slice holds it.
    pub fn u16(self, data: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Intel => u16::from_le_bytes(b),
            ByteOrder::Motorola => u16::from_be_bytes(b),
        })
    }

    /// Reads a u32 at `at`, if the slice holds it.
    pub fn u32(self, data: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Intel => u32::from_le_bytes(b),
            ByteOrder::Motorola => u32::from_be_bytes(b),
        })
    }

    /// The bytes of `v` in this order.
    pub fn u16_bytes(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Intel => v.to_le_bytes(),
            ByteOrder::Motorola => v.to_be_bytes(),
        }
    }

    /// The bytes of `v` in this order.
    pub fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Intel => v.to_le_bytes(),
            ByteOrder::Motorola => v.to_be_bytes(),
        }
    }

    /// The two bytes that open a TIFF header in this order.
    pub fn marker(self) -> [u8; 2] {
        match self {
            ByteOrder::Intel => *b"II",
            ByteOrder::Motorola => *b"MM",
        }
    }
}

/// TIFF field types (TIFF 6.0 and EXIF 2.3).
pub mod field_type {
    /// 8-bit unsigned integer.
    pub const BYTE: u16 = 1;
    /// 7-bit ASCII, NUL terminated.
    pub const ASCII: u16 = 2;
    /// 16-bit unsigned integer.
    pub const SHORT: u16 = 3;
    /// 32-bit unsigned integer.
    pub const LONG: u16 = 4;
    /// Two LONGs: numerator, denominator.
    pub const RATIONAL: u16 = 5;
    /// 8-bit signed integer.
    pub const SBYTE: u16 = 6;
    /// Opaque bytes.
    pub const UNDEFINED: u16 = 7;
    /// 16-bit signed integer.
    pub const SSHORT: u16 = 8;
    /// 32-bit signed integer.
    pub const SLONG: u16 = 9;
    /// Two SLONGs.
    pub const SRATIONAL: u16 = 10;
    /// IEEE single.
    pub const FLOAT: u16 = 11;
    /// IEEE double.
    pub const DOUBLE: u16 = 12;
    /// A LONG that points to an IFD (TIFF-EP).
    pub const IFD: u16 = 13;

    /// Bytes per component, for the types this module knows.
    pub fn size(t: u16) -> Option<usize> {
        match t {
            BYTE | ASCII | SBYTE | UNDEFINED => Some(1),
            SHORT | SSHORT => Some(2),
            LONG | SLONG | FLOAT | IFD => Some(4),
            RATIONAL | SRATIONAL | DOUBLE => Some(8),
            _ => None,
        }
    }
}

/// Why a TIFF structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TiffError {
    /// The header is not `II*\0` or `MM\0*`.
    BadHeader,
    /// An IFD lies (partly) outside the EXIF block.
    IfdOutOfBounds {
        /// Which IFD.
        ifd: &'static str,
        /// Its offset.
        offset: u32,
    },
}

impl fmt::Display for TiffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TiffError::BadHeader => write!(f, "corrupt EXIF: bad TIFF header"),
            TiffError::IfdOutOfBounds { ifd, offset } => {
                write!(
                    f,
                    "corrupt EXIF: {ifd} at offset {offset} lies outside the EXIF block"
                )
            }
        }
    }
}

impl std::error::Error for TiffError {}

/// One 12-byte IFD entry, kept as it is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The tag number.
    pub tag: u16,
    /// The field type (see [`field_type`]).
    pub field_type: u16,
    /// The number of components.
    pub count: u32,
    /// The value itself when it fits in four bytes, else its offset.
    pub field: [u8; 4],
}

impl Entry {
    /// The length in bytes of the value, when the type is known.
    pub fn value_len(&self) -> Option<usize> {
        field_type::size(self.field_type)?.checked_mul(usize::try_from(self.count).ok()?)
    }

    /// The value's bytes: inline, or at the offset in `data`.
    pub fn value_bytes<'a>(&'a self, data: &'a [u8], order: ByteOrder) -> Option<&'a [u8]> {
        let len = self.value_len()?;
        if len <= 4 {
            Some(&self.field[..len])
        } else {
            let at = usize::try_from(order.u32(&self.field, 0)?).ok()?;
            data.get(at..at.checked_add(len)?)
        }
    }

    /// The entry's 12 bytes as they were read.
    pub fn encode(&self, order: ByteOrder) -> [u8; 12] {
        let mut out = [0; 12];
        out[0..2].copy_from_slice(&order.u16_bytes(self.tag));
        out[2..4].copy_from_slice(&order.u16_bytes(self.field_type));
        out[4..8].copy_from_slice(&order.u32_bytes(self.count));
        out[8..12].copy_from_slice(&self.field);
        out
    }
}

/// One image file directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ifd {
    /// Where it starts.
    pub offset: u32,
    /// Its entries in file order.
    pub entries: Vec<Entry>,
    /// The offset of the next IFD in the chain (0 for none).
    pub next: u32,
}

impl Ifd {
    /// The first entry with this tag.
    pub fn get(&self, tag: u16) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }
}

/// A parsed TIFF block: the bytes and where its IFDs are.
#[derive(Debug, Clone)]
pub struct Tiff<'a> {
    /// The whole block, from the byte-order mark on.
    pub data: &'a [u8],
    /// Its byte order.
    pub order: ByteOrder,
    /// The first IFD (the main image).
    pub ifd0: Ifd,
}

/// Tags that point to sub-IFDs.
pub mod pointer {
    /// IFD0 → EXIF IFD.
    pub const EXIF_IFD: u16 = 0x8769;
    /// IFD0 → GPS IFD.
    pub const GPS_IFD: u16 = 0x8825;
    /// EXIF IFD → interoperability IFD.
    pub const INTEROP_IFD: u16 = 0xA005;
}

impl<'a> Tiff<'a> {
    /// Parses the header and IFD0.
    pub fn parse(data: &'a [u8]) -> Result<Tiff<'a>, TiffError> {
        let order = match data.get(0..2) {
            Some(b"II") => ByteOrder::Intel,
            Some(b"MM") => ByteOrder::Motorola,
            _ => return Err(TiffError::BadHeader),
        };
        if order.u16(data, 2) != Some(42) {
            return Err(TiffError::BadHeader);
        }
        let ifd0_offset = order.u32(data, 4).ok_or(TiffError::BadHeader)?;
        let ifd0 = parse_ifd(data, order, ifd0_offset, "IFD0")?;
        Ok(Tiff { data, order, ifd0 })
    }

    /// The IFD a pointer entry of `parent` leads to, if the entry exists.
    pub fn sub_ifd(
        &self,
        parent: &Ifd,
        tag: u16,
        name: &'static str,
    ) -> Result<Option<Ifd>, TiffError> {
        let Some(entry) = parent.get(tag) else {
            return Ok(None);
        };
        let offset = match (entry.field_type, entry.count) {
            (field_type::LONG | field_type::IFD, 1) => self.order.u32(&entry.field, 0),
            _ => None,
        };
        match offset {
            Some(offset) => parse_ifd(self.data, self.order, offset, name).map(Some),
            None => Err(TiffError::IfdOutOfBounds {
                ifd: name,
                offset: 0,
            }),
        }
    }

    /// The EXIF IFD, if IFD0 points to one.
    pub fn exif_ifd(&self) -> Result<Option<Ifd>, TiffError> {
        self.sub_ifd(&self.ifd0, pointer::EXIF_IFD, "EXIF IFD")
    }

    /// The GPS IFD, if IFD0 points to one.
    pub fn gps_ifd(&self) -> Result<Option<Ifd>, TiffError> {
        self.sub_ifd(&self.ifd0, pointer::GPS_IFD, "GPS IFD")
    }

    /// Decodes an entry's value.
    pub fn value(&self, entry: &Entry) -> Option<Value> {
        Value::decode(entry, self.data, self.order)
    }
}

/// Parses the IFD at `offset`.
pub fn parse_ifd(
    data: &[u8],
    order: ByteOrder,
    offset: u32,
    name: &'static str,
) -> Result<Ifd, TiffError> {
    let out_of_bounds = TiffError::IfdOutOfBounds { ifd: name, offset };
    let start = usize::try_from(offset).map_err(|_| out_of_bounds.clone())?;
    // An IFD cannot overlap the 8-byte header.
    if start < 8 {
        return Err(out_of_bounds);
    }
    let count = usize::from(
        order
            .u16(data, start)
            .ok_or_else(|| out_of_bounds.clone())?,
    );
    let entries_end = start + 2 + 12 * count;
    if entries_end > data.len() {
        return Err(out_of_bounds);
    }
    let entries = (0..count)
        .map(|i| {
            let at = start + 2 + 12 * i;
            let mut field = [0; 4];
            field.copy_from_slice(&data[at + 8..at + 12]);
            Entry {
                tag: order.u16(data, at).unwrap_or(0),
                field_type: order.u16(data, at + 2).unwrap_or(0),
                count: order.u32(data, at + 4).unwrap_or(0),
                field,
            }
        })
        .collect();
    // Some writers end the last IFD without the next-IFD link; read it as 0.
    let next = order.u32(data, entries_end).unwrap_or(0);
    Ok(Ifd {
        offset,
        entries,
        next,
    })
}

/// A typed TIFF value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// BYTE components.
    Byte(Vec<u8>),
    /// ASCII text without its terminating NUL.
    Ascii(Vec<u8>),
    /// SHORT components.
    Short(Vec<u16>),
    /// LONG components.
    Long(Vec<u32>),
    /// RATIONAL components (numerator, denominator).
    Rational(Vec<(u32, u32)>),
    /// UNDEFINED bytes.
    Undefined(Vec<u8>),
    /// SRATIONAL components.
    SRational(Vec<(i32, i32)>),
    /// Any other type, kept as raw bytes with its type.
    Other(u16, Vec<u8>),
}

impl Value {
    /// Text, for ASCII values: the bytes before the first NUL, with
    /// surrounding spaces removed. Bytes that are not UTF-8 are replaced.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Ascii(b) | Value::Undefined(b) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                Some(String::from_utf8_lossy(&b[..end]).trim().to_string())
            }
            _ => None,
        }
    }

    /// The first component of an integer value.
    pub fn first_uint(&self) -> Option<u32> {
        match self {
            Value::Byte(v) => v.first().map(|&x| u32::from(x)),
            Value::Short(v) => v.first().map(|&x| u32::from(x)),
            Value::Long(v) => v.first().copied(),
            _ => None,
        }
    }

    /// The components of a rational value as floats (none if a
    /// denominator is zero).
    pub fn rationals(&self) -> Option<Vec<f64>> {
        match self {
            Value::Rational(v) => v
                .iter()
                .map(|&(n, d)| (d != 0).then(|| f64::from(n) / f64::from(d)))
                .collect(),
            Value::SRational(v) => v
                .iter()
                .map(|&(n, d)| (d != 0).then(|| f64::from(n) / f64::from(d)))
                .collect(),
            _ => None,
        }
    }

    /// The TIFF field type of this value.
    pub fn field_type(&self) -> u16 {
        match self {
            Value::Byte(_) => field_type::BYTE,
            Value::Ascii(_) => field_type::ASCII,
            Value::Short(_) => field_type::SHORT,
            Value::Long(_) => field_type::LONG,
            Value::Rational(_) => field_type::RATIONAL,
            Value::Undefined(_) => field_type::UNDEFINED,
            Value::SRational(_) => field_type::SRATIONAL,
            Value::Other(t, _) => *t,
        }
    }

    /// The number of components, as the entry's count field states it.
    pub fn count(&self) -> usize {
        match self {
            Value::Byte(v) | Value::Undefined(v) => v.len(),
            // The terminating NUL is counted.
            Value::Ascii(v) => v.len() + 1,
            Value::Short(v) => v.len(),
            Value::Long(v) => v.len(),
            Value::Rational(v) => v.len(),
            Value::SRational(v) => v.len(),
            Value::Other(t, v) => v.len() / field_type::size(*t).unwrap_or(1).max(1),
        }
    }

    /// The value's bytes in `order`, as they go into the file.
    pub fn encode(&self, order: ByteOrder) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Value::Byte(v) | Value::Undefined(v) | Value::Other(_, v) => out.extend_from_slice(v),
            Value::Ascii(v) => {
                out.extend_from_slice(v);
                out.push(0);
            }
            Value::Short(v) => v.iter().for_each(|&x| out.extend(order.u16_bytes(x))),
            Value::Long(v) => v.iter().for_each(|&x| out.extend(order.u32_bytes(x))),
            Value::Rational(v) => v.iter().for_each(|&(n, d)| {
                out.extend(order.u32_bytes(n));
                out.extend(order.u32_bytes(d));
            }),
            Value::SRational(v) => v.iter().for_each(|&(n, d)| {
                out.extend(order.u32_bytes(n.cast_unsigned()));
                out.extend(order.u32_bytes(d.cast_unsigned()));
            }),
        }
        out
    }

    /// Decodes an entry's value from the block it was read from.
    pub fn decode(entry: &Entry, data: &[u8], order: ByteOrder) -> Option<Value> {
        let bytes = entry.value_bytes(data, order)?;
        let u16s = || {
            bytes
                .chunks_exact(2)
                .filter_map(|c| order.u16(c, 0))
                .collect()
        };
        let u32s = || -> Vec<u32> {
            bytes
                .chunks_exact(4)
                .filter_map(|c| order.u32(c, 0))
                .collect()
        };
        let pairs =
            |v: Vec<u32>| -> Vec<(u32, u32)> { v.chunks_exact(2).map(|p| (p[0], p[1])).collect() };
        Some(match entry.field_type {
            field_type::BYTE => Value::Byte(bytes.to_vec()),
            field_type::ASCII => {
                let mut v = bytes.to_vec();
                // Drop the terminator and anything after it.
                if let Some(nul) = v.iter().position(|&c| c == 0) {
                    v.truncate(nul);
                }
                Value::Ascii(v)
            }
            field_type::SHORT => Value::Short(u16s()),
            field_type::LONG | field_type::IFD => Value::Long(u32s()),
            field_type::RATIONAL => Value::Rational(pairs(u32s())),
            field_type::UNDEFINED => Value::Undefined(bytes.to_vec()),
            field_type::SRATIONAL => Value::SRational(
                pairs(u32s())
                    .into_iter()
                    .map(|(n, d)| (n.cast_signed(), d.cast_signed()))
                    .collect(),
            ),
            t => Value::Other(t, bytes.to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little TIFF block: IFD0 with Make ("Cam") and an EXIF pointer,
    /// EXIF IFD with one RATIONAL.
    fn block(order: ByteOrder) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend(order.marker());
        d.extend(order.u16_bytes(42));
        d.extend(order.u32_bytes(8));
        // IFD0 at 8: 2 entries.
        d.extend(order.u16_bytes(2));
        d.extend(order.u16_bytes(0x010F));
        d.extend(order.u16_bytes(field_type::ASCII));
        d.extend(order.u32_bytes(4));
        d.extend(b"Cam\0");
        d.extend(order.u16_bytes(pointer::EXIF_IFD));
        d.extend(order.u16_bytes(field_type::LONG));
        d.extend(order.u32_bytes(1));
        d.extend(order.u32_bytes(38));
        d.extend(order.u32_bytes(0));
        assert_eq!(d.len(), 38);
        // EXIF IFD at 38: 1 entry, value at 56.
        d.extend(order.u16_bytes(1));
        d.extend(order.u16_bytes(0x829A));
        d.extend(order.u16_bytes(field_type::RATIONAL));
        d.extend(order.u32_bytes(1));
        d.extend(order.u32_bytes(56));
        d.extend(order.u32_bytes(0));
        assert_eq!(d.len(), 56);
        d.extend(order.u32_bytes(1));
        d.extend(order.u32_bytes(250));
        d
    }

    #[test]
    fn parses_both_byte_orders() {
        for order in [ByteOrder::Intel, ByteOrder::Motorola] {
            let data = block(order);
            let tiff = Tiff::parse(&data).unwrap();
            assert_eq!(tiff.order, order);
            let make = tiff.ifd0.get(0x010F).unwrap();
            assert_eq!(tiff.value(make).unwrap().text().as_deref(), Some("Cam"));
            let exif = tiff.exif_ifd().unwrap().unwrap();
            let exposure = tiff.value(exif.get(0x829A).unwrap()).unwrap();
            assert_eq!(exposure, Value::Rational(vec![(1, 250)]));
            assert_eq!(exposure.rationals().unwrap(), vec![0.004]);
            assert_eq!(tiff.gps_ifd().unwrap(), None);
            // Entries encode back to their bytes.
            assert_eq!(make.encode(order), data[10..22]);
        }
    }

    #[test]
    fn values_round_trip() {
        for order in [ByteOrder::Intel, ByteOrder::Motorola] {
            for value in [
                Value::Byte(vec![2, 3, 0, 0]),
                Value::Ascii(b"2021:01:02 03:04:05".to_vec()),
                Value::Short(vec![1, 65535]),
                Value::Long(vec![7]),
                Value::Rational(vec![(1, 2), (3, 4), (5, 6)]),
                Value::SRational(vec![(-1, 3)]),
                Value::Undefined(b"0232".to_vec()),
            ] {
                let bytes = value.encode(order);
                let mut data = vec![0u8; 16];
                data.extend(&bytes);
                let entry = Entry {
                    tag: 1,
                    field_type: value.field_type(),
                    count: u32::try_from(value.count()).unwrap(),
                    field: if bytes.len() <= 4 {
                        let mut f = [0; 4];
                        f[..bytes.len()].copy_from_slice(&bytes);
                        f
                    } else {
                        order.u32_bytes(16)
                    },
                };
                assert_eq!(Value::decode(&entry, &data, order), Some(value));
            }
        }
    }

    #[test]
    fn corrupt_blocks_are_errors_not_panics() {
        let data = block(ByteOrder::Intel);
        assert_eq!(Tiff::parse(b"XX").unwrap_err(), TiffError::BadHeader);
        assert_eq!(Tiff::parse(&data[..6]).unwrap_err(), TiffError::BadHeader);
        // Every truncation parses or fails cleanly.
        for cut in 0..data.len() {
            if let Ok(t) = Tiff::parse(&data[..cut]) {
                let _ = t.exif_ifd();
                for e in &t.ifd0.entries {
                    let _ = t.value(e);
                }
            }
        }
        // An entry pointing past the end has no value.
        let mut bad = data.clone();
        bad[18..22].copy_from_slice(&4u32.to_le_bytes()); // Make count 4 → keep inline
        let t = Tiff::parse(&bad).unwrap();
        let mut e = *t.ifd0.get(0x010F).unwrap();
        e.count = 1000;
        assert_eq!(t.value(&e), None);
        // A huge entry count is out of bounds.
        let mut huge = data;
        huge[8..10].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(matches!(
            Tiff::parse(&huge),
            Err(TiffError::IfdOutOfBounds { .. })
        ));
    }
}
