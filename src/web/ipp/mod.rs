//! The IPP server fronts beside the HTTP faces: the secure queue (`queue`, where
//! people print) and the Infrastructure Printer (`infra`, where output devices fetch
//! released jobs). Each turns IPP requests into calls on the services; the protocol
//! itself is `crate::ipp`. This file is their route table.

use actix_web::web;

pub mod infra;
pub mod queue;
mod status;
mod transport;

/// The secure queue (also the whole of the plain-IPP listener).
pub fn queue_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ipp/print", web::post().to(queue::print))
        .route("/ipp/print/{job}", web::post().to(queue::print));
}

/// The Infrastructure Printer: its system URI and each printer's URI (TLS only).
pub fn infra_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ipp/system", web::post().to(infra::system))
        .route("/ipp/infra/{guid}", web::post().to(infra::printer))
        .route("/ipp/infra/{guid}/{job}", web::post().to(infra::printer));
}
