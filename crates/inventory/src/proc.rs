//! Evidence of use from `/proc`: running executables, mapped files and listening sockets.
//!
//! Reads `/proc/PID/{exe,comm,maps,fd/*}` and `/proc/net/{tcp,tcp6,udp,udp6}` (or the same
//! under `ROOT/proc` for an image or a test fixture). A process that exits while we look, or
//! a kernel thread (no `exe`), is skipped silently; one we may not read gives a warning.
//! Nothing here is fatal: evidence is best effort, never a reason to fail the inventory.
//!
//! Sockets of other network namespaces (containers) are not visible in `/proc/net`.

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::fsutil::read_bounded;
use crate::model::{ListeningSocket, Protocol, Warning};

/// A running process as `/proc` shows it.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// The pid.
    pub pid: u32,
    /// The executable (`/proc/PID/exe`), with a ` (deleted)` suffix removed.
    pub exe: PathBuf,
    /// `/proc/PID/comm`.
    pub comm: Option<String>,
    /// Whether the executable was deleted or replaced since the process started (an upgrade
    /// happened but the old code still runs).
    pub exe_deleted: bool,
}

/// What one look at `/proc` found.
#[derive(Debug, Default)]
pub struct ProcScan {
    /// Processes with a readable executable.
    pub processes: Vec<ProcessInfo>,
    /// Distinct files mapped by any process (absolute device paths).
    pub mapped: HashSet<Vec<u8>>,
    /// Listening sockets, with owner where found.
    pub listening: Vec<ListeningSocket>,
}

/// The `/proc` to read for `root`: `/proc` for `/`, else `ROOT/proc` when it exists.
#[must_use]
pub fn proc_dir(root: &Path) -> Option<PathBuf> {
    if root == Path::new("/") {
        return Some(PathBuf::from("/proc"));
    }
    let p = root.join("proc");
    p.join("net").is_dir().then_some(p).or_else(|| {
        // A fixture may have processes and no sockets.
        let p = root.join("proc");
        p.is_dir().then_some(p)
    })
}

/// Scans `proc`. `with_maps`: also read every process's mapped files (the costly part).
#[must_use]
pub fn scan(proc: &Path, with_maps: bool, warnings: &mut Vec<Warning>) -> ProcScan {
    let mut out = ProcScan::default();
    let mut inodes: HashMap<u64, usize> = HashMap::new();
    for (file, protocol) in [
        ("tcp", Protocol::Tcp),
        ("tcp6", Protocol::Tcp),
        ("udp", Protocol::Udp),
        ("udp6", Protocol::Udp),
    ] {
        let path = proc.join("net").join(file);
        let Some(bytes) = read_bounded(&path, 64 << 20, true, warnings) else {
            continue;
        };
        for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate().skip(1) {
            match parse_socket_line(line, protocol) {
                Some(Some((socket, inode))) => {
                    if inode != 0 {
                        inodes.insert(inode, out.listening.len());
                    }
                    out.listening.push(socket);
                }
                Some(None) => {}
                None => warnings.push(Warning::new(&path, Some(i + 1), "unreadable socket line")),
            }
        }
    }
    let Ok(dir) = std::fs::read_dir(proc) else {
        warnings.push(Warning::new(proc, None, "cannot list processes"));
        return out;
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let base = proc.join(pid.to_string());
        let exe = match std::fs::read_link(base.join("exe")) {
            Ok(e) => Some(e),
            // Kernel threads have no executable; a process may exit while we look.
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                warnings.push(Warning::new(
                    base.join("exe"),
                    None,
                    format!("skipped: {e}"),
                ));
                None
            }
        };
        let Some(exe) = exe else { continue };
        let (exe, exe_deleted) = strip_deleted(exe.as_os_str().as_encoded_bytes());
        let exe = PathBuf::from(String::from_utf8_lossy(&exe).into_owned());
        let comm = std::fs::read_to_string(base.join("comm"))
            .ok()
            .map(|c| c.trim_end().to_owned());
        if !inodes.is_empty() {
            socket_owners(&base, pid, &exe, &inodes, &mut out.listening, warnings);
        }
        if with_maps {
            let maps = base.join("maps");
            if let Some(bytes) = read_bounded(&maps, 64 << 20, true, warnings) {
                for path in mapped_paths(&bytes) {
                    if !out.mapped.contains(path.as_slice()) {
                        out.mapped.insert(path);
                    }
                }
            }
        }
        out.processes.push(ProcessInfo {
            pid,
            exe,
            comm,
            exe_deleted,
        });
    }
    out
}

fn socket_owners(
    base: &Path,
    pid: u32,
    exe: &Path,
    inodes: &HashMap<u64, usize>,
    listening: &mut [ListeningSocket],
    warnings: &mut Vec<Warning>,
) {
    let fd_dir = base.join("fd");
    let entries = match std::fs::read_dir(&fd_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => {
            warnings.push(Warning::new(&fd_dir, None, format!("skipped: {e}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let t = target.as_os_str().as_encoded_bytes();
        let Some(inode) = t
            .strip_prefix(b"socket:[")
            .and_then(|r| r.strip_suffix(b"]"))
            .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok())
        else {
            continue;
        };
        if let Some(socket) = inodes.get(&inode).and_then(|&i| listening.get_mut(i)) {
            // A socket shared by a parent and its workers: the first (lowest) pid keeps it.
            if socket.pid.is_none() {
                socket.pid = Some(pid);
                socket.process = Some(exe.to_path_buf());
            }
        }
    }
}

fn strip_deleted(b: &[u8]) -> (Vec<u8>, bool) {
    match b.strip_suffix(b" (deleted)") {
        Some(p) => (p.to_vec(), true),
        None => (b.to_vec(), false),
    }
}

/// The file paths of a `/proc/PID/maps` text.
#[must_use]
pub fn mapped_paths(maps: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in maps.split(|&b| b == b'\n') {
        // address perms offset dev inode pathname; the pathname may contain spaces.
        let mut rest = line;
        for _ in 0..5 {
            let trimmed = trim_start(rest);
            let end = trimmed
                .iter()
                .position(|b| *b == b' ' || *b == b'\t')
                .unwrap_or(trimmed.len());
            rest = trimmed.get(end..).unwrap_or_default();
        }
        let path = trim_start(rest);
        if path.first() == Some(&b'/') {
            let (p, _) = strip_deleted(path);
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    b.get(n..).unwrap_or_default()
}

/// Parses one line of `/proc/net/{tcp,udp}[6]`. `Some(None)`: a socket that does not
/// listen; `None`: an unreadable line.
fn parse_socket_line(line: &str, protocol: Protocol) -> Option<Option<(ListeningSocket, u64)>> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = fields.get(1)?;
    let remote = fields.get(2)?;
    let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
    let inode: u64 = fields.get(9)?.parse().ok()?;
    let (address, port) = parse_endpoint(local)?;
    let (_, remote_port) = parse_endpoint(remote)?;
    let listens = match protocol {
        // TCP_LISTEN
        Protocol::Tcp => state == 0x0A,
        // An unconnected bound UDP socket (TCP_CLOSE, no peer) receives from anyone.
        Protocol::Udp => state == 0x07 && remote_port == 0,
    };
    if !listens {
        return Some(None);
    }
    Some(Some((
        ListeningSocket {
            protocol,
            address,
            port,
            pid: None,
            process: None,
        },
        inode,
    )))
}

/// `0100007F:0016` → 127.0.0.1:22. The kernel prints each 32-bit word of the address in
/// host byte order.
fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for (i, chunk) in b.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_lines() {
        let l = "   0: 00000000:0068 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0";
        let (s, inode) = parse_socket_line(l, Protocol::Tcp).unwrap().unwrap();
        assert_eq!(s.endpoint(), "tcp/0.0.0.0:104");
        assert_eq!(inode, 4242);
        let l6 = "   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0";
        let (s, _) = parse_socket_line(l6, Protocol::Tcp).unwrap().unwrap();
        assert_eq!(s.endpoint(), "tcp/[::1]:22");
        let est = "   2: 0100007F:0016 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 78 1";
        assert_eq!(parse_socket_line(est, Protocol::Tcp), Some(None));
        assert_eq!(parse_socket_line("garbage", Protocol::Tcp), None);
    }

    #[test]
    fn maps_paths() {
        let maps = b"55d0-55d1 r--p 00000000 08:01 123   /usr/bin/storescp\n7f00-7f01 r-xp 00000000 08:01 9 /usr/lib/x86_64-linux-gnu/libc.so.6\n7f02-7f03 rw-p 00000000 00:00 0 \n7f04-7f05 r--p 0 08:01 10 /tmp/with space (deleted)\n7ffc-7ffd rw-p 0 00:00 0 [stack]\n";
        let p = mapped_paths(maps);
        assert_eq!(
            p,
            vec![
                b"/usr/bin/storescp".to_vec(),
                b"/usr/lib/x86_64-linux-gnu/libc.so.6".to_vec(),
                b"/tmp/with space".to_vec()
            ]
        );
    }
}
