#!/usr/bin/env bash
# run.sh installs what trayphone needs to build and run (Debian packages), builds it, and starts
# it with the arguments given (e.g. scripts/run.sh --headless).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --run-only
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bin
go build -o bin/trayphone .
exec bin/trayphone "$@"
