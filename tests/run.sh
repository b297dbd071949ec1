#!/usr/bin/env bash
# The test command: installs what the tests need, starts throwaway peers on 127.0.0.1
# (a Postgres cluster unless TEST_DATABASE_URL is set, and a moto S3 server), runs every
# test, stops the peers. Usage: ./tests/run.sh [cargo test arguments], e.g.
# `./tests/run.sh --test all agent::` (tests/all/agent.rs; `--test hostile_http` and
# `--test hostile_printer` are binaries of their own, see tests/all/main.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- what the tests need ---------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
packages=()
if [ -z "${TEST_DATABASE_URL:-}" ] && [ -z "$(pg_bin)" ]; then packages+=(postgresql); fi
command -v curl >/dev/null || packages+=(curl)
command -v chromium >/dev/null || packages+=(chromium)
command -v chromedriver >/dev/null || packages+=(chromium-driver)
command -v ipptool >/dev/null || packages+=(cups-ipp-utils)
command -v gs >/dev/null || packages+=(ghostscript)
# tests/all/cups.rs: a private cupsd, lpadmin/lp and the filters of `apt install cups`
# (cups-filters' pdftopdf), and poppler's pdfinfo to count pages independently.
command -v cupsd >/dev/null || [ -x /usr/sbin/cupsd ] || packages+=(cups)
command -v lp >/dev/null || packages+=(cups-client)
[ -x /usr/lib/cups/filter/pdftopdf ] || packages+=(cups-filters)
command -v pdfinfo >/dev/null || packages+=(poppler-utils)
# tests/support/printer.rs: ippeveprinter needs a (private) D-Bus system bus.
command -v dbus-daemon >/dev/null || packages+=(dbus-daemon)
# tests/all/dnssd.rs: a network namespace of its own with multicast on its loopback.
command -v ip >/dev/null || packages+=(iproute2)
# tests/all/agent.rs: a site (network namespace) whose cable is cut with nftables and
# slowed with tc (iproute2).
command -v nft >/dev/null || [ -x /usr/sbin/nft ] || packages+=(nftables)
command -v tc >/dev/null || [ -x /usr/sbin/tc ] || packages+=(iproute2)
# SNMP tests: net-snmp's snmpget/snmpbulkwalk check the snmpsim agents independently.
command -v snmpget >/dev/null || packages+=(snmp)
# tests/all/ldap.rs, bench/directory.rs (issue 16, LDAP): a private slapd per test and
# OpenLDAP's own ldapsearch/ldapmodify to check it.
[ -x /usr/sbin/slapd ] || packages+=(slapd)
command -v ldapsearch >/dev/null || packages+=(ldap-utils)
# tests/all/convert.rs (issue 17): cups-filters' rastertopdf checks PWG raster
# output (cups-filters above), python3 reads URF, pgrep finds a surviving renderer.
[ -x /usr/lib/cups/filter/rastertopdf ] || packages+=(cups-filters)
command -v pgrep >/dev/null || packages+=(procps)
if [ ${#packages[@]} -gt 0 ]; then
  log "installing ${packages[*]} (Debian)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  # Debian starts a default cluster; the tests use their own.
  as_root service postgresql stop >/dev/null 2>&1 || true
  # Installing cups may start the system cupsd; tests/all/cups.rs runs its own.
  if [[ " ${packages[*]} " == *" cups "* ]]; then as_root service cups stop >/dev/null 2>&1 || true; fi
  # Installing slapd starts the system's; the tests run their own.
  if [[ " ${packages[*]} " == *" slapd "* ]]; then as_root service slapd stop >/dev/null 2>&1 || true; fi
fi
if ! command -v moto_server >/dev/null; then
  log "installing moto[server] (PyPI)"
  python3 -m pip install -q 'moto[server]'
  hash -r
fi
if ! command -v snmpsim-command-responder >/dev/null; then
  log "installing snmpsim (PyPI): real SNMP agents serving recorded printers"
  python3 -m pip install -q snmpsim pysmi cryptography
  hash -r
fi
# tests/all/mail.rs (issue 16): a real SMTP server with STARTTLS and AUTH.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  log "installing aiosmtpd (PyPI): the SMTP server of the mail tests"
  python3 -m pip install -q aiosmtpd
fi
if ! python3 -c 'import zeroconf' 2>/dev/null; then
  log "installing zeroconf (PyPI): an independent mDNS browser for the DNS-SD test"
  python3 -m pip install -q zeroconf
fi

# IPP INFRA: ipptool's get-jobs-fetchable.test ships in Debian's ippsample-data.
# Installing that package pulls the broken ippsample and removes cups-ipp-utils, so it
# is only downloaded and unpacked.
ippsample_data="${IPPSAMPLE_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/printpark/ippsample-data}"
if [ ! -f "$ippsample_data/usr/share/cups/ipptool/get-jobs-fetchable.test" ]; then
  log "unpacking ippsample-data (Debian) for the INFRA ipptool test"
  mkdir -p "$ippsample_data"
  (cd "$ippsample_data" && { apt-get download ippsample-data >/dev/null 2>&1 \
      || { as_root apt-get update -qq && apt-get download ippsample-data >/dev/null 2>&1; }; } \
    && dpkg -x ippsample-data_*.deb . && rm -f ippsample-data_*.deb)
fi
export IPPSAMPLE_DATA="$ippsample_data"

# tests/all/oidc.rs: the certified OpenID provider (npm `oidc-provider`, run by
# tests/oidc-provider/provider.mjs), installed with `npm ci` from the committed lockfile
# into a cache dir keyed by the lockfile's hash; only the npm registry is asked.
command -v node >/dev/null && command -v npm >/dev/null || {
  log "installing nodejs and npm (Debian) for the OpenID provider"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}
oidc_lock_hash=$(sha256sum tests/oidc-provider/package-lock.json | cut -c1-16)
oidc_provider_modules="${OIDC_PROVIDER_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/printpark/oidc-provider-$oidc_lock_hash}"
if [ ! -d "$oidc_provider_modules/node_modules/oidc-provider" ]; then
  log "installing oidc-provider (npm ci) into $oidc_provider_modules"
  mkdir -p "$oidc_provider_modules"
  cp tests/oidc-provider/package.json tests/oidc-provider/package-lock.json "$oidc_provider_modules/"
  (cd "$oidc_provider_modules" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
export OIDC_PROVIDER_MODULES="$oidc_provider_modules"

work=$(mktemp -d /tmp/printpark-test.XXXXXX)
chmod 755 "$work"
pids=()
pg_started=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$pg_started" ]; then
    run_pg "$(pg_bin)/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# initdb refuses to run as root: run the cluster as the postgres user then.
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# --- peers ----------------------------------------------------------------------------
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  port=$(free_port)
  log "starting a throwaway Postgres on 127.0.0.1:$port"
  mkdir -p "$work/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  run_pg "$(pg_bin)/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
  run_pg "$(pg_bin)/pg_ctl" -D "$work/pg/data" -w -l "$work/pg/log" \
    -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
  pg_started=1
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi

port=$(free_port)
log "starting moto S3 on 127.0.0.1:$port"
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/" >/dev/null || { cat "$work/moto.log"; echo "moto did not start" >&2; exit 1; }
export TEST_S3_ENDPOINT="http://127.0.0.1:$port"

# --- the lints ------------------------------------------------------------------------
# Cargo.toml denies unwrap/expect/panic in server code; every other clippy warning is an
# error too. A finding stops the run before the tests.
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

# --- the tests ------------------------------------------------------------------------
log "cargo test"
set +e
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$work/test.log"
status=${PIPESTATUS[0]}
set -e

log "summary"
passed_sqlite=$(grep -cE '^test .*sqlite::.* \.\.\. ok$' "$work/test.log" || true)
passed_pg=$(grep -cE '^test .*postgres::.* \.\.\. ok$' "$work/test.log" || true)
total=$(grep -cE '^test .* \.\.\. ok$' "$work/test.log" || true)
failed=$(grep -cE '^test .* \.\.\. FAILED$' "$work/test.log" || true)
echo "tests passed: $total (SQLite-specific: $passed_sqlite, Postgres-specific: $passed_pg); failed: $failed"
exit "$status"
