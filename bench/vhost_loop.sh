#!/bin/bash
# vhost-user switching cost, hashi against its peers, in one run on one machine.
#
# The same closed loop drives each switch: one testpmd with two virtio-user ports, io
# forwarding, seeded with tx_first bursts whose MACs make a learning switch forward unicast
# both ways (../shared/tools/loopgen.sh's method, the DPDK DTS loopback). Each switch gets one
# forwarding core (SW_CPU); the loop generator runs on GEN_CPU.
#   (a) hashi, one worker
#   (b) Open vSwitch 3.1 with DPDK, NORMAL bridge (MAC learning), one PMD thread
#   (c) testpmd io forwarding between two vhost ports: no switching at all, the vhost floor
#
# Printed per frame size: the loop's Mpps (median of 5 s samples after warm-up) and the
# switch's cycles per packet as each one counts it: hashi's `pmd-stats` and OVS's
# `pmd-perf-show` (busy cycles / received packets, OVS's "cycles/pkt"), testpmd's
# --record-core-cycles "CPU cycles/packet" (busy cycles / received packets). All are TSC cycles.
# No number here is a pass/fail. The machine is shared and noisy (the same switch has been seen
# to vary by a third between two runs a minute apart), so the switches take turns, ROUNDS times
# over, and the table shows each one's median; compare ratios within one run.
#
#   bench/vhost_loop.sh [SECONDS] [SIZES...]      default: 20 s, 64 and 1518 bytes
#   ROUNDS=N (default 3)
# Needs root; installs openvswitch-switch-dpdk when missing; OVS wants 1 GiB of 2 MB hugepages.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-20}
shift || true
SIZES=${*:-64 1518}
TOOLS=${HASHI_PEER_TOOLS:-$(cd .. && pwd)/shared/tools}
NCPU=$(nproc)
SW_CPU=$((NCPU - 1))
GEN_CPU=0
WARM=6
ROUNDS=${ROUNDS:-3}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 2; }
[ -x "$TOOLS/loopgen.sh" ] || { echo "bench: peer scripts not found in $TOOLS (set HASHI_PEER_TOOLS)" >&2; exit 2; }
scripts/deps.sh bench
scripts/build.sh build
# Like OVS-DPDK, hashi gets hugepages for its buffers (4 KB pages cost it TLB misses); the
# VMs (the generator) stay on --no-huge, as in every run of the shared loop script.
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 600 ] || echo 1024 > /proc/sys/vm/nr_hugepages
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
WORK=$(mktemp -d /tmp/hashi-bench.XXXXXX)
cleanup() {
    pkill -INT -f "file-prefix lg" 2>/dev/null || true
    [ -f "$WORK/hashi.pid" ] && kill -TERM "$(cat "$WORK/hashi.pid")" 2>/dev/null || true
    bash "$TOOLS/ovs-dpdk.sh" down "$WORK/ovs" >/dev/null 2>&1 || true
    sleep 1
    rm -rf "$WORK"
}
trap cleanup EXIT

# loop SOCK0 SOCK1 SIZE: runs the generator for T seconds in the background; its Mpps line
# lands in $WORK/loop.out
loop_start() {
    bash "$TOOLS/loopgen.sh" "$1" "$2" "$T" "$3" "$GEN_CPU" > "$WORK/loop.out" 2>&1 &
    LOOP_PID=$!
}
loop_wait() { # waits for the generator; sets MPPS (not in a subshell: it must be our child)
    wait "$LOOP_PID" || true
    MPPS=$(awk '{print $1}' "$WORK/loop.out")
}

run_hashi() { # SIZE -> "Mpps cycles/pkt"
    local ctl="$WORK/hashi.sock" size=$1
    cat > "$WORK/hashi.conf" <<CONF
[hashi]
ctl = $ctl
core = $SW_CPU
eal = -m 512 --no-pci
[port p0]
path = $WORK/h0.sock
[port p1]
path = $WORK/h1.sock
CONF
    build/hashi --config "$WORK/hashi.conf" > "$WORK/hashi.log" 2>&1 &
    echo $! > "$WORK/hashi.pid"
    for _ in $(seq 100); do build/hashictl --ctl "$ctl" port list >/dev/null 2>&1 && break; sleep 0.1; done
    loop_start "$WORK/h0.sock" "$WORK/h1.sock" "$size"
    sleep "$WARM"
    build/hashictl --ctl "$ctl" pmd-stats clear >/dev/null
    sleep $((T - WARM - 2))
    local cpp
    cpp=$(build/hashictl --ctl "$ctl" --json pmd-stats | awk -F: '/cycles_per_packet/ {gsub(/[ ,]/, "", $2); printf "%.0f", $2}')
    loop_wait
    kill -TERM "$(cat "$WORK/hashi.pid")"; wait "$(cat "$WORK/hashi.pid")" 2>/dev/null || true
    rm -f "$WORK/hashi.pid"
    echo "${MPPS:-?} ${cpp:-?}"
}

run_ovs() { # SIZE -> "Mpps cycles/pkt"
    local size=$1 mask
    mask=$(printf '0x%x' $((1 << SW_CPU)))
    bash "$TOOLS/ovs-dpdk.sh" up "$WORK/ovs" 2 "$mask" > "$WORK/ovs-up.log" 2>&1
    loop_start "$WORK/ovs/vhu0" "$WORK/ovs/vhu1" "$size"
    sleep "$WARM"
    bash "$TOOLS/ovs-dpdk.sh" clear "$WORK/ovs" >/dev/null
    sleep $((T - WARM - 2))
    local cpp
    cpp=$(bash "$TOOLS/ovs-dpdk.sh" stats "$WORK/ovs" | tee "$WORK/ovs-perf.txt" \
          | awk '/Rx packets:/ { for (i = 1; i <= NF; i++) if ($i ~ /cycles\/pkt/) { v = $(i-1); gsub(/[^0-9.]/, "", v); printf "%.0f", v } }')
    loop_wait
    bash "$TOOLS/ovs-dpdk.sh" down "$WORK/ovs" >/dev/null 2>&1
    echo "${MPPS:-?} ${cpp:-?}"
}

run_testpmd_io() { # SIZE -> "Mpps cycles/pkt"
    local size=$1
    # testpmd-io.sh runs for T+2 s and prints its cycles/packet at exit
    bash "$TOOLS/testpmd-io.sh" "$WORK/io" $((T + 2)) "$SW_CPU" > "$WORK/io.out" 2>&1 &
    local io=$!
    for _ in $(seq 100); do [ -S "$WORK/io/io1" ] && break; sleep 0.1; done
    loop_start "$WORK/io/io0" "$WORK/io/io1" "$size"
    loop_wait
    wait "$io" || true
    local cpp
    cpp=$(awk -F'CPU cycles/packet=' '/CPU cycles\/packet=/ {split($2, a, " "); printf "%.0f", a[1]}' "$WORK/io.out")
    echo "${MPPS:-?} ${cpp:-?}"
}

median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{a[NR] = $1} END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }
minimum() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | head -n 1; }

printf 'vhost-user loop, one switch core (CPU %d), generator on CPU %d, %d s per run, median of %d rounds\n\n' \
    "$SW_CPU" "$GEN_CPU" "$T" "$ROUNDS"
# Noise only ever adds cycles, so the minimum is the least disturbed round; the median says
# what a typical round saw.
printf '%-6s %-12s %10s %12s %14s %12s %14s   %s\n' "bytes" "switch" "loop Mpps" "cycles/pkt" "vs OVS" \
    "min cycles" "min vs OVS" "cycles/pkt per round"
for size in $SIZES; do
    declare -A mpps=() cpp=()
    for round in $(seq "$ROUNDS"); do
        for sw in hashi ovs testpmd_io; do
            read -r m c < <("run_$sw" "$size")
            mpps[$sw]+="$m "
            cpp[$sw]+="$c "
            echo "  round $round: $sw $size bytes: $m Mpps, $c cycles/pkt" >&2
        done
    done
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
    ovs_cpp=$(median <<<"${cpp[ovs]}")
    ovs_min=$(minimum <<<"${cpp[ovs]}")
    for sw in hashi ovs testpmd_io; do
        c=$(median <<<"${cpp[$sw]}")
        m=$(minimum <<<"${cpp[$sw]}")
        name=${sw/ovs/ovs-dpdk}
        printf '%-6s %-12s %10s %12s %14s %12s %14s   %s\n' "$size" "${name/_/-}" "$(median <<<"${mpps[$sw]}")" \
            "$c" "$(ratio "$c" "$ovs_cpp")" "${m:-?}" "$(ratio "$m" "$ovs_min")" "${cpp[$sw]}"
    done
done
