#!/usr/bin/env bash
# Prints "N passed, N failed" summed over the TRX files in a folder (default artifacts/test-results).
dir="${1:-artifacts/test-results}"
passed=0; failed=0
shopt -s nullglob
for f in "$dir"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  p=$(printf '%s' "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p')
  x=$(printf '%s' "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
  e=$(printf '%s' "$counters" | sed -n 's/.* error="\([0-9]*\)".*/\1/p')
  t=$(printf '%s' "$counters" | sed -n 's/.* timeout="\([0-9]*\)".*/\1/p')
  a=$(printf '%s' "$counters" | sed -n 's/.* aborted="\([0-9]*\)".*/\1/p')
  passed=$((passed + ${p:-0})); failed=$((failed + ${x:-0} + ${e:-0} + ${t:-0} + ${a:-0}))
done
echo "$passed passed, $failed failed"
