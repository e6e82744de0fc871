#!/usr/bin/env bash
# test.sh installs what the tests need (Debian packages) and runs the whole suite: formatting, vet,
# and every Go test with the race detector. Peers (baresip, PipeWire, dbus, Xvfb) are started by
# the tests themselves. With TRAYPHONE_CI=1 (set here) a test whose peer is missing fails instead
# of skipping. Soak tests run only with TRAYPHONE_SOAK=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
export TRAYPHONE_CI=1
echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test -race"
# One package at a time: many tests place real-time calls and judge every sample of their audio,
# and two race-instrumented packages side by side on a 2-core machine stall each other's audio.
go test -race -count=1 -p 1 -timeout 20m "$@" ./...
# The race detector slows the sender, so the RTP timing test only asserts without it.
echo "== RTP send timing (without the race detector)"
go test -count=1 -run 'TestSessionTiming$' -v ./media | grep -E '^(=== RUN|--- |\s+session_timing|ok|FAIL)'
