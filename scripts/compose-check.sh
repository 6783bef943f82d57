#!/usr/bin/env bash
# Brings the Compose shop (deploy/compose.yaml) up with podman-compose, each service in a
# container of its own, through deploy/compose.host.yaml, which points it at this machine's
# PostgreSQL, Redis and RabbitMQ (no image registry here for theirs); runs the walking-
# skeleton journey through its gateway; scales the catalog to two containers and runs the
# journey again; and takes it all down. Needs the image (scripts/image.sh builds it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/forget.sh
root="$PWD"
source scripts/podman-env.sh
COMPOSE_VERSION=1.6.0
venv=target/compose-venv
if ! "$venv/bin/podman-compose" version 2>/dev/null | grep -q "podman-compose version $COMPOSE_VERSION"; then
  echo "compose: installing podman-compose $COMPOSE_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "podman-compose==$COMPOSE_VERSION"
fi

project="kcmp$$"
# A subnet no network here has yet (one an earlier run could not remove, say).
used="$(podman network inspect $(podman network ls -q) --format '{{range .Subnets}}{{.Subnet}} {{end}}' 2>/dev/null || true)"
subnet_octet=$(( 100 + $$ % 100 ))
for _ in $(seq 1 100); do
  case " $used " in *" 10.89.$subnet_octet.0/24 "*) subnet_octet=$(( 100 + (subnet_octet - 99) % 100 )) ;; *) break ;; esac
done
gateway_ip="10.89.$subnet_octet.1"
port=$(( 18100 + $$ % 50 ))
export KAZNA_SUBNET="10.89.$subnet_octet.0/24"
export KAZNA_PREFIX="$project"
export KAZNA_PORT="127.0.0.1:$port"
export KAZNA_INTERNAL_TOKEN="compose-check-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export KAZNA_IMAGE="localhost/kazna:$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
export KAZNA_DATABASE_URL="postgres://postgres@host.containers.internal:5432"
export KAZNA_REDIS_URL="redis://host.containers.internal:6379"
export KAZNA_AMQP_URL="amqp://guest:guest@host.containers.internal:5672/%2f"
# The check's own queues go when unused (the host's broker outlives it): an override of its
# own, since a shop on the host's engines keeps its queues.
check_override="target/compose-check.override.yaml"
{
  echo "x-check: &check"
  echo "  KAZNA_AMQP__QUEUE_EXPIRES_MS: \"60000\""
  echo "services:"
  for svc in migrate gateway users catalog search cart orders payments notifications web; do
    echo "  $svc: {environment: *check}"
  done
} > "$check_override"
compose=("$venv/bin/podman-compose" -p "$project" -f deploy/compose.yaml -f deploy/compose.host.yaml -f "$check_override")
base="http://127.0.0.1:$port"

relay_pid=""
cleanup() {
  "${compose[@]}" down -t 5 >/dev/null 2>&1 || true
  # `down` leaves the copies `--scale` made, and the network they hold.
  podman ps -aq --filter "label=io.podman.compose.project=$project" | xargs -r podman rm -f -t 5 >/dev/null 2>&1 || true
  podman network rm -f "${project}_default" >/dev/null 2>&1 || true
  [ -z "$relay_pid" ] || kill "$relay_pid" 2>/dev/null || true
  forget "${project}_" "$project:*"
}
trap cleanup EXIT
python3 scripts/host-relay.py "$gateway_ip" 5432 6379 5672 &
relay_pid=$!

logs() { for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
  echo "--- $c"; podman logs "$c" 2>&1 | grep -E '"level":"(WARN|ERROR)"|panicked' | tail -n 10
  podman logs "$c" 2>&1 | tail -n 5; done; }
wait_ready() { # $1: what, then the command that succeeds once it is
  local what="$1"; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "compose: $what did not happen within 2 minutes"; logs; exit 1
}

"${compose[@]}" up -d >/dev/null 2>&1 || { echo "compose: up failed"; "${compose[@]}" up -d; exit 1; }
wait_ready "the shop answering ready through the gateway" curl -fsS "$base/health/ready"
running="$(podman ps --filter "label=io.podman.compose.project=$project" --format '{{.Names}}' | sort | tr '\n' ' ')"
echo "compose: up, running $running"
made="$(podman exec -e KAZNA_NEW_PASSWORD="compose check admin" "${project}_users_1" \
  /kazna users create --email "admin@$project.example.com" --role admin 2>&1)" ||
  { echo "compose: kazna users create failed: $made"; logs; exit 1; }
python3 scripts/journey.py "$base" "admin@$project.example.com" "compose check admin" || { logs; exit 1; }

"${compose[@]}" up -d --scale catalog=2 >/dev/null 2>&1 || { echo "compose: scaling failed"; exit 1; }
catalogs=()
for _ in $(seq 1 60); do
  mapfile -t catalogs < <(podman ps --filter "label=io.podman.compose.project=$project" \
    --filter "label=com.docker.compose.service=catalog" --format '{{.Names}}')
  [ "${#catalogs[@]}" -ge 2 ] && break
  sleep 1
done
[ "${#catalogs[@]}" -eq 2 ] || { echo "compose: ${#catalogs[@]} catalog containers, not 2"; logs; exit 1; }
for c in "${catalogs[@]}"; do
  wait_ready "$c answering ready" podman exec "$c" /kazna probe http://127.0.0.1:8082/health/ready
done
echo "compose: catalog scaled to ${catalogs[*]}, both ready"
python3 scripts/journey.py "$base" "admin@$project.example.com" "compose check admin" || { logs; exit 1; }
cleanup
trap - EXIT
echo "compose: down"
