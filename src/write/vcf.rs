//! The VCF header (VCF 4.2, section 1.4). It lists every contig, which a stream names
//! only as it goes: it is written first when the contigs can be guessed before the
//! conversion ([`crate::read::bisect`]) and the guess proves right; otherwise the records
//! are spooled first and the header is put before them when the output is finished.

use crate::convert::vcf::valid_contig_id;
use crate::read::fai::FastaIndex;

/// The header for `samples` (the pairs' names) and `contigs` (the contigs seen, in
/// first-appearance order, or those guessed before the conversion); with `fai` (a FASTA index), each contig line carries its length, and a contig
/// the index does not list is an error. The conversion refuses such contigs at their first
/// line already; these checks stay as the last word. The error is a sentence for a
/// bad-input message.
pub fn header<'a>(
    samples: &[String],
    contigs: impl IntoIterator<Item = &'a [u8]>,
    fai: Option<&FastaIndex>,
) -> Result<Vec<u8>, String> {
    let mut h = String::from("##fileformat=VCFv4.2\n");
    h.push_str(concat!(
        "##source=hapflow ",
        env!("CARGO_PKG_VERSION"),
        "\n"
    ));
    for contig in contigs {
        let name = String::from_utf8_lossy(contig);
        if !valid_contig_id(contig) {
            return Err(format!(
                "contig {name:?} cannot be a VCF contig ID (VCF 4.2 allows no whitespace, commas, angle brackets or '=' in one)"
            ));
        }
        match fai {
            Some(fai) => match fai.length(contig) {
                Some(len) => h.push_str(&format!("##contig=<ID={name},length={len}>\n")),
                None => {
                    return Err(format!(
                        "contig {name:?} is not in the FASTA index given with --fai"
                    ))
                }
            },
            None => h.push_str(&format!("##contig=<ID={name}>\n")),
        }
    }
    h.push_str("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Phased genotype: the pair's two haplotype alleles, first|second\">\n");
    h.push_str("##FORMAT=<ID=PS,Number=1,Type=Integer,Description=\"Phase set: the matrix phases each contig as one block, named 1\">\n");
    h.push_str("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
    for s in samples {
        h.push('\t');
        h.push_str(s);
    }
    h.push('\n');
    Ok(h.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;
    use crate::write::ContigTable;

    #[test]
    fn the_header_lists_contigs_formats_and_samples() {
        let b = Budget::new(1 << 20);
        let mut t = ContigTable::new(b.reserve(4096, "t").unwrap());
        t.observe(b"chr2", 1).unwrap();
        t.observe(b"chr1", 1).unwrap();
        let h = String::from_utf8(header(&["s1".into(), "s2".into()], t.names(), None).unwrap())
            .unwrap();
        assert!(h.starts_with("##fileformat=VCFv4.2\n##source=hapflow "));
        assert!(h.contains("##contig=<ID=chr2>\n##contig=<ID=chr1>\n"));
        assert!(h.ends_with("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\n"));
        let dir = tempfile::tempdir().unwrap();
        let fai = dir.path().join("r.fa.fai");
        std::fs::write(&fai, "chr1\t100\t6\t60\t61\nchr2\t50\t200\t60\t61\n").unwrap();
        let index = FastaIndex::read(&fai, &crate::budget::Budget::new(1 << 20)).unwrap();
        let h = String::from_utf8(header(&[], t.names(), Some(&index)).unwrap()).unwrap();
        assert!(h.contains("##contig=<ID=chr2,length=50>\n##contig=<ID=chr1,length=100>\n"));
        std::fs::write(&fai, "chr1\t100\t6\t60\t61\n").unwrap();
        let index = FastaIndex::read(&fai, &crate::budget::Budget::new(1 << 20)).unwrap();
        assert!(header(&[], t.names(), Some(&index))
            .unwrap_err()
            .contains("\"chr2\" is not in the FASTA index"));
    }

    #[test]
    fn contig_ids_follow_the_vcf_grammar() {
        assert!(
            valid_contig_id(b"chr1")
                && valid_contig_id(b"HLA-A*01:01")
                && valid_contig_id(b"scaffold_1|x")
        );
        assert!(
            !valid_contig_id(b"a b")
                && !valid_contig_id(b"a,b")
                && !valid_contig_id(b"*x")
                && !valid_contig_id(b"<x>")
        );
    }
}
