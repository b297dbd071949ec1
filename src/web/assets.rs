//! Static assets embedded in the binary (rust-embed), served under a content hash so
//! browsers may cache them for a year and still see every new release.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

fn hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        Static::iter()
            .filter_map(|name| {
                let file = Static::get(&name)?;
                Some((
                    name.to_string(),
                    hex::encode(&file.metadata.sha256_hash()[..6]),
                ))
            })
            .collect()
    })
}

/// The URL of an embedded asset, with its hash for cache busting.
pub fn url(name: &str) -> String {
    match hashes().get(name) {
        Some(hash) => format!("/static/{name}?v={hash}"),
        None => format!("/static/{name}"),
    }
}

pub async fn serve(path: web::Path<String>) -> HttpResponse {
    let name = path.into_inner();
    match Static::get(&name) {
        Some(file) => HttpResponse::Ok()
            .content_type(file.metadata.mimetype())
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().finish(),
    }
}
