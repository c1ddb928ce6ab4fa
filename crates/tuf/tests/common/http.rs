//! A small HTTP/1.1 server on loopback for the transport tests: serves a directory, answers
//! byte ranges, and misbehaves on request (an error status, a body cut short, no answer at
//! all). It records every request it reads.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the server does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The file under the served directory (honouring `Range: bytes=N-`), or 404.
    File,
    /// This status, empty body.
    Status(u16),
    /// Headers for the whole file (with `Accept-Ranges: bytes`), then only its first n
    /// bytes, then the connection is closed.
    Cut(usize),
    /// Read the request, then hold the connection open and never answer.
    Stall,
    /// The whole file with 200, whatever `Range` asked for.
    IgnoreRange,
}

/// One request the server read: path and `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    pub range: Option<String>,
}

type Rule = dyn Fn(&str, usize) -> Answer + Send + Sync;

/// The server; stops (and closes stalled connections) on drop.
pub struct Server {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stalled: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `root`; `rule(path, n)` chooses the answer to the n-th request (from 0) for
    /// `path`.
    pub fn start(
        root: PathBuf,
        rule: impl Fn(&str, usize) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stalled = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let rule: Arc<Rule> = Arc::new(rule);
        let thread = {
            let (requests, stalled, stop) = (requests.clone(), stalled.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (root, rule) = (root.clone(), rule.clone());
                    let (requests, stalled) = (requests.clone(), stalled.clone());
                    std::thread::spawn(move || {
                        serve(conn, &root, rule.as_ref(), &requests, &stalled);
                    });
                }
            })
        };
        Self {
            url: format!("http://{addr}"),
            requests,
            stalled,
            stop,
            addr,
            thread: Some(thread),
        }
    }

    /// Serves `root` as it is.
    pub fn files(root: PathBuf) -> Self {
        Self::start(root, |_, _| Answer::File)
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests asked for a path ending in `suffix`.
    pub fn count(&self, suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stalled.lock().unwrap().clear();
    }
}

fn serve(
    mut conn: TcpStream,
    root: &std::path::Path,
    rule: &Rule,
    requests: &Mutex<Vec<Request>>,
    stalled: &Mutex<Vec<TcpStream>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_owned());
        }
    }
    let nth = {
        let mut log = requests.lock().unwrap();
        let nth = log.iter().filter(|r| r.path == path).count();
        log.push(Request {
            path: path.clone(),
            range: range.clone(),
        });
        nth
    };
    let answer = rule(&path, nth);
    if answer == Answer::Stall {
        stalled.lock().unwrap().push(conn);
        return;
    }
    if let Answer::Status(status) = answer {
        let _ = write!(
            conn,
            "HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    let file = root.join(path.trim_start_matches('/'));
    let Ok(body) = std::fs::read(&file) else {
        let _ = write!(
            conn,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    let from = range
        .as_deref()
        .filter(|_| answer != Answer::IgnoreRange)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let head = match from {
        Some(from) => format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{}\r\n\
             Content-Length: {}\r\n",
            body.len() - 1,
            body.len(),
            body.len() - from
        ),
        None => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", body.len()),
    };
    let _ = write!(
        conn,
        "{head}Accept-Ranges: bytes\r\nConnection: close\r\n\r\n"
    );
    let body = &body[from.unwrap_or(0)..];
    let sent = match answer {
        Answer::Cut(n) => &body[..n.min(body.len())],
        _ => body,
    };
    let _ = conn.write_all(sent);
    let _ = conn.shutdown(std::net::Shutdown::Both);
}
