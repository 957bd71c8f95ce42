#!/usr/bin/env bash
# The demo devices of compose.yaml, with mosquitto-clients over mTLS to both brokers:
#   demo-clients.sh subscribe   dashboard-1 prints what it receives on sensors/+/telemetry
#   demo-clients.sh publish     sensor-1 publishes its own telemetry (allowed) and forges
#                               sensor-2's (denied), on each broker, every 5 s
# Each line is prefixed with the broker it came from: the same policy gives the same result.
set -uo pipefail
brokers=(mosquitto emqx)

tls() {  # $1 device: the options every client needs
  echo -p 8883 --cafile /pki/ca.crt --cert "/pki/$1.crt" --key "/pki/$1.key" -i "$1" -V mqttv5
}

case "${1:-}" in
  subscribe)
    for broker in "${brokers[@]}"; do
      (
        while true; do
          # shellcheck disable=SC2046
          mosquitto_sub -h "$broker" $(tls dashboard-1) -q 1 -t 'sensors/+/telemetry' -v 2>&1 |
            sed -u "s/^/[$broker] dashboard-1 received: /"
          echo "[$broker] dashboard-1: connection ended; retrying in 3 s"
          sleep 3
        done
      ) &
    done
    wait
    ;;
  publish)
    while true; do
      for broker in "${brokers[@]}"; do
        for topic in sensors/sensor-1/telemetry sensors/sensor-2/telemetry; do
          # shellcheck disable=SC2046
          if out=$(mosquitto_pub -h "$broker" $(tls sensor-1) -q 1 -t "$topic" \
                     -m "{\"from\":\"sensor-1\",\"at\":$(date +%s)}" 2>&1) && [ -z "$out" ]; then
            echo "[$broker] sensor-1 publish $topic: accepted"
          else
            echo "[$broker] sensor-1 publish $topic: refused (${out:-exit status $?})"
          fi
        done
      done
      sleep 5
    done
    ;;
  *)
    sed -n '2,6p' "$0"
    exit 2
    ;;
esac
