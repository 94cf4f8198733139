#!/usr/bin/env bash
# bench/run.sh - `make bench`: tether vs nginx vs HAProxy vs direct, one echo backend, one run.
#
# Method (spec/benchmarking.md, "efficiency profile"): every contender runs at once on its own
# port; wrk is pinned to one CPU, proxies and backend to the other; rounds rotate the order;
# per run we record req/s, latency, errors and each proxy's CPU time per request
# (utime+stime from /proc/PID/stat of all its processes, before/after, / requests).
# The report prints medians and paired ratios per round. See bench/README.md.
#
# Environment: ROUNDS (5) DURATION (10 s) WARMUP (3 s) QUICK=1 (ROUNDS=1 DURATION=3 WARMUP=1)
#   CONTENDERS ("tether nginx haproxy direct") SCENARIOS ("ka-1k ka-64k close-1k"; also multi-1k
#   sticky-1k sticky-new-1k sticky-persist-1k, and "sticky" = ka-1k multi-1k sticky-1k sticky-new-1k)
#   STICKY_ENDPOINTS (4: endpoints 127.0.0.1..127.0.0.N of the multi-endpoint Service)
#   THREADS (2) CONNS (50) PIN (1) WRK_CPU (0) PROXY_CPU (1) LOAD_MAX (0.2 cores)
#   TETHER_BIN (build/tether) TETHER_ARGS (extra flags) TETHER_READY_TIMEOUT (10 s)
#   KEEP_TMP=1 (keep configs, logs and raw wrk output) STRICT=1 (exit 1 unless every target PASSes)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${QUICK:-0}" = 1 ]; then
    ROUNDS=${ROUNDS:-1}; DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}
fi
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
PIN=${PIN:-1}
WRK_CPU=${WRK_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_MAX=${LOAD_MAX:-0.2}
NICE=${NICE:-0}
CONTENDERS=${CONTENDERS:-"tether nginx haproxy direct"}
SCENARIOS=${SCENARIOS:-"ka-1k ka-64k close-1k"}
STICKY_ENDPOINTS=${STICKY_ENDPOINTS:-4}
COOKIE_NAME=INGRESSCOOKIE       # ingress-nginx's default session-cookie-name
TETHER_BIN=${TETHER_BIN:-build/tether}
TETHER_ARGS=${TETHER_ARGS:-}
TETHER_LOG=${TETHER_LOG-info,access=off}     # TT_LOG for tether: no access log, like nginx's access_log off
TETHER_READY_TIMEOUT=${TETHER_READY_TIMEOUT:-10}
CLK_TCK=$(getconf CLK_TCK)

say()  { printf '%s\n' "$*" >&2; }
die()  { say "bench: $*"; exit 1; }

# Scenario names: "sticky" expands to the sticky-session set; unknown names stop here, not later.
SCENARIOS=$(for s in $SCENARIOS; do
                if [ "$s" = sticky ]; then echo ka-1k multi-1k sticky-1k sticky-new-1k; else echo "$s"; fi
            done | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
SCENARIOS=${SCENARIOS% }
for s in $SCENARIOS; do
    case $s in
    ka-1k|ka-64k|close-1k|multi-1k|sticky-1k|sticky-new-1k|sticky-persist-1k) ;;
    *) die "unknown scenario $s (ka-1k ka-64k close-1k multi-1k sticky-1k sticky-new-1k sticky-persist-1k sticky)";;
    esac
done
[ -n "$SCENARIOS" ] || die "SCENARIOS is empty"
SW=$(for s in $SCENARIOS; do echo "${#s}"; done | sort -n | tail -1)   # name width in progress lines
[ "$SW" -lt 8 ] && SW=8
case $STICKY_ENDPOINTS in ''|*[!0-9]*) die "STICKY_ENDPOINTS must be a number (1-254)";; esac
if [ "$STICKY_ENDPOINTS" -lt 1 ] || [ "$STICKY_ENDPOINTS" -gt 254 ]; then die "STICKY_ENDPOINTS must be 1-254"; fi
EP_ADDRS=()     # the multi-endpoint Service's "pods": one echo backend listening on each address
for ((i = 1; i <= STICKY_ENDPOINTS; i++)); do EP_ADDRS+=("127.0.0.$i"); done

for t in wrk nginx haproxy curl taskset cc awk ss; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || die "missing $t (apt-get install -y nginx-light haproxy wrk curl)"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

# ---------------------------------------------------------------------------------------------
# Cleanup: stop exactly the processes we started (by pid), then remove the temp dir.
STARTED=()
WRK_PID=
TMP=$(mktemp -d /tmp/tether-bench.XXXXXX)
cleanup() {
    local p i
    if [ -n "$WRK_PID" ]; then
        for p in $(tree_pids "$WRK_PID"); do kill "$p" 2>/dev/null; done
    fi
    for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 30); do
        local alive=0
        for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${STARTED[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then say "bench: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Helpers.

# All pids of the process tree rooted at $1 (the root first).
tree_pids() {
    local root=$1 f line rest ppid pid
    local -A kids=()
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null < "$f" || continue
        pid=${line%% *}
        rest=${line##*) }
        rest=${rest#* }
        ppid=${rest%% *}
        kids[$ppid]+="$pid "
    done
    local queue=("$root") out=()
    while [ ${#queue[@]} -gt 0 ]; do
        pid=${queue[0]}; queue=("${queue[@]:1}")
        [ -d "/proc/$pid" ] || continue
        out+=("$pid")
        for f in ${kids[$pid]:-}; do queue+=("$f"); done
    done
    echo "${out[@]}"
}

# utime+stime (clock ticks) summed over the given pids.
cpu_ticks() {
    local sum=0 pid line rest
    local -a a
    for pid in "$@"; do
        read -r line 2>/dev/null < "/proc/$pid/stat" || continue
        rest=${line##*) }
        read -ra a <<< "$rest"
        sum=$((sum + a[11] + a[12]))    # fields 14 and 15 of stat (state is field 3)
    done
    echo "$sum"
}

# "pid ticks" (utime+stime) of every process on the machine.
snap_all() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk '{ pid = $1; sub(/.*\) /, ""); print pid, $12 + $13 }'
}

# CPU ticks used between two snap_all files by processes alive at the second one.
snap_delta() {
    awk 'FNR == NR { t0[$1] = $2; next } { d += $2 - (($1 in t0) ? t0[$1] : 0) } END { print d + 0 }' "$1" "$2"
}

# Rss and Pss (KiB) summed over the given pids.
mem_kib() {
    local rss=0 pss=0 pid k v
    for pid in "$@"; do
        [ -r "/proc/$pid/smaps_rollup" ] || continue
        while read -r k v _; do
            case $k in Rss:) rss=$((rss + v));; Pss:) pss=$((pss + v));; esac
        done 2>/dev/null < "/proc/$pid/smaps_rollup"
    done
    echo "$rss $pss"
}

# pick_port: a free port in PICKED. Not $(pick_port): USED_PORTS must be updated in this shell,
# or two picks could return the same port.
USED_PORTS=" "
PICKED=
pick_port() {
    local p listening
    listening=$(ss -Htln 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | tr '\n' ' ')
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 12000))           # below the ephemeral range 32768-60999
        case " $listening $USED_PORTS " in *" $p "*) continue;; esac
        USED_PORTS+="$p "
        PICKED=$p; return 0
    done
    die "no free port"
}

# http_ok URL SIZE: 200 and exactly SIZE body bytes.
http_ok() {
    local got
    got=$(curl -s -o /dev/null --max-time 2 -w '%{http_code} %{size_download}' "$1" 2>/dev/null)
    [ "$got" = "200 $2" ]
}

wait_ready() {     # wait_ready PORT TIMEOUT_S PID
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$3" 2>/dev/null || return 2
        http_ok "http://127.0.0.1:$1/1k" 1024 && return 0
        sleep 0.1
    done
    return 1
}

pin() {            # pin PID: every process and thread of its tree onto PROXY_CPU
    [ "$PIN" = 1 ] || return 0
    local p
    for p in $(tree_pids "$1"); do taskset -a -p -c "$PROXY_CPU" "$p" >/dev/null 2>&1; done
}

# ---------------------------------------------------------------------------------------------
# Environment and metadata.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=65536
NPROC=$(nproc)
if [ "$PIN" = 1 ] && [ "$NPROC" -lt 2 ]; then
    say "bench: only $NPROC CPU: running unpinned"
    PIN=0
fi
RUN=()          # prefix for everything we start: optional nice
[ "$NICE" != 0 ] && RUN=(nice -n "$NICE")
WRK_PIN=("${RUN[@]}")
[ "$PIN" = 1 ] && WRK_PIN+=(taskset -c "$WRK_CPU")

TS=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/out
mkdir -p "$OUT" build/bench
META=$TMP/meta.tsv
RUNS=$TMP/runs.tsv
: > "$RUNS"
meta() { printf '%s\t%s\n' "$1" "$2" >> "$META"; }
meta timestamp "$TS"
meta date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
meta host "$(uname -n)"
meta nproc "$NPROC"
meta kernel "$(uname -srm)"
meta cpu_model "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
meta loadavg_start "$(cat /proc/loadavg)"
meta ulimit_n "$(ulimit -n)"
meta nginx_version "$($NGINX -v 2>&1 | head -1)"
meta haproxy_version "$($HAPROXY -v 2>&1 | head -1)"
meta wrk_version "$(wrk -v 2>&1 | head -1)"
meta cc_version "$(cc --version | head -1)"
meta git_commit "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- 2>/dev/null || echo -dirty)"
meta clk_tck "$CLK_TCK"
meta rounds "$ROUNDS"
meta duration_s "$DURATION"
meta warmup_s "$WARMUP"
meta wrk_threads "$THREADS"
meta wrk_conns "$CONNS"
meta pinned "$PIN"
meta wrk_cpu "$WRK_CPU"
meta proxy_cpu "$PROXY_CPU"
meta scenarios "$SCENARIOS"
meta load_max "$LOAD_MAX"
meta nice "$NICE"

say "bench: $(uname -srm), $NPROC CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), ulimit -n $(ulimit -n)"
say "bench: $ROUNDS rounds x ${DURATION}s (+${WARMUP}s warm-up), wrk -t$THREADS -c$CONNS" \
    "$([ "$PIN" = 1 ] && echo "on CPU $WRK_CPU, proxies+backend on CPU $PROXY_CPU" || echo unpinned)"

# ---------------------------------------------------------------------------------------------
# Backend.
cc -O2 -Wall -o build/bench/echo-backend bench/echo-backend.c || die "cannot build the echo backend"
pick_port; BPORT=$PICKED
# One process listening on BPORT at 127.0.0.1 .. 127.0.0.N: the one-endpoint Service uses
# 127.0.0.1, the multi-endpoint one (multi-1k and sticky-*) all N addresses.
"${RUN[@]}" build/bench/echo-backend "$BPORT" "${EP_ADDRS[@]}" > "$TMP/backend.log" 2>&1 &
BPID=$!
STARTED+=("$BPID")
wait_ready "$BPORT" 5 "$BPID" || die "echo backend did not start (see $TMP/backend.log)"
for a in "${EP_ADDRS[@]}"; do
    http_ok "http://$a:$BPORT/1k" 1024 || die "echo backend does not answer on $a:$BPORT (see $TMP/backend.log)"
done
pin "$BPID"
meta backend_port "$BPORT"
meta sticky_endpoints "$STICKY_ENDPOINTS"
meta cookie_name "$COOKIE_NAME"

declare -A PORT PID STATUS
CLIST=()      # contenders that run

# Lines for the multi-endpoint upstream: printf FORMAT with (n, address, n) per endpoint, n = 1..N.
ep_lines() {
    local i
    for ((i = 0; i < ${#EP_ADDRS[@]}; i++)); do
        # shellcheck disable=SC2059
        printf "$1" "$((i + 1))" "${EP_ADDRS[$i]}" "$((i + 1))"
    done
}

# Routes besides "/" -> the one-endpoint backend (ka-1k, ka-64k, close-1k), in every contender:
#   /multi/   the N endpoints, round-robin, no affinity (multi-1k: the control)
#   /sticky/  the N endpoints, cookie affinity (sticky-1k, sticky-new-1k)
#   /persist/ the N endpoints, cookie affinity, tether's persistent mode (sticky-persist-1k)
# nginx: hash $cookie_INGRESSCOOKIE consistent (ketama, 160 points per server, like tether's
# balanced ring); it issues no cookie. HAProxy: its native cookie insert (a server id per cookie).
start_nginx() {
    local d=$TMP/nginx p=$1
    mkdir -p "$d/tmp"
    cat > "$d/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $((NOFILE / 2 < 10000 ? NOFILE / 2 : 10000)); }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    upstream echo {
        server 127.0.0.1:$BPORT;
        keepalive 64;
    }
    upstream echo_multi {
$(ep_lines "        server %.0s%s:$BPORT;%.0s\n")
        keepalive 64;
    }
    upstream echo_sticky {
        hash \$cookie_$COOKIE_NAME consistent;
$(ep_lines "        server %.0s%s:$BPORT;%.0s\n")
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$p;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /multi/ {
            proxy_pass http://echo_multi;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /sticky/ {
            proxy_pass http://echo_sticky;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /persist/ {
            proxy_pass http://echo_sticky;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    "${RUN[@]}" "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" > "$d/stdout.log" 2>&1 &
    STARTED_PID=$!
}

start_haproxy() {
    local d=$TMP/haproxy p=$1
    mkdir -p "$d"
    cat > "$d/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $(((NOFILE - 100) / 2 < 8000 ? (NOFILE - 100) / 2 : 8000))
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend fe
    bind 127.0.0.1:$p
    use_backend be_multi if { path_beg /multi/ }
    use_backend be_sticky if { path_beg /sticky/ /persist/ }
    default_backend be
backend be
    server echo 127.0.0.1:$BPORT
backend be_multi
    balance roundrobin
$(ep_lines "    server s%d %s:$BPORT%.0s\n")
backend be_sticky
    balance roundrobin
    cookie $COOKIE_NAME insert indirect nocache
$(ep_lines "    server s%d %s:$BPORT cookie s%d\n")
EOF
    "${RUN[@]}" "$HAPROXY" -W -db -f "$d/haproxy.cfg" > "$d/haproxy.log" 2>&1 &
    STARTED_PID=$!
}

start_tether() {
    local d=$TMP/tether p=$1 h
    mkdir -p "$d"
    pick_port; h=$PICKED
    TETHER_HEALTHZ=$h
    meta tether_healthz_port "$h"
    cat > "$d/manifests.yaml" <<EOF
# Generated by bench/run.sh: Service echo (one endpoint, 127.0.0.1) for "/", and Service
# echo-multi (the echo backend on 127.0.0.1..N, one endpoint each, like N pods) for /multi
# (no affinity), /sticky (affinity: cookie, balanced) and /persist (affinity-mode: persistent).
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: tether
spec:
  controller: tether.dev/ingress-controller
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: default
spec:
  ports:
    - {name: http, port: 80, protocol: TCP, targetPort: $BPORT}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  namespace: default
  labels:
    kubernetes.io/service-name: echo
addressType: IPv4
ports:
  - {name: http, port: $BPORT, protocol: TCP}
endpoints:
  - addresses: ["127.0.0.1"]
    conditions: {ready: true}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: echo
  namespace: default
spec:
  ingressClassName: tether
  rules:
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: echo
                port: {number: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: echo-multi
  namespace: default
spec:
  ports:
    - {name: http, port: 80, protocol: TCP, targetPort: $BPORT}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-multi-1
  namespace: default
  labels:
    kubernetes.io/service-name: echo-multi
addressType: IPv4
ports:
  - {name: http, port: $BPORT, protocol: TCP}
endpoints:
$(ep_lines '  - addresses: ["%.0s%s"]%.0s\n    conditions: {ready: true}\n')
EOF
    local name ann
    for name in multi sticky persist; do
        case $name in
        multi)   ann='{}';;
        sticky)  ann="{nginx.ingress.kubernetes.io/affinity: cookie}";;
        persist) ann="{nginx.ingress.kubernetes.io/affinity: cookie, nginx.ingress.kubernetes.io/affinity-mode: persistent}";;
        esac
        cat >> "$d/manifests.yaml" <<EOF
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: echo-$name
  namespace: default
  annotations: $ann
spec:
  ingressClassName: tether
  rules:
    - http:
        paths:
          - path: /$name
            pathType: Prefix
            backend:
              service:
                name: echo-multi
                port: {number: 80}
EOF
    done
    # Same upstream keep-alive pool as nginx (keepalive 64), when this tether has the flag.
    local extra=()
    timeout 5 "$TETHER_BIN" --help 2>&1 | grep -q -- --upstream-keepalive && extra+=(--upstream-keepalive 64)
    meta tether_args "--workers 1 ${extra[*]} $TETHER_ARGS"
    meta tether_log "TT_LOG=$TETHER_LOG"
    # stdout carries access log lines (off by default, see TETHER_LOG): discarded.
    # shellcheck disable=SC2086
    TT_LOG=$TETHER_LOG "${RUN[@]}" "$TETHER_BIN" --manifests "$d/manifests.yaml" --http-port "$p" \
        --healthz-port "$h" --bind-address 127.0.0.1 --workers 1 "${extra[@]}" $TETHER_ARGS \
        > /dev/null 2> "$d/stderr.log" &
    STARTED_PID=$!
}

for c in $CONTENDERS; do
    case $c in
    direct)
        PORT[$c]=$BPORT; PID[$c]=$BPID; STATUS[$c]=running; CLIST+=("$c"); continue;;
    nginx|haproxy|tether) ;;
    *) die "unknown contender $c";;
    esac
    if [ "$c" = tether ] && [ ! -x "$TETHER_BIN" ]; then
        STATUS[$c]="not running: $TETHER_BIN missing (run make)"
        say "bench: tether: ${STATUS[$c]}"
        continue
    fi
    pick_port; PORT[$c]=$PICKED
    "start_$c" "${PORT[$c]}"
    PID[$c]=$STARTED_PID
    STARTED+=("${PID[$c]}")
    timeout=5; [ "$c" = tether ] && timeout=$TETHER_READY_TIMEOUT
    wait_ready "${PORT[$c]}" "$timeout" "${PID[$c]}"
    rc=$?
    if [ $rc = 0 ] && ! http_ok "http://127.0.0.1:${PORT[$c]}/64k" 65536; then rc=3; fi
    if [ $rc != 0 ]; then
        case $rc in
        2) wait "${PID[$c]}" 2>/dev/null; why="exited at once (status $?)";;
        3) why="/64k did not return 65536 bytes";;
        *) why="no 200 with 1024 bytes on /1k within ${timeout}s";;
        esac
        log=$(cat "$TMP/$c"/*.log 2>/dev/null | tail -3 | tr '\n' ' ' | cut -c1-300)
        STATUS[$c]="not running: $why${log:+ ($log)}"
        say "bench: $c: ${STATUS[$c]}"
        kill -TERM "${PID[$c]}" 2>/dev/null
        [ "$c" = tether ] || die "$c must run (config in $TMP, KEEP_TMP=1 to keep it)"
        continue
    fi
    pin "${PID[$c]}"
    STATUS[$c]=running
    CLIST+=("$c")
    meta "${c}_port" "${PORT[$c]}"
    say "bench: $c on 127.0.0.1:${PORT[$c]} (pids $(tree_pids "${PID[$c]}"))"
done
say "bench: direct = echo backend on 127.0.0.1:$BPORT (pid $BPID)"
for c in tether nginx haproxy direct; do
    case " $CONTENDERS " in
    *" $c "*) meta "status_$c" "${STATUS[$c]:-not running}";;
    *) meta "status_$c" "not run (not in CONTENDERS)";;
    esac
done
[ "${#CLIST[@]}" -gt 0 ] || die "nothing to run"

# ---------------------------------------------------------------------------------------------
# Affinity cookies for multi-1k and the sticky scenarios: one per contender, taken once from its
# own first response and then sent by every wrk connection (the steady state of a sticky
# client). tether: its balanced (/sticky) and persistent (/persist) cookies. HAProxy: its
# inserted server cookie. nginx issues none: it gets tether's values (the same bytes to hash
# and forward), or stand-ins of the same shape when tether does not run. direct: the same.
declare -A CK_STICKY CK_PERSIST
FAKE_STICKY="0123456789abcdef|0123456789abcdef0123456789abcdef"
FAKE_PERSIST="0123456789abcdef0123456789abcdef|0123456789abcdef0123456789abcdef"

probe() {    # probe URL [COOKIE] -> P_CODE P_SIZE P_SETC (our cookie's value in a Set-Cookie)
    local hdr=() out
    [ -n "${2:-}" ] && hdr=(-H "Cookie: $COOKIE_NAME=$2")
    : > "$TMP/probe.h"
    out=$(curl -s -o /dev/null -D "$TMP/probe.h" -w '%{http_code} %{size_download}' --max-time 2 \
          "${hdr[@]}" "$1" 2>/dev/null)
    P_CODE=${out% *}; P_SIZE=${out#* }
    P_SETC=$(tr -d '\r' < "$TMP/probe.h" | awk -v n="$COOKIE_NAME=" '
        tolower($1) == "set-cookie:" && index($2, n) == 1 {
            v = substr($2, length(n) + 1); sub(/;.*/, "", v); print v; exit }')
}

# sticky_cookie URL: a new cookie from URL, checked to be honoured (200, 1024 bytes and no new
# Set-Cookie when sent back). Prints the value, or nothing and a reason on stderr.
sticky_cookie() {
    local v
    probe "$1"
    v=$P_SETC
    if [ "$P_CODE $P_SIZE" != "200 1024" ] || [ -z "$v" ]; then
        say "bench: $1: no $COOKIE_NAME cookie (status $P_CODE, $P_SIZE bytes)"; return 1
    fi
    probe "$1" "$v"
    if [ "$P_CODE $P_SIZE" != "200 1024" ] || [ -n "$P_SETC" ]; then
        say "bench: $1: cookie $v not honoured (status $P_CODE, $P_SIZE bytes, new cookie '$P_SETC')"; return 1
    fi
    echo "$v"
}

NEED_COOKIES=0
for s in $SCENARIOS; do case $s in multi-1k|sticky-*) NEED_COOKIES=1;; esac; done
if [ "$NEED_COOKIES" = 1 ]; then
    for c in tether haproxy; do
        [ "${STATUS[$c]:-}" = running ] || continue
        base="http://127.0.0.1:${PORT[$c]}"
        CK_STICKY[$c]=$(sticky_cookie "$base/sticky/1k")
        CK_PERSIST[$c]=$(sticky_cookie "$base/persist/1k")   # HAProxy: the same backend
        if [ -z "${CK_STICKY[$c]}" ] || [ -z "${CK_PERSIST[$c]}" ]; then
            # tether's runs are then flagged by the affinity check; HAProxy's config is ours.
            [ "$c" = tether ] || die "$c: no usable affinity cookie (config in $TMP, KEEP_TMP=1 to keep it)"
            say "bench: tether: no usable affinity cookie: its sticky runs will be flagged"
        fi
    done
    for c in nginx direct; do
        CK_STICKY[$c]=${CK_STICKY[tether]:-$FAKE_STICKY}
        CK_PERSIST[$c]=${CK_PERSIST[tether]:-$FAKE_PERSIST}
    done
    for c in "${CLIST[@]}"; do
        meta "cookie_sticky_$c" "${CK_STICKY[$c]:-}"
        meta "cookie_persist_$c" "${CK_PERSIST[$c]:-}"
        # Every route answers through this contender (direct serves any path).
        for u in "/multi/1k ${CK_STICKY[$c]:-}" "/sticky/1k ${CK_STICKY[$c]:-}" "/sticky/1k" \
                 "/persist/1k ${CK_PERSIST[$c]:-}"; do
            read -r path ck <<< "$u"
            probe "http://127.0.0.1:${PORT[$c]}$path" "${ck:-}"
            [ "$P_CODE $P_SIZE" = "200 1024" ] || [ "$c" = tether ] ||
                die "$c: $path gives status $P_CODE, $P_SIZE bytes (config in $TMP, KEEP_TMP=1 to keep it)"
        done
        say "bench: $c: $COOKIE_NAME=${CK_STICKY[$c]:-} (persistent: ${CK_PERSIST[$c]:-})"
    done
fi

n_runs=$(( ROUNDS * $(wc -w <<< "$SCENARIOS") * ${#CLIST[@]} ))
say "bench: $n_runs runs, about $(( n_runs * (DURATION + WARMUP + 1) / 60 + 1 )) min"

# ---------------------------------------------------------------------------------------------
# One measured run.
scenario_args() {    # scenario_args SCENARIO CONTENDER -> PATH_ SIZE_ HDR_
    local cs="Cookie: $COOKIE_NAME=${CK_STICKY[$2]:-}" cp="Cookie: $COOKIE_NAME=${CK_PERSIST[$2]:-}"
    case $1 in
    ka-1k)    PATH_=/1k;  SIZE_=1024;  HDR_=();;
    ka-64k)   PATH_=/64k; SIZE_=65536; HDR_=();;
    close-1k) PATH_=/1k;  SIZE_=1024;  HDR_=(-H 'Connection: close');;
    # N endpoints, no affinity, the same request bytes as sticky-1k: the control for it.
    multi-1k)          PATH_=/multi/1k;   SIZE_=1024; HDR_=(-H "$cs");;
    sticky-1k)         PATH_=/sticky/1k;  SIZE_=1024; HDR_=(-H "$cs");;
    sticky-new-1k)     PATH_=/sticky/1k;  SIZE_=1024; HDR_=();;
    sticky-persist-1k) PATH_=/persist/1k; SIZE_=1024; HDR_=(-H "$cp");;
    *) die "unknown scenario $1";;
    esac
}

# tether's tether_affinity_decisions_total as "hit new rebind failover", or nothing when
# /metrics cannot be read or has no such counter.
aff_counts() {
    local m
    [ -n "${TETHER_HEALTHZ:-}" ] || return 0
    m=$(curl -s --max-time 2 "http://127.0.0.1:$TETHER_HEALTHZ/metrics" 2>/dev/null) || return 0
    awk '/^tether_affinity_decisions_total\{/ && match($0, /outcome="[a-z]+"/) {
             v[substr($0, RSTART + 9, RLENGTH - 10)] = $NF; n++ }
         END { if (n) printf "%d %d %d %d\n", v["hit"], v["new"], v["rebind"], v["failover"] }' <<< "$m"
}

# CPU (in cores) used over 1 s by all processes while ours idle: load from others.
foreign_load() {
    local t0 t1
    snap_all > "$TMP/fl0"; t0=$EPOCHREALTIME
    sleep 1
    snap_all > "$TMP/fl1"; t1=$EPOCHREALTIME
    awk -v d="$(snap_delta "$TMP/fl0" "$TMP/fl1")" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.2f", d / hz / (b - a) }'
}

run_one() {    # run_one ROUND SCENARIO CONTENDER POSITION
    local r=$1 s=$2 c=$3 pos=$4 url raw pids bpids
    scenario_args "$s" "$c"
    url="http://127.0.0.1:${PORT[$c]}$PATH_"
    raw=$TMP/wrk-r$r-$s-$c.txt
    if ! kill -0 "${PID[$c]}" 2>/dev/null; then
        say "bench: $c is no longer running"
        printf '%s\t%s\t%s\t%s\tdied\n' "$r" "$s" "$c" "$pos" >> "$RUNS"
        return
    fi
    # warm-up (not measured)
    timeout $((WARMUP + 10)) "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" \
        "${HDR_[@]}" "$url" > /dev/null 2>&1

    pids=""; [ "$c" = direct ] || pids=$(tree_pids "${PID[$c]}")
    bpids=$(tree_pids "$BPID")
    local p0 q0 t0 p1 q1 t1 mem wrk_s line a0='' a1=''
    [ "$c" = tether ] && a0=$(aff_counts)    # outside the measured window
    snap_all > "$TMP/s0"
    p0=$(cpu_ticks $pids); q0=$(cpu_ticks $bpids); t0=$EPOCHREALTIME
    ( timeout $((DURATION + 15)) "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
          --latency "${HDR_[@]}" "$url" > "$raw" 2>&1
      times > "$raw.times" ) &
    WRK_PID=$!
    sleep "$(awk -v d="$DURATION" 'BEGIN { print d / 2 }')"
    mem=$(mem_kib ${pids:-$bpids})
    wait "$WRK_PID"
    WRK_PID=
    p1=$(cpu_ticks $pids); q1=$(cpu_ticks $bpids); t1=$EPOCHREALTIME
    snap_all > "$TMP/s1"
    [ "$c" = tether ] && a1=$(aff_counts)
    # `times` in the subshell: its children = wrk. Line 2 is "0m1.234s 0m0.567s".
    wrk_s=$(awk 'NR == 2 { s = 0
                 for (i = 1; i <= 2; i++) { split($i, m, "m"); sub("s", "", m[2]); s += m[1] * 60 + m[2] }
                 print s }' "$raw.times" 2>/dev/null)
    line=$(awk -v r="$r" -v s="$s" -v c="$c" -v pos="$pos" -v size="$SIZE_" \
        -v pt=$((p1 - p0)) -v bt=$((q1 - q0)) -v wrk_s="${wrk_s:-0}" -v hz="$CLK_TCK" \
        -v other=$(($(snap_delta "$TMP/s0" "$TMP/s1") - (p1 - p0) - (q1 - q0))) \
        -v elapsed="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v mem="$mem" \
        -v direct="$([ "$c" = direct ] && echo 1 || echo 0)" -f bench/parse-wrk.awk "$raw")
    [ -n "$line" ] || line=$(printf '%s\t%s\t%s\t%s\tfail' "$r" "$s" "$c" "$pos")
    # Column 28: tether's affinity decisions during the measured run ("hit new rebind failover"),
    # checked against the scenario: every request of sticky-1k/-persist a hit, of sticky-new-1k
    # a new cookie, of the others none (status "affinity" otherwise).
    line=$(awk -F'\t' -v OFS='\t' -v a0="$a0" -v a1="$a1" -v s="$s" -v c="$c" '{
        for (i = NF + 1; i <= 27; i++) $i = ""
        $28 = ""
        if (a0 != "" && a1 != "") {
            split(a0, x, " "); split(a1, y, " ")
            for (i = 1; i <= 4; i++) d[i] = y[i] - x[i]
            $28 = d[1] " " d[2] " " d[3] " " d[4]
            req = $10 + 0; why = ""
            if (s == "sticky-1k" || s == "sticky-persist-1k") {
                if (d[2] + d[3] + d[4] > 0 || d[1] < req) why = "expected only cookie hits"
            } else if (s == "sticky-new-1k") {
                if (d[1] + d[3] + d[4] > 0 || d[2] < req) why = "expected a new cookie per request"
            } else if (d[1] + d[2] + d[3] + d[4] > 0) why = "expected no affinity"
            if (why != "" && $5 != "fail" && $5 != "died") {
                if ($5 == "ok") $5 = "affinity"
                $26 = $26 ($26 == "" ? "" : "; ") sprintf("%s: hit %d new %d rebind %d failover %d for %d requests", why, d[1], d[2], d[3], d[4], req)
            }
        } else if (c == "tether" && s ~ /^sticky-/ && $5 == "ok") {
            $5 = "affinity"; $26 = "no tether_affinity_decisions_total on /metrics"
        }
        print }' <<< "$line")
    printf '%s\n' "$line" >> "$RUNS"
    awk -F'\t' -v w="$SW" '{ flag = ($5 == "ok") ? "" : "  <-- " $5 " " $26
        if ($6 == "") { printf "  r%-2s %-*s %-7s  no result%s\n", $1, w, $2, $3, flag; exit }
        split($28, d, " ")
        aff = (d[1] + d[2] + d[3] + d[4] > 0) ? sprintf("  affinity hit %d new %d", d[1], d[2]) : ""
        printf "  r%-2s %-*s %-7s %8.0f req/s  p99 %6.2f ms  proxy %5s us/req  backend %5.1f us/req  cpu%% proxy %3s backend %3.0f wrk %3.0f others %3.0f%s%s\n",
            $1, w, $2, $3, $6, $8, ($18 == "") ? "-" : sprintf("%.1f", $18), $19, ($21 == "") ? "-" : $21, $22, $23, 100 * $27, aff, flag }' \
        <<< "$line" >&2
}

# ---------------------------------------------------------------------------------------------
# Rounds: every contender once per scenario, start position rotated every round and scenario.
NOISY=0
for ((r = 1; r <= ROUNDS; r++)); do
    tries=0
    while :; do
        load=$(foreign_load)
        awk -v l="$load" -v m="$LOAD_MAX" 'BEGIN { exit !(l > m) }' || break
        tries=$((tries + 1))
        if [ $tries -ge 6 ]; then
            say "bench: round $r: load from other processes ${load} cores > $LOAD_MAX, running anyway (flagged)"
            NOISY=$((NOISY + 1)); meta "noisy_round_$r" "$load"; break
        fi
        say "bench: round $r: load from other processes ${load} cores > $LOAD_MAX, waiting 5 s"
        sleep 5
    done
    meta "loadavg_round_$r" "$(cat /proc/loadavg)"
    meta "foreign_load_round_$r" "$load"
    say "bench: round $r/$ROUNDS (idle load ${load} cores)"
    si=0
    for s in $SCENARIOS; do
        n=${#CLIST[@]}
        for ((k = 0; k < n; k++)); do
            c=${CLIST[$(( (k + r - 1 + si) % n ))]}
            run_one "$r" "$s" "$c" "$k"
        done
        si=$((si + 1))
    done
done
meta loadavg_end "$(cat /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
# Report.
JSON=$OUT/results-$TS.json
awk -f bench/report.awk -v json="$JSON" "$META" "$RUNS"
rc=$?
cp "$RUNS" "$OUT/runs-$TS.tsv"
say "bench: results in $JSON (raw rows: $OUT/runs-$TS.tsv)"
if [ "${STRICT:-0}" = 1 ] && [ $rc != 0 ]; then exit 1; fi
exit 0
