//! The library in-process (`cargo test --test props`): the pipeline and the VCF writer
//! against simple models, resuming from a checkpoint, and fuzzing, all with proptest.
//! Failing cases proptest has found are kept in `tests/proptest-regressions/<file>.txt`
//! (proptest's default place for a test binary whose root is `main.rs`) and re-run first.
//!
//! A binary of its own, apart from `tests/integration`: these tests hold matrices and
//! buffers in the test process, and there they would be copied into every child the
//! integration tests fork, whose peak RSS is measured from outside.

mod fuzz;
mod pipeline_vs_model;
mod resume_from_checkpoint;
mod vcf_vs_model;
