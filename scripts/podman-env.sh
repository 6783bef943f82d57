# Sourced by the scripts that run podman (image.sh, compose-check.sh), from the project's
# root with $root set: installs podman where it is missing and configures it for this
# machine (runc, cgroupfs, no systemd, netavark) in target/podman, never in the machine's
# own files.
conf=target/podman
if ! command -v podman >/dev/null || ! command -v iptables >/dev/null; then
  echo "podman: installing podman, runc, netavark and iptables"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q podman runc netavark aardvark-dns iptables >/dev/null
fi
mkdir -p "$conf"
cat > "$conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$root/$conf/events.log"
[network]
network_backend = "netavark"
CONF
cat > "$conf/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$root/$conf/storage"
runroot = "$root/$conf/run"
CONF
export CONTAINERS_CONF="$root/$conf/containers.conf"
export CONTAINERS_STORAGE_CONF="$root/$conf/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$root/$conf/registries.conf"
: > "$conf/registries.conf"
