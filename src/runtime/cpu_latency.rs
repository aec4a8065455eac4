//! Keeping idle CPUs awake while the engine runs (`cpu_latency_limit_us`, the Linux "CPU
//! latency QoS", `/dev/cpu_dma_latency`, kernel `Documentation/power/pm_qos_interface.rst`).
//!
//! An idle CPU is put to sleep by the kernel's cpuidle governor, and the deeper the sleep the
//! longer it takes to wake. In a virtual machine it is worse: the idle vCPU *halts*, the host
//! takes it off its physical CPU, and the packet that should wake the engine thread has to
//! go through the host's scheduler first. On the 2-core Firecracker VM this project is
//! measured on (cpuidle driver `haltpoll` with `guest_halt_poll_ns = 0`), those wake-ups were
//! most of the engine's latency tail at 1,000 calls/s: p99 6–7 ms idle against 1.0–1.7 ms
//! with the limit held at 0 in the same minutes (BENCHMARKS.md "Idle CPUs: the CPU latency
//! QoS").
//!
//! [`CpuLatencyLimit::hold`] opens `/dev/cpu_dma_latency` and writes the limit; the kernel
//! keeps every CPU out of idle states whose exit latency exceeds it for as long as the file
//! stays open, and drops the request when it is closed (also when the process dies). A limit
//! of 0 leaves only the polling idle loop, which wakes in well under a microsecond. This is
//! the same request `cyclictest` and tuned's `latency-performance` profile make. Its price:
//! an idle CPU spins instead of sleeping, so the machine draws more power and, in a VM, the
//! host sees the vCPUs as busy. The request is machine-wide (all CPUs), not per thread.

use std::fs::File;
use std::io::{self, Write};

/// The kernel's CPU latency QoS device (`misc` minor `cpu_dma_latency`).
pub const CPU_DMA_LATENCY: &str = "/dev/cpu_dma_latency";

/// Highest limit the configuration accepts, µs (1 s): beyond it no idle state is excluded
/// on any machine this runs on, so a larger value is a mistake, not a setting.
pub const MAX_CPU_LATENCY_LIMIT_US: u32 = 1_000_000;

/// A held CPU latency QoS request; the request ends when this is dropped.
#[derive(Debug)]
pub struct CpuLatencyLimit {
    /// The open device: closing it withdraws the request.
    _device: File,
    /// The requested limit, µs.
    limit_us: u32,
}

impl CpuLatencyLimit {
    /// Asks the kernel to keep every CPU out of idle states that take longer than `limit_us`
    /// µs to leave, until the returned value is dropped. The value is written as a native
    /// `s32`, as the kernel interface specifies.
    ///
    /// # Errors
    /// - `InvalidInput` for a limit above [`MAX_CPU_LATENCY_LIMIT_US`];
    /// - `NotFound` when the kernel has no `/dev/cpu_dma_latency` (a container without it,
    ///   or a kernel without `CONFIG_CPU_IDLE`), `PermissionDenied` when not run as root
    ///   (the device is mode 0600); other errors from `open(2)` / `write(2)` as they come.
    pub fn hold(limit_us: u32) -> io::Result<CpuLatencyLimit> {
        if limit_us > MAX_CPU_LATENCY_LIMIT_US {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("CPU latency limit {limit_us} µs above {MAX_CPU_LATENCY_LIMIT_US} µs"),
            ));
        }
        let mut device = File::options().write(true).open(CPU_DMA_LATENCY)?;
        // MAX_CPU_LATENCY_LIMIT_US fits an i32, so the conversion cannot fail.
        let value = i32::try_from(limit_us).unwrap_or(i32::MAX);
        device.write_all(&value.to_ne_bytes())?;
        Ok(CpuLatencyLimit {
            _device: device,
            limit_us,
        })
    }

    /// The limit this request holds, µs.
    pub fn limit_us(&self) -> u32 {
        self.limit_us
    }
}

/// The machine-wide CPU latency limit now in force (the smallest of all held requests), µs;
/// `2_000_000_000` when no process holds one. Reading registers no request of its own that
/// outlives the call.
///
/// # Errors
/// As for [`CpuLatencyLimit::hold`] (`NotFound`, `PermissionDenied`), or `InvalidData` when
/// the kernel does not return 4 bytes.
pub fn current_limit_us() -> io::Result<i64> {
    use std::io::Read;
    let mut device = File::open(CPU_DMA_LATENCY)?;
    let mut raw = [0u8; 4];
    device.read_exact(&mut raw).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{CPU_DMA_LATENCY}: {e}"),
        )
    })?;
    Ok(i64::from(i32::from_ne_bytes(raw)))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_held_limit_is_in_force_until_dropped() {
        let outer = CpuLatencyLimit::hold(3).expect(
            "/dev/cpu_dma_latency refused: the test needs root and a kernel with CPU idle \
             (CI runs as root on such a VM)",
        );
        assert_eq!(outer.limit_us(), 3);
        let inner = CpuLatencyLimit::hold(1).expect("second request");
        let both = current_limit_us().expect("read /dev/cpu_dma_latency");
        // The strictest request wins; another process may hold a stricter one (0), never a
        // looser one while ours is held.
        assert!(both <= 1, "limit in force {both} µs while 1 µs is held");
        drop(inner);
        let outer_only = current_limit_us().expect("read /dev/cpu_dma_latency");
        assert!(
            outer_only == 3 || outer_only == 0,
            "after dropping the 1 µs request the 3 µs one (or another process's 0) must be \
             in force, found {outer_only}"
        );
        drop(outer);
    }

    #[test]
    fn limits_above_one_second_are_refused_before_the_kernel_is_asked() {
        let e = CpuLatencyLimit::hold(MAX_CPU_LATENCY_LIMIT_US + 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
