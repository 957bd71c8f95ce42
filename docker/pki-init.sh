#!/usr/bin/env bash
# Run once by compose's `pki-init` service: a dev PKI and the certguard policy in the shared
# volume, with each key readable by the one service that uses it. Idempotent: an existing PKI is
# kept (remove the volume to start over).
#
#   pki-init.sh DIR [AUDIT_DIR]
#
# Not for production: the CA key lives in the same volume (DIR/.ca, readable by root only).
set -euo pipefail
pki=${1:?usage: pki-init.sh DIR [AUDIT_DIR]}
audit=${2:-}

/opt/certguard/scripts/dev-pki.sh init "$pki"

# dev-pki.sh's CRL is good for 7 days and the policy says `stale_crl: deny`: renew it on every
# run (`docker compose up pki-init`), written aside and renamed so no reader sees half of it.
openssl ca -config "$pki/.ca/fleet/openssl.cnf" -name fleet -gencrl -out "$pki/.fleet-ca.crl.new" \
  -cert "$pki/ca.crt" -keyfile "$pki/.ca/fleet/ca.key" 2>/dev/null
mv "$pki/.fleet-ca.crl.new" "$pki/fleet-ca.crl"

# dev-pki.sh's server certificate names localhost; in compose the brokers are reached by service
# name, so they get their own certificate, from the same fleet CA.
if [ ! -f "$pki/broker.crt" ]; then
  csr=$(mktemp)
  ext=$(mktemp)
  printf '%s\n' \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature, keyEncipherment" \
    "extendedKeyUsage = serverAuth" \
    "subjectAltName = DNS:mosquitto, DNS:emqx, DNS:localhost, IP:127.0.0.1" >"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/O=Example/CN=certguard demo broker" -keyout "$pki/broker.key" -out "$csr" 2>/dev/null
  openssl x509 -req -in "$csr" -CA "$pki/ca.crt" -CAkey "$pki/.ca/fleet/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 365 -sha256 -extfile "$ext" \
    -out "$pki/broker.crt" 2>/dev/null
  rm -f "$csr" "$ext"
  # Mosquitto drops to user `mosquitto`; EMQX runs as uid 1000 (user `emqx` in its image).
  install -m 600 -o mosquitto -g mosquitto "$pki/broker.key" "$pki/broker-mosquitto.key"
  install -m 600 -o 1000 -g 1000 "$pki/broker.key" "$pki/broker-emqx.key"
  rm -f "$pki/broker.key"
fi

# The policy of the demo, beside the files it names (ca.crt, fleet-ca.crl, revoked.txt).
[ -f "$pki/policy.yaml" ] || cp /opt/certguard/policies/sensors-dashboards.yaml "$pki/policy.yaml"

# One audit folder per service, each writable by that service's user only.
if [ -n "$audit" ]; then
  install -d -m 755 -o mosquitto -g mosquitto "$audit/mosquitto"
  install -d -m 755 -o certguard -g certguard "$audit/exhook"
fi
chmod 644 "$pki"/*.crt "$pki"/*.crl "$pki"/revoked.txt "$pki/policy.yaml"
chmod 755 "$pki"
echo "pki-init: PKI and policy ready in $pki"
ls -l "$pki"
