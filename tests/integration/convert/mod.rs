//! `hapflow convert`, the one-shot conversion, through the real binary.

mod cli;
mod field_shapes;
mod golden;
mod memory_ceiling;
mod output_formats;
