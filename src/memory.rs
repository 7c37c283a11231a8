//! Keeping the resident set flat on long runs.
//!
//! Extraction allocates and frees large, differently sized tensors for every batch (libtorch
//! goes through the C allocator). With glibc's defaults a long run fragments the heap: the
//! dynamic mmap threshold climbs until batch tensors land in the arenas, each thread gets an
//! arena of its own, and freed pages are not returned, so the peak resident set creeps up with
//! the number of documents. [`tune_allocator`] fixes the mmap threshold and caps the arenas
//! at two, and [`release_free_memory`] hands freed heap pages back after each chunk.
//!
//! Only glibc on Linux is tuned; elsewhere both functions do nothing. Settings made in the
//! environment (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`) win, and
//! `BIOTABLE_ALLOCATOR=default` leaves the allocator as it is (to compare).

/// Blocks at least this large are mapped and unmapped directly. glibc's dynamic threshold
/// climbs to this value anyway; fixing it stops the climb. Lower values (1 MiB) keep the
/// resident set lowest but cost ~25 % in speed (every batch tensor is freshly mapped).
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// At most this many malloc arenas.
pub const ARENA_MAX: usize = 2;

fn enabled() -> bool {
    std::env::var("BIOTABLE_ALLOCATOR").map_or(true, |v| v != "default")
}

/// Tune the C allocator for a long run. Call once, before threads start.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if enabled() {
        let unset = |name: &str| std::env::var_os(name).is_none();
        // SAFETY: mallopt only changes allocator parameters; it is called before any thread
        // of ours allocates concurrently.
        unsafe {
            if unset("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
            }
            if unset("MALLOC_ARENA_MAX") {
                libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX as libc::c_int);
            }
        }
    }
}

/// Return freed heap memory to the operating system (after a chunk of documents).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if enabled() {
        // SAFETY: malloc_trim is thread-safe and only releases free pages.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// The process's resident set, now and at its peak so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resident {
    pub current_bytes: u64,
    pub peak_bytes: u64,
}

/// Read the resident set from `/proc/self/status` (Linux; `None` elsewhere or if unreadable).
pub fn resident() -> Option<Resident> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status(&status)
}

fn parse_status(status: &str) -> Option<Resident> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some(Resident {
        current_bytes: field("VmRSS:")?,
        peak_bytes: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_resident_set_from_proc_status() {
        let status = "Name:\tbiotable\nVmPeak:\t  900 kB\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(
            super::parse_status(status),
            Some(super::Resident {
                current_bytes: 1 << 20,
                peak_bytes: 2 << 20
            })
        );
        assert_eq!(super::parse_status("VmRSS: lots\n"), None);
        #[cfg(target_os = "linux")]
        {
            let r = super::resident().expect("/proc/self/status is readable on Linux");
            assert!(r.current_bytes > 0 && r.peak_bytes >= r.current_bytes);
        }
    }

    #[test]
    fn tuning_and_trimming_leave_allocation_working() {
        super::tune_allocator();
        let v: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 16]).collect();
        drop(v);
        super::release_free_memory();
        let big = vec![7u8; 4 << 20];
        assert_eq!(
            big.iter().map(|&b| b as usize).sum::<usize>(),
            7 * (4 << 20)
        );
    }
}
