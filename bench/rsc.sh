#!/bin/bash
# Receive segment coalescing (RSC) on and off: one TCP stream from an uplink into a TAP "VM".
#
#   hb-ext (iperf3 client) eth0 ==veth== hbup --AF_PACKET-- hashi --TAP hbvm-- hb-vm (iperf3 server)
#
# hb-ext sends with `ethtool -K eth0 tso off gso off gro off tx off`, so MSS-sized segments
# arrive at the uplink port `up`, as from a NIC without GRO. hashi's port `vm` (tap, offload on)
# either passes them on one by one (rsc off) or coalesces them into TSO frames (rsc on). Per
# MTU one hashi runs; `hashictl port set vm rsc on|off` switches between the runs; every round
# measures both, in alternating order (odd rounds off first, even rounds on first).
#
# Printed per MTU and rsc setting (medians over ROUNDS rounds; every round's numbers go to
# standard error): the receiver's Gbit/s and the sender's retransmits (iperf3), RSC segments per
# aggregate, hashi's busy cycles per byte delivered to `vm`, the user/system split of hashi's
# worker thread, its system seconds per GB, and the iperf3 server's CPU seconds per GB; then
# on/off ratios and the issue's target. No number here is a pass/fail.
#
#   bench/rsc.sh [SECONDS]      default: 10 s per iperf3 run
#   ROUNDS=N (default 3), MTUS="1500 9000", HOST_CPUS=LIST (taskset list for iperf3, default
#   0-(last-1)), HASHI_BUILD=DIR (default build)
# Needs root; installs iperf3 and ethtool when missing (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-10}
ROUNDS=${ROUNDS:-3}
MTUS=${MTUS:-1500 9000}
BUILD=${HASHI_BUILD:-build}
NCPU=$(nproc)
SW_CPU=$((NCPU - 1))
HOST_CPUS=${HOST_CPUS:-$([ "$NCPU" -gt 2 ] && echo "0-$((NCPU - 2))" || echo 0)}
NS_EXT=hb-ext NS_VM=hb-vm
ADDR_EXT=10.252.0.1 ADDR_VM=10.252.0.2

[ "$(id -u)" -eq 0 ] || { echo "rsc bench: run as root" >&2; exit 2; }
[ "$NCPU" -ge 2 ] || { echo "rsc bench: needs 2 CPUs or more (one for hashi's worker)" >&2; exit 2; }
for ns in $NS_EXT $NS_VM; do
    if ip netns list | grep -qw "^$ns"; then
        echo "rsc bench: network namespace $ns exists already (another run?); delete it: ip netns del $ns" >&2
        exit 2
    fi
done
for dev in hbup hbvm; do
    if ip link show "$dev" > /dev/null 2>&1; then
        echo "rsc bench: interface $dev exists already (another run?); delete it: ip link del $dev" >&2
        exit 2
    fi
done
scripts/deps.sh
scripts/build.sh "$BUILD"
WORK=$(mktemp -d /tmp/hb-rsc.XXXXXX)
HASHI_PID="" SRV_PID="" WK_TID=""

cleanup() {
    trap - INT TERM
    down
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN=(taskset -c "$HOST_CPUS")
ctl() { "$BUILD/hashictl" --ctl "$WORK/hashi.sock" "$@"; }

# --- one hashi with its two hosts per MTU: up MTU (fails if it could not be set up), down ---

host_setup() { # NS IFNAME ADDR MTU
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1 # no IPv6 chatter
    ip -n "$1" link set lo up && ip -n "$1" link set "$2" mtu "$4" up && ip -n "$1" addr add "$3/24" dev "$2"
}

up() {
    local mtu=$1 x
    ip netns add $NS_EXT && ip netns add $NS_VM || return 1
    ip link add hbup mtu "$mtu" type veth peer name eth0 mtu "$mtu" netns $NS_EXT || return 1
    echo 1 > /proc/sys/net/ipv6/conf/hbup/disable_ipv6
    ethtool -K hbup gro off > /dev/null 2>&1 || true # hashi is to see the segments one by one
    ip link set hbup up || return 1
    cat > "$WORK/hashi.conf" <<CONF
[hashi]
ctl = $WORK/hashi.sock
core = $SW_CPU
[port up]
type = afpacket
iface = hbup
mtu = $mtu
[port vm]
type = tap
ifname = hbvm
mtu = $mtu
offload = on
CONF
    "$BUILD/hashi" --config "$WORK/hashi.conf" > "$WORK/hashi.log" 2>&1 &
    HASHI_PID=$!
    for x in $(seq 100) fail; do
        [ "$x" = fail ] && { echo "rsc bench: hashi does not answer on $WORK/hashi.sock" >&2; return 1; }
        ctl port list > /dev/null 2>&1 && break
        kill -0 "$HASHI_PID" 2> /dev/null || { cat "$WORK/hashi.log" >&2; return 1; }
        sleep 0.1
    done
    # the worker is DPDK's lcore thread "rte-worker-N"; the main thread only serves the socket
    for x in /proc/"$HASHI_PID"/task/*; do
        case $(cat "$x/comm") in rte-worker-*) WK_TID=${x##*/} ;; esac
    done
    [ -n "$WK_TID" ] || { echo "rsc bench: no rte-worker thread in hashi" >&2; return 1; }
    ip link set hbvm netns $NS_VM || return 1
    host_setup $NS_EXT eth0 $ADDR_EXT "$mtu" && host_setup $NS_VM hbvm $ADDR_VM "$mtu" || return 1
    # a sender without offloads: MSS-sized segments with their checksums, as from a plain NIC
    ip netns exec $NS_EXT ethtool -K eth0 tso off gso off gro off tx off > /dev/null || return 1
    ip netns exec $NS_VM "${PIN[@]}" iperf3 -s -D -I "$WORK/iperf-s.pid" || return 1
    for x in $(seq 50); do
        ip netns exec $NS_VM ss -Htln 'sport = :5201' | grep -q . && break
        sleep 0.1
    done
    SRV_PID=$(cat "$WORK/iperf-s.pid") || return 1
    for x in $(seq 20) fail; do # ARP resolved and MACs learned
        [ "$x" = fail ] && { echo "rsc bench: $NS_EXT cannot reach $NS_VM" >&2; return 1; }
        ip netns exec $NS_EXT ping -c 1 -W 1 -q $ADDR_VM > /dev/null 2>&1 && break
        sleep 0.2
    done
}

down() {
    local ns
    for ns in $NS_EXT $NS_VM; do ip netns pids "$ns" 2> /dev/null | xargs -r kill 2> /dev/null || true; done
    if [ -n "$HASHI_PID" ]; then
        kill -TERM "$HASHI_PID" 2> /dev/null || true
        wait "$HASHI_PID" 2> /dev/null || true
    fi
    HASHI_PID="" SRV_PID="" WK_TID=""
    for ns in $NS_EXT $NS_VM; do ip netns del "$ns" 2> /dev/null || true; done
    ip link del hbup 2> /dev/null || true # gone with eth0 already, unless hb-ext was not made
}

# --- one iperf3 run: counters before and after ---

ticks() { awk '{print $14, $15}' "$1" 2> /dev/null || echo "? ?"; } # utime stime of /proc/.../stat
snap() { # NAME: hashi's counters, the worker thread's and the iperf3 server's CPU time
    ctl --json stats > "$WORK/stats-$1.json"
    ctl --json pmd-stats > "$WORK/pmd-$1.json"
    echo "$(ticks "/proc/$HASHI_PID/task/$WK_TID/stat") $(ticks "/proc/$SRV_PID/stat") $(date +%s.%N)" \
        > "$WORK/cpu-$1"
}

# measure -> "Gbit/s retransmits seg/agg cycles/B worker-usr% worker-sys% worker-sys-s/GB rcv-s/GB"
measure() {
    snap 0
    # a hashi that stops forwarding leaves the client waiting on TCP: the timeout ends it. In
    # the background, as `wait` gives way to Ctrl-C and SIGTERM at once (the traps' cleanup
    # ends the client: it is in hb-ext; timeout would keep Ctrl-C from it, in a group of its own)
    ip netns exec $NS_EXT "${PIN[@]}" timeout -k 5 $((T + 30)) iperf3 -c $ADDR_VM -t "$T" -J \
        > "$WORK/iperf.json" &
    wait $! || true
    kill -0 "$HASHI_PID" 2> /dev/null || { echo "? ? ? ? ? ? ? ?"; return; }
    snap 1
    python3 - "$WORK" "$(getconf CLK_TCK)" <<'PY'
import json, sys
w, hz = sys.argv[1], float(sys.argv[2])
def load(name):
    with open(f"{w}/{name}") as f:
        return json.load(f)
def vm(stats):
    return next(p for p in stats if p["name"] == "vm")
def fmt(x, spec):
    return "?" if x is None else spec % x
try:
    end = load("iperf.json")["end"]
    gbps, retr = end["sum_received"]["bits_per_second"] / 1e9, end["sum_sent"].get("retransmits", 0)
    gb = end["sum_received"]["bytes"] / 1e9
except Exception:
    print("? ? ? ? ? ? ? ?")
    sys.exit()
v0, v1 = vm(load("stats-0.json")), vm(load("stats-1.json"))
seg = v1["rsc"]["segments_in"] - v0["rsc"]["segments_in"]
agg = v1["rsc"]["aggregates_out"] - v0["rsc"]["aggregates_out"]
busy = load("pmd-1.json")[0]["busy_cycles"] - load("pmd-0.json")[0]["busy_cycles"]
txb = v1["tx_bytes"] - v0["tx_bytes"]
with open(f"{w}/cpu-0") as f0, open(f"{w}/cpu-1") as f1:
    c = [float(b) - float(a) if "?" not in (a, b) else None
         for a, b in zip(f0.read().split(), f1.read().split())]
wk_usr, wk_sys, wall = c[0] and c[0] / hz, c[1] and c[1] / hz, c[4]
srv = None if None in c[2:4] else (c[2] + c[3]) / hz
pct = lambda s: None if s is None else 100 * s / wall # of the time between the snapshots
per_gb = lambda s: None if s is None or not gb else s / gb
print("%.2f" % gbps, retr, "%.1f" % (seg / agg) if agg else "-",
      "%.2f" % (busy / txb) if txb else "?", fmt(pct(wk_usr), "%.0f"), fmt(pct(wk_sys), "%.0f"),
      fmt(per_gb(wk_sys), "%.3f"), fmt(per_gb(srv), "%.3f"))
PY
}

# other switches or iperf3 on this machine take CPU from the run: name them in the progress line
neighbours() {
    local pid mine name out=""
    mine=" $HASHI_PID $(ip netns pids $NS_EXT 2> /dev/null; ip netns pids $NS_VM 2> /dev/null) "
    mine=${mine//$'\n'/ }
    for pid in $(pgrep -x hashi; pgrep -x iperf3; pgrep -x ovs-vswitchd; pgrep -f '^[^ ]*dpdk-testpmd '); do
        case $mine in *" $pid "*) continue ;; esac
        name=$(ps -o comm= -p "$pid") && out+=" ${name}[$pid]" # (unless it has just exited)
    done
    echo "${out# }"
}

# the median of the numbers; "-" when every value is "-" (no RSC aggregates with rsc off)
median() {
    local v
    v=$(tr ' ' '\n' | awk 'NF')
    [ -n "$v" ] && ! grep -qv '^-$' <<< "$v" && { echo -; return; }
    awk '/^[0-9.]+$/' <<< "$v" | sort -n | awk '{a[NR] = $1} END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }

COLS="gbps retr spa cpb usr sys wsys rcv"
declare -A R=() # "COL MTU RSC" -> the rounds' values
CROWDED=0
for mtu in $MTUS; do
    ok=1
    up "$mtu" || { echo "  MTU $mtu: could not set up" >&2; ok=0; }
    for round in $(seq "$ROUNDS"); do
        order="off on"
        [ $((round % 2)) = 0 ] && order="on off"
        for rsc in $order; do
            vals="? ? ? ? ? ? ? ?"
            [ $ok = 1 ] && ! kill -0 "$HASHI_PID" 2> /dev/null && ok=0
            busy=$(neighbours)
            if [ $ok = 1 ] && ctl port set vm rsc "$rsc" > /dev/null; then
                measure > "$WORK/vals" || true # (not in $(...): a signal would wait for its end)
                vals=$(cat "$WORK/vals")
                [ -n "$vals" ] || vals="? ? ? ? ? ? ? ?"
            fi
            busy=$(echo "$busy $(neighbours)" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | xargs)
            read -r -a v <<< "$vals"
            i=0
            for col in $COLS; do R["$col $mtu $rsc"]+="${v[i]:-?} "; i=$((i + 1)); done
            # the worker polls without pause: less than all of the run on its CPU means it was shared
            share=$(awk -v u="${v[4]}" -v s="${v[5]}" 'BEGIN { if (u s ~ /^[0-9]+$/ && u + s < 90) print u + s }')
            [ -n "$busy$share" ] && CROWDED=$((CROWDED + 1))
            echo "  round $round: MTU $mtu rsc $rsc: ${v[0]} Gbit/s, ${v[1]} retransmits, ${v[2]} seg/agg," \
                "${v[3]} cycles/B, worker usr/sys ${v[4]}/${v[5]}%, receiver ${v[7]} s/GB" \
                "${share:+(the worker had CPU $SW_CPU for only $share% of the run) }${busy:+(also running: $busy)}" >&2
        done
    done
    [ $ok = 1 ] || { tail -n 20 "$WORK/hashi.log" | sed 's/^/    hashi: /' >&2; } 2> /dev/null || true
    down
done

printf '\nRSC: TCP %s -> hashi (afpacket up -> tap vm) -> %s, 1 stream, iperf3 -t %s, median of %d rounds\n' \
    "$NS_EXT" "$NS_VM" "$T" "$ROUNDS"
printf 'iperf3 (client and server) on CPU %s, hashi worker on CPU %d\n\n' "$HOST_CPUS" "$SW_CPU"
row() { printf '%-5s %-6s %7s %8s %8s %6s %11s %11s %9s   %s\n' "$@"; }
m() { median <<< "${R["$1 $2 $3"]}"; } # COL MTU RSC
row MTU rsc Gbit/s retrans seg/agg cyc/B "wk usr/sys%" "wk sys s/GB" "rcv s/GB" "Gbit/s per round"
declare -A TPUT=() RCV=()
for mtu in $MTUS; do
    for rsc in off on; do
        row "$mtu" $rsc "$(m gbps "$mtu" $rsc)" "$(m retr "$mtu" $rsc)" "$(m spa "$mtu" $rsc)" \
            "$(m cpb "$mtu" $rsc)" "$(m usr "$mtu" $rsc)/$(m sys "$mtu" $rsc)" "$(m wsys "$mtu" $rsc)" \
            "$(m rcv "$mtu" $rsc)" "${R["gbps $mtu $rsc"]}"
    done
    TPUT[$mtu]=$(ratio "$(m gbps "$mtu" on)" "$(m gbps "$mtu" off)")
    RCV[$mtu]=$(ratio "$(m rcv "$mtu" on)" "$(m rcv "$mtu" off)")
    row "$mtu" on/off "${TPUT[$mtu]}" - - "$(ratio "$(m cpb "$mtu" on)" "$(m cpb "$mtu" off)")" - \
        "$(ratio "$(m wsys "$mtu" on)" "$(m wsys "$mtu" off)")" "${RCV[$mtu]}" ""
done
echo
echo "target: at MTU 1500, RSC on >= 1.5x Gbit/s of off, or <= 0.6x receiver CPU per byte"
if [ -n "${TPUT[1500]:-}" ]; then
    verdict=$(awk -v t="${TPUT[1500]%x}" -v r="${RCV[1500]%x}" 'BEGIN {
        if (t + 0 >= 1.5 || (r + 0 > 0 && r + 0 <= 0.6)) print "met"; else print "not met" }')
    echo "this run: $verdict (Gbit/s ${TPUT[1500]}, receiver CPU per GB ${RCV[1500]})"
else
    echo "this run: MTU 1500 not measured"
fi
[ "$CROWDED" -eq 0 ] ||
    printf '%d run(s) shared the machine: another hashi, iperf3, OVS or testpmd, or less than 90%% of CPU %d for the worker (see above)\n' \
        "$CROWDED" "$SW_CPU"
