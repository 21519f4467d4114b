//! `hapflow convert`, the one-shot conversion, through the real binary: input and output
//! forms, bad input, exit codes, the field's matrix shapes, golden outputs, output formats,
//! many contigs, the memory ceiling. Below: what several of these files share.

mod bad_input;
mod exit_codes_and_summary;
mod field_shapes;
mod golden;
mod input_output_forms;
mod many_contigs;
mod memory_ceiling;
pub(crate) mod output_formats;

use crate::helper::{data, hapflow, run, Outcome};
use std::path::{Path, PathBuf};

pub(super) fn convert(args: &[&str], stdin: Option<&Path>) -> Outcome {
    run(hapflow().arg("convert").args(args), stdin)
}

pub(super) fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Files in `dir`, hidden temporary ones included.
pub(super) fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub(super) fn golden(case: &str) -> PathBuf {
    data(&format!("golden/{case}/input.txt"))
}
