#!/usr/bin/env bash
# The bench: release build, a seeded shop, wrk scenarios and same-run ceilings.
# Arguments go to kazna-bench (e.g. --products 10000 --duration 10 --connections 32).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get install -y -qq wrk || { as_root apt-get update -qq && as_root apt-get install -y -qq wrk; }
fi
cargo build --release -p kazna -p kazna-bench
exec target/release/kazna-bench "$@"
