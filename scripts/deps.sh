#!/usr/bin/env bash
# Installs what building and testing tether needs, skipping what is already there, so it is
# cheap to run before every `make test` / `make demo` on a fresh Debian bookworm machine.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
      libuv1-dev libcurl4-openssl-dev libcjson-dev libmbedtls-dev node-llhttp libyaml-dev
      libcmocka-dev libpcre2-dev curl nginx-light haproxy wrk openssl
      chromium)   # test/browser drives it with npm playwright-core (no browser download)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kubectl drives the end-to-end tests against the local API stand-in. Machines built from the
# Google Cloud SDK image already carry kubectl 1.32; elsewhere Debian's kubernetes-client (1.20)
# is the only offline source. The tests adapt to the older client (see test/kube/kubectl.mjs).
if ! command -v kubectl >/dev/null 2>&1; then
    echo "deps: installing kubernetes-client (kubectl)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi

# Node test tools come from the committed lockfile; reinstall only when it changed.
if [ -f test/package-lock.json ]; then
    stamp=test/node_modules/.lock-stamp
    if [ ! -f "$stamp" ] || ! cmp -s test/package-lock.json "$stamp"; then
        (cd test && npm ci --no-audit --no-fund --silent)
        mkdir -p test/node_modules && cp test/package-lock.json "$stamp"
    fi
fi
