//! `hapflow generate`, the example-matrix maker: its usage errors.

use crate::helper::{hapflow, run};

/// `generate` needs two haplotype columns at least (its variant rows pick carriers among
/// half of them): fewer is a usage error, exit 2, and no output file is made.
#[test]
fn generate_refuses_fewer_than_two_haplotypes() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["0", "1"] {
        let out = dir.path().join(format!("g{n}.txt"));
        let o = run(
            hapflow()
                .args(["generate", "--rows", "10", "--haplotypes", n, "-o"])
                .arg(&out),
            None,
        );
        assert_eq!(o.code, Some(2), "{}", o.stderr);
        assert!(o.stderr.contains("--haplotypes"), "{}", o.stderr);
        assert!(!out.exists());
    }
    let out = dir.path().join("g2.txt");
    let o = run(
        hapflow()
            .args(["generate", "--rows", "10", "--haplotypes", "2", "-o"])
            .arg(&out),
        None,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 10);
}
