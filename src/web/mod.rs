//! HTTP: actix-web routes, askama views and the JSON API on the one TLS listener.
//! Handlers translate between HTTP and the domain services; rules live in the services.

use std::net::{SocketAddr, TcpListener};

use actix_service::ServiceFactoryExt as _;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::services::{Services, StartError};

pub mod api;
pub mod assets;
pub mod auth;
pub mod body_timeout;
pub mod connections;
pub mod error;
pub mod extract;
// Issue 20 (screens): one-time messages for post/redirect/get.
pub mod flash;
pub mod headers;
pub mod health;
pub mod ipp;
pub mod multipart;
pub mod page;
pub mod views;

/// Shared by every worker.
pub struct AppState {
    pub services: Services,
    pub metrics: PrometheusHandle,
    /// Unix seconds when this process started serving (IPP printer-up-time).
    pub started_at: i64,
    /// One-time messages waiting for the page a form redirects to (issue 20).
    pub flash: flash::Flashes,
}

/// Largest form or JSON body accepted by pages and API (documents use their own limits).
const FORM_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::FormConfig::default()
            .limit(FORM_LIMIT)
            .error_handler(|e, _| {
                error::PageError(body_problem(
                    &e.to_string(),
                    matches!(e, actix_web::error::UrlencodedError::Overflow { .. }),
                ))
                .into()
            }),
    )
    .app_data(
        web::JsonConfig::default()
            .limit(FORM_LIMIT)
            .error_handler(|e, _| {
                error::ApiError(body_problem(
                    &e.to_string(),
                    matches!(
                        e,
                        actix_web::error::JsonPayloadError::Overflow { .. }
                            | actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                    ),
                ))
                .into()
            }),
    )
    .configure(views::routes)
    .configure(views::portal::routes)
    .configure(views::admin::routes)
    .configure(views::release_points::routes)
    .configure(ipp::queue_routes)
    .configure(ipp::infra_routes)
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(health::metrics))
    .route("/static/{name:.*}", web::get().to(assets::serve))
    .configure(api::routes);
}

/// A request body that could not be read: too large, or not what the form/API expects.
fn body_problem(reason: &str, too_large: bool) -> error::Problem {
    if too_large {
        error::Problem::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("The request is larger than {} KiB.", FORM_LIMIT / 1024),
        )
    } else {
        error::Problem::bad_request(format!("The request could not be read: {reason}"))
    }
}

async fn not_found() -> Result<HttpResponse, error::PageError> {
    Err(error::PageError(error::Problem::not_found()))
}

/// Small writes go out at once (TCP_NODELAY; accepted connections inherit it from the
/// listener on Linux): a streamed answer — IPP attributes, then the document — would
/// otherwise wait for the client's delayed ACK (~40 ms) before its second piece.
fn no_delay(listener: &TcpListener) {
    if let Err(e) = rustix::net::sockopt::set_tcp_nodelay(listener, true) {
        tracing::warn!(error = %e, "TCP_NODELAY could not be set on the listener");
    }
}

/// Builds the server on an already-bound listener (tests pass `127.0.0.1:0`).
/// The returned server handles SIGINT/SIGTERM by finishing in-flight requests.
///
/// Assembled from actix-server and actix-http rather than `HttpServer`, so that each
/// accepted connection passes the caps of [`connections::ConnectionLimits`] (per source
/// address and in total) before anything else, the TLS handshake gets its own time-out,
/// and every request head (not only a connection's first) must arrive in time.
pub fn serve_on(
    services: Services,
    listener: TcpListener,
) -> Result<(actix_web::dev::Server, SocketAddr), StartError> {
    let addr = listener.local_addr()?;
    no_delay(&listener);
    // The certificate names the public address and the machine (issue 20); the site
    // makes it again, live, when an admin changes the address.
    let public_name = services.site.public_address().map(|a| a.certificate_name());
    let (tls, certificate) = crate::tls::server_config(
        &services.settings,
        public_name.as_deref(),
        &services.site.machine_names(),
    )
    .map_err(|e| StartError::Tls(e.to_string()))?;
    services.site.attach_listener(certificate, addr.port());
    let tls = std::sync::Arc::new(tls);
    let server_settings = services.settings.server.clone();
    let infra = services.release.infra();
    let (state, workers, keep_alive) = app_state(services);
    let head_timeout = std::time::Duration::from_secs(server_settings.request_head_timeout_secs);
    let limits = connections::ConnectionLimits::new(
        server_settings.max_connections,
        server_settings.max_connections_per_address,
    );
    let host = addr.to_string();
    let builder = actix_server::Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    // Long-polls (agents' orders, output devices' Get-Notifications) end at once when
    // the server begins to stop, instead of holding the graceful shutdown for up to
    // 25 s each (issue 20).
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.notified().await;
        infra.end_long_polls();
    });
    let fallback_host = addr.to_string();
    let server = builder
        .workers(workers)
        // A backstop only, above the shared cap in `limits` (which refuses first): at
        // this many a worker stops accepting, and new connections would wait unrefused.
        .max_concurrent_connections((server_settings.max_connections as usize).saturating_mul(2))
        .shutdown_timeout(30)
        .listen("printpark-tls", listener, move || {
            let state = state.clone();
            let app = App::new()
                .app_data(state)
                .wrap(Compress::default())
                .wrap(from_fn(headers::security_and_telemetry))
                .wrap(from_fn(connections::track_request))
                .configure(configure)
                .default_service(web::to(not_found));
            let host = host.clone();
            let shutdown = shutdown.clone();
            let http = actix_http::HttpService::build()
                .graceful_shutdown_signal(move || {
                    let signal = shutdown.clone();
                    async move { signal.notified().await }
                })
                .keep_alive(std::time::Duration::from_secs(keep_alive))
                // How long a new connection may stay silent before its first request
                // (actix's timer runs from the handshake, not from the first byte).
                // Printing clients (ipptool, CUPS) open a connection and may use it
                // only minutes later, so this is the keep-alive time; a stranger's
                // silent connections are bounded by the connection caps instead, and
                // once a head begins `connections::PacedIo` times it.
                .client_request_timeout(std::time::Duration::from_secs(keep_alive))
                .client_disconnect_timeout(std::time::Duration::from_secs(1))
                .secure()
                .local_addr(addr)
                .on_connect_ext(
                    |io: &connections::PacedIo<
                        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
                    >,
                     ext: &mut actix_http::Extensions| {
                        ext.insert(io.clock());
                    },
                )
                .finish(actix_service::map_config(
                    actix_service::IntoServiceFactory::into_factory(app)
                        .map_err(|err: actix_web::Error| err.error_response()),
                    move |_| actix_web::dev::AppConfig::__priv_test_new(true, host.clone(), addr),
                ));
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            let limits = limits.clone();
            let fallback_host = fallback_host.clone();
            actix_service::fn_factory(move || {
                let http = actix_service::ServiceFactory::new_service(&http, ());
                let acceptor = acceptor.clone();
                let limits = limits.clone();
                let fallback_host = fallback_host.clone();
                async move {
                    let http = std::rc::Rc::new(http.await?);
                    Ok::<_, ()>(actix_service::fn_service(
                        move |tcp: tokio::net::TcpStream| {
                            let http = http.clone();
                            let acceptor = acceptor.clone();
                            let limits = limits.clone();
                            let fallback_host = fallback_host.clone();
                            async move {
                                let doors = Doors {
                                    limits: &limits,
                                    acceptor: &acceptor,
                                    head_timeout,
                                    fallback_host: &fallback_host,
                                };
                                accept_connection(tcp, &doors, &*http).await;
                                Ok::<_, ()>(())
                            }
                        },
                    ))
                }
            })
        })
        .map_err(|e| StartError::Listen {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?
        .run();
    Ok((server, addr))
}

/// What every accepted connection passes on its way to HTTP.
struct Doors<'a> {
    limits: &'a connections::ConnectionLimits,
    acceptor: &'a tokio_rustls::TlsAcceptor,
    head_timeout: std::time::Duration,
    /// The listener's address, for a redirect asked without a Host header.
    fallback_host: &'a str,
}

/// One accepted connection: admitted by the caps (else closed at once), TLS within the
/// head time-out, then HTTP/1.1. Plain `http://` sent to this port (its first byte is
/// not a TLS handshake record) gets a redirect to `https://` instead (issue 20).
async fn accept_connection<S>(tcp: tokio::net::TcpStream, doors: &Doors<'_>, http: &S)
where
    S: actix_service::Service<(
            connections::PacedIo<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
            actix_http::Protocol,
            Option<SocketAddr>,
        )>,
{
    let Ok(peer) = tcp.peer_addr() else {
        return;
    };
    let (limits, head_timeout) = (doors.limits, doors.head_timeout);
    let permit = match limits.admit(peer.ip()) {
        Ok(permit) => permit,
        Err(refusal) => {
            // Dropping the socket closes it: nothing is read, no handshake is made.
            limits.note_refusal(refusal, peer.ip());
            return;
        }
    };
    match connections::first_byte(&tcp, head_timeout).await {
        connections::FirstByte::Tls => {}
        connections::FirstByte::Plain => {
            connections::redirect_to_https(tcp, head_timeout, doors.fallback_host).await;
            return;
        }
        // Silent past the time-out, or closed: nothing to answer.
        connections::FirstByte::Nothing => return,
    }
    let tls = match tokio::time::timeout(head_timeout, doors.acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        // A failed or slow handshake: nothing to answer.
        _ => return,
    };
    let io = connections::PacedIo::new(tls, permit, head_timeout);
    let _ = http
        .call((io, actix_http::Protocol::Http1, Some(peer)))
        .await;
}

/// The optional plain-IPP listener (`server.plain_ipp_listen`): the IPP queue only,
/// no pages, no API, for old clients on a trusted network.
pub fn serve_plain_ipp_on(
    services: Services,
    listener: TcpListener,
) -> Result<(actix_web::dev::Server, SocketAddr), StartError> {
    let addr = listener.local_addr()?;
    no_delay(&listener);
    let (state, workers, keep_alive) = app_state(services);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(headers::security_and_telemetry))
            .configure(ipp::queue_routes)
            .default_service(web::to(not_found))
    })
    .workers(workers.min(2))
    .keep_alive(std::time::Duration::from_secs(keep_alive))
    .client_request_timeout(std::time::Duration::from_secs(keep_alive))
    .shutdown_timeout(30)
    .listen(listener)
    .map_err(|e| StartError::Listen {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?
    .run();
    Ok((server, addr))
}

fn app_state(services: Services) -> (web::Data<AppState>, usize, u64) {
    let workers = match services.settings.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let keep_alive = services.settings.server.keep_alive_secs;
    let state = web::Data::new(AppState {
        services,
        metrics: crate::telemetry::metrics_handle(),
        started_at: crate::clock::now(),
        flash: flash::Flashes::default(),
    });
    (state, workers, keep_alive)
}
