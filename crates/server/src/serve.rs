//! The HTTPS accept loop: TLS by rustls, HTTP/1.1 and HTTP/2 by hyper, and the peer's
//! certificate and address attached to every request, so device routes can authenticate the
//! device per request. Plain HTTP is never served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// The certificate a TLS client presented (DER), if any.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Option<Arc<Vec<u8>>>);

/// The client's address.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub SocketAddr);

/// Serves `app` over TLS on `listener` until `shutdown` resolves; connections in flight are
/// given up to 10 s to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let acceptor = TlsAcceptor::from(tls);
    let tracker = tokio_util_tracker::Tracker::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, address) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors or a reset before accept: keep serving the others.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let guard = tracker.guard();
        tokio::spawn(async move {
            let _guard = guard;
            // A client that never finishes its handshake holds nothing for long.
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let peer = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::new(c.to_vec()));
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(PeerCertificate(peer.clone()));
                    request.extensions_mut().insert(PeerAddress(address));
                    app.clone().oneshot(request.map(axum::body::Body::new))
                },
            );
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    tracker.wait(Duration::from_secs(10)).await;
}

/// Counts connections in flight, so shutdown can wait for them.
mod tokio_util_tracker {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[derive(Debug, Default, Clone)]
    pub struct Tracker(Arc<AtomicUsize>);

    #[derive(Debug)]
    pub struct Guard(Arc<AtomicUsize>);

    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Tracker {
        pub fn guard(&self) -> Guard {
            self.0.fetch_add(1, Ordering::SeqCst);
            Guard(self.0.clone())
        }

        pub async fn wait(&self, at_most: Duration) {
            let deadline = tokio::time::Instant::now() + at_most;
            while self.0.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
