//! Idle I/O and lowest CPU priority for the scanning threads.
//!
//! On Linux both priorities belong to the thread that sets them and are inherited by
//! threads it creates afterwards, so the scanner sets them at the start of each worker
//! thread it spawns, and the caller's thread keeps its own. This module holds the crate's
//! only `unsafe`: `ioprio_set` has no wrapper in libc or rustix.

/// `IOPRIO_WHO_PROCESS`: `who` is a thread id, 0 the calling thread.
const IOPRIO_WHO_PROCESS: libc::c_long = 1;
/// `IOPRIO_CLASS_IDLE`: the disk serves this thread only when nobody else wants it.
const IOPRIO_CLASS_IDLE: libc::c_long = 3;
/// The class sits above these bits of the priority value.
const IOPRIO_CLASS_SHIFT: libc::c_long = 13;
/// The nicest CPU priority.
pub const LOWEST_NICE: i32 = 19;

/// What lowering the priority achieved; a failure is reported, not fatal (a container may
/// forbid it, and scanning at normal priority is still better than not scanning).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PriorityOutcome {
    /// Why the I/O priority could not be set, if it could not.
    pub io_error: Option<String>,
    /// Why the CPU priority could not be set, if it could not.
    pub cpu_error: Option<String>,
}

/// Puts the calling thread in the idle I/O class and at nice 19.
pub fn yield_to_clinical_work() -> PriorityOutcome {
    let io_error = set_idle_io().err().map(|e| e.to_string());
    let cpu_error = rustix::process::setpriority_process(None, LOWEST_NICE)
        .err()
        .map(|e| std::io::Error::from(e).to_string());
    PriorityOutcome {
        io_error,
        cpu_error,
    }
}

fn set_idle_io() -> std::io::Result<()> {
    let value = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT;
    #[allow(unsafe_code)]
    // SAFETY: ioprio_set takes three integers and no pointer; it cannot touch this
    // process's memory. Its only effect is the calling thread's I/O priority.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            value,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_class_of_this_thread() -> libc::c_long {
        #[allow(unsafe_code)]
        // SAFETY: ioprio_get takes two integers and no pointer.
        let r =
            unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0 as libc::c_long) };
        assert!(r >= 0, "{}", std::io::Error::last_os_error());
        r >> IOPRIO_CLASS_SHIFT
    }

    #[test]
    fn a_worker_thread_goes_idle_and_nice_and_the_caller_does_not() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let (outcome, class, nice) = std::thread::spawn(|| {
            let o = yield_to_clinical_work();
            (
                o,
                io_class_of_this_thread(),
                rustix::process::getpriority_process(None).unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(outcome, PriorityOutcome::default());
        assert_eq!(class, IOPRIO_CLASS_IDLE);
        assert_eq!(nice, LOWEST_NICE);
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}
