//! Sending framed syslog messages to an Audit Record Repository over TLS (RFC 5425).
//!
//! Owns the connection: DNS resolution, TCP with timeouts, the TLS handshake (rustls over
//! aws-lc-rs, optional client certificate for mutual TLS), octet-counted writes, reconnection,
//! and the answer to "which messages are delivered". It must not keep a cursor or any state on
//! disk (the caller does, see below), and must not format messages ([`crate::syslog`] does).
//!
//! # Delivery semantics
//! RFC 5425 has no application acknowledgement: a successful `write` and `flush` only mean
//! the bytes reached the local kernel. A collector that dies with bytes unread in its socket
//! buffer loses them silently. [`SyslogTlsSender::send_batch`] therefore offers two ways to
//! finish a batch, chosen by [`DeliveryConfirmation`]:
//!
//! - [`DeliveryConfirmation::CollectorClose`] (the default): after the batch, the sender
//!   sends TLS `close_notify`, half-closes TCP and waits for the collector to close its side
//!   cleanly. TCP delivers in order, so a clean end of stream (FIN, not RST; Linux sends RST
//!   when a socket is closed with unread data) proves the collector *read* every byte of the
//!   batch. The cost is one TLS handshake per batch, which batches of tens to thousands of
//!   messages amortise.
//! - [`DeliveryConfirmation::Flush`]: the connection stays open and a batch counts as sent once
//!   flushed to the kernel. Faster, but a collector crash can lose what was in flight in the
//!   socket buffers (up to a few megabytes) without any error on this side. Before reusing a
//!   connection the sender checks, without blocking, that the collector has not closed it.
//!
//! The caller keeps a cursor (the sequence number of the first message not yet delivered) and
//! advances it only when `send_batch` returns `Ok`; after an error it calls `send_batch` again
//! with the same messages, which reconnects. So in normal operation every message is sent
//! once; after a failure, the messages of the one batch that was in flight are sent again and
//! may arrive twice (some of them may already have been read). That is the only source of
//! duplicates: at-least-once across crashes of either side, exactly-once otherwise. What a
//! collector does with messages it has read (queue in memory, write to disk) is beyond any
//! syslog sender: a collector killed with `SIGKILL` loses its in-memory queue.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::syslog::write_frame;

/// A collector's address: host name or IP address, and TCP port (6514 for syslog over TLS).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    host: String,
    port: u16,
}

/// The IANA port for syslog over TLS (RFC 5425).
pub const SYSLOG_TLS_PORT: u16 = 6514;

impl Endpoint {
    /// An endpoint from host and port; the host is also the name the server certificate must
    /// carry.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for Endpoint {
    type Err = TransportError;

    /// Parses `host:port`, `[ipv6]:port`, or `host` alone (port 6514).
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &'static str| TransportError::InvalidEndpoint {
            given: given.to_owned(),
            reason,
        };
        let (host, port) = if let Some(rest) = given.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| invalid("missing `]`"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(invalid("unexpected text after `]`")),
            }
        } else if given.matches(':').count() > 1 {
            return Err(invalid("write IPv6 addresses as [address]:port"));
        } else {
            match given.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (given, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("empty host"));
        }
        let port = match port {
            Some(port) => port
                .parse()
                .map_err(|_| invalid("port is not a number from 0 to 65535"))?,
            None => SYSLOG_TLS_PORT,
        };
        Ok(Self::new(host, port))
    }
}

/// What the sender can fail at. Every network failure names the collector's `host:port`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint text could not be parsed.
    #[error("invalid collector address {given:?}: {reason}")]
    InvalidEndpoint {
        /// The text given.
        given: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A certificate or key file could not be read.
    #[error("{}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A PEM input held no usable certificate or key, or was malformed.
    #[error("{what}: {reason}")]
    Pem {
        /// Which input (a path or a description).
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration (e.g. a client key that does not match).
    #[error("TLS configuration: {0}")]
    TlsConfig(#[source] rustls::Error),
    /// The host is not a valid DNS name or IP address for certificate checks.
    #[error("{endpoint}: not a valid TLS server name")]
    ServerName {
        /// The collector.
        endpoint: Endpoint,
    },
    /// The host name did not resolve.
    #[error("{endpoint}: cannot resolve: {source}")]
    Resolve {
        /// The collector.
        endpoint: Endpoint,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted a TCP connection in time.
    #[error("{endpoint}: cannot connect: {source}")]
    Connect {
        /// The collector.
        endpoint: Endpoint,
        /// The last connection error.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, protocol error).
    #[error("{endpoint}: TLS handshake failed: {source}")]
    Handshake {
        /// The collector.
        endpoint: Endpoint,
        /// The error; rustls errors are inside as the source.
        #[source]
        source: io::Error,
    },
    /// Writing the batch failed; none of it counts as delivered.
    #[error("{endpoint}: sending a batch of {messages} messages failed: {source}")]
    Send {
        /// The collector.
        endpoint: Endpoint,
        /// Messages in the batch.
        messages: usize,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The batch was written but the collector did not close cleanly, so it may not have
    /// read all of it.
    #[error("{endpoint}: the collector did not confirm a batch of {messages} messages: {source}")]
    Unconfirmed {
        /// The collector.
        endpoint: Endpoint,
        /// Messages in the batch.
        messages: usize,
        /// What happened instead of a clean close.
        #[source]
        source: io::Error,
    },
}

/// A client certificate chain and its private key, in PEM, for mutual TLS.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub cert_chain_pem: Vec<u8>,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field(
                "cert_chain_pem",
                &format_args!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|source| TransportError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

impl ClientIdentity {
    /// Reads a certificate chain and a key from PEM files.
    pub fn from_files(cert_chain: &Path, key: &Path) -> Result<Self, TransportError> {
        Ok(Self {
            cert_chain_pem: read_file(cert_chain)?,
            key_pem: read_file(key)?,
        })
    }
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TransportError::Pem {
            what: what.to_owned(),
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TransportError::Pem {
            what: what.to_owned(),
            reason: "no CERTIFICATE in PEM".to_owned(),
        });
    }
    Ok(certificates)
}

/// A TLS client configuration trusting the CA certificates in `ca_pem` (and nothing else:
/// hospital collectors use their own CA), with an optional client identity for mutual TLS.
/// TLS 1.2 and 1.3 with rustls' safe defaults; aws-lc-rs is the provider.
pub fn client_config(
    ca_pem: &[u8],
    identity: Option<&ClientIdentity>,
) -> Result<Arc<ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(ca_pem, "CA certificates")? {
        roots.add(certificate).map_err(TransportError::TlsConfig)?;
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TransportError::TlsConfig)?
    .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let chain = certificates(&identity.cert_chain_pem, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&identity.key_pem).map_err(|error| {
                TransportError::Pem {
                    what: "client key".to_owned(),
                    reason: error.to_string(),
                }
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TransportError::TlsConfig)?
        }
    };
    Ok(Arc::new(config))
}

/// [`client_config`] from files: a CA bundle and, for mutual TLS, a certificate chain and key.
pub fn client_config_from_files(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TransportError> {
    let ca_pem = read_file(ca)?;
    let identity = identity
        .map(|(cert, key)| ClientIdentity::from_files(cert, key))
        .transpose()?;
    client_config(&ca_pem, identity.as_ref()).map_err(|error| match error {
        TransportError::Pem { what, reason } if what == "CA certificates" => TransportError::Pem {
            what: ca.display().to_string(),
            reason,
        },
        other => other,
    })
}

/// When a batch counts as delivered; see the [module documentation](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeliveryConfirmation {
    /// Close the connection after each batch and wait for the collector's clean close, which
    /// proves it read the whole batch. The safe default.
    #[default]
    CollectorClose,
    /// Keep the connection open; a batch counts once flushed to the local kernel. A collector
    /// crash can lose up to a socket buffer of messages unnoticed.
    Flush,
}

/// Timeouts and delivery mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderOptions {
    /// Per-address TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of each read or write, and of the wait for the collector's close.
    pub io_timeout: Duration,
    /// When a batch counts as delivered.
    pub confirmation: DeliveryConfirmation,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            confirmation: DeliveryConfirmation::default(),
        }
    }
}

/// A delivered batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Messages delivered: the whole batch.
    pub messages: usize,
    /// Bytes written, frame headers included.
    pub bytes: u64,
    /// How delivery was established.
    pub confirmation: DeliveryConfirmation,
}

/// A blocking syslog-over-TLS client. See the [module documentation](self) for what a
/// successful [`send_batch`](Self::send_batch) guarantees.
pub struct SyslogTlsSender {
    endpoint: Endpoint,
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
    options: SenderOptions,
    connection: Option<(ClientConnection, TcpStream)>,
    connections_opened: u64,
}

impl fmt::Debug for SyslogTlsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogTlsSender")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .field("connected", &self.connection.is_some())
            .field("connections_opened", &self.connections_opened)
            .finish_non_exhaustive()
    }
}

impl SyslogTlsSender {
    /// A sender to `endpoint`; nothing is connected until the first batch.
    pub fn new(
        endpoint: Endpoint,
        config: Arc<ClientConfig>,
        options: SenderOptions,
    ) -> Result<Self, TransportError> {
        let server_name = ServerName::try_from(endpoint.host().to_owned()).map_err(|_| {
            TransportError::ServerName {
                endpoint: endpoint.clone(),
            }
        })?;
        Ok(Self {
            endpoint,
            server_name,
            config,
            options,
            connection: None,
            connections_opened: 0,
        })
    }

    /// The collector.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How many TLS connections this sender has established.
    pub fn connections_opened(&self) -> u64 {
        self.connections_opened
    }

    /// Sends `messages` (each one SYSLOG-MSG, unframed) as one batch, connecting first if
    /// needed. `Ok` means the whole batch is delivered in the sense of
    /// [`SenderOptions::confirmation`]; the caller may then advance its cursor past it.
    /// `Err` means none of it counts: call again with the same messages to resend.
    pub fn send_batch<M: AsRef<[u8]>>(
        &mut self,
        messages: &[M],
    ) -> Result<Delivery, TransportError> {
        let confirmation = self.options.confirmation;
        if messages.is_empty() {
            return Ok(Delivery {
                messages: 0,
                bytes: 0,
                confirmation,
            });
        }
        let mut frames = Vec::with_capacity(messages.iter().map(|m| m.as_ref().len() + 8).sum());
        for message in messages {
            write_frame(&mut frames, message.as_ref());
        }
        let reusable = match self.connection.take() {
            Some((mut tls, mut socket)) => {
                still_open(&mut tls, &mut socket).then_some((tls, socket))
            }
            None => None,
        };
        let (mut tls, mut socket) = match reusable {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let send_error = |source| TransportError::Send {
            endpoint: self.endpoint.clone(),
            messages: messages.len(),
            source,
        };
        write_all(&mut tls, &mut socket, &frames).map_err(send_error)?;
        match confirmation {
            DeliveryConfirmation::Flush => self.connection = Some((tls, socket)),
            DeliveryConfirmation::CollectorClose => {
                close_and_confirm(&mut tls, &mut socket, self.options.io_timeout).map_err(
                    |source| TransportError::Unconfirmed {
                        endpoint: self.endpoint.clone(),
                        messages: messages.len(),
                        source,
                    },
                )?;
            }
        }
        Ok(Delivery {
            messages: messages.len(),
            bytes: frames.len() as u64,
            confirmation,
        })
    }

    /// Closes an open connection (in [`DeliveryConfirmation::Flush`] mode), sending
    /// `close_notify` and waiting for the collector's close; `Ok` confirms everything sent on
    /// it was read.
    pub fn close(&mut self) -> Result<(), TransportError> {
        match self.connection.take() {
            None => Ok(()),
            Some((mut tls, mut socket)) => {
                close_and_confirm(&mut tls, &mut socket, self.options.io_timeout).map_err(
                    |source| TransportError::Unconfirmed {
                        endpoint: self.endpoint.clone(),
                        messages: 0,
                        source,
                    },
                )
            }
        }
    }

    fn connect(&mut self) -> Result<(ClientConnection, TcpStream), TransportError> {
        let endpoint = &self.endpoint;
        let addresses = (endpoint.host(), endpoint.port())
            .to_socket_addrs()
            .map_err(|source| TransportError::Resolve {
                endpoint: endpoint.clone(),
                source,
            })?;
        let mut last_error =
            io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        let mut socket = None;
        for address in addresses {
            match TcpStream::connect_timeout(&address, self.options.connect_timeout) {
                Ok(stream) => {
                    socket = Some(stream);
                    break;
                }
                Err(error) => last_error = error,
            }
        }
        let connect_error = |source| TransportError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
        let mut socket = socket.ok_or_else(|| connect_error(last_error))?;
        let timeout = Some(self.options.io_timeout.max(Duration::from_millis(1)));
        socket
            .set_read_timeout(timeout)
            .and_then(|()| socket.set_write_timeout(timeout))
            .and_then(|()| socket.set_nodelay(true))
            .map_err(connect_error)?;
        let handshake_error = |source| TransportError::Handshake {
            endpoint: endpoint.clone(),
            source,
        };
        let mut tls = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(|error| handshake_error(io::Error::new(io::ErrorKind::InvalidData, error)))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut socket).map_err(handshake_error)?;
        }
        self.connections_opened += 1;
        Ok((tls, socket))
    }
}

/// Writes all of `data` as TLS records and hands them to the kernel.
fn write_all(tls: &mut ClientConnection, socket: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let taken = tls.writer().write(rest)?;
        rest = rest.get(taken..).unwrap_or_default();
        drain_tls(tls, socket)?;
    }
    drain_tls(tls, socket)
}

fn drain_tls(tls: &mut ClientConnection, socket: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        if tls.write_tls(socket)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "socket accepted no bytes",
            ));
        }
    }
    socket.flush()
}

/// Whether an idle connection is still open: reads without blocking and reports `false` on
/// end of stream, `close_notify`, a reset or any TLS error.
fn still_open(tls: &mut ClientConnection, socket: &mut TcpStream) -> bool {
    if socket.set_nonblocking(true).is_err() {
        return false;
    }
    let open = loop {
        match tls.read_tls(socket) {
            Ok(0) => break false,
            Ok(_) => match tls.process_new_packets() {
                Ok(state) if !state.peer_has_closed() => discard_plaintext(tls),
                _ => break false,
            },
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break true,
            Err(_) => break false,
        }
    };
    socket.set_nonblocking(false).is_ok() && open
}

fn discard_plaintext(tls: &mut ClientConnection) {
    let mut sink = [0_u8; 4096];
    while matches!(tls.reader().read(&mut sink), Ok(n) if n > 0) {}
}

/// Sends `close_notify`, half-closes, and waits until the collector ends the stream. A clean
/// end (FIN) after our last byte means the collector read everything; a reset or a timeout
/// does not.
fn close_and_confirm(
    tls: &mut ClientConnection,
    socket: &mut TcpStream,
    timeout: Duration,
) -> io::Result<()> {
    tls.send_close_notify();
    drain_tls(tls, socket)?;
    socket.shutdown(Shutdown::Write)?;
    let deadline = Instant::now() + timeout;
    let timed_out = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the collector did not close the connection in time",
        )
    };
    // Until the collector's close_notify: through rustls, which checks the records.
    let mut peer_has_closed = false;
    while !peer_has_closed {
        match tls.read_tls(socket) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                let state = tls
                    .process_new_packets()
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                peer_has_closed = state.peer_has_closed();
                discard_plaintext(tls);
            }
            Err(error) if is_timeout(&error) => {
                if Instant::now() >= deadline {
                    return Err(timed_out());
                }
            }
            Err(error) => return Err(error),
        }
    }
    // After close_notify rustls reads no more; the TCP end itself tells FIN from RST.
    let mut sink = [0_u8; 512];
    loop {
        match socket.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) if is_timeout(&error) => {
                if Instant::now() >= deadline {
                    return Err(timed_out());
                }
            }
            Err(error) => return Err(error),
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_display() {
        let e: Endpoint = "arr.example.org:6514".parse().unwrap();
        assert_eq!((e.host(), e.port()), ("arr.example.org", 6514));
        let e: Endpoint = "[::1]:1514".parse().unwrap();
        assert_eq!((e.host(), e.port()), ("::1", 1514));
        assert_eq!(e.to_string(), "[::1]:1514");
        let e: Endpoint = "collector".parse().unwrap();
        assert_eq!(e.port(), SYSLOG_TLS_PORT);
        assert!(matches!(
            "::1:514".parse::<Endpoint>(),
            Err(TransportError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            "host:99999".parse::<Endpoint>(),
            Err(TransportError::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            ":514".parse::<Endpoint>(),
            Err(TransportError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn a_pem_without_certificates_is_a_typed_error() {
        assert!(matches!(
            client_config(b"not pem", None),
            Err(TransportError::Pem { .. })
        ));
    }

    #[test]
    fn a_silent_server_times_out_the_handshake() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = std::thread::spawn(move || {
            // Accept, say nothing, and keep the socket open until the client gives up.
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.read(&mut [0; 1024]);
            let _ = stream.read(&mut [0; 1]);
        });
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let config = client_config(ca.cert.pem().as_bytes(), None).unwrap();
        let options = SenderOptions {
            io_timeout: Duration::from_millis(200),
            ..SenderOptions::default()
        };
        let mut sender =
            SyslogTlsSender::new(Endpoint::new("localhost", port), config, options).unwrap();
        let started = Instant::now();
        let error = sender.send_batch(&["x"]).unwrap_err();
        assert!(matches!(error, TransportError::Handshake { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(sender);
        holder.join().unwrap();
    }

    #[test]
    fn connection_refused_names_the_endpoint() {
        // A listener bound then dropped leaves a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let config = client_config(ca.cert.pem().as_bytes(), None).unwrap();
        let mut sender = SyslogTlsSender::new(
            Endpoint::new("127.0.0.1", port),
            config,
            SenderOptions::default(),
        )
        .unwrap();
        let error = sender.send_batch(&["x"]).unwrap_err();
        assert!(matches!(error, TransportError::Connect { .. }), "{error}");
        assert!(error.to_string().contains(&format!("127.0.0.1:{port}")));
    }
}
