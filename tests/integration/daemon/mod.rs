//! `hapflow serve`, a real daemon on real directories: files in, outputs out, crashes,
//! signals, full disks, metrics and the systemd unit.

mod field_shapes;
mod metrics_textfile;
mod reliability;
mod serve;
mod systemd_unit;
