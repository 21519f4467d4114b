//! What the operating system can tell us about this process.

/// Makes glibc's allocator return large freed buffers to the system at once.
///
/// By default glibc raises its mmap threshold to the size of any large block that is freed
/// (up to 32 MiB), after which blocks of that size come from heaps it keeps after `free`:
/// RSS would then hold freed chunk buffers. A fixed threshold keeps every large buffer an
/// mmap of its own, unmapped when freed, and two arenas bound the per-thread heaps.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Peak resident memory of this process (`VmHWM`), in bytes, where `/proc` has it.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kib(&status, "VmHWM:").map(|k| k * 1024)
}

/// The figure of `key` (such as `"VmHWM:"`) in the text of `/proc/<pid>/status`, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both figures from one read of /proc: read apart, RSS may grow past the peak read first.
    #[test]
    fn peak_is_at_least_current() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let peak = status_kib(&status, "VmHWM:").unwrap();
        let now = status_kib(&status, "VmRSS:").unwrap();
        assert!(peak >= now && now > 0);
        assert!(peak_rss().unwrap() >= peak * 1024);
    }
}
