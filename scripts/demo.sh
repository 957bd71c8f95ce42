#!/usr/bin/env bash
# The certguard demo: on a bare Debian 12 (as root) installs what is missing, builds, makes a dev
# PKI, starts Mosquitto on 127.0.0.1 with the certguard plugin and policies/sensors-dashboards.yaml,
# plays a short scene with real MQTT clients, prints what happened, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target certguard certguard_mosquitto >/dev/null

run="$root/demo-run"
rm -rf "$run"
mkdir -p "$run"
pki="$run/pki"
bash scripts/dev-pki.sh init "$pki"
cp policies/sensors-dashboards.yaml "$pki/policy.yaml"
certguard="$root/build/cli/certguard"
"$certguard" lint "$pki/policy.yaml" >/dev/null

port=18883
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
cat >"$run/mosquitto.conf" <<CONF
user $(id -un)
per_listener_settings false
persistence false
set_tcp_nodelay true
log_dest file $run/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
listener $port 127.0.0.1
cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
require_certificate true
plugin $root/build/mosquitto-plugin/certguard_mosquitto.so
plugin_opt_policy $pki/policy.yaml
plugin_opt_audit $run/audit.jsonl
CONF

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

mosquitto -c "$run/mosquitto.conf" >>"$run/mosquitto.log" 2>&1 &
broker=$!
pids+=("$broker")
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$broker" 2>/dev/null || { cat "$run/mosquitto.log"; exit 1; }
  sleep 0.1
done

tls=(-h 127.0.0.1 -p "$port" --cafile "$pki/ca.crt" -V mqttv5)
as() { echo --cert "$pki/$1.crt" --key "$pki/$1.key"; }

rows=()
row() { rows+=("$(printf '%-3s|%-15s|%-44s|%-6s|%s' "$@")"); }
step=0
last_audit_reason() {  # the newest denial's reason and rule, from the audit log
  tail -n 1 "$run/audit.jsonl" 2>/dev/null |
    sed -E 's/.*"reason":"(([^"\\]|\\.)*)"(,"rule":"([^"]*)")?.*/\1 \4/; s/\\"/"/g' | short_paths
}
last_tls_error() {  # the broker's own words for a refused handshake
  grep -o 'OpenSSL Error\[0\]: .*' "$run/mosquitto.log" | tail -n 1 | sed 's/^OpenSSL Error\[0\]: //'
}
short_paths() { sed "s#$pki/##g"; }
why_allowed() {  # $1 device, then certguard check arguments: the same core explains the allow
  local dev=$1
  shift
  "$certguard" check "$pki/policy.yaml" --cert "$pki/$dev.crt" "$@" | sed 's/^allow: //' | short_paths
}

# A dashboard listens to every sensor's telemetry for the whole scene.
mosquitto_sub "${tls[@]}" $(as dashboard-1) -i dashboard-1 -t 'sensors/+/telemetry' -v \
  >"$run/dashboard.out" 2>&1 &
pids+=($!)
sleep 0.5
row $((++step)) dashboard-1 "subscribe sensors/+/telemetry" allow \
  "$(why_allowed dashboard-1 --subscribe 'sensors/+/telemetry')"

publish() {  # $1 device, $2 topic, $3 payload; prints whether the dashboard got it
  mosquitto_pub "${tls[@]}" $(as "$1") -i "$1" -t "$2" -m "$3" -q 1 >/dev/null 2>&1 || true
  sleep 0.3
  grep -q "$3" "$run/dashboard.out" && echo delivered || echo dropped
}

if [ "$(publish sensor-1 sensors/sensor-1/telemetry 'reading-21.5C')" = delivered ]; then
  row $((++step)) sensor-1 "publish sensors/sensor-1/telemetry" allow \
    "dashboard received it; $(why_allowed sensor-1 --publish sensors/sensor-1/telemetry)"
else
  row $((++step)) sensor-1 "publish sensors/sensor-1/telemetry" DENY "unexpected: not delivered"
fi
if [ "$(publish sensor-1 sensors/sensor-2/telemetry 'forged-99C')" = dropped ]; then
  row $((++step)) sensor-1 "publish sensors/sensor-2/telemetry (forged)" deny \
    "dashboard got nothing; $(last_audit_reason)"
else
  row $((++step)) sensor-1 "publish sensors/sensor-2/telemetry (forged)" ALLOW "unexpected: delivered"
fi

subscribe() {  # $1 device, $2 filter: allow or deny as the broker answered
  if mosquitto_sub "${tls[@]}" $(as "$1") -i "$1" -t "$2" -W 1 2>&1 | grep -q "denied"; then
    echo deny
  else
    echo allow
  fi
}
result=$(subscribe sensor-1 'devices/sensor-1/commands/#')
row $((++step)) sensor-1 "subscribe devices/sensor-1/commands/#" "$result" \
  "$(why_allowed sensor-1 --subscribe 'devices/sensor-1/commands/#')"
result=$(subscribe sensor-1 'devices/+/commands/#')
row $((++step)) sensor-1 "subscribe devices/+/commands/# (too wide)" "$result" "$(last_audit_reason)"
result=$(subscribe sensor-1 '#')
row $((++step)) sensor-1 "subscribe # (everything)" "$result" "$(last_audit_reason)"

# An operator (OU=operations in its certificate) sends sensor-1 a command it is listening for.
mosquitto_sub "${tls[@]}" $(as sensor-1) -i sensor-1 -t 'devices/sensor-1/commands/#' -v -C 1 -W 3 \
  >"$run/sensor-1.out" 2>&1 &
listener=$!
sleep 0.4
mosquitto_pub "${tls[@]}" $(as ops-alice) -i ops-alice -t devices/sensor-1/commands/reboot -m now -q 1 \
  >/dev/null 2>&1 || true
wait "$listener" 2>/dev/null || true
if grep -q "devices/sensor-1/commands/reboot now" "$run/sensor-1.out"; then
  row $((++step)) ops-alice "publish devices/sensor-1/commands/reboot" allow \
    "sensor-1 received it; $(why_allowed ops-alice --publish devices/sensor-1/commands/reboot)"
else
  row $((++step)) ops-alice "publish devices/sensor-1/commands/reboot" DENY "unexpected"
fi

connect() {  # $1 cert, $2 client id: allow or deny as the broker answered
  if mosquitto_pub "${tls[@]}" $(as "$1") -i "$2" -t "devices/$2/status" -m up -q 1 >/dev/null 2>&1; then
    echo allow
  else
    echo deny
  fi
}
result=$(connect sensor-1 sensor-2)
row $((++step)) "sensor-1 cert" "connect as client id sensor-2" "$result" "$(last_audit_reason)"
result=$(connect sensor-foreign sensor-7)
row $((++step)) sensor-7 "connect, certificate from another CA" "$result" "broker TLS: $(last_tls_error)"
result=$(connect sensor-expired sensor-3)
row $((++step)) sensor-3 "connect, certificate expired in 2021" "$result" "broker TLS: $(last_tls_error)"

# sensor-2 is connected and subscribed when its certificate is revoked.
mosquitto_sub "${tls[@]}" $(as sensor-2) -i sensor-2 -t 'devices/sensor-2/commands/#' \
  >"$run/sensor-2.out" 2>&1 &
victim=$!
pids+=("$victim")
sleep 0.5
start=$(date +%s%N)
bash scripts/dev-pki.sh revoke "$pki" sensor-2
until grep -q 'disconnecting client "sensor-2"' "$run/mosquitto.log"; do
  [ $(( $(date +%s%N) - start )) -gt 10000000000 ] && break
  sleep 0.02
done
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
kill "$victim" 2>/dev/null || true
if grep -q 'disconnecting client "sensor-2"' "$run/mosquitto.log"; then
  row $((++step)) sensor-2 "stays connected after CRL revocation" deny \
    "disconnected ${elapsed} ms after the CRL changed (policy refresh: 1s)"
else
  row $((++step)) sensor-2 "stays connected after CRL revocation" ALLOW "unexpected: still connected"
fi
result=$(connect sensor-2 sensor-2)
row $((++step)) sensor-2 "reconnect after revocation" "$result" "$(last_audit_reason)"

echo
echo "certguard demo: Mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1:$port, policy policies/sensors-dashboards.yaml"
echo
printf '%-3s %-15s %-44s %-6s %s\n' "#" "who" "attempt" "result" "why"
printf '%s\n' "$(printf -- '-%.0s' $(seq 120))"
for r in "${rows[@]}"; do
  IFS='|' read -r a b c d e <<<"$r"
  printf '%-3s %-15s %-44s %-6s %s\n' "$a" "$b" "$c" "$d" "$e"
done
echo
echo "Files: $run (broker log mosquitto.log, audit log audit.jsonl, PKI in pki/)"
