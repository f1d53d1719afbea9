#!/bin/bash
# `hashi demo`: three hosts on one hashi bridge, measured with iperf3.
#
#   vm1 (netns) --TAP hd-vm1--+
#   vm2 (netns) --TAP hd-vm2--+-- hashi --AF_PACKET hd-ext0 ==veth== hd-ext1-- ext (netns)
#
# Runs iperf3 vm1->vm2 and ext->vm1 at MTU 1500 and 9000 and prints Gbit/s, TCP retransmits
# and the busy share of hashi's worker. Everything it creates is removed again, also on Ctrl-C
# or failure. `hashi demo` runs this script; HASHI_BIN_DIR names the directory of hashi and
# hashictl.
#   hashi demo [--seconds N] [--uplink afpacket|afxdp]
set -euo pipefail

bin=${HASHI_BIN_DIR:-$(cd "$(dirname "$0")" && pwd)}
secs=5 uplink=afpacket
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) secs=${2:?--seconds needs a number}; shift 2 ;;
    --uplink) uplink=${2:?--uplink needs afpacket or afxdp}; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hashi demo: unknown option '$1'; use --seconds N, --uplink afpacket|afxdp" >&2; exit 2 ;;
    esac
done
case $uplink in afpacket | afxdp) ;; *) echo "hashi demo: --uplink afpacket or afxdp" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || {
    echo "hashi demo: needs root (it creates network namespaces and TAP devices); run: sudo hashi demo" >&2
    exit 2
}
for tool in ip iperf3; do
    command -v $tool >/dev/null || { echo "hashi demo: needs $tool (apt-get install iproute2 iperf3)" >&2; exit 2; }
done
for ns in vm1 vm2 ext; do
    if ip netns list | grep -qw "^$ns"; then
        echo "hashi demo: network namespace $ns exists already; delete it (ip netns del $ns) or leave the demo out" >&2
        exit 2
    fi
done

dir=$(mktemp -d /tmp/hashi-demo.XXXXXX)
hashi_pid=""
cleanup() {
    for ns in vm1 vm2 ext; do
        ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del $ns 2>/dev/null || true
    done
    [ -n "$hashi_pid" ] && kill -TERM "$hashi_pid" 2>/dev/null && wait "$hashi_pid" 2>/dev/null
    ip link del hd-ext0 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The uplink's far end, ext, is a host on the "physical" network. Over a veth, an AF_XDP
# socket sees ext's checksums as it left them (partial), so ext computes them itself there.
# AF_XDP in DPDK 22.11 carries one buffer per frame, so its MTU stays at 1500.
uplink_mtu=$([ "$uplink" = afxdp ] && echo 1500 || echo 9000)
ip netns add ext
ip link add hd-ext0 type veth peer name hd-ext1 netns ext
ip link set hd-ext0 mtu $uplink_mtu up

cat >"$dir/hashi.conf" <<CONF
[hashi]
ctl = $dir/ctl.sock
core = $(($(nproc) - 1))

[port vm1]
type = tap
ifname = hd-vm1
mtu = 9000

[port vm2]
type = tap
ifname = hd-vm2
mtu = 9000

[port ext]
type = $uplink
iface = hd-ext0
mtu = $uplink_mtu
CONF
"$bin/hashi" --config "$dir/hashi.conf" >"$dir/hashi.log" 2>&1 &
hashi_pid=$!
ctl() { "$bin/hashictl" --ctl "$dir/ctl.sock" "$@"; }
for _ in $(seq 100); do
    ctl port list >/dev/null 2>&1 && break
    kill -0 $hashi_pid 2>/dev/null || { cat "$dir/hashi.log" >&2; exit 1; }
    sleep 0.2
done

addr_vm1=10.250.0.1 addr_vm2=10.250.0.2 addr_ext=10.250.0.3
for host in vm1 vm2; do
    ip netns add $host
    ip link set hd-$host netns $host
done
for host in vm1 vm2 ext; do
    ifname=$([ $host = ext ] && echo hd-ext1 || echo hd-$host)
    addr=addr_$host
    ip -n $host link set lo up
    ip -n $host addr add ${!addr}/24 dev $ifname
    ip -n $host link set $ifname up
    # no IPv6 chatter in the measurements
    ip netns exec $host sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
if [ "$uplink" = afxdp ]; then
    ip netns exec ext ethtool -K hd-ext1 tx off >/dev/null 2>&1 || {
        echo "hashi demo: needs ethtool for an AF_XDP uplink over a veth (apt-get install ethtool)" >&2
        exit 2
    }
fi
ctl port list
echo

# iperf3 client in $1 to $2; prints "Gbit/s retransmits busy%"
measure() {
    local from=$1 to=$2 addr=addr_$2 json
    ip netns exec $to iperf3 -s -1 -D -I "$dir/iperf-$to.pid"
    sleep 0.3
    ctl pmd-stats clear >/dev/null
    json=$(ip netns exec $from iperf3 -c ${!addr} -t "$secs" -J) || echo "$json" | grep -m1 "\"error\"" >&2
    local busy
    busy=$(ctl --json pmd-stats | grep -o '"busy_percent": *[0-9.]*' | grep -o '[0-9.]*$')
    echo "$json" | awk -v busy="$busy" '
        /"sum_sent"/ { s = 1 } s && /"bits_per_second"/ { gsub(/[^0-9.e+]/, "", $2); bps = $2 }
        s && /"retransmits"/ { gsub(/[^0-9]/, "", $2); rt = $2; s = 0 }
        END { printf "%8.2f %12d %9.1f\n", bps / 1e9, rt, busy }'
}

printf "%-6s %-10s %8s %12s %9s\n" MTU PATH Gbit/s RETRANSMITS BUSY%
for mtu in 1500 9000; do
    ext_mtu=$((mtu < uplink_mtu ? mtu : uplink_mtu))
    ip -n vm1 link set hd-vm1 mtu $mtu
    ip -n vm2 link set hd-vm2 mtu $mtu
    ip -n ext link set hd-ext1 mtu $ext_mtu
    printf "%-6s %-10s %s\n" $mtu vm1-\>vm2 "$(measure vm1 vm2)"
    printf "%-6s %-10s %s\n" "$ext_mtu" ext-\>vm1 "$(measure ext vm1)"
done
echo
ctl stats
