//! Talking to the fleet server: HTTPS with the pinned fleet CA and, once enrolled, the
//! device's client certificate.
//!
//! This module owns the HTTP exchange and the classification of what can go wrong, so
//! callers decide by kind: the server could not be reached (try later, keep the queue), is
//! not the fleet's (refused: its certificate is from another CA), refused the request with a
//! problem document (act on its stable `code`), answered something that is not the
//! protocol (garbage, not even HTTP: keep the queue), or took longer than the configured
//! [`Timeouts`] to connect or to answer in full (a silent or dripping server: keep the
//! queue). Every answer body is read up to a limit and parsed by
//! `medguard_proto::parse`, the same parser the server uses on device input: the server is
//! trusted for what it says only after its answer parses. It must not decide what to send or
//! what to do about a refusal.

use std::sync::Arc;
use std::time::Duration;

use medguard_proto::{Problem, ProtoError, Validate, parse, paths};
use serde::de::DeserializeOwned;
use url::Url;

/// Longest problem document read from an error answer.
const MAX_PROBLEM_BYTES: usize = 64 << 10;

/// How long the agent waits on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For a connection (TCP and TLS handshake).
    pub connect: Duration,
    /// For one whole request, from connecting to the last byte of the answer.
    pub request: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 120 s per request (an inventory upload over a slow hospital link).
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(120),
        }
    }
}

/// Why an exchange with the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The server could not be reached, or the connection broke or timed out: try later.
    #[error("{url}: the server cannot be reached: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server took too long: no connection within the connect timeout, or no complete
    /// answer within the request timeout (a server that accepts and never answers, or
    /// answers a few bytes at a time). Try later; nothing is known to have been stored.
    #[error("{url}: {what} within {} ([server] {key}): {reason}", humantime(*waited))]
    TimedOut {
        /// The URL.
        url: String,
        /// What did not come in time.
        what: &'static str,
        /// The configuration key that sets the wait.
        key: &'static str,
        /// How long the agent waited.
        waited: Duration,
        /// What the HTTP client said.
        reason: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server's certificate is not from the pinned fleet CA (or the handshake failed
    /// otherwise): it is not this fleet's server, and nothing was sent.
    #[error("{url}: the server is not trusted: {reason}")]
    NotTrusted {
        /// The URL.
        url: String,
        /// What TLS said.
        reason: String,
    },
    /// The server refused the request with a problem document.
    #[error("{url}: refused ({status} {}): {}", problem.code, problem.detail.as_deref().unwrap_or(&problem.title))]
    Refused {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The problem.
        problem: Box<Problem>,
    },
    /// The server answered with an error status and no problem document.
    #[error("{url}: HTTP status {status} without a problem document")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server's answer is not what the protocol says (garbage, wrong shape, too large).
    #[error("{url}: the answer is not the protocol's: {source}")]
    BadAnswer {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: ProtoError,
    },
    /// The answer is not HTTP at all (bytes that are no status line or headers): something
    /// else answers on the server's address. Nothing is known to have been stored.
    #[error("{url}: the answer is not HTTP: {reason}")]
    NotHttp {
        /// The URL.
        url: String,
        /// What the HTTP parser said.
        reason: String,
    },
    /// The answer parsed but does not answer the request (receipts for other reports).
    #[error("{url}: the answer does not fit the request: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// What does not fit.
        reason: String,
    },
    /// The HTTP client could not be set up from the TLS settings.
    #[error("HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// The certificates or key could not be made into TLS settings.
    #[error("TLS settings: {source}")]
    Tls {
        /// The cause.
        #[source]
        source: medguard_pki::PkiError,
    },
}

impl SendError {
    /// Whether trying again later may succeed without anyone changing anything: the server
    /// was unreachable, busy (408, 429, 503) or failed (5xx).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::TimedOut { .. } => true,
            Self::Refused { status, .. } | Self::Status { status, .. } => {
                matches!(status, 408 | 429) || *status >= 500
            }
            _ => false,
        }
    }

    /// The problem's stable code, when the server refused with one.
    #[must_use]
    pub fn problem_code(&self) -> Option<&str> {
        match self {
            Self::Refused { problem, .. } => Some(&problem.code),
            _ => None,
        }
    }
}

/// One server, with this device's TLS identity (or none, for enrollment).
#[derive(Debug, Clone)]
pub struct ServerLink {
    base: Url,
    client: reqwest::Client,
    timeouts: Timeouts,
}

impl ServerLink {
    /// A link that pins `ca_pem` and presents no certificate (enrollment).
    ///
    /// # Errors
    /// [`SendError::Tls`] or [`SendError::Client`].
    pub fn enrolling(base: &Url, ca_pem: &str, timeouts: Timeouts) -> Result<Self, SendError> {
        let tls = medguard_pki::tls::device_client_config(ca_pem, None)
            .map_err(|source| SendError::Tls { source })?;
        Self::with_tls(base, &tls, timeouts)
    }

    /// A link that pins `ca_pem` and presents the device's certificate.
    ///
    /// # Errors
    /// [`SendError::Tls`] or [`SendError::Client`].
    pub fn device(
        base: &Url,
        ca_pem: &str,
        certificate_pem: &str,
        key_pem: &str,
        timeouts: Timeouts,
    ) -> Result<Self, SendError> {
        let tls = medguard_pki::tls::device_client_config(ca_pem, Some((certificate_pem, key_pem)))
            .map_err(|source| SendError::Tls { source })?;
        Self::with_tls(base, &tls, timeouts)
    }

    fn with_tls(
        base: &Url,
        tls: &Arc<rustls::ClientConfig>,
        timeouts: Timeouts,
    ) -> Result<Self, SendError> {
        let mut tls = (**tls).clone();
        // reqwest is built without HTTP/2 here; offering only HTTP/1.1 keeps a server that
        // prefers h2 from choosing a protocol the client cannot speak.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SendError::Client { reason: chain(&e) })?;
        Ok(Self {
            base: base.clone(),
            client,
            timeouts,
        })
    }

    /// The server's base URL.
    #[must_use]
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    /// POSTs `body` (JSON) to `path` and parses the answer as `T`, reading at most `limit`
    /// bytes of it.
    ///
    /// # Errors
    /// [`SendError`] saying what went wrong.
    pub async fn post_json<T>(
        &self,
        path: &str,
        body: Vec<u8>,
        limit: usize,
    ) -> Result<T, SendError>
    where
        T: DeserializeOwned + Validate,
    {
        let url = self.url(path);
        let response = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, paths::JSON)
            .header(reqwest::header::ACCEPT, paths::JSON)
            .body(body)
            .send()
            .await
            .map_err(|e| classify(&url, e, self.timeouts))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let bytes = read_limited(&url, response, limit, self.timeouts).await?;
            return parse::<T>(&bytes, limit)
                .map_err(|source| SendError::BadAnswer { url, source });
        }
        let is_problem = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(paths::PROBLEM_JSON));
        let bytes = read_limited(&url, response, MAX_PROBLEM_BYTES, self.timeouts)
            .await
            .unwrap_or_default();
        match parse::<Problem>(&bytes, MAX_PROBLEM_BYTES) {
            Ok(problem) if is_problem || problem.status == status => Err(SendError::Refused {
                url,
                status,
                problem: Box::new(problem),
            }),
            _ => Err(SendError::Status { url, status }),
        }
    }
}

impl ServerLink {
    /// GETs `path` and returns its body, at most `limit` bytes (a TUF root on first use).
    ///
    /// # Errors
    /// [`SendError`] saying what went wrong.
    pub async fn get_bytes(&self, path: &str, limit: usize) -> Result<Vec<u8>, SendError> {
        let url = self.url(path);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| classify(&url, e, self.timeouts))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(SendError::Status { url, status });
        }
        read_limited(&url, response, limit, self.timeouts).await
    }
}

async fn read_limited(
    url: &str,
    mut response: reqwest::Response,
    limit: usize,
    timeouts: Timeouts,
) -> Result<Vec<u8>, SendError> {
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(url, e, timeouts))?
    {
        if out.len() + chunk.len() > limit {
            return Err(SendError::BadAnswer {
                url: url.to_owned(),
                source: ProtoError::TooLarge {
                    limit,
                    actual: out.len() + chunk.len(),
                },
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// The TLS error somewhere in `e`'s causes, if the failure was the handshake's.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(t) = rustls_error(c) {
            return Some(t.to_string());
        }
        cause = c.source();
    }
    None
}

/// What the HTTP parser said, if the answer could not be parsed as HTTP.
fn http_parse_failure(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<hyper::Error>()
            && h.is_parse()
        {
            return Some(h.to_string());
        }
        cause = c.source();
    }
    None
}

/// `e` as a rustls error, looking inside the `io::Error`s that tokio-rustls and hyper wrap it
/// in (an `io::Error`'s own `source` skips the error it wraps).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(t) = e.downcast_ref::<rustls::Error>() {
        return Some(t);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// A duration as people write it in the configuration (`10s`, `2m`), in the configuration's
/// own grammar; a fraction of a second (only tests set one) as `1.5s`.
fn humantime(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        medguard_host::format_duration(d)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn classify(url: &str, e: reqwest::Error, timeouts: Timeouts) -> SendError {
    if let Some(reason) = tls_failure(&e) {
        return SendError::NotTrusted {
            url: url.to_owned(),
            reason,
        };
    }
    if let Some(reason) = http_parse_failure(&e) {
        return SendError::NotHttp {
            url: url.to_owned(),
            reason,
        };
    }
    if e.is_timeout() {
        let (what, key, waited) = if e.is_connect() {
            ("no connection", "connect_timeout", timeouts.connect)
        } else {
            ("no complete answer", "request_timeout", timeouts.request)
        };
        return SendError::TimedOut {
            url: url.to_owned(),
            what,
            key,
            waited,
            reason: chain(&e),
            source: e,
        };
    }
    SendError::Unreachable {
        url: url.to_owned(),
        reason: chain(&e),
        source: e,
    }
}
