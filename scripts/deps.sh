#!/bin/bash
# Installs the Debian 12 packages hashi needs when any is missing: `deps.sh` for building and
# testing, `deps.sh bench` adds the performance peers. Needs root (or sudo) only to install.
set -euo pipefail

packages=(gcc meson ninja-build pkg-config libdpdk-dev dpdk-dev libjansson-dev libcmocka-dev
          python3 python3-pytest python3-scapy iproute2 procps iperf3 ethtool iputils-ping tshark)
[ "${1:-}" = bench ] && packages+=(openvswitch-switch-dpdk openvswitch-switch)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
