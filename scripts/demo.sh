#!/usr/bin/env bash
# make demo: the sticky-sessions walkthrough's manifests served by tether on this machine.
# Five "pods" (scripts/demo/hello.mjs) listen on 127.0.0.11-15:8000; an EndpointSlice naming them
# stands in for what the cluster's endpoint controller would publish. Open the printed URL.
# DEMO_SECONDS=N stops it after N seconds (default: run until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

port=${DEMO_PORT:-8480}
admin=${DEMO_ADMIN_PORT:-8481}
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

cp deploy/examples/sticky-sessions.yaml "$work/"
{
    echo "apiVersion: discovery.k8s.io/v1"
    echo "kind: EndpointSlice"
    echo "metadata: {name: deno-hello-service-local, labels: {kubernetes.io/service-name: deno-hello-service}}"
    echo "addressType: IPv4"
    echo "ports: [{name: deno-hello-port, port: 8000, protocol: TCP}]"
    echo "endpoints:"
    for i in 1 2 3 4 5; do
        echo "  - {addresses: [\"127.0.0.1$i\"], conditions: {ready: true}, targetRef: {kind: Pod, name: deno-hello-$i}}"
    done
} > "$work/endpoints.yaml"

for i in 1 2 3 4 5; do
    node scripts/demo/hello.mjs "127.0.0.1$i" 8000 "deno-hello-$i" & pids+=($!)
done
for i in 1 2 3 4 5; do
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1$i:8000/" >/dev/null 2>&1 && break
        sleep 0.05
    done
done
# The walkthrough's Ingress names the legacy class "nginx": tether serves it under that name.
build/tether --manifests "$work" --ingress-class nginx --http-port "$port" \
    --healthz-port "$admin" --bind-address 127.0.0.1 --workers 1 & pids+=($!)

for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo
echo "tether is serving the sticky-sessions walkthrough:"
echo "  curl -H 'Host: hello.localhost' http://127.0.0.1:$port/"
echo "  (browser: http://hello.localhost:$port/ — *.localhost resolves to 127.0.0.1)"
for _ in 1 2 3; do
    curl -s -H 'Host: hello.localhost' "http://127.0.0.1:$port/" | grep -o 'deno-hello-[0-9]' | head -1
done
echo "metrics: http://127.0.0.1:$admin/metrics   Ctrl-C stops everything."
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else wait; fi
