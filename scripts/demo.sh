#!/usr/bin/env bash
# make demo: the sticky-sessions walkthrough as a user runs it in a cluster, on this machine.
# The local API stand-in (test/kube/server.mjs --cluster) plays the cluster: its controllers run
# a Deployment's replicas as hello "pods" on 127.0.0.11, .12, ... port 8000 and publish them in
# EndpointSlices. tether watches it through a kubeconfig, and the walkthrough's manifest goes in
# with the real `kubectl apply -f`; `kubectl scale` then starts or stops pods.
# DEMO_SECONDS=N stops it after N seconds (default: run until Ctrl-C). DEMO_PORT, DEMO_ADMIN_PORT
# pick tether's ports; TETHER_BIN another binary than build/tether.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${DEMO_PORT:-8480}
admin=${DEMO_ADMIN_PORT:-8481}
bin=${TETHER_BIN:-build/tether}
manifest=deploy/examples/sticky-sessions.yaml

for tool in node kubectl curl; do
    command -v "$tool" >/dev/null || { echo "demo: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "demo: $bin is missing; run make first" >&2; exit 1; }

work=$(mktemp -d -t tether-demo.XXXXXX)
pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    # Give each process a moment to stop its pods and sockets, then make sure.
    for _ in $(seq 50); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The stand-in prints one JSON line once it listens; its kubeconfig lives in $work.
node test/kube/server.mjs --port 0 --dir "$work" --cluster >"$work/kube.json" 2>"$work/cluster.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$work/kube.json" ] && break
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/cluster.log" >&2; exit 1; }
    sleep 0.05
done
kubeconfig=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).kubeconfig)' "$work/kube.json")

# kubectl 1.29+ validates through the OpenAPI v3 the stand-in serves; older clients want v2, which
# it does not serve (see test/kube/kubectl.mjs). The gcloud dispatcher runs the bundled kubectl of
# the server's minor version, 1.32.
kc=(kubectl --kubeconfig "$kubeconfig" --cache-dir "$work/kubectl-cache")
validate=()
minor=$(kubectl version --client -o json 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        try { const v = JSON.parse(s).clientVersion; const m = parseInt(v.minor, 10) || 0;
              console.log(/dispatcher/.test(v.gitVersion || "") ? Math.min(m, 32) : m); }
        catch { console.log(0); } });')
[ "$minor" -lt 29 ] && validate=(--validate=false)

# The walkthrough's Ingress names the legacy class "nginx": tether serves it under that name.
"$bin" --kubeconfig "$kubeconfig" --ingress-class nginx --http-port "$port" --healthz-port "$admin" \
    --bind-address 127.0.0.1 --workers 1 >"$work/access.log" 2>"$work/tether.log" &
pids+=($!)

"${kc[@]}" apply -f "$manifest" "${validate[@]}"

ready=0
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "${pids[1]}" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" = 0 ]; then
    echo "demo: tether did not become ready; its log:" >&2
    tail -20 "$work/tether.log" >&2
    exit 1
fi
# The route exists once tether has seen the Ingress, the Service and the slice of ready pods.
pod() { curl -s -o /dev/null -D - -H 'Host: hello.localhost' "http://127.0.0.1:$port/" | tr -d '\r' | sed -n 's/^x-pod: //Ip'; }
for _ in $(seq 100); do
    [ -n "$(pod)" ] && break
    sleep 0.1
done
[ -n "$(pod)" ] || { echo "demo: no pod answers through tether; its log:" >&2; tail -20 "$work/tether.log" >&2; exit 1; }

echo
echo "tether is serving the sticky-sessions walkthrough ($manifest):"
echo "  browser: http://hello.localhost:$port/   (*.localhost resolves to 127.0.0.1)"
echo "  curl:    curl -H 'Host: hello.localhost' http://127.0.0.1:$port/"
echo "three answers:"
for _ in 1 2 3; do echo "  $(pod)"; done
echo "scale it (the pods show up in the slice tether watches):"
echo "  kubectl --kubeconfig $kubeconfig scale deployment deno-hello --replicas=15"
echo "  kubectl --kubeconfig $kubeconfig get pods"
echo "metrics: http://127.0.0.1:$admin/metrics   logs: $work/{tether,access,cluster}.log"
echo "Ctrl-C stops everything."
# From here on, pods starting and stopping (a kubectl scale) show up here.
tail -n 0 -F "$work/cluster.log" 2>/dev/null &
pids+=($!)

if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS" &
    pids+=($!)
    wait $!
else
    # Until Ctrl-C, or until the stand-in or tether dies.
    wait -n "${pids[@]}"
    echo "demo: stopping" >&2
fi
