#!/usr/bin/env bash
# Builds the Kazna image with podman and saves it as an OCI archive
# (target/image/kazna-<version>.oci.tar). The image is FROM scratch: the release binary
# (the one `make up` builds), the shared libraries it links, taken from this machine's
# Debian packages, CA certificates, and an unprivileged user. podman's configuration lives
# in target/podman, never in the machine's own files.
#   scripts/image.sh          build and save
#   scripts/image.sh --check  also run it: `kazna up` in the container against this machine's
#                             PostgreSQL, Redis and RabbitMQ, until the shop answers
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/forget.sh
root="$PWD"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
tag="localhost/kazna:$version"
out=target/image

source scripts/podman-env.sh

cargo build --release -p kazna
rm -rf "$out/rootfs" "$out/data"
mkdir -p "$out/rootfs"/{etc/ssl/certs,tmp} "$out/data"/{search,outbox}
cp target/release/kazna "$out/rootfs/kazna"
strip "$out/rootfs/kazna" 2>/dev/null || true
# The libraries the binary links, and the loader, where it expects them.
for lib in $(ldd target/release/kazna | grep -o '/[^ ]*'); do
  mkdir -p "$out/rootfs$(dirname "$lib")"
  cp -L "$lib" "$out/rootfs$lib"
done
cp /etc/ssl/certs/ca-certificates.crt "$out/rootfs/etc/ssl/certs/"
echo 'kazna:x:10001:10001:kazna:/data:/nonexistent' > "$out/rootfs/etc/passwd"
echo 'kazna:x:10001:' > "$out/rootfs/etc/group"
echo 'hosts: files dns' > "$out/rootfs/etc/nsswitch.conf"
chmod 1777 "$out/rootfs/tmp"
podman build --quiet --format docker -t "$tag" -f deploy/Containerfile "$out" >/dev/null
rm -f "$out/kazna-$version.oci.tar"
podman save --quiet --format oci-archive -o "$out/kazna-$version.oci.tar" "$tag"
size="$(podman image inspect "$tag" --format '{{.Size}}')"
echo "image: $tag, $((size / 1024 / 1024)) MiB; archive $out/kazna-$version.oci.tar ($(du -m "$out/kazna-$version.oci.tar" | cut -f1) MiB)"

[ "${1:-}" = "--check" ] || exit 0
# Run it as a small shop would: every service in one container, on ports of its own.
name="kazna-image-check-$$"
env_args=(-e KAZNA_DATABASE__NAME_PREFIX="kimg_$$_" -e KAZNA_REDIS__KEY_PREFIX="kimg:$$:"
          -e KAZNA_AMQP__QUEUE_PREFIX="kimg$$" -e KAZNA_AMQP__EXCHANGE="kimg$$.events"
          -e KAZNA_AMQP__QUEUE_EXPIRES_MS=60000)
for i in 0 1 2 3 4 5 6 7 8; do
  svc=(GATEWAY USERS CATALOG SEARCH CART ORDERS PAYMENTS NOTIFICATIONS WEB)
  port=$((18080 + i))
  env_args+=(-e "KAZNA_SERVICES__${svc[$i]}__BIND=127.0.0.1:$port" -e "KAZNA_SERVICES__${svc[$i]}__URL=http://127.0.0.1:$port")
done
env_args+=(-e KAZNA_GATEWAY__PUBLIC_URL=http://127.0.0.1:18080)
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$data"
  forget "kimg_$$_" "kimg:$$:*"
}
data="$out/check-data"
trap cleanup EXIT
rm -rf "$data"; mkdir -p "$data"; chown 10001:10001 "$data" 2>/dev/null || chmod 777 "$data"
# No systemd here to time the image's health check: it is run by hand below.
podman run -d --name "$name" --network host --read-only --tmpfs /tmp -v "$root/$data:/data" \
  --no-healthcheck "${env_args[@]}" "$tag" up >/dev/null
ok=""
for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null http://127.0.0.1:18080/health/ready 2>/dev/null; then ok=1; break; fi
  if [ "$(podman inspect -f '{{.State.Running}}' "$name")" != true ]; then break; fi
  sleep 1
done
if [ -z "$ok" ]; then
  echo "image: the container did not become ready"; podman logs --tail 40 "$name"; exit 1
fi
# The health check the image declares, run where it runs.
podman exec "$name" /kazna probe http://127.0.0.1:18080/health/live
user="$(podman inspect -f '{{.Config.User}}' "$name")"
status="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18080/)"
api="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18080/api/v1/categories)"
echo "image: runs as user $user; its health check passes; the storefront answered $status, the API $api"
if [ "$status" != 200 ] || [ "$api" != 200 ] || [ "$user" != 10001:10001 ]; then
  echo "image: the check failed"; exit 1
fi
