#!/usr/bin/env bash
# The contracts crate is shared by every service and must stay plain data: no web
# framework, no database driver.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
forbidden='^(sqlx|sqlx-[a-z-]+|axum|axum-core|lapin|redis|hyper|tantivy) '
deps="$(cargo tree -p kazna-contracts -e normal --prefix none --format '{p}' | sort -u)"
if bad="$(grep -E "$forbidden" <<<"$deps")"; then
  echo "kazna-contracts must not depend on:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "dependency check: kazna-contracts depends on no framework or driver"
