#!/bin/bash
# The main job, end to end: builds hashi, starts it with two vhost-user ports, drives traffic
# through it with two DPDK testpmd virtio-user "VMs" (a closed loop, io forwarding), and prints
# what hashi forwarded. Everything it starts is stopped again, also on Ctrl-C or failure.
#   scripts/demo.sh [SECONDS] [FRAME_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
len=${2:-64}
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (DPDK needs it)" >&2; exit 2; }
scripts/deps.sh
scripts/build.sh build

ncpu=$(nproc)
core=$((ncpu - 1))        # hashi's worker
vmcpu=0                   # the VMs' forwarding core
dir=$(mktemp -d /tmp/hashi-demo.XXXXXX)
hashi_pid="" vm_pid=""
cleanup() {
    [ -n "$vm_pid" ] && kill -INT "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
    [ -n "$hashi_pid" ] && kill -TERM "$hashi_pid" 2>/dev/null && wait "$hashi_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$dir/hashi.conf" <<CONF
[hashi]
ctl = $dir/ctl.sock
core = $core

[port vm1]
type = vhost-user
path = $dir/vm1.sock

[port vm2]
type = vhost-user
path = $dir/vm2.sock
CONF
ctl() { build/hashictl --ctl "$dir/ctl.sock" "$@"; }

build/hashi --config "$dir/hashi.conf" > "$dir/hashi.log" 2>&1 &
hashi_pid=$!
for _ in $(seq 100); do ctl port list >/dev/null 2>&1 && break; sleep 0.1; done
ctl port list >/dev/null || { cat "$dir/hashi.log"; exit 1; }

echo "hashi is up (worker on CPU $core); two testpmd virtio-user VMs send $len-byte frames for ${secs}s"
dpdk-testpmd --lcores "0@$vmcpu,1@$vmcpu" --no-pci --no-huge -m 512 --file-prefix "hashi-demo-$$" \
    --log-level '*:warning' \
    --vdev "virtio_user0,path=$dir/vm1.sock,queues=1,mac=02:00:00:00:00:01" \
    --vdev "virtio_user1,path=$dir/vm2.sock,queues=1,mac=02:00:00:00:00:02" -- \
    --forward-mode=io --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01 \
    --txpkts="$len" --burst=32 --total-num-mbufs=8192 --tx-first --auto-start \
    --stats-period 1 < /dev/null > "$dir/vms.log" 2>&1 &
vm_pid=$!
sleep 3
ctl stats clear >/dev/null
ctl pmd-stats clear >/dev/null
sleep "$secs"

echo; echo "== ports (hashictl port list)"; ctl port list
echo; echo "== learned MACs (hashictl fdb show)"; ctl fdb show
echo; echo "== what hashi forwarded in ${secs}s (hashictl stats)"; ctl stats
echo; echo "== worker cycles (hashictl pmd-stats)"; ctl pmd-stats
# the workers' own packet counts, not their queues' (which repeat the key one level down)
pkts=$(ctl --json pmd-stats | /usr/bin/python3 -c 'import json, sys; print(sum(w["packets"] for w in json.load(sys.stdin)))')
echo; awk -v p="$pkts" -v s="$secs" 'BEGIN { printf "%.2f Mpps switched by the worker\n", p / s / 1e6 }'
