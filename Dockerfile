# syntax=docker/dockerfile:1
#
# PrintPark server image.
#   docker build -t printpark .
#   docker run -p 8443:8443 -v printpark-data:/var/lib/printpark printpark
#
# Everything the server keeps on disk lives in /var/lib/printpark: the SQLite
# database and sealed blobs (unless Postgres/S3 are configured), the self-signed TLS
# certificate, and master.key. Back up master.key: without it no parked document
# can ever be opened again.

# ---- build ------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
# aws-lc-sys (rustls/rcgen crypto) builds with its cc builder and pregenerated
# bindings on x86_64 and aarch64 Linux: the image's gcc is enough, no cmake or clang.
# SQLite is compiled in (sqlx bundles it), so the runtime needs no libsqlite3.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -m 0755 target/release/printpark /usr/local/bin/printpark

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
# ghostscript: conversion at delivery for printers that do not take the job's format
# (docs/architecture.md, "Conversion at delivery").
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates ghostscript \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid so volume ownership stays the same across rebuilds. The data
# directory is made here, owned by printpark, so a new named volume inherits it.
RUN groupadd --system --gid 10001 printpark \
 && useradd --system --uid 10001 --gid printpark --home-dir /var/lib/printpark \
      --no-create-home --shell /usr/sbin/nologin printpark \
 && install -d -o printpark -g printpark -m 0700 /var/lib/printpark
COPY --from=builder /usr/local/bin/printpark /usr/local/bin/printpark

USER printpark
WORKDIR /var/lib/printpark
# Settings come from PRINTPARK_* variables, or from /var/lib/printpark/printpark.toml
# (read when present), or from a file named by PRINTPARK_CONFIG.
ENV PRINTPARK_DATA_DIR=/var/lib/printpark
VOLUME /var/lib/printpark
EXPOSE 8443
# `printpark healthcheck` asks https://127.0.0.1:8443/healthz, trusting only the
# certificate this server uses; pass --url if server.listen uses another port.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["printpark", "healthcheck"]
ENTRYPOINT ["printpark"]
CMD ["serve"]
