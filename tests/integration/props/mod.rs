//! The library in-process: the pipeline and the VCF writer against simple models, resuming
//! from a checkpoint, and fuzzing, all with proptest. Failing cases proptest has found are
//! kept in `tests/proptest-regressions/props/<file>.txt` (proptest's default place for a test
//! binary whose root is `main.rs`) and re-run first.

mod fuzz;
mod pipeline_vs_model;
mod resume_from_checkpoint;
mod vcf_vs_model;
