//! Scaffold-level assemblies through `hapflow convert`: 100,000 contigs fit the default
//! memory limit, or a clear error when the limit is too small for their names.

use super::{convert, path};
use crate::helper::{hapflow, run};

/// Scaffold-level assemblies: 100,000 contigs work under the default limit; a limit too
/// small for their names is a clear error, not growth past the ceiling. (The input is large
/// enough that every chunk buffer is still in use when the names overflow: once the reader
/// is done, returned buffers give their bytes back to the budget.)
#[test]
fn many_contigs_fit_the_default_limit_or_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.txt");
    let o = run(
        hapflow().args([
            "generate",
            "--rows",
            "200000",
            "--contigs",
            "100000",
            "--interleave",
            "1",
            "--prefix",
            "scaffold_",
            "-o",
            path(&m),
        ]),
        None,
    );
    assert_eq!(o.code, Some(0));
    let o = convert(&[path(&m), "-o", "/dev/null"], None);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr.contains(" 100000 contigs (regrouped),"),
        "{}",
        o.stderr
    );
    let o = convert(
        &["-q", "--memory-limit", "24MiB", path(&m), "-o", "/dev/null"],
        None,
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("too many contigs"), "{}", o.stderr);
    assert!(o.stderr.contains(": line "), "{}", o.stderr);
    assert!(o.max_rss <= 24 << 20, "{}", o.max_rss);
}
