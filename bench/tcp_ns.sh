#!/bin/bash
# TCP throughput between two network namespaces through a switch, hashi against its peers, in
# one run on one machine.
#
#   hb-a (iperf3 client) --- switch --- hb-b (iperf3 server)
#   (a) hashi: two TAP ports (offload on: TSO frames and partial checksums cross hashi whole)
#   (b) Open vSwitch 3.1 userspace datapath (netdev bridge, no DPDK) with veths, started by
#       ../shared/tools/ovs-userspace.sh (the hosts compute checksums: tx offload off)
#   (c) Linux bridge with veths: the kernel's own path
#
# Each switch is measured with 1 and 4 TCP streams (iperf3 -P) at MTU 1500 and 9000. The hosts
# (iperf3 client and server) run on HOST_CPUS (default: every CPU but the last); the switch's
# own thread gets the last CPU, SW_CPU (hashi's worker, every ovs-vswitchd thread). The Linux
# bridge has no thread: it works in the hosts' softirqs, on their CPUs.
#
# Printed per switch, MTU and stream count: the receiver's Gbit/s and the sender's TCP
# retransmits (medians over ROUNDS rounds), the switch's CPU and, on hashi's rows, hashi's
# Gbit/s divided by the Linux bridge's and by OVS's. CPU is hashi's worker busy% (pmd-stats:
# busy cycles / all cycles of the polling core) and, for OVS, the user+system time of
# ovs-vswitchd over the run, in % of one CPU; "-" for the bridge. No number here is a pass/fail.
# The machine is shared and noisy, so the switches take turns within every round and the table
# shows medians; compare ratios within one run.
#
#   bench/tcp_ns.sh [SECONDS]            default: 10 s per iperf3 run
#   ROUNDS=N (default 3), MTUS="1500 9000", STREAMS="1 4", SWITCHES="hashi ovs bridge",
#   HOST_CPUS=LIST (taskset list for iperf3, default 0-(last-1); "all" leaves them unpinned),
#   OFFLOAD=on|off (hashi's TAP ports), HASHI_BUILD=DIR (default build), HASHI_PEER_TOOLS=DIR
# Needs root; installs iperf3, ethtool and openvswitch-switch when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-10}
ROUNDS=${ROUNDS:-3}
MTUS=${MTUS:-1500 9000}
STREAMS=${STREAMS:-1 4}
SWITCHES=${SWITCHES:-hashi ovs bridge}
OFFLOAD=${OFFLOAD:-on}
BUILD=${HASHI_BUILD:-build}
TOOLS=${HASHI_PEER_TOOLS:-$(cd .. && pwd)/shared/tools}
OVS=$TOOLS/ovs-userspace.sh
NCPU=$(nproc)
SW_CPU=$((NCPU - 1))
HOST_CPUS=${HOST_CPUS:-$([ "$NCPU" -gt 2 ] && echo "0-$((NCPU - 2))" || echo 0)}
NS_A=hb-a NS_B=hb-b
ADDR_A=10.251.0.1 ADDR_B=10.251.0.2

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 2; }
[ "$NCPU" -ge 2 ] || { echo "bench: needs 2 CPUs or more (one for the switch)" >&2; exit 2; }
case " $SWITCHES " in *" ovs "*)
    [ -f "$OVS" ] || { echo "bench: $OVS not found (set HASHI_PEER_TOOLS)" >&2; exit 2; } ;;
esac
for ns in $NS_A $NS_B; do
    if ip netns list | grep -qw "^$ns"; then
        echo "bench: network namespace $ns exists already (another run?); delete it: ip netns del $ns" >&2
        exit 2
    fi
done
scripts/deps.sh bench
scripts/build.sh "$BUILD"
WORK=$(mktemp -d /tmp/hb-tcp-ns.XXXXXX)
HASHI_PID=""

cleanup() {
    trap - INT TERM
    kill_hosts
    if [ -n "$HASHI_PID" ]; then
        kill -TERM "$HASHI_PID" 2>/dev/null || true
        wait "$HASHI_PID" 2>/dev/null || true
    fi
    if [ -d "$WORK/ovs" ]; then down_ovs; fi
    for ns in $NS_A $NS_B; do ip netns del "$ns" 2>/dev/null || true; done
    for dev in hb-br-a hb-br-b hb-br; do ip link del $dev 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN=(taskset -c "$HOST_CPUS") # runs iperf3 on the hosts' CPUs
[ "$HOST_CPUS" = all ] && PIN=()

# The up_ functions run as `if` conditions, where set -e is off: each step says || return 1.
host_setup() { # NS IFNAME ADDR MTU: the host's side of a link that is already in NS
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1 # no IPv6 chatter
    ip -n "$1" link set lo up &&
        ip -n "$1" link set "$2" mtu "$4" up &&
        ip -n "$1" addr add "$3/24" dev "$2"
}

no_ipv6() { echo 1 > "/proc/sys/net/ipv6/conf/$1/disable_ipv6" 2>/dev/null || true; }

# --- the switches: up_SW MTU (fails if the switch could not be set up), down_SW ---

hashi_ctl() { "$BUILD/hashictl" --ctl "$WORK/hashi.sock" "$@"; }

up_hashi() {
    local mtu=$1
    cat > "$WORK/hashi.conf" <<CONF
[hashi]
ctl = $WORK/hashi.sock
core = $SW_CPU
[port a]
type = tap
ifname = hb-tap-a
mtu = $mtu
offload = $OFFLOAD
[port b]
type = tap
ifname = hb-tap-b
mtu = $mtu
offload = $OFFLOAD
CONF
    "$BUILD/hashi" --config "$WORK/hashi.conf" > "$WORK/hashi.log" 2>&1 &
    HASHI_PID=$!
    local x
    for x in $(seq 100) fail; do
        [ "$x" = fail ] && { echo "bench: hashi does not answer on $WORK/hashi.sock" >&2; return 1; }
        hashi_ctl port list > /dev/null 2>&1 && break
        kill -0 "$HASHI_PID" 2>/dev/null || { cat "$WORK/hashi.log" >&2; return 1; }
        sleep 0.1
    done
    for x in a b; do
        local ns=hb-$x addr=ADDR_${x^^}
        ip netns add "$ns" &&
            ip link set "hb-tap-$x" netns "$ns" &&
            host_setup "$ns" "hb-tap-$x" "${!addr}" "$mtu" || return 1
    done
}

kill_hosts() { # the iperf3 left in the namespaces
    local ns
    for ns in $NS_A $NS_B; do ip netns pids "$ns" 2> /dev/null | xargs -r kill 2> /dev/null || true; done
}

down_hashi() {
    kill_hosts
    if ! kill -TERM "$HASHI_PID" 2> /dev/null; then
        local status=0
        wait "$HASHI_PID" 2> /dev/null || status=$?
        echo "bench: hashi had exited before its turn ended (status $status); its log ends:" >&2
        tail -n 20 "$WORK/hashi.log" | sed 's/^/    /' >&2
    fi
    wait "$HASHI_PID" 2>/dev/null || true
    HASHI_PID=""
    ip netns del $NS_A 2>/dev/null || true
    ip netns del $NS_B 2>/dev/null || true
}

OVS_PID=""
up_ovs() {
    local mtu=$1
    bash "$OVS" up "$WORK/ovs" $NS_A $ADDR_A/24 $NS_B $ADDR_B/24 "$mtu" > "$WORK/ovs-up.log" 2>&1 ||
        { cat "$WORK/ovs-up.log" >&2; return 1; }
    ip netns exec $NS_A sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec $NS_B sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    no_ipv6 ov1b
    no_ipv6 ov2b
    OVS_PID=$(cat "$WORK/ovs/vswitchd.pid") || return 1
    # the switch core, as hashi's worker has it (all threads: OVS polls veths in its main thread)
    taskset -a -p -c "$SW_CPU" "$OVS_PID" > /dev/null
}

down_ovs() {
    local pid=${OVS_PID:-$(cat "$WORK/ovs/vswitchd.pid" 2> /dev/null)}
    kill_hosts
    bash "$OVS" down "$WORK/ovs" $NS_A $NS_B > /dev/null 2>&1 || true
    # ovs-vswitchd may take a few seconds to exit: the next switch should not share its CPU
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    OVS_PID=""
    ovs_leftovers
}

# OVS makes its datapath and bridge ports persistent TAPs, which outlive ovs-vswitchd; with no
# ovs-vswitchd left on the machine they belong to nobody.
ovs_leftovers() {
    local dev
    pgrep -x ovs-vswitchd > /dev/null && return 0
    for dev in obr ovs-netdev; do ip link del "$dev" 2> /dev/null || true; done
}

up_bridge() {
    local mtu=$1 x
    ip link add hb-br type bridge || return 1
    no_ipv6 hb-br
    for x in a b; do
        local ns=hb-$x addr=ADDR_${x^^}
        ip netns add "$ns" &&
            ip link add "hb-br-$x" mtu "$mtu" type veth peer name "hb-veth-$x" mtu "$mtu" netns "$ns" ||
            return 1
        no_ipv6 "hb-br-$x"
        ip link set "hb-br-$x" master hb-br up && host_setup "$ns" "hb-veth-$x" "${!addr}" "$mtu" || return 1
    done
    ip link set hb-br up
}

down_bridge() {
    kill_hosts
    ip netns del $NS_A 2>/dev/null || true
    ip netns del $NS_B 2>/dev/null || true
    ip link del hb-br 2>/dev/null || true
}

# --- CPU of a switch over one run: cpu_start SW, cpu_end SW -> % or "-" ---

proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_start() {
    case $1 in
    hashi) hashi_ctl pmd-stats clear > /dev/null ;;
    ovs) CPU_T0=$(date +%s.%N) CPU_TICKS0=$(proc_ticks "$OVS_PID") ;;
    esac
}
cpu_end() {
    case $1 in
    hashi) hashi_ctl --json pmd-stats | awk -F: '/busy_percent/ {gsub(/[ ,]/, "", $2); printf "%.1f", $2}' ;;
    ovs) awk -v t0="$CPU_T0" -v t1="$(date +%s.%N)" -v k0="$CPU_TICKS0" -v k1="$(proc_ticks "$OVS_PID")" \
             -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * (k1 - k0) / hz / (t1 - t0) }' ;;
    *) echo - ;;
    esac
}

# measure SW STREAMS -> "Gbit/s retransmits cpu%" ("?" for what failed)
measure() {
    local sw=$1 streams=$2 json
    ip netns pids $NS_B | xargs -r kill 2>/dev/null || true
    ip netns exec $NS_B "${PIN[@]}" iperf3 -s -1 -D -I "$WORK/iperf-s.pid"
    for _ in $(seq 50); do
        ip netns exec $NS_B ss -Htln 'sport = :5201' | grep -q . && break
        sleep 0.1
    done
    cpu_start "$sw" || true
    # a switch that stops forwarding leaves the client waiting on TCP: the timeout ends it
    json=$(ip netns exec $NS_A "${PIN[@]}" timeout -k 5 $((T + 30)) iperf3 -c $ADDR_B -t "$T" -P "$streams" -J) || true
    local cpu
    cpu=$(cpu_end "$sw") || cpu="?"
    printf '%s' "$json" > "$WORK/iperf-$sw.json"
    if [ "$sw" = hashi ] && ! kill -0 "$HASHI_PID" 2> /dev/null; then
        echo "? ? ?" # hashi died during the run (down_hashi tells how)
        return
    fi
    python3 - "$WORK/iperf-$sw.json" "${cpu:-?}" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as f:
        end = json.load(f)["end"]
    print("%.2f %d %s" % (end["sum_received"]["bits_per_second"] / 1e9,
                          end["sum_sent"].get("retransmits", 0), sys.argv[2]))
except Exception:
    print("? ? %s" % sys.argv[2])
PY
}

# Other switches polling on this machine (another engineer's hashi, OVS or testpmd) take CPU
# from the one measured: name them in the progress line.
neighbours() {
    local pid name out=""
    for pid in $(pgrep -x hashi; pgrep -x ovs-vswitchd; pgrep -f '^[^ ]*dpdk-testpmd '); do
        [ "$pid" = "$HASHI_PID" ] || [ "$pid" = "$OVS_PID" ] && continue
        name=$(ps -o comm= -p "$pid") && out+=" ${name}[$pid]" # (unless it has just exited)
    done
    echo "${out# }"
}

# waits until hb-a reaches hb-b (ARP resolved, MACs learned, OVS flows in place)
reachable() {
    for _ in $(seq 20); do
        ip netns exec $NS_A ping -c 1 -W 1 -q $ADDR_B > /dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

median() { tr ' ' '\n' | awk '/^[0-9.]+$/' | sort -n | awk '{a[NR] = $1} END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }

declare -A gbps=() retr=() cpu=()
CROWDED=0
for round in $(seq "$ROUNDS"); do
    for mtu in $MTUS; do
        for sw in $SWITCHES; do
            ok=1
            if ! "up_$sw" "$mtu" || ! reachable; then
                echo "  round $round: $sw MTU $mtu: could not set up (or $NS_A cannot reach $NS_B)" >&2
                ok=0
            fi
            for p in $STREAMS; do
                # a hashi that has died meanwhile (down_hashi says how) forwards nothing more
                [ "$sw" = hashi ] && ! kill -0 "$HASHI_PID" 2> /dev/null && ok=0
                busy=$(neighbours)
                g="?" r="?" c="?"
                if [ $ok = 1 ]; then
                    read -r g r c < <(measure "$sw" "$p") || true
                    g=${g:-?} r=${r:-?} c=${c:-?}
                fi
                k="$sw $mtu $p"
                gbps[$k]+="$g " retr[$k]+="$r " cpu[$k]+="$c "
                [ -n "$busy" ] && CROWDED=$((CROWDED + 1))
                echo "  round $round: $sw MTU $mtu, $p stream(s): $g Gbit/s, $r retransmits, cpu $c%${busy:+ (also running: $busy)}" >&2
            done
            "down_$sw"
        done
    done
done

printf '\nTCP namespace to namespace (iperf3 -t %s), median of %d rounds; iperf3 on CPU %s, switch on CPU %d\n\n' \
    "$T" "$ROUNDS" "$HOST_CPUS" "$SW_CPU"
printf '%-7s %5s %8s %8s %8s %6s %10s %8s   %s\n' switch MTU streams Gbit/s retrans cpu% "vs bridge" "vs OVS" \
    "Gbit/s per round"
for mtu in $MTUS; do
    for p in $STREAMS; do
        for sw in $SWITCHES; do
            k="$sw $mtu $p"
            g=$(median <<< "${gbps[$k]}")
            vb=- vo=-
            if [ "$sw" = hashi ]; then
                [ -n "${gbps["bridge $mtu $p"]:-}" ] && vb=$(ratio "$g" "$(median <<< "${gbps["bridge $mtu $p"]}")")
                [ -n "${gbps["ovs $mtu $p"]:-}" ] && vo=$(ratio "$g" "$(median <<< "${gbps["ovs $mtu $p"]}")")
            fi
            c=$(median <<< "${cpu[$k]}")
            [ "$sw" = bridge ] && c=-
            printf '%-7s %5s %8s %8s %8s %6s %10s %8s   %s\n' "$sw" "$mtu" "$p" "$g" "$(median <<< "${retr[$k]}")" \
                "$c" "$vb" "$vo" "${gbps[$k]}"
        done
    done
done
[ "$CROWDED" -eq 0 ] ||
    printf '\n%d measurement(s) ran while another hashi, ovs-vswitchd or testpmd was running (see above)\n' "$CROWDED"
