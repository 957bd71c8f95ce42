#!/usr/bin/env bash
# Regenerates the certificate and CRL seeds in corpus/certificate_der and corpus/crl with the
# openssl CLI, then corpus/exhook_request (serialized EMQX requests carrying those certificates)
# with the fuzz target itself when build-fuzz has it (scripts/fuzz.sh builds it). The committed
# bytes are what the fuzzers start from; rerun only to change the seeds (keys differ every run).
# Certificates are valid for 100 years, so that seeds that connect keep connecting.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

cat > ca.cnf <<'CNF'
[ca]
default_ca = fuzz
[fuzz]
dir = .
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
[crl_ext]
authorityKeyIdentifier = keyid:always
[delta_ext]
2.5.29.27 = critical, DER:02:01:01
[leaf]
basicConstraints = CA:FALSE
[sans]
basicConstraints = CA:FALSE
subjectAltName = DNS:dev-1.devices.example.com, URI:spiffe://iot.example.com/device/dev-1, email:dev-1@example.com, IP:10.0.0.1, IP:2001:db8::1
[many_sans]
basicConstraints = CA:FALSE
subjectAltName = @many
[many]
CNF
for i in $(seq 1 101); do echo "DNS.$i = d$i.example.com" >> ca.cnf; done
touch index.txt
echo 01 > crlnumber

openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/O=certguard fuzz/CN=fuzz CA" -days 36500 -out ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out leaf.key 2>/dev/null

leaf() {  # name subject extension-section [extra req args...]
  local name=$1 subject=$2 ext=$3
  shift 3
  openssl req -new -key leaf.key -subj "$subject" "$@" -out "$name.csr"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
    -days 36500 -extfile ca.cnf -extensions "$ext" -outform DER -out "$name.der" 2>/dev/null
}
leaf cn "/CN=sensor-1" leaf
leaf sans "/O=Example/OU=sensors/CN=dev-1" sans
leaf multi_cn "/O=Example/CN=a/CN=b" leaf
leaf utf8 "/O=Exemple/CN=capteur-é-1" leaf -utf8
leaf multivalued_rdn "/O=Example/CN=x+UID=dev-2" leaf -multivalue-rdn
leaf emqx_escapes '/DC=com/DC=example/OU=a, b/CN=dev #3\+x=;"' leaf
leaf many_sans "/CN=many" many_sans
openssl x509 -in ca.crt -outform DER -out ca.der

cert_dir="$here/corpus/certificate_der"
mkdir -p "$cert_dir"
cp cn.der sans.der multi_cn.der utf8.der multivalued_rdn.der emqx_escapes.der many_sans.der \
  ca.der "$cert_dir/"

# CRLs: revoke two leaves; a full list, the same as PEM, an empty one, and a delta CRL.
openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -crlexts crl_ext -out empty.pem 2>/dev/null
for name in cn sans; do
  openssl x509 -inform DER -in "$name.der" -out "$name.pem"
  openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -revoke "$name.pem" 2>/dev/null
done
openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -crlexts crl_ext -out two.pem 2>/dev/null
openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -crlexts delta_ext -out delta.pem 2>/dev/null
crl_dir="$here/corpus/crl"
mkdir -p "$crl_dir"
openssl crl -in two.pem -outform DER -out "$crl_dir/two_revoked.der"
openssl crl -in empty.pem -outform DER -out "$crl_dir/empty.der"
openssl crl -in delta.pem -outform DER -out "$crl_dir/delta.der"
cat empty.pem two.pem > "$crl_dir/bundle.pem"

exhook="$here/../../build-fuzz/tests/fuzz/fuzz_exhook_request"
if [ -x "$exhook" ]; then
  rm -rf "$here/corpus/exhook_request"
  mkdir -p "$here/corpus/exhook_request"
  CERTGUARD_FUZZ_WRITE_SEEDS="$here/corpus/exhook_request" CERTGUARD_FUZZ_CERTIFICATES="$cert_dir" \
    "$exhook" >/dev/null 2>&1
else
  echo "make_seeds: build fuzz_exhook_request (scripts/fuzz.sh) to regenerate its seeds" >&2
fi
