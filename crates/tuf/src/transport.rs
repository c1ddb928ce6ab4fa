//! How the client fetches files: `file://` through `tough`'s `FilesystemTransport`, `http://`
//! and `https://` through one `reqwest` client per refresh.
//!
//! This module owns the HTTP policy: timeouts (connect, and the whole request), which failures
//! are worth another try, the pause before it, and resuming a body cut off midway. It must not
//! check lengths or hashes (`tough` and [`crate::client`] do, on the bytes this yields) and
//! must not wait before a first try. See the crate docs (`# HTTP`) for why it is not `tough`'s
//! `HttpTransport`.

use std::error::Error as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tough::{
    Bytes, FilesystemTransport, Transport, TransportError, TransportErrorKind, TransportStream,
};
use url::Url;

use crate::error::TufError;

/// How long the client waits on a repository over HTTP(S) before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a connection (TCP and TLS handshake).
    pub connect: Duration,
    /// Longest time one request may take, from connecting to the last byte of the body: a
    /// server that accepts and never answers, or drips bytes, is given up on after this.
    pub request: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 30 s per request: `tough`'s defaults.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// Tries per file, the first included. A failure is tried again only if it may be
/// transient (no connection, a reset, 408, 429, 5xx); a timeout, a refusal (4xx) and a 404
/// (the normal end of the root chain) are final at once. So one file takes at most
/// `TRIES` request timeouts plus the pauses between them.
const TRIES: u32 = 3;
/// The pause before the second try; doubled before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

fn backoff(tries_done: u32) -> Duration {
    let doublings = tries_done.saturating_sub(1).min(8);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// Why one HTTP fetch failed: the cause inside the `TransportError` the stream yields, found
/// again by [`transport_error`] to report timeouts with their own variant.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The server answered with an HTTP error status.
    #[error("HTTP status {status}")]
    Status { status: u16 },
    /// No connection could be made within the connect timeout.
    #[error("no connection within {after:?}")]
    ConnectTimeout { after: Duration },
    /// The request did not complete within the request timeout.
    #[error("no complete answer within {after:?}")]
    Timeout { after: Duration },
    /// A retry after a broken body asked for the rest, and the server sent something else.
    #[error("asked to resume at byte {from}, the server answered {answer}")]
    NotResumed { from: u64, answer: String },
    /// The HTTP client could not be set up (TLS configuration, system roots).
    #[error("setting up the HTTP client: {reason}")]
    Setup { reason: String },
    /// Anything else `reqwest` reports (connection refused or reset, DNS, malformed answer).
    #[error("{}", chain(.0))]
    Request(#[source] reqwest::Error),
}

/// A `reqwest` error with its causes ("error sending request: connection refused").
fn chain(err: &reqwest::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}

impl HttpError {
    fn from_reqwest(err: reqwest::Error, timeouts: Timeouts) -> Self {
        if err.is_timeout() {
            if err.is_connect() {
                Self::ConnectTimeout {
                    after: timeouts.connect,
                }
            } else {
                Self::Timeout {
                    after: timeouts.request,
                }
            }
        } else {
            Self::Request(err)
        }
    }

    /// Whether another try may succeed: the connection failed or broke, or the server said
    /// it is busy or failing for now.
    fn transient(&self) -> bool {
        match self {
            Self::Status { status } => matches!(status, 408 | 429 | 500..=599),
            // A body cut off midway surfaces as a decode error ("end of file before message
            // length reached").
            Self::Request(e) => e.is_connect() || e.is_request() || e.is_body() || e.is_decode(),
            Self::ConnectTimeout { .. }
            | Self::Timeout { .. }
            | Self::NotResumed { .. }
            | Self::Setup { .. } => false,
        }
    }

    /// `tough` ends the root chain walk on `FileNotFound`; 403 counts as absent too, as in
    /// `tough`'s own transport (some stores answer 403 for a missing object).
    fn kind(&self) -> TransportErrorKind {
        match self {
            Self::Status {
                status: 403 | 404 | 410,
            } => TransportErrorKind::FileNotFound,
            _ => TransportErrorKind::Other,
        }
    }
}

/// The transport the client hands to `tough` and uses for targets.
#[derive(Debug, Clone)]
pub(crate) struct ClientTransport {
    timeouts: Timeouts,
    /// Built at the first HTTP(S) fetch (a `file://` refresh never loads the system's TLS
    /// roots), then shared by every fetch of the refresh and its download. Its connections
    /// live on the tokio runtime that made them: another runtime takes [`Self::fresh`].
    http: Arc<OnceLock<Result<reqwest::Client, String>>>,
    /// A TLS configuration of the caller's (a fleet server's pinned CA and the device's
    /// certificate); `None`: the system's roots, no client certificate.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientTransport {
    pub(crate) fn new(timeouts: Timeouts) -> Self {
        Self::with_tls(timeouts, None)
    }

    pub(crate) fn with_tls(timeouts: Timeouts, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Self {
            timeouts,
            http: Arc::new(OnceLock::new()),
            tls,
        }
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        self.http
            .get_or_init(|| match &self.tls {
                Some(tls) => build_client_with(self.timeouts, (**tls).clone()),
                None => build_client(self.timeouts),
            })
            .clone()
    }

    fn http_stream(&self, url: Url) -> TransportStream {
        let fetch = HttpFetch {
            client: self.client(),
            timeouts: self.timeouts,
            url,
            response: None,
            received: 0,
            resumable: false,
            tries: 0,
            done: false,
        };
        Box::pin(futures::stream::unfold(fetch, |mut f| async move {
            let item = f.next().await?;
            Some((item, f))
        }))
    }
}

fn build_client(timeouts: Timeouts) -> Result<reqwest::Client, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(BuilderVerifierExt::with_platform_verifier)
        .map_err(|e| e.to_string())?
        .with_no_client_auth();
    build_client_with(timeouts, tls)
}

fn build_client_with(
    timeouts: Timeouts,
    mut tls: rustls::ClientConfig,
) -> Result<reqwest::Client, String> {
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .build()
        .map_err(|e| chain(&e))
}

#[tough::async_trait]
impl Transport for ClientTransport {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        match url.scheme() {
            "file" => FilesystemTransport.fetch(url).await,
            // Errors arrive through the stream, as with `tough`'s own transport: its root walk
            // takes an error from `fetch` itself for "no newer root" whatever the cause.
            "http" | "https" => Ok(self.http_stream(url)),
            _ => Err(TransportError::new(
                TransportErrorKind::UnsupportedUrlScheme,
                url,
            )),
        }
    }
}

/// One file being fetched over HTTP(S), across its tries.
struct HttpFetch {
    client: Result<reqwest::Client, String>,
    timeouts: Timeouts,
    url: Url,
    response: Option<reqwest::Response>,
    /// Bytes already handed on; a retry asks for the rest only.
    received: u64,
    /// The server said it serves byte ranges (`Accept-Ranges: bytes`).
    resumable: bool,
    tries: u32,
    done: bool,
}

impl HttpFetch {
    async fn next(&mut self) -> Option<Result<Bytes, TransportError>> {
        if self.done {
            return None;
        }
        match self.next_chunk().await {
            Ok(Some(bytes)) => Some(Ok(bytes)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(TransportError::new_with_cause(
                    e.kind(),
                    self.url.as_str(),
                    e,
                )))
            }
        }
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        loop {
            let mut response = match self.response.take() {
                Some(r) => r,
                None => self.send().await?,
            };
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    self.received += bytes.len() as u64;
                    self.response = Some(response);
                    return Ok(Some(bytes));
                }
                Ok(None) => return Ok(None),
                Err(e) => {
                    let err = HttpError::from_reqwest(e, self.timeouts);
                    let resumable = self.received == 0 || self.resumable;
                    if !(err.transient() && resumable && self.tries < TRIES) {
                        return Err(err);
                    }
                    tokio::time::sleep(backoff(self.tries)).await;
                }
            }
        }
    }

    /// Sends the request (for the bytes not yet received), trying again after transient
    /// failures, with a pause before each retry and none before the first try.
    async fn send(&mut self) -> Result<reqwest::Response, HttpError> {
        let client = self
            .client
            .clone()
            .map_err(|reason| HttpError::Setup { reason })?;
        loop {
            self.tries += 1;
            let mut request = client.get(self.url.clone());
            if self.received > 0 {
                request =
                    request.header(reqwest::header::RANGE, format!("bytes={}-", self.received));
            }
            let err = match request.send().await {
                Ok(response) => match self.accept(response) {
                    Ok(response) => return Ok(response),
                    Err(e) => e,
                },
                Err(e) => HttpError::from_reqwest(e, self.timeouts),
            };
            if !(err.transient() && self.tries < TRIES) {
                return Err(err);
            }
            tokio::time::sleep(backoff(self.tries)).await;
        }
    }

    /// The response if it carries the file (or, on a resume, exactly its missing part).
    fn accept(&mut self, response: reqwest::Response) -> Result<reqwest::Response, HttpError> {
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status {
                status: status.as_u16(),
            });
        }
        if self.received == 0 {
            self.resumable = response
                .headers()
                .get(reqwest::header::ACCEPT_RANGES)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("bytes"));
            return Ok(response);
        }
        let range = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let expected = format!("bytes {}-", self.received);
        if status == reqwest::StatusCode::PARTIAL_CONTENT && range.starts_with(&expected) {
            Ok(response)
        } else {
            Err(HttpError::NotResumed {
                from: self.received,
                answer: format!("{status} {range}"),
            })
        }
    }
}

/// The error a failed fetch means to a caller: a timeout as [`TufError::Timeout`], anything
/// else as [`TufError::Transport`].
pub(crate) fn transport_error(url: &str, err: TransportError) -> TufError {
    match transport_error_ref(url, &err) {
        TufError::Transport { url, reason, .. } => TufError::Transport {
            url,
            reason,
            source: Some(Box::new(err)),
        },
        other => other,
    }
}

/// [`transport_error`] for a borrowed error: the message only, no source.
pub(crate) fn transport_error_ref(url: &str, err: &TransportError) -> TufError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = cur {
        if let Some(http) = e.downcast_ref::<HttpError>() {
            if let HttpError::ConnectTimeout { after } | HttpError::Timeout { after } = http {
                return TufError::Timeout {
                    url: url.to_owned(),
                    after: *after,
                };
            }
            return TufError::Transport {
                url: url.to_owned(),
                reason: http.to_string(),
                source: None,
            };
        }
        cur = e.source();
    }
    TufError::Transport {
        url: url.to_owned(),
        reason: err.to_string(),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(5), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn not_found_ends_the_root_walk_and_is_not_retried() {
        for status in [403, 404, 410] {
            let e = HttpError::Status { status };
            assert_eq!(e.kind(), TransportErrorKind::FileNotFound);
            assert!(!e.transient());
        }
        assert!(HttpError::Status { status: 503 }.transient());
        assert!(!HttpError::Status { status: 400 }.transient());
        assert!(
            !HttpError::Timeout {
                after: Duration::from_secs(1)
            }
            .transient()
        );
    }
}
