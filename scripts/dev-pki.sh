#!/usr/bin/env bash
# A development PKI made with the openssl command line: a fleet CA with a CRL, a broker
# certificate for localhost, device certificates for the example policy, and the awkward ones a
# demo needs (a foreign CA's device, an expired device).
#
#   scripts/dev-pki.sh init DIR              create everything in DIR (kept if DIR/ca.crt exists)
#   scripts/dev-pki.sh device DIR NAME [OU]  issue DIR/NAME.crt/.key (CN=NAME, URI SAN)
#   scripts/dev-pki.sh revoke DIR NAME       revoke NAME and rewrite DIR/fleet-ca.crl
#
# Not for production: keys are unencrypted and the CA lives on disk next to them.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,10p' "$0"; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

ca_config() {  # $1: CA folder name under $dir/.ca
  local home="$dir/.ca/$1"
  mkdir -p "$home/issued"
  [ -f "$home/index.txt" ] || : >"$home/index.txt"
  [ -f "$home/serial" ] || openssl rand -hex 8 | tr 'a-f' 'A-F' >"$home/serial"
  [ -f "$home/crlnumber" ] || echo 1000 >"$home/crlnumber"
  cat >"$home/openssl.cnf" <<CNF
[ ca ]
default_ca = fleet
[ fleet ]
dir = $home
database = \$dir/index.txt
new_certs_dir = \$dir/issued
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 7
policy = anything
unique_subject = no
copy_extensions = copy
[ anything ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ device ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
CNF
  echo "$home/openssl.cnf"
}

make_ca() {  # $1: name, $2: CN, $3: output prefix
  local conf
  conf=$(ca_config "$1")
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=Example/CN=$2" -keyout "$dir/.ca/$1/ca.key" -out "$3.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
  cp "$3.crt" "$dir/.ca/$1/ca.crt"
  echo "$conf" >/dev/null
}

issue() {  # $1: CA name, $2: output prefix, $3: subject, $4: extensions section, [$5 $6: start end]
  local conf="$dir/.ca/$1/openssl.cnf" csr
  csr=$(mktemp)
  local san=()
  if [ "$4" = device ]; then
    local cn=${3##*CN=}
    san=(-addext "subjectAltName=URI:spiffe://iot.example.com/device/$cn")
  fi
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$3" \
    -keyout "$2.key" -out "$csr" "${san[@]}" 2>/dev/null
  local dates=()
  [ $# -ge 6 ] && dates=(-startdate "$5" -enddate "$6")
  openssl ca -batch -config "$conf" -name fleet -extensions "$4" -in "$csr" -out "$2.crt" \
    -cert "$dir/.ca/$1/ca.crt" -keyfile "$dir/.ca/$1/ca.key" -notext "${dates[@]}" 2>/dev/null
  rm -f "$csr"
  chmod 600 "$2.key"
}

gencrl() {
  openssl ca -config "$dir/.ca/fleet/openssl.cnf" -name fleet -gencrl -out "$dir/fleet-ca.crl" \
    -cert "$dir/ca.crt" -keyfile "$dir/.ca/fleet/ca.key" 2>/dev/null
}

case "$cmd" in
  init)
    if [ -f "$dir/ca.crt" ]; then exit 0; fi
    make_ca fleet "certguard dev fleet CA" "$dir/ca"
    make_ca foreign "some other CA" "$dir/.foreign-ca"
    issue fleet "$dir/server" "/O=Example/CN=localhost" server
    for d in sensor-1 sensor-2 dashboard-1; do
      issue fleet "$dir/$d" "/O=Example/CN=$d" device
    done
    issue fleet "$dir/ops-alice" "/O=Example/OU=operations/CN=ops-alice" device
    issue foreign "$dir/sensor-foreign" "/O=Example/CN=sensor-7" device
    issue fleet "$dir/sensor-expired" "/O=Example/CN=sensor-3" device 20200101000000Z 20210101000000Z
    gencrl
    printf '# certguard denylist: serial:HEX | sha256:HEX | id:DEVICE-ID\n' >"$dir/revoked.txt"
    ;;
  device)
    name=${3:?device name}
    ou=${4:-}
    issue fleet "$dir/$name" "/O=Example${ou:+/OU=$ou}/CN=$name" device
    ;;
  revoke)
    name=${3:?device name}
    openssl ca -config "$dir/.ca/fleet/openssl.cnf" -name fleet -revoke "$dir/$name.crt" \
      -cert "$dir/ca.crt" -keyfile "$dir/.ca/fleet/ca.key" 2>/dev/null
    # Write aside and rename, so the watcher never reads half a CRL.
    openssl ca -config "$dir/.ca/fleet/openssl.cnf" -name fleet -gencrl -out "$dir/.fleet-ca.crl.new" \
      -cert "$dir/ca.crt" -keyfile "$dir/.ca/fleet/ca.key" 2>/dev/null
    mv "$dir/.fleet-ca.crl.new" "$dir/fleet-ca.crl"
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
