#!/usr/bin/env bash
# Runs each cmocka unit-test binary; judges by exit status (cmocka 1.1.5 prints SKIP as
# "not ok", which TAP consumers misread), and prints one closing summary line.
set -u
passed=0; failed=0
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
