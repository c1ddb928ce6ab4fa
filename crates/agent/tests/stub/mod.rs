//! A small fleet server for the agent's protocol tests: HTTPS with the pki crate's server
//! settings, enrollment, renewal, check-in and report receipts, and switches that make it
//! misbehave (garbage answers, refusals, lost acknowledgements). It keeps what it stored so
//! tests can count each report. The end-to-end test runs the real server; this one exists to
//! make faults happen on demand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use medguard_pki::{CertificateAuthority, certified_device};
use medguard_proto::{
    CheckinRequest, CheckinResponse, DeviceId, EnrollRequest, EnrollResponse, IssuedCertificate,
    Problem, RenewRequest, Report, ReportAck, ReportBatch, ReportOutcome, ReportReceipt, codes,
    limits, parse, paths,
};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How the stub behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Mode {
    /// As the protocol says.
    #[default]
    Normal,
    /// `200 OK` with a body that is not JSON.
    Garbage,
    /// `503` with a problem document.
    Unavailable,
    /// Stores the batch, then closes the connection without answering (a lost
    /// acknowledgement).
    LoseAcks,
    /// Refuses the reports with these sequence numbers (receipt `refused`, stale).
    RefuseSeqs(BTreeSet<u64>),
    /// Refuses any batch holding a report of this kind as a whole (422).
    RefuseBatchesWith(&'static str),
}

/// What the stub holds.
#[derive(Debug, Default)]
pub struct Stored {
    /// Reports by device and sequence number, as received (JSON text).
    pub reports: BTreeMap<(String, u64), String>,
    /// How many times each (device, seq) was received and stored (must stay 1).
    pub stores: BTreeMap<(String, u64), u32>,
    /// Report batches received.
    pub batches: u32,
    /// Enrollments.
    pub enrollments: u32,
    /// Renewals.
    pub renewals: u32,
}

#[derive(Debug)]
struct Shared {
    ca: CertificateAuthority,
    token: String,
    mode: Mutex<Mode>,
    stored: Mutex<Stored>,
    validity: Duration,
    /// When set, the real fleet library answers (enrollment, authentication, renewal,
    /// reports): the stub is then only its HTTP and TLS front.
    fleet: Option<medguard_fleet::Fleet>,
}

/// A running stub.
#[derive(Debug, Clone)]
pub struct Stub {
    shared: Arc<Shared>,
    pub addr: SocketAddr,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl Stub {
    /// Starts a stub with a fresh CA on a loopback port, accepting enrollment `token`.
    pub fn start(rt: &tokio::runtime::Runtime, token: &str) -> Self {
        let ca =
            CertificateAuthority::generate("stub fleet CA", now(), Duration::days(30)).unwrap();
        Self::start_with(rt, ca, token)
    }

    /// Starts a front for the real fleet library `fleet`, whose CA is `ca`.
    pub fn start_fleet(
        rt: &tokio::runtime::Runtime,
        ca: CertificateAuthority,
        fleet: medguard_fleet::Fleet,
    ) -> Self {
        Self::start_inner(rt, ca, "", Some(fleet))
    }

    /// Starts a stub with this CA (a restarted server keeps its CA).
    pub fn start_with(rt: &tokio::runtime::Runtime, ca: CertificateAuthority, token: &str) -> Self {
        Self::start_inner(rt, ca, token, None)
    }

    fn start_inner(
        rt: &tokio::runtime::Runtime,
        ca: CertificateAuthority,
        token: &str,
        fleet: Option<medguard_fleet::Fleet>,
    ) -> Self {
        let server = ca
            .issue_server_certificate(
                &["localhost".into(), "127.0.0.1".into()],
                now(),
                Duration::days(30),
            )
            .unwrap();
        let config = medguard_pki::tls::server_config(
            ca.certificate_pem(),
            &server.certificate_pem,
            &server.key_pem,
        )
        .unwrap();
        let mut config = (*config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            ca,
            token: token.to_owned(),
            mode: Mutex::new(Mode::Normal),
            stored: Mutex::new(Stored::default()),
            validity: Duration::days(7),
            fleet,
        });
        let s = shared.clone();
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, s) = (acceptor.clone(), s.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve(tls, &s).await;
                    }
                });
            }
        });
        Self { shared, addr }
    }

    pub fn url(&self) -> url::Url {
        url::Url::parse(&format!("https://127.0.0.1:{}/", self.addr.port())).unwrap()
    }

    pub fn ca_pem(&self) -> String {
        self.shared.ca.certificate_pem().to_owned()
    }

    pub fn ca(&self) -> CertificateAuthority {
        CertificateAuthority::load(self.shared.ca.certificate_pem(), self.shared.ca.key_pem())
            .unwrap()
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn with_stored<T>(&self, f: impl FnOnce(&Stored) -> T) -> T {
        f(&self.shared.stored.lock().unwrap())
    }

    /// Takes over what another stub stored (a restarted server keeps its database).
    pub fn adopt(&self, other: &Stub) {
        let mut from = other.shared.stored.lock().unwrap();
        let mut to = self.shared.stored.lock().unwrap();
        *to = std::mem::take(&mut *from);
    }
}

type Tls = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

async fn serve(mut tls: Tls, s: &Shared) -> std::io::Result<()> {
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first().map(|c| c.to_vec()));
    let mut buf = Vec::new();
    let (head_end, path, length) = loop {
        let mut chunk = [0u8; 8192];
        let n = tls.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_string();
            let path = head
                .lines()
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .unwrap_or("")
                .to_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            break (i + 4, path, length);
        }
    };
    while buf.len() < head_end + length {
        let mut chunk = vec![0u8; 1 << 16];
        let n = tls.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..head_end + length];
    let answer = match &s.fleet {
        Some(fleet) => fleet_route(fleet, &path, body, peer.as_deref()).await,
        None => route(s, &path, body, peer.as_deref()),
    };
    let Some((status, content_type, bytes)) = answer else {
        // A lost acknowledgement: close without a word.
        return tls.shutdown().await;
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        bytes.len()
    );
    tls.write_all(head.as_bytes()).await?;
    tls.write_all(&bytes).await?;
    tls.shutdown().await
}

fn problem(code: &str, status: u16, detail: &str) -> Option<(u16, &'static str, Vec<u8>)> {
    let p = Problem::new(code, status, code).with_detail(detail);
    Some((status, paths::PROBLEM_JSON, serde_json::to_vec(&p).unwrap()))
}

fn ok(value: &impl serde::Serialize) -> Option<(u16, &'static str, Vec<u8>)> {
    Some((200, paths::JSON, serde_json::to_vec(value).unwrap()))
}

fn issued(s: &Shared, csr: &str, device: &DeviceId) -> Result<IssuedCertificate, String> {
    let c =
        s.ca.issue_device_certificate(csr, device, now(), s.validity)
            .map_err(|e| e.to_string())?;
    Ok(IssuedCertificate {
        certificate_pem: c.certificate_pem,
        serial: c.serial,
        not_before: c.not_before,
        not_after: c.not_after,
        renew_after: c.not_before + (c.not_after - c.not_before) / 2,
    })
}

fn route(
    s: &Shared,
    path: &str,
    body: &[u8],
    peer: Option<&[u8]>,
) -> Option<(u16, &'static str, Vec<u8>)> {
    let mode = s.mode.lock().unwrap().clone();
    match mode {
        Mode::Garbage => return Some((200, paths::JSON, b"<html>not the protocol".to_vec())),
        Mode::Unavailable => return problem(codes::UNAVAILABLE, 503, "try later"),
        _ => {}
    }
    if path == paths::ENROLL {
        let req = match parse::<EnrollRequest>(body, limits::MAX_ENROLL_BYTES) {
            Ok(r) => r,
            Err(e) => return problem(codes::MALFORMED, 400, &e.to_string()),
        };
        if req.token.expose() != s.token {
            return problem(codes::TOKEN_UNKNOWN, 401, "no such token");
        }
        let device = DeviceId::from_random_bytes(rand16());
        let certificate = match issued(s, &req.csr_pem, &device) {
            Ok(c) => c,
            Err(e) => return problem(codes::BAD_CSR, 422, &e),
        };
        s.stored.lock().unwrap().enrollments += 1;
        return ok(&EnrollResponse {
            device_id: device,
            site: "test-site".into(),
            model: req.facts.model,
            certificate,
            ca_pem: s.ca.certificate_pem().to_owned(),
            reenrolled: false,
        });
    }
    let Some(der) = peer else {
        return problem(codes::CERTIFICATE_REQUIRED, 401, "no client certificate");
    };
    let device = match certified_device(s.ca.certificate_pem(), der, now()) {
        Ok(d) => d.device_id,
        Err(e) => return problem(codes::FORBIDDEN, 403, &e.to_string()),
    };
    match path {
        p if p == paths::RENEW => {
            let req = parse::<RenewRequest>(body, limits::MAX_ENROLL_BYTES).ok()?;
            let c = issued(s, &req.csr_pem, &device).ok()?;
            s.stored.lock().unwrap().renewals += 1;
            ok(&c)
        }
        p if p == paths::CHECKIN => {
            parse::<CheckinRequest>(body, limits::MAX_ENROLL_BYTES).ok()?;
            let last = last_seq(s, &device);
            ok(&CheckinResponse {
                commands: vec![],
                server_time: now(),
                last_stored_seq: last,
            })
        }
        p if p == paths::REPORTS => reports(s, &device, body, &mode),
        _ => problem(codes::NOT_FOUND, 404, path),
    }
}

fn last_seq(s: &Shared, device: &DeviceId) -> u64 {
    s.stored
        .lock()
        .unwrap()
        .reports
        .keys()
        .filter(|(d, _)| d == device.as_str())
        .map(|(_, q)| *q)
        .max()
        .unwrap_or(0)
}

fn reports(
    s: &Shared,
    device: &DeviceId,
    body: &[u8],
    mode: &Mode,
) -> Option<(u16, &'static str, Vec<u8>)> {
    let batch = match parse::<ReportBatch>(body, limits::MAX_BODY_BYTES) {
        Ok(b) => b,
        Err(e) => return problem(codes::INVALID, 422, &e.to_string()),
    };
    if let Mode::RefuseBatchesWith(kind) = mode
        && batch
            .reports
            .iter()
            .any(|r| r.body.kind().as_str() == *kind)
    {
        return problem(
            codes::INVALID,
            422,
            "this batch holds a report the server refuses",
        );
    }
    let mut stored = s.stored.lock().unwrap();
    stored.batches += 1;
    let mut receipts = Vec::new();
    for r in &batch.reports {
        let key = (device.to_string(), r.seq);
        let json = serde_json::to_string::<Report>(r).unwrap();
        if let Mode::RefuseSeqs(refuse) = mode
            && refuse.contains(&r.seq)
        {
            receipts.push(ReportReceipt {
                seq: r.seq,
                outcome: ReportOutcome::Refused,
                problem: Some(Problem::new(codes::STALE_REPORT, 409, "stale")),
            });
            continue;
        }
        let outcome = match stored.reports.get(&key) {
            Some(existing) if *existing == json => ReportOutcome::Duplicate,
            Some(_) => {
                receipts.push(ReportReceipt {
                    seq: r.seq,
                    outcome: ReportOutcome::Refused,
                    problem: Some(Problem::new(codes::SEQUENCE_CONFLICT, 409, "conflict")),
                });
                continue;
            }
            None => {
                stored.reports.insert(key.clone(), json);
                *stored.stores.entry(key).or_default() += 1;
                ReportOutcome::Stored
            }
        };
        receipts.push(ReportReceipt {
            seq: r.seq,
            outcome,
            problem: None,
        });
    }
    let last = stored
        .reports
        .keys()
        .filter(|(d, _)| d == device.as_str())
        .map(|(_, q)| *q)
        .max()
        .unwrap_or(0);
    drop(stored);
    if *mode == Mode::LoseAcks {
        return None;
    }
    ok(&ReportAck {
        receipts,
        last_stored_seq: last,
    })
}

fn rand16() -> [u8; 16] {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .elapsed()
                .map_or(0, |d| d.as_nanos()),
        );
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

fn fleet_problem(e: &medguard_fleet::FleetError) -> Option<(u16, &'static str, Vec<u8>)> {
    use medguard_fleet::FleetError as E;
    let status = match e {
        E::TokenUnknown | E::TokenExpired | E::TokenSpent => 401,
        E::CertificateRequired | E::CertificateRefused { .. } => 401,
        E::UnknownDevice { .. } | E::DeviceRevoked { .. } | E::CertificateRevoked { .. } => 403,
        E::BadCertificateRequest { .. } | E::Invalid { .. } => 422,
        _ => 500,
    };
    problem(e.code(), status, &e.to_string())
}

async fn fleet_route(
    fleet: &medguard_fleet::Fleet,
    path: &str,
    body: &[u8],
    peer: Option<&[u8]>,
) -> Option<(u16, &'static str, Vec<u8>)> {
    if path == paths::ENROLL {
        let req = match parse::<EnrollRequest>(body, limits::MAX_ENROLL_BYTES) {
            Ok(r) => r,
            Err(e) => return problem(codes::MALFORMED, 400, &e.to_string()),
        };
        return match fleet.enroll(&req, Some("127.0.0.1")).await {
            Ok(r) => ok(&r),
            Err(e) => fleet_problem(&e),
        };
    }
    let device = match fleet.authenticate_device(peer, Some("127.0.0.1")).await {
        Ok(d) => d,
        Err(e) => return fleet_problem(&e),
    };
    match path {
        p if p == paths::RENEW => {
            let req = match parse::<RenewRequest>(body, limits::MAX_ENROLL_BYTES) {
                Ok(r) => r,
                Err(e) => return problem(codes::MALFORMED, 400, &e.to_string()),
            };
            match fleet.renew(&device, &req).await {
                Ok(c) => ok(&c),
                Err(e) => fleet_problem(&e),
            }
        }
        p if p == paths::CHECKIN => match fleet.device(device.id.as_str()).await {
            Ok(d) => ok(&CheckinResponse {
                commands: vec![],
                server_time: now(),
                last_stored_seq: d.last_seq,
            }),
            Err(e) => fleet_problem(&e),
        },
        p if p == paths::REPORTS => {
            let batch = match parse::<ReportBatch>(body, limits::MAX_BODY_BYTES) {
                Ok(b) => b,
                Err(e) => return problem(codes::INVALID, 422, &e.to_string()),
            };
            match fleet
                .ingest_reports(&device, &batch, Some("127.0.0.1"))
                .await
            {
                Ok(ack) => ok(&ack),
                Err(e) => fleet_problem(&e),
            }
        }
        _ => problem(codes::NOT_FOUND, 404, path),
    }
}
