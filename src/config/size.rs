//! Byte sizes as people write them: `256MiB`, `32M`, `1.5GiB`, `4096`. Units are binary
//! (`K` = `KiB` = 1024 bytes, `M` = `MiB`, `G` = `GiB`), for the memory limit and for
//! `generate --size`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A number of bytes, parsed from a size string or a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ByteSize, String> {
        parse_size(s).map(ByteSize)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_size(self.0))
    }
}

/// Parses `<number>[unit]`, unit one of `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (case-insensitive),
/// to bytes; a fraction is rounded to the nearest byte (`1.5K` is 1536).
///
/// # Errors
///
/// The message (`invalid size "...": ...`) for an unknown unit, a missing or malformed
/// number, or a size beyond `u64`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "invalid size {s:?}: the unit must be one of B, KiB, MiB, GiB (or K, M, G)"
            ))
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected a number followed by a unit"))?;
    let bytes = value * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("invalid size {s:?}: out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Formats bytes with the largest binary unit that fits, a whole number or one decimal
/// (`32MiB`, `1.5KiB`, `12B`): how messages and the summary line give sizes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, scale) in UNITS {
        if bytes >= scale {
            let v = bytes as f64 / scale as f64;
            return if bytes.is_multiple_of(scale) {
                format!("{}{name}", bytes / scale)
            } else {
                format!("{v:.1}{name}")
            };
        }
    }
    format!("{bytes}B")
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"256MiB\" or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A size string that reads back as the same number of bytes: `format_size`'s
/// (`"256MiB"`) when it is exact, else the bytes (`"1537B"`, where `format_size` says
/// `"1.5KiB"`).
impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = format_size(self.0);
        if parse_size(&text) == Ok(self.0) {
            s.serialize_str(&text)
        } else {
            s.serialize_str(&format!("{}B", self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_serialize_to_strings_that_read_back_exactly() {
        for bytes in [0, 12, 1536, 1537, 64 << 20, (64 << 20) + 1, 3 << 30] {
            let text = serde_json::to_value(ByteSize(bytes)).unwrap();
            let back: ByteSize = serde_json::from_value(text.clone()).unwrap();
            assert_eq!(back, ByteSize(bytes), "{text}");
        }
        assert_eq!(serde_json::to_value(ByteSize(64 << 20)).unwrap(), "64MiB");
        assert_eq!(serde_json::to_value(ByteSize(1537)).unwrap(), "1537B");
    }

    #[test]
    fn binary_units_with_and_without_i() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_size("64kib"), Ok(64 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn formats_round_and_fractional_sizes() {
        assert_eq!(format_size(32 << 20), "32MiB");
        assert_eq!(format_size(1536), "1.5KiB");
        assert_eq!(format_size(12), "12B");
    }
}
