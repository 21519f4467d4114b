//! The allele model (README, "Allele options"): which single characters mean "no
//! call", and whether alleles are upper-cased first. The defaults give the reference
//! script's conversion exactly.

/// How alleles are read. Build it with [`Alleles::new`]; [`Alleles::default`] is `N` as the
/// only missing character, case kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alleles {
    /// `missing[b]` is true when the one-byte allele `b` means "no call".
    missing: [bool; 256],
    uppercase: bool,
}

impl Default for Alleles {
    fn default() -> Self {
        Alleles::DEFAULT
    }
}

impl Alleles {
    /// `missing`: the bytes that mean "no call" (each an ASCII character); `uppercase`:
    /// upper-case REF and every allele before anything else.
    pub const fn new(missing: &[u8], uppercase: bool) -> Alleles {
        let mut table = [false; 256];
        let mut i = 0;
        while i < missing.len() {
            table[missing[i] as usize] = true;
            i += 1;
        }
        Alleles {
            missing: table,
            uppercase,
        }
    }

    /// `N` as the only missing character, case kept: the reference's conversion.
    pub const DEFAULT: Alleles = Alleles::new(b"N", false);

    /// True for the defaults, the only options the fast paths handle.
    pub fn is_default(&self) -> bool {
        *self == Alleles::default()
    }

    /// True if `b`, as a one-character allele, means "no call" (and, inside an allele, is
    /// replaced by REF in `_PG_al`).
    #[inline(always)]
    pub fn is_missing(&self, b: u8) -> bool {
        self.missing[b as usize]
    }

    pub fn uppercase(&self) -> bool {
        self.uppercase
    }

    /// The missing characters, for messages and records.
    pub fn missing_chars(&self) -> Vec<u8> {
        (0..=255u8).filter(|&b| self.is_missing(b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_n_and_case_kept() {
        let a = Alleles::default();
        assert!(a.is_default() && a.is_missing(b'N') && !a.is_missing(b'.'));
        assert!(!a.uppercase());
        let dot = Alleles::new(b"N.", false);
        assert!(!dot.is_default() && dot.is_missing(b'.'));
        assert_eq!(dot.missing_chars(), b".N");
    }
}
