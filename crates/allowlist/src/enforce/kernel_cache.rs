//! The kernel's cache of allowed files: ignore marks on an allowed file's inode, so its
//! later execs raise no event, dropped when the file is written (see the module docs of
//! [`super`]).

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::atomic::Ordering;

use nix::sys::fanotify::{MarkFlags, MaskFlags};

use super::decision::{FileId, Identity, Reader, links};

impl Reader {
    /// The ignore-mask bits of a remembered file: every permission event the marks ask for.
    fn ignored(&self) -> MaskFlags {
        if self.options.libraries {
            MaskFlags::FAN_OPEN_EXEC_PERM | MaskFlags::FAN_OPEN_PERM
        } else {
            MaskFlags::FAN_OPEN_EXEC_PERM
        }
    }

    /// Lets the kernel answer later opens of this allowed file itself (module docs).
    pub(super) fn remember(&self, fd: BorrowedFd<'_>, identity: &Identity) {
        if identity.nlink != 1 {
            return; // Each of its paths must be judged on its own.
        }
        let evictable = MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_EVICTABLE;
        // The FAN_CLOSE_WRITE mark first: from the moment the ignore mask exists, a write
        // through a mapping must reach us.
        if self
            .group
            .mark(evictable, MaskFlags::FAN_CLOSE_WRITE, fd, None::<&Path>)
            .is_err()
        {
            return;
        }
        if self
            .group
            .mark(
                evictable | MarkFlags::FAN_MARK_IGNORED_MASK,
                self.ignored(),
                fd,
                None::<&Path>,
            )
            .is_err()
        {
            self.unmark(fd);
            return;
        }
        // A write between the decision and the mark raised its FS_MODIFY before the mark
        // existed; its new mtime/ctime shows here.
        let unchanged = nix::sys::stat::fstat(fd)
            .is_ok_and(|st| FileId::of(&st) == identity.key && links(&st) == 1);
        if unchanged {
            self.stats.kernel_cached.fetch_add(1, Ordering::Relaxed);
        } else {
            self.unmark(fd);
        }
    }

    /// A remembered file was written: the kernel must ask again.
    pub(super) fn forget(&self, fd: BorrowedFd<'_>) {
        self.unmark(fd);
        self.stats.kernel_forgotten.fetch_add(1, Ordering::Relaxed);
    }

    fn unmark(&self, fd: BorrowedFd<'_>) {
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_REMOVE | MarkFlags::FAN_MARK_IGNORED_MASK,
            self.ignored(),
            fd,
            None::<&Path>,
        );
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_REMOVE,
            MaskFlags::FAN_CLOSE_WRITE,
            fd,
            None::<&Path>,
        );
    }
}
