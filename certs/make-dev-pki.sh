#!/usr/bin/env bash
# Makes a development PKI for fedlog: a CA, the aggregator's certificate (SAN localhost, 127.0.0.1), one
# certificate per site (CN = site id, OU = site) and an admin certificate (CN = admin, OU = admin; the OU is the
# role the aggregator checks). Keys are EC P-256, written 0600. Nothing here is for production: see
# docs/OPERATIONS.md for using your organisation's CA.
#
# usage: make-dev-pki.sh [--days N] [--expired NAME]... OUT_DIR [SITE ...]
#   --days N        validity of leaf certificates (default 365)
#   --expired NAME  also make site certificate NAME that expired yesterday (for tests)
#   --reissue-server-and-admin  renew the aggregator and admin certificates even when they exist
# An existing CA, aggregator and admin certificate in OUT_DIR are reused (never re-issued), so sites can be added
# later without touching the running aggregator's or the admins' keys; an existing site is re-issued only when
# named again. Use --reissue-server-and-admin to renew those two.
set -euo pipefail

days=365
expired=()
reissue=0
while [ $# -gt 0 ]; do
  case "$1" in
    --days) days="$2"; shift 2 ;;
    --expired) expired+=("$2"); shift 2 ;;
    --reissue-server-and-admin) reissue=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    --*) echo "make-dev-pki: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ]; then
  echo "usage: make-dev-pki.sh [--days N] [--expired NAME]... OUT_DIR [SITE ...]" >&2
  exit 2
fi
out="$1"; shift
command -v openssl >/dev/null || { echo "make-dev-pki: openssl not found" >&2; exit 1; }
mkdir -p "$out"
umask 077

valid_name() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; }

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f "$out/ca.crt" ]; then
  newkey "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -out "$out/ca.crt" -days 3650 -subj "/O=fedlog dev/CN=fedlog dev CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# issue NAME SUBJECT EXT DAYS
issue() {
  local name="$1" subject="$2" ext="$3" d="$4" ext_file
  ext_file="$(mktemp)"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$ext" > "$ext_file"
  newkey "$out/$name.key"
  openssl req -new -key "$out/$name.key" -out "$out/$name.csr" -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
    -days "$d" -out "$out/$name.crt" -extfile "$ext_file" 2>/dev/null
  rm -f "$out/$name.csr" "$ext_file"
}

kept=()
if [ "$reissue" = 1 ] || [ ! -f "$out/aggregator.crt" ] || [ ! -f "$out/aggregator.key" ]; then
  issue aggregator "/O=fedlog dev/OU=aggregator/CN=aggregator" \
    "$(printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1')" "$days"
else
  kept+=(aggregator)
fi
if [ "$reissue" = 1 ] || [ ! -f "$out/admin.crt" ] || [ ! -f "$out/admin.key" ]; then
  issue admin "/O=fedlog dev/OU=admin/CN=admin" "extendedKeyUsage=clientAuth" "$days"
else
  kept+=(admin)
fi
for site in "$@"; do
  valid_name "$site" || { echo "make-dev-pki: invalid site id '$site'" >&2; exit 2; }
  issue "$site" "/O=fedlog dev/OU=site/CN=$site" "extendedKeyUsage=clientAuth" "$days"
done
for site in "${expired[@]}"; do
  valid_name "$site" || { echo "make-dev-pki: invalid site id '$site'" >&2; exit 2; }
  issue "$site" "/O=fedlog dev/OU=site/CN=$site" "extendedKeyUsage=clientAuth" -1
done
chmod 644 "$out"/*.crt
if [ ${#kept[@]} -gt 0 ]; then
  echo "make-dev-pki: kept the existing ${kept[*]} certificate(s) in $out${*:+; wrote sites: $*}"
else
  echo "make-dev-pki: wrote CA, aggregator, admin${*:+ and sites: $*} to $out"
fi
