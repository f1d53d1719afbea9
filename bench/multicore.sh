#!/bin/bash
# The multi-core data plane: hashi with one and with two workers in a vhost-user loop, what an
# idle hashi costs with adaptive polling against --poll always, what waking up costs a ping, and
# who had better split an uplink's frames over two workers: the kernel or hashi.
#
# (1) loop: one testpmd with two virtio-user ports in io forwarding, seeded with tx_first bursts
#     whose MACs make a learning switch forward unicast both ways (../shared/tools/loopgen.sh's
#     method), 64-byte frames of many flows (--txonly-multi-flow: hashi picks a guest receive
#     queue by flow hash, so a single flow would keep to one queue pair of each port):
#       hashi 1 worker on W1_CPUS, 1 queue pair per port; generator: 1 forwarding lcore on GEN1_CPUS
#       hashi 2 workers on W2_CPUS, 2 queue pairs per port (4 receive queues over the 2 workers);
#             generator: 2 queues per port, a forwarding lcore on each CPU of GEN2_CPUS
#       hashi 2 workers, 1 queue pair per port: each guest queue fed by one worker only
#     and the same loop through the peers of ../shared/tools: OVS-DPDK (NORMAL bridge, 1 and 2
#     PMD threads on hashi's workers' CPUs) and testpmd io forwarding (1 core, no switching).
#     Printed: the generator's Mpps (its ports' Rx-pps in `show port stats all` at the end of a
#     SECONDS window, since the same command at its start), the switch's own Mpps over the window (hashi pmd-stats packets,
#     OVS pmd-perf-show Rx packets), busy TSC cycles per received packet summed over the workers
#     (hashi pmd-stats, OVS pmd-perf-show, testpmd --record-core-cycles), and the CPU time that
#     switch and generator got in the window (/proc): on 2 CPUs they share them.
# (2) idle: hashi with 2 workers (W2_CPUS), a connected vhost-user VM pair (a testpmd with two
#     virtio-user ports, started, not forwarding) and two TAP ports in namespaces, no traffic:
#     hashi's CPU time (utime + stime, /proc/PID/stat) over IDLE_SECONDS in % of one CPU, with
#     --poll adaptive and --poll always.
# (3) wake-up: with the same hashi, ping between the namespaces through the TAP ports: LAT_ROUNDS
#     times (sleep LAT_GAP; ping -c 1), then ping -i 0.2 and ping -i 0.0005 (the gap below
#     poll-sleep-us: adaptive workers stay awake); RTT min/median/max per poll mode.
# (4) uplink: an AF_PACKET uplink (afpacket port on veth hbmcu) with 2 queues on 2 workers
#     (W2_CPUS), split by the kernel (dispatch = kernel: a PACKET_FANOUT group) or by hashi
#     (dispatch = software: one socket, rings to the other queue's worker), for steering rss and
#     mac, and 1 queue as the base. The traffic: a testpmd in txonly mode with two net_af_packet
#     ports on the veth's far end (hbmcg), 64-byte UDP frames of many flows to two unknown
#     destination MACs (one per port, chosen so that MAC steering's default puts one on each
#     queue), paced to UP_RATE frames/s by a tbf qdisc on hbmcg (the generator on UP_GEN_CPU). The
#     uplink is the bridge's only port, so every frame is dropped as no_port: what is measured is
#     receiving and splitting. Printed per mode: the frames/s the veth delivered and hashi read
#     (uplink rx_packets), hashi's busy cycles per frame over both workers, the kernel's softirq
#     time (/proc/stat) per frame, kernel_drops and dispatch_full, and each queue's share.
# No number here is a pass/fail. The machine is shared and noisy: compare within one run; every
# run's numbers, per worker, go to standard error.
#
#   bench/multicore.sh [SECONDS]     default: 5 s measured per loop and uplink run, after WARM=2 s
#   PARTS="loop idle uplink" (the parts to run; (2) and (3) are "idle"),
#   ROUNDS=N (default 1: loop and uplink rounds; the tables show medians), PEERS="ovs testpmd-io" ("" for
#   none), CASES="hashi:1 hashi:2 ..." (SWITCH:WORKERS[:QUEUES], switches hashi ovs io),
#   LOOP_POLL=adaptive|always (hashi in the loop), IDLE_SECONDS=10, LAT_ROUNDS=5, LAT_GAP=5,
#   W1_CPUS, W2_CPUS, GEN1_CPUS, GEN2_CPUS (defaults on 2 CPUs: 1, 0,1, 0, 0,1),
#   UP_CASES="rss:1 rss:2:kernel ..." (STEERING:QUEUES[:DISPATCH], the uplink rows), UP_RATE=100000
#   (frames/s; 0: as fast as the generator goes), UP_POLL=adaptive|always (hashi in the uplink
#   runs), UP_GEN_CPU (the uplink generator's CPU, default the first of GEN1_CPUS),
#   HASHI_BUILD=DIR (default build), HASHI_PEER_TOOLS=DIR, KEEP=1 (keep the logs)
# Needs root; OVS-DPDK wants 1 GiB of 2 MB hugepages (hashi's loop runs take 512 MB of them).
set -euo pipefail
CMDLINE=""
for v in PARTS ROUNDS PEERS CASES KEEP LOOP_POLL LANES WARM IDLE_SECONDS LAT_ROUNDS LAT_GAP W1_CPUS W2_CPUS GEN1_CPUS \
    GEN2_CPUS UP_CASES UP_POLL UP_GEN_CPU UP_RATE HASHI_BUILD HASHI_PEER_TOOLS; do
    [ -n "${!v+x}" ] && CMDLINE+="$v=$(printf '%q' "${!v}") "
done
CMDLINE+="$0${*:+ $*}"
cd "$(dirname "$0")/.."
W=${1:-5}
WARM=${WARM:-2}
ROUNDS=${ROUNDS:-1}
PEERS=${PEERS-ovs testpmd-io}
LOOP_POLL=${LOOP_POLL:-adaptive}
IDLE_SECONDS=${IDLE_SECONDS:-10}
LAT_ROUNDS=${LAT_ROUNDS:-5}
LAT_GAP=${LAT_GAP:-5}
BUILD=${HASHI_BUILD:-build}
TOOLS=${HASHI_PEER_TOOLS:-$(cd .. && pwd)/shared/tools}
NCPU=$(nproc)
LAST=$((NCPU - 1))
W1_CPUS=${W1_CPUS:-$LAST}
W2_CPUS=${W2_CPUS:-$((LAST - 1)),$LAST}
# with 4 CPUs or more the generator gets CPUs of its own; on 2 it shares them with the workers
GEN1_CPUS=${GEN1_CPUS:-0}
GEN2_CPUS=${GEN2_CPUS:-$([ "$NCPU" -ge 4 ] && echo 0,1 || echo "$W2_CPUS")}
LANES=${LANES:-cross}
PARTS=${PARTS-loop idle uplink}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
UP_CASES=${UP_CASES-rss:1 rss:2:kernel rss:2:software mac:2:kernel mac:2:software}
UP_POLL=${UP_POLL:-adaptive}
UP_GEN_CPU=${UP_GEN_CPU:-${GEN1_CPUS%%,*}}
UP_RATE=${UP_RATE:-100000}
PKTLEN=64
NS_A=hb-mc-a NS_B=hb-mc-b TAP_A=hbmca TAP_B=hbmcb
UP_IF=hbmcu UP_PEER=hbmcg # the uplink's veth: hashi's end, the generator's end
# the uplink generator's destinations, one per port: unknown to hashi; MAC steering's default
# (the MAC's last four bytes modulo the queues) puts the first on queue 0, the second on queue 1
UP_DST0=02:00:00:00:30:02 UP_DST1=02:00:00:00:30:03
ADDR_A=10.253.0.1 ADDR_B=10.253.0.2
HZ=$(getconf CLK_TCK)

[ "$(id -u)" -eq 0 ] || { echo "multicore bench: run as root" >&2; exit 2; }
[ "$NCPU" -ge 2 ] || { echo "multicore bench: needs 2 CPUs or more (two workers)" >&2; exit 2; }
part loop || PEERS=""
case " $PEERS " in *" ovs "* | *" testpmd-io "*)
    [ -f "$TOOLS/ovs-dpdk.sh" ] || { echo "multicore bench: peer scripts not found in $TOOLS (set HASHI_PEER_TOOLS)" >&2; exit 2; } ;;
esac
for ns in $NS_A $NS_B; do
    if ip netns list | grep -qw "^$ns"; then
        echo "multicore bench: network namespace $ns exists already (another run?); delete it: ip netns del $ns" >&2
        exit 2
    fi
done
for dev in $TAP_A $TAP_B $UP_IF $UP_PEER; do
    if ip link show "$dev" > /dev/null 2>&1; then
        echo "multicore bench: interface $dev exists already (another run?); delete it: ip link del $dev" >&2
        exit 2
    fi
done
if [ -n "$PEERS" ]; then scripts/deps.sh bench; else scripts/deps.sh; fi
# only the two programs: the tests may not build while someone works on them
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" > /dev/null
ninja -C "$BUILD" hashi hashictl > /dev/null || { echo "multicore bench: hashi does not build in $BUILD" >&2; exit 2; }
# like OVS-DPDK, hashi gets hugepages in the loop (4 KB pages cost it TLB misses); the VMs (the
# generator) stay on --no-huge, as in every run of the shared loop script
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 600 ] || echo 1024 > /proc/sys/vm/nr_hugepages
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
WORK=$(mktemp -d /tmp/hb-multicore.XXXXXX)
HASHI_PID="" GEN_PID="" VM_PID="" IO_PID="" NAP_PID="" UGEN_PID=""

# --- processes: every one this script starts is remembered by PID and ended by PID ---

descendants() { # PID -> its children, grandchildren, ... (deepest last)
    local c
    for c in $(pgrep -P "$1" 2> /dev/null); do echo "$c"; descendants "$c"; done
}
end_tree() { # PID [SIGNAL]: signals PID and all below it, waits up to 5 s, then kills what is left
    local pid=$1 sig=${2:-INT} all p
    [ -n "$pid" ] || return 0
    all="$(descendants "$pid") $pid"
    for p in $all; do kill "-$sig" "$p" 2> /dev/null || true; done
    for _ in $(seq 50); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    for p in $all; do kill -KILL "$p" 2> /dev/null || true; done
    wait "$pid" 2> /dev/null || true
}
stop_hashi() {
    [ -n "$HASHI_PID" ] || return 0
    kill -TERM "$HASHI_PID" 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$HASHI_PID" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$HASHI_PID" 2> /dev/null || true
    wait "$HASHI_PID" 2> /dev/null || true
    HASHI_PID=""
}
del_namespaces() {
    local ns
    for ns in $NS_A $NS_B; do
        ip netns pids "$ns" 2> /dev/null | xargs -r kill -KILL 2> /dev/null || true
        ip netns del "$ns" 2> /dev/null || true
    done
}
cleanup() {
    trap - INT TERM
    [ -n "$NAP_PID" ] && kill "$NAP_PID" 2> /dev/null
    end_tree "$GEN_PID"
    end_tree "$UGEN_PID"
    end_tree "$IO_PID"
    end_tree "$VM_PID" TERM
    del_namespaces
    stop_hashi
    [ -d "$WORK/ovs" ] && { bash "$TOOLS/ovs-dpdk.sh" down "$WORK/ovs" > /dev/null 2>&1 || true; }
    ip link del $TAP_A 2> /dev/null || true
    ip link del $TAP_B 2> /dev/null || true
    ip link del $UP_IF 2> /dev/null || true # (its peer goes with it)
    if [ -n "${KEEP:-}" ]; then echo "multicore bench: logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctl() { "$BUILD/hashictl" --ctl "$WORK/hashi.sock" "$@"; }
now() { date +%s.%N; }
nap() { # sleep that Ctrl-C and SIGTERM interrupt at once (bash runs a trap only between commands)
    sleep "$1" &
    NAP_PID=$!
    wait "$NAP_PID" || true
    NAP_PID=""
}
ticks() { # utime+stime of /proc/PID[/task/TID]/stat, in clock ticks
    sed 's/.*) //' "$1" 2> /dev/null | awk '{print $12 + $13}' || echo 0
}
cpu_pct() { # TICKS0 TICKS1 T0 T1 -> % of one CPU
    awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$HZ" \
        'BEGIN { if (t1 > t0) printf "%.1f", 100 * (b - a) / hz / (t1 - t0); else print "?" }'
}
worker_tids() { # hashi's worker threads: DPDK lcore threads rte-worker-N
    local t
    for t in /proc/"$HASHI_PID"/task/*; do
        case $(cat "$t/comm" 2> /dev/null) in rte-worker-*) echo "${t##*/}" ;; esac
    done
}
worker_ticks() {
    local t sum=0
    for t in $(worker_tids); do sum=$((sum + $(ticks "/proc/$HASHI_PID/task/$t/stat"))); done
    echo $sum
}

# start_hashi CORES POLL: hashi with the config in $WORK/hashi.conf (ports), returns when it answers
start_hashi() {
    local x
    "$BUILD/hashi" --config "$WORK/hashi.conf" --cores "$1" --poll "$2" > "$WORK/hashi.log" 2>&1 &
    HASHI_PID=$!
    for x in $(seq 100) fail; do
        [ "$x" = fail ] && { echo "multicore bench: hashi does not answer on $WORK/hashi.sock" >&2; return 1; }
        ctl port list > /dev/null 2>&1 && break
        kill -0 "$HASHI_PID" 2> /dev/null || { sed 's/^/    hashi: /' "$WORK/hashi.log" >&2; return 1; }
        sleep 0.1
    done
}
# hashi's log lines that are not info, for the progress lines
hashi_log_errors() {
    grep -v -e ': info: ' -e '^TELEMETRY: ' -e '^EAL: ' "$WORK/hashi.log" 2> /dev/null | head -n 5 | sed 's/^/    hashi log: /' >&2 || true
    grep -h -e 'EAL: .*[Ee]rror' "$WORK/hashi.log" 2> /dev/null | head -n 3 | sed 's/^/    hashi log: /' >&2 || true
}

# --- (1) the loop ---

lcores() { # CPUS -> testpmd --lcores: the main lcore on the first CPU, one forwarding lcore per CPU
    local i=1 c out
    out="0@${1%%,*}"
    for c in ${1//,/ }; do out+=",$i@$c"; i=$((i + 1)); done
    echo "$out"
}
ncpus() { local a=(${1//,/ }); echo ${#a[@]}; }
cpu_mask() { local c m=0; for c in ${1//,/ }; do m=$((m | 1 << c)); done; printf '0x%x' $m; }

# gen_start SOCK0 SOCK1 QUEUES CPUS: the loop generator, an interactive testpmd that reads its
# commands from the fifo $WORK/gen.in (line-buffered log in $WORK/gen.log); returns when frames
# circulate. The counters are read with `show port stats all` at the window's ends.
gen_cmd() { printf '%s\n' "$@" 1<> "$WORK/gen.in"; } # (read-write: never blocks, reader or not)
gen_start() {
    local q=() x a b
    [ "$3" -gt 1 ] && q=("--rxq=$3" "--txq=$3")
    rm -f "$WORK/gen.log" "$WORK/gen.in"
    mkfifo "$WORK/gen.in"
    stdbuf -oL dpdk-testpmd --lcores "$(lcores "$4")" --no-pci --no-huge -m 1024 --file-prefix "hbmcg$$" \
        --log-level '*:warning' \
        --vdev "virtio_user0,path=$1,queues=$3,mac=02:00:00:00:00:01" \
        --vdev "virtio_user1,path=$2,queues=$3,mac=02:00:00:00:00:02" -- -i \
        --total-num-mbufs=32768 --forward-mode=io --eth-peer=0,02:00:00:00:00:02 --eth-peer=1,02:00:00:00:00:01 \
        --txpkts=$PKTLEN --burst=32 --txonly-multi-flow --nb-cores="$(ncpus "$4")" "${q[@]}" \
        0<> "$WORK/gen.in" > "$WORK/gen.log" 2>&1 &
    GEN_PID=$!
    for x in $(seq 300) fail; do
        [ "$x" = fail ] && { echo "multicore bench: the generator does not start" >&2; return 1; }
        grep -aq 'testpmd>' "$WORK/gen.log" 2> /dev/null && break
        kill -0 "$GEN_PID" 2> /dev/null || { tail -n 20 "$WORK/gen.log" | sed 's/^/    generator: /' >&2; return 1; }
        sleep 0.1
    done
    for x in 1 2 fail; do # the first bursts die if a switch port is not ready for them: once more
        [ "$x" = fail ] && { echo "multicore bench: no frames circulate" >&2; return 1; }
        gen_cmd "start tx_first"
        sleep 0.5
        read -r a _ < <(gen_rx)
        sleep 0.5
        read -r b _ < <(gen_rx)
        [ "$a" != "?" ] && [ "$b" != "?" ] && [ "$b" -gt "$a" ] && break
        echo "    generator: no frames came back after tx_first; again" >&2
        gen_cmd stop
        sleep 0.5
    done
}
gen_rx() { # -> "RX PPS": packets both ports have received, and per second since the last show
    local n x
    n=$(grep -ac 'Tx-pps' "$WORK/gen.log" || true)
    gen_cmd "show port stats all"
    for x in $(seq 250) fail; do
        [ "$x" = fail ] && { echo "? ?"; return; }
        [ "$(grep -ac 'Tx-pps' "$WORK/gen.log" || true)" -ge $((n + 2)) ] && break
        sleep 0.02
    done
    # the last block of each port: "RX-packets: N  RX-missed: ..." and "Rx-pps: N  Rx-bps: ..."
    echo "$(grep -a 'RX-missed:' "$WORK/gen.log" | tail -n 2 | awk '{s += $2} END {print s + 0}')" \
        "$(grep -a 'Rx-pps:' "$WORK/gen.log" | tail -n 2 | awk '{s += $2} END {print s + 0}')"
}
gen_stop() { # stop (prints the forward statistics, TX-dropped among them) and quit; kill if need be
    [ -n "$GEN_PID" ] || return 0
    gen_cmd stop quit 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$GEN_PID" 2> /dev/null || break; sleep 0.1; done
    end_tree "$GEN_PID"
    GEN_PID=""
}

# placement WORKER_CPUS QUEUES GEN_CPUS -> lines "PORT QUEUE CPU": the worker CPU for each of
# the switch's receive queues. What the switch receives on port P queue q comes from, and goes
# back to, the generator lcore that forwards stream RX (1-P)/q (testpmd gives its forwarding
# lcores equal runs of the streams P0Q0 P1Q0 P0Q1 P1Q1 ...; testpmd forwards a frame on the queue
# number it came in by and hashi sends it to the guest queue of its flow hash, so after one pass
# every frame keeps to one queue number). LANES=cross puts each queue on a worker
# whose CPU is not that lcore's, LANES=same on the one that is, LANES=none leaves the switch's
# own placement. Nothing when the workers do not share CPUs with the generator.
placement() {
    local w=(${1//,/ }) g=(${3//,/ }) nq=$2 per k p s lane i c pick shared=""
    for c in "${g[@]}"; do case ",$1," in *",$c,"*) shared=1 ;; esac; done
    [ ${#w[@]} -gt 1 ] && [ -n "$shared" ] && [ "$LANES" != none ] || return 0
    per=$((2 * nq / ${#g[@]}))
    [ "$per" -ge 1 ] || per=1
    for k in $(seq 0 $((nq - 1))); do
        for p in 0 1; do
            s=$((2 * k + 1 - p))
            lane=${g[$((s / per))]:-${g[0]}}
            pick=""
            for i in $(seq 0 $((${#w[@]} - 1))); do # from worker k on, so that queues spread
                c=${w[$(((k + i) % ${#w[@]}))]}
                if { [ "$LANES" = cross ] && [ "$c" != "$lane" ]; } || { [ "$LANES" = same ] && [ "$c" = "$lane" ]; }; then
                    pick=$c
                    break
                fi
            done
            [ -n "$pick" ] && echo "$p $k $pick"
        done
    done
}

# the switches: NAME_up WORKERS QUEUES (receive queues placed by $PLACE), NAME_clear, NAME_pid, NAME_collect (after the window), NAME_down
hashi_up() { # WORKERS QUEUES
    local n=$1 q=$2 cores
    cores=$([ "$n" = 1 ] && echo "$W1_CPUS" || echo "$W2_CPUS")
    cat > "$WORK/hashi.conf" <<CONF
[hashi]
ctl = $WORK/hashi.sock
eal = -m 512 --no-pci
[port p0]
path = $WORK/h0.sock
queues = $q
[port p1]
path = $WORK/h1.sock
queues = $q
CONF
    start_hashi "$cores" "$LOOP_POLL" || return 1
    local p k c
    while read -r p k c; do
        [ -n "$c" ] && { ctl rxq pin "p$p" "$k" "$c" > /dev/null || return 1; }
    done <<< "$PLACE"
    SOCKS=("$WORK/h0.sock" "$WORK/h1.sock")
}
# stats before pmd-stats, read in the opposite order: the stats window holds the pmd-stats one
hashi_clear() { ctl stats clear > /dev/null && ctl pmd-stats clear > /dev/null; }
hashi_pid() { echo "$HASHI_PID"; }
hashi_collect() {
    ctl --json pmd-stats > "$WORK/pmd.json" && ctl --json stats > "$WORK/stats.json"
}
hashi_down() { stop_hashi; }

ovs_up() {
    bash "$TOOLS/ovs-dpdk.sh" up "$WORK/ovs" 2 "$(cpu_mask "$([ "$1" = 1 ] && echo "$W1_CPUS" || echo "$W2_CPUS")")" \
        > "$WORK/ovs-up.log" 2>&1 || { tail -n 5 "$WORK/ovs-up.log" >&2; return 1; }
    local p k c aff
    for p in 0 1; do
        aff=$(awk -v p=$p '$1 == p {printf "%s%s:%s", sep, $2, $3; sep = ","}' <<< "$PLACE")
        [ -z "$aff" ] || ovs-vsctl --db="unix:$WORK/ovs/db.sock" set Interface "vhu$p" \
            "other_config:pmd-rxq-affinity=\"$aff\"" || return 1
    done
    SOCKS=("$WORK/ovs/vhu0" "$WORK/ovs/vhu1")
}
ovs_clear() { bash "$TOOLS/ovs-dpdk.sh" clear "$WORK/ovs" > /dev/null; }
ovs_pid() { cat "$WORK/ovs/vswitchd.pid"; }
ovs_collect() {
    bash "$TOOLS/ovs-dpdk.sh" stats "$WORK/ovs" > "$WORK/ovs-perf.txt"
    ovs-appctl -t "$WORK/ovs/ovs-vswitchd-dpdk.$(cat "$WORK/ovs/vswitchd.pid").ctl" dpif-netdev/pmd-rxq-show \
        > "$WORK/ovs-rxq.txt" 2> /dev/null || true
}
ovs_down() { bash "$TOOLS/ovs-dpdk.sh" down "$WORK/ovs" > /dev/null 2>&1 || true; }

# testpmd-io.sh runs testpmd under `timeout`; it prints its cycles/packet when testpmd ends,
# which it does here when the script interrupts it (the timeout is only a backstop)
io_up() {
    local x
    bash "$TOOLS/testpmd-io.sh" "$WORK/io" $((WARM + W + 60)) "$W1_CPUS" > "$WORK/io.out" 2>&1 &
    IO_PID=$!
    for x in $(seq 100) fail; do
        [ "$x" = fail ] && { echo "multicore bench: testpmd-io does not start" >&2; return 1; }
        [ -S "$WORK/io/io1" ] && break
        sleep 0.1
    done
    SOCKS=("$WORK/io/io0" "$WORK/io/io1")
}
io_clear() { :; }
io_pid() { pgrep -x dpdk-testpmd -P "$(pgrep -P "$IO_PID" | head -n 1)" 2> /dev/null | head -n 1 || true; }
io_collect() { :; }
io_down() { # testpmd alone gets the SIGINT (timeout would pass on a second one), then the rest
    local pid
    pid=$(io_pid)
    [ -n "$pid" ] && kill -INT "$pid" 2> /dev/null
    for _ in $(seq 50); do kill -0 "$IO_PID" 2> /dev/null || break; sleep 0.1; done
    end_tree "$IO_PID"
    IO_PID=""
}

# run SWITCH WORKERS QUEUES -> "loop-Mpps switch-Mpps cycles/pkt switch-CPU% gen-CPU%"; details of the
# run in $WORK/detail (for the progress line)
run() {
    local sw=$1 n=$2 gcpus queues t0 t1 gpps s0 s1 g0 g1 spid w0 w1
    gcpus=$([ "$n" = 1 ] && echo "$GEN1_CPUS" || echo "$GEN2_CPUS")
    queues=$3
    PLACE=$(placement "$([ "$n" = 1 ] && echo "$W1_CPUS" || echo "$W2_CPUS")" "$queues" "$gcpus")
    : > "$WORK/detail"
    rm -f "$WORK/pmd.json" "$WORK/stats.json" "$WORK/ovs-perf.txt" "$WORK/ovs-rxq.txt"
    if ! "${sw}_up" "$n" "$queues"; then
        "${sw}_down"
        echo "? ? ? ? ?"
        return
    fi
    if ! gen_start "${SOCKS[0]}" "${SOCKS[1]}" "$queues" "$gcpus"; then
        gen_stop
        "${sw}_down"
        echo "? ? ? ? ?"
        return
    fi
    nap "$WARM"
    spid=$("${sw}_pid")
    "${sw}_clear"
    t0=$(now) s0=$(ticks "/proc/$spid/stat") g0=$(ticks "/proc/$GEN_PID/stat")
    [ "$sw" = hashi ] && w0=$(worker_ticks)
    gen_rx > /dev/null # the start of the generator's window: its "since last show"
    nap "$W"
    "${sw}_collect" || true
    t1=$(now) s1=$(ticks "/proc/$spid/stat") g1=$(ticks "/proc/$GEN_PID/stat")
    [ "$sw" = hashi ] && w1=$(worker_ticks)
    read -r _ gpps < <(gen_rx)
    gen_stop
    "${sw}_down"
    cp "$WORK/gen.log" "$WORK/gen-$sw-$n-$queues.log"
    [ "$sw" = hashi ] && { hashi_log_errors; cp "$WORK/hashi.log" "$WORK/hashi-loop-$n-$queues.log"; }
    python3 - "$WORK" "$sw" "$gpps" "$t0" "$t1" "$(cpu_pct "$s0" "$s1" "$t0" "$t1")" \
        "$(cpu_pct "$g0" "$g1" "$t0" "$t1")" "$([ "$sw" = hashi ] && cpu_pct "$w0" "$w1" "$t0" "$t1")" <<'PY'
import json, re, sys
w, sw, gen, t0, t1, scpu, gcpu, wcpu = sys.argv[1:]
secs = float(t1) - float(t0)
detail = []
# the generator: its two ports' Rx-pps "since last show", the show at the window's start
try:
    loop = int(gen) / 1e6
except ValueError:
    loop = None
with open(f"{w}/gen.log", errors="replace") as f:
    log = f.read()
drops = re.findall(r"Accumulated forward statistics.*?TX-dropped:\s+(\d+)", log, re.S)
if drops and int(drops[-1]):
    detail.append(f"generator TX-dropped {drops[-1]} (the loop loses frames)")
sw_mpps = cpp = None
try:
    if sw == "hashi":
        with open(f"{w}/pmd.json") as f:
            pmd = json.load(f)
        pk = sum(x["packets"] for x in pmd)
        busy = sum(x["busy_cycles"] for x in pmd)
        sw_mpps, cpp = pk / secs / 1e6, busy / pk if pk else None
        detail.append("workers " + ", ".join(
            "CPU %d: %.2f Mpps %s cyc/pkt busy %.0f%% sleep %.0f%% (%d sleeps) queues %s" % (
                x["core"], x["packets"] / secs / 1e6,
                "%.0f" % (x["busy_cycles"] / x["packets"]) if x["packets"] else "-",
                x["busy_percent"], x["sleep_percent"], x["sleeps"],
                "+".join("%s:%d" % (q["port"], q["queue"]) for q in x["queues"])) for x in pmd))
        if wcpu:
            detail.append(f"worker threads {wcpu}% CPU")
        with open(f"{w}/stats.json") as f:
            st = json.load(f)
        rx = sum(p["rx_packets"] for p in st)
        tx = sum(p["tx_packets"] for p in st)
        dr = {}
        for p in st:
            for k, v in p["drops"].items():
                if v:
                    dr[k] = dr.get(k, 0) + v
        # stats' window holds pmd-stats' (cleared before it, read after it): never fewer
        if rx < pk:
            detail.append(f"COUNTERS: stats rx_packets {rx} < pmd-stats packets {pk}")
        # hashictl(8) ACCOUNTING, which holds in any one stats answer
        lhs = sum(p["rx_packets"] + p["flood_copies"] + p["gso_segments"] - p["gso_frames"]
                  - p["rsc"]["segments_in"] + p["rsc"]["aggregates_out"] for p in st)
        rhs = tx + sum(dr.values())
        if lhs != rhs:
            detail.append(f"COUNTERS: accounting off by {lhs - rhs} (frames in minus out and drops)")
        if dr:
            detail.append("drops " + " ".join(f"{k}={v}" for k, v in dr.items()))
    elif sw == "ovs":
        with open(f"{w}/ovs-perf.txt") as f:
            perf = f.read()
        rows = [(int(n), float(c)) for n, c in
                re.findall(r"Rx packets:\s+(\d+)\s+\([^,]*,\s*([\d.]+) cycles/pkt", perf)]
        pk = sum(n for n, _ in rows)
        sw_mpps = pk / secs / 1e6
        cpp = sum(n * c for n, c in rows) / pk if pk else None
        detail.append("PMDs " + ", ".join("%.2f Mpps %.0f cyc/pkt" % (n / secs / 1e6, c) for n, c in rows))
        try:  # which PMD polls which queue
            rxq, core = [], None
            for line in open(f"{w}/ovs-rxq.txt"):
                m = re.search(r"core_id (\d+)", line)
                if m:
                    core = m.group(1)
                    rxq.append(f"CPU {core}:")
                m = re.search(r"port: (\S+)\s+queue-id:\s+(\d+)", line)
                if m:
                    rxq[-1] += f" {m.group(1)}:{m.group(2)}"
            detail.append("queues " + ", ".join(rxq))
        except (OSError, IndexError):
            pass
    elif sw == "io":
        with open(f"{w}/io.out", errors="replace") as f:
            m = re.findall(r"CPU cycles/packet=([\d.]+)", f.read())
        cpp = float(m[-1]) if m else None  # over its whole run (it counts busy cycles only)
except (OSError, ValueError, KeyError, ZeroDivisionError) as e:
    detail.append(f"could not read the switch's counters: {e}")
fmt = lambda x, s: "?" if x is None else s % x
print(fmt(loop, "%.3f"), "-" if sw == "io" else fmt(sw_mpps, "%.3f"), fmt(cpp, "%.0f"), scpu or "?", gcpu or "?")
with open(f"{w}/detail", "w") as f:
    f.write("; ".join(detail))
PY
}

# --- (2) and (3): idle CPU and wake-up latency, one hashi per poll mode ---

host_setup() { # NS IFNAME ADDR
    ip netns exec "$1" sysctl -qw net.ipv6.conf."$2".disable_ipv6=1 2> /dev/null || true
    ip -n "$1" addr add "$3/24" dev "$2" && ip -n "$1" link set "$2" up
}
idle_up() { # MODE
    local x
    cat > "$WORK/hashi.conf" <<CONF
[hashi]
ctl = $WORK/hashi.sock
[port vm1]
path = $WORK/vm1.sock
[port vm2]
path = $WORK/vm2.sock
[port ta]
type = tap
ifname = $TAP_A
[port tb]
type = tap
ifname = $TAP_B
CONF
    start_hashi "$W2_CPUS" "$1" || return 1
    # the VM pair: ports started (the vhost-user devices are up), no forwarding: idle guests
    mkfifo "$WORK/vm.in"
    dpdk-testpmd --lcores "0@${GEN1_CPUS%%,*},1@${GEN1_CPUS%%,*}" --no-pci --no-huge -m 512 \
        --file-prefix "hbmcv$$" --log-level '*:warning' \
        --vdev "virtio_user0,path=$WORK/vm1.sock,queues=1,mac=02:00:00:00:20:01" \
        --vdev "virtio_user1,path=$WORK/vm2.sock,queues=1,mac=02:00:00:00:20:02" -- \
        -i --total-num-mbufs=4096 0<> "$WORK/vm.in" > "$WORK/vm.log" 2>&1 &
    VM_PID=$!
    for x in $(seq 100) fail; do
        [ "$x" = fail ] && { echo "multicore bench: the VM pair did not connect" >&2; return 1; }
        [ "$(grep -c 'frontend ready' "$WORK/hashi.log")" -ge 2 ] && break
        kill -0 "$VM_PID" 2> /dev/null || { tail -n 20 "$WORK/vm.log" | sed 's/^/    vm: /' >&2; return 1; }
        sleep 0.1
    done
    for ns in $NS_A $NS_B; do
        ip netns add "$ns" || return 1
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
        ip -n "$ns" link set lo up
    done
    ip link set $TAP_A netns $NS_A && ip link set $TAP_B netns $NS_B || return 1
    host_setup $NS_A $TAP_A $ADDR_A && host_setup $NS_B $TAP_B $ADDR_B || return 1
    # fixed neighbours: no ARP while the hosts are silent
    local mac_a mac_b
    mac_a=$(ip -n $NS_A -br link show $TAP_A | awk '{print $3}')
    mac_b=$(ip -n $NS_B -br link show $TAP_B | awk '{print $3}')
    ip -n $NS_A neigh replace $ADDR_B lladdr "$mac_b" dev $TAP_A nud permanent &&
        ip -n $NS_B neigh replace $ADDR_A lladdr "$mac_a" dev $TAP_B nud permanent || return 1
    for x in $(seq 20) fail; do # the FDB learns both MACs
        [ "$x" = fail ] && { echo "multicore bench: $NS_A cannot reach $NS_B through hashi" >&2; return 1; }
        ip netns exec $NS_A ping -c 1 -W 1 -q $ADDR_B > /dev/null 2>&1 && break
        sleep 0.2
    done
    ip netns exec $NS_B ping -c 1 -W 1 -q $ADDR_A > /dev/null 2>&1 || true
}
idle_down() {
    end_tree "$VM_PID" TERM
    VM_PID=""
    rm -f "$WORK/vm.in"
    del_namespaces
    stop_hashi
}
ping_rtts() { # PING ARGS... -> the round trip times in microseconds, one a line
    ip netns exec $NS_A ping "$@" -W 2 $ADDR_B 2> /dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' |
        awk '{printf "%.0f\n", $1 * 1000}' || true
}
stats3() { # numbers on stdin -> "min median max count" (or "? ? ? 0")
    sort -n | awk '{a[NR] = $1} END { if (NR) print a[1], a[int((NR + 1) / 2)], a[NR], NR; else print "? ? ? 0" }'
}

# idle_run MODE -> "hashi-CPU% workers-CPU% sleeps/s wakes/s sleep% frames | idle RTTs (min med max)
#   | -i 0.2 (min med max) | -i 0.0005 (min med max)"; the queue placement in $WORK/placement-MODE
idle_run() {
    local mode=$1 t0 t1 p0 p1 w0 w1 idle lat cont busy r wakes
    if ! idle_up "$mode"; then
        hashi_log_errors
        idle_down
        echo "? ? ? ? ? ? | ? ? ? 0 ? | ? ? ? 0 | ? ? ? 0"
        return
    fi
    nap 2 # past poll-sleep-us and the warm-up pings
    ctl pmd-stats clear > /dev/null
    t0=$(now) p0=$(ticks "/proc/$HASHI_PID/stat") w0=$(worker_ticks)
    nap "$IDLE_SECONDS"
    t1=$(now) p1=$(ticks "/proc/$HASHI_PID/stat") w1=$(worker_ticks)
    ctl --json pmd-stats > "$WORK/idle-pmd.json"
    idle="$(cpu_pct "$p0" "$p1" "$t0" "$t1") $(cpu_pct "$w0" "$w1" "$t0" "$t1") $(python3 - "$WORK/idle-pmd.json" "$t0" "$t1" <<'PY'
import json, sys
pmd = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
print("%.0f %.0f %.1f %d" % (sum(x["sleeps"] for x in pmd) / secs, sum(x["wakes"] for x in pmd) / secs,
      sum(x["sleep_percent"] for x in pmd) / len(pmd), sum(x["packets"] for x in pmd)))
PY
)"
    python3 - "$WORK/idle-pmd.json" > "$WORK/placement-$mode" <<'PY'
import json, sys
print(", ".join("CPU %d: %s" % (x["core"], " ".join("%s:%d" % (q["port"], q["queue"]) for q in x["queues"]))
                for x in json.load(open(sys.argv[1]))))
PY
    : > "$WORK/lat"
    ctl pmd-stats clear > /dev/null
    for r in $(seq "$LAT_ROUNDS"); do
        nap "$LAT_GAP"
        ping_rtts -c 1 >> "$WORK/lat"
    done
    # every idle ping wakes the worker of ta (request) and the one of tb (reply) by their queues'
    # signals; fewer wakes than that means a frame waited for a worker's timeout instead
    wakes=$(ctl --json pmd-stats | python3 -c 'import json, sys; print(sum(x["wakes"] for x in json.load(sys.stdin)))')
    lat="$(stats3 < "$WORK/lat") ${wakes:-?}"
    cont=$(ping_rtts -c 10 -i 0.2 | stats3)
    busy=$(ping_rtts -c 400 -i 0.0005 | tail -n +11 | stats3) # the first ones may find workers asleep
    echo "  [$SECONDS s] $mode: RTTs after $LAT_GAP s idle $(tr '\n' ' ' < "$WORK/lat")us, $wakes wakes" >&2
    hashi_log_errors
    idle_down
    echo "$idle | $lat | $cont | $busy"
}

# --- (4) an AF_PACKET uplink with two queues: the kernel's split against hashi's ---

# ugen_start: the uplink's generator, an interactive testpmd in txonly mode with two
# net_af_packet ports on $UP_PEER (one destination MAC each), main and forwarding lcore on
# UP_GEN_CPU, reading its commands from the fifo $WORK/ugen.in; started once for all uplink runs.
# testpmd cannot pace a vdev: with UP_RATE (frames/s) a tbf qdisc on $UP_PEER passes that many
# (its frames go through the qdisc: qdisc_bypass=0) and drops the rest; with UP_RATE=0 it sends
# as fast as its CPU lets it, past the qdisc. What hashi does not take the kernel drops
# (kernel_drops). Its counters are read with `show port stats all`.
ugen_cmd() { printf '%s\n' "$@" 1<> "$WORK/ugen.in"; }
ugen_start() {
    local x bypass=1
    if [ "$UP_RATE" -gt 0 ]; then # a bucket of 256 frames, a queue of 1024
        tc qdisc replace dev $UP_PEER root tbf rate "$((UP_RATE * PKTLEN * 8))bit" burst $((256 * PKTLEN)) \
            limit $((1024 * PKTLEN)) || return 1
        bypass=0
    fi
    rm -f "$WORK/ugen.log" "$WORK/ugen.in"
    mkfifo "$WORK/ugen.in"
    stdbuf -oL dpdk-testpmd --lcores "0@$UP_GEN_CPU,1@$UP_GEN_CPU" --no-pci --no-huge -m 512 \
        --file-prefix "hbmcu$$" --log-level '*:warning' --vdev "net_af_packet0,iface=$UP_PEER,qdisc_bypass=$bypass" \
        --vdev "net_af_packet1,iface=$UP_PEER,qdisc_bypass=$bypass" -- -i \
        --total-num-mbufs=8192 --forward-mode=txonly --txonly-multi-flow --txpkts=$PKTLEN --burst=32 \
        --eth-peer=0,$UP_DST0 --eth-peer=1,$UP_DST1 --nb-cores=1 \
        0<> "$WORK/ugen.in" > "$WORK/ugen.log" 2>&1 &
    UGEN_PID=$!
    for x in $(seq 300) fail; do
        [ "$x" = fail ] && { echo "multicore bench: the uplink generator does not start" >&2; return 1; }
        grep -aq 'testpmd>' "$WORK/ugen.log" 2> /dev/null && break
        kill -0 "$UGEN_PID" 2> /dev/null || { tail -n 20 "$WORK/ugen.log" | sed 's/^/    uplink generator: /' >&2; return 1; }
        sleep 0.1
    done
    ugen_cmd start
}
ugen_tx() { # -> "TX PPS": frames both ports sent, and per second since the last show
    local n x
    n=$(grep -ac 'Tx-pps' "$WORK/ugen.log" || true)
    ugen_cmd "show port stats all"
    for x in $(seq 250) fail; do
        [ "$x" = fail ] && { echo "? ?"; return; }
        [ "$(grep -ac 'Tx-pps' "$WORK/ugen.log" || true)" -ge $((n + 2)) ] && break
        sleep 0.02
    done
    echo "$(grep -a 'TX-errors:' "$WORK/ugen.log" | tail -n 2 | awk '{s += $2} END {print s + 0}')" \
        "$(grep -a 'Tx-pps:' "$WORK/ugen.log" | tail -n 2 | awk '{s += $2} END {print s + 0}')"
}
ugen_stop() {
    [ -n "$UGEN_PID" ] || return 0
    ugen_cmd stop quit 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$UGEN_PID" 2> /dev/null || break; sleep 0.1; done
    end_tree "$UGEN_PID"
    UGEN_PID=""
}
up_setup() { # the veth, both ends up, no IPv6 (the kernel sends nothing on it by itself)
    local dev
    ip link add $UP_IF type veth peer name $UP_PEER || return 1
    for dev in $UP_IF $UP_PEER; do
        sysctl -qw net.ipv6.conf.$dev.disable_ipv6=1 2> /dev/null || true
        ip link set $dev up || return 1
    done
}
# up_pins QUEUES -> lines "QUEUE CPU": the workers that do not share the generator's CPU first,
# so queue 0 (with dispatch = software: the socket, and the split) gets a CPU of its own when
# there is one, and queue 1 the other worker
up_pins() {
    local w=() c k
    for c in ${W2_CPUS//,/ }; do [ "$c" != "$UP_GEN_CPU" ] && w+=("$c"); done
    for c in ${W2_CPUS//,/ }; do [ "$c" = "$UP_GEN_CPU" ] && w+=("$c"); done
    for k in $(seq 0 $(($1 - 1))); do echo "$k ${w[$((k % ${#w[@]}))]}"; done
}
up_hashi() { # STEERING QUEUES DISPATCH: hashi with the uplink alone on br0, its queues pinned
    local k c
    cat > "$WORK/hashi.conf" <<CONF
[hashi]
ctl = $WORK/hashi.sock
eal = -m 512 --no-pci
[port up]
type = afpacket
iface = $UP_IF
queues = $2
steering = $1
dispatch = $3
CONF
    start_hashi "$W2_CPUS" "$UP_POLL" || return 1
    while read -r k c; do
        ctl rxq pin up "$k" "$c" > /dev/null || return 1
    done < <(up_pins "$2")
}
cpu_stat() { # the lines of /proc/stat of the CPUs the uplink runs use (workers and generator)
    local c
    for c in $(echo "${W2_CPUS//,/ } $UP_GEN_CPU" | tr ' ' '\n' | sort -un); do grep "^cpu$c " /proc/stat; done
}

# up_run STEERING QUEUES DISPATCH -> "veth-Mpps rx-Mpps cycles/frame softirq-cycles/frame
# workers-CPU% softirq-CPU% kernel_drops dispatch_full queue-shares"; details in $WORK/detail
up_run() {
    local st=$1 q=$2 d=$3 t0 t1 w0 w1 g0 g1 gpps
    : > "$WORK/detail"
    rm -f "$WORK"/up-* "$WORK/pmd.json" "$WORK/stats.json"
    if ! up_hashi "$st" "$q" "$d"; then
        hashi_log_errors
        stop_hashi
        echo "? ? ? ? ? ? ? ? ?"
        return
    fi
    nap "$WARM"
    hashi_clear
    # the per-queue counters and kernel_drops are not cleared: read at both ends
    ctl --json pmd-stats > "$WORK/up-pmd0.json"
    ctl --json port list > "$WORK/up-ports0.json"
    cat /sys/class/net/$UP_IF/statistics/rx_packets > "$WORK/up-ifrx0"
    cpu_stat > "$WORK/up-stat0"
    t0=$(now) w0=$(worker_ticks) g0=$(ticks "/proc/$UGEN_PID/stat")
    ugen_tx > /dev/null # the start of the generator's window
    nap "$W"
    hashi_collect || true
    ctl --json port list > "$WORK/up-ports1.json" || true
    cat /sys/class/net/$UP_IF/statistics/rx_packets > "$WORK/up-ifrx1"
    cpu_stat > "$WORK/up-stat1"
    t1=$(now) w1=$(worker_ticks) g1=$(ticks "/proc/$UGEN_PID/stat")
    read -r _ gpps < <(ugen_tx)
    stop_hashi
    hashi_log_errors
    cp "$WORK/hashi.log" "$WORK/hashi-uplink-$st-$q-$d.log"
    python3 - "$WORK" "$q" "$gpps" "$t0" "$t1" "$(cpu_pct "$w0" "$w1" "$t0" "$t1")" \
        "$(cpu_pct "$g0" "$g1" "$t0" "$t1")" "$HZ" "$UP_RATE" <<'PY'
import json, sys
w, nq, gen, t0, t1, wcpu, gcpu, hz, rate = sys.argv[1:]
nq, secs, hz, rate = int(nq), float(t1) - float(t0), int(hz), int(rate)
detail = []
out = ["?"] * 9
try:
    pmd0, pmd = (json.load(open(f"{w}/{f}")) for f in ("up-pmd0.json", "pmd.json"))
    up = [p for p in json.load(open(f"{w}/stats.json")) if p["name"] == "up"][0]
    kd0, kd1 = ([p for p in json.load(open(f"{w}/{f}")) if p["name"] == "up"][0]["kernel_drops"]
                for f in ("up-ports0.json", "up-ports1.json"))
    ifrx = int(open(f"{w}/up-ifrx1").read()) - int(open(f"{w}/up-ifrx0").read())
    rx, busy, pk = up["rx_packets"], sum(x["busy_cycles"] for x in pmd), sum(x["packets"] for x in pmd)
    kdrops, dfull = kd1 - kd0, up["drops"]["dispatch_full"]
    # TSC cycles per second: every worker's cycle counters together span the window
    tsc = max((x["busy_cycles"] + x["idle_cycles"] + x["sleep_cycles"]) for x in pmd) / secs
    # softirq (the 7th number of a cpu line), summed over the CPUs, in seconds
    sirq = sum(int(b.split()[7]) - int(a.split()[7]) for a, b in
               zip(open(f"{w}/up-stat0"), open(f"{w}/up-stat1"))) / hz
    qp = {}
    for snap, sign in ((pmd0, -1), (pmd, 1)):
        for x in snap:
            for qq in x["queues"]:
                if qq["port"] == "up":
                    qp[qq["queue"]] = qp.get(qq["queue"], 0) + sign * qq["packets"]
    qsum = sum(qp.values())
    shares = [100 * qp.get(k, 0) / qsum if qsum else 0 for k in range(nq)]
    out = ["%.3f" % (ifrx / secs / 1e6), "%.3f" % (rx / secs / 1e6), "%.0f" % (busy / rx) if rx else "?",
               "%.0f" % (sirq * tsc / ifrx) if ifrx else "?", wcpu or "?",
               "%.0f" % (100 * sirq / secs), str(kdrops), str(dfull),
               "/".join("%.0f" % s for s in shares)]
    detail.append("workers " + ", ".join(
        "CPU %d: %.3f Mpps busy %.0f%% sleep %.0f%% (%d sleeps, %d wakes) queues %s" % (
            x["core"], x["packets"] / secs / 1e6, x["busy_percent"], x["sleep_percent"], x["sleeps"],
            x["wakes"], "+".join("%s:%d" % (qq["port"], qq["queue"]) for qq in x["queues"]) or "none")
        for x in pmd))
    detail.append(f"worker threads {wcpu}% CPU, generator {gcpu}% CPU, softirq {100 * sirq / secs:.0f}%")
    detail.append("generator %s Mpps" % ("%.3f" % (int(gen) / 1e6) if gen.isdigit() else "?") +
                  (f" (the tbf qdisc passes {rate / 1e6:.3f})" if rate else ""))
    # paced: the veth should carry UP_RATE; less means the generator did not get the CPU for it
    if rate and ifrx / secs < 0.95 * rate:
        detail.append(f"RATE: the veth carried {ifrx / secs / 1e6:.3f} Mpps, below UP_RATE {rate / 1e6:.3f}")
    detail.append(f"the veth took {ifrx} frames: hashi rx {rx} + kernel_drops {kdrops}"
                  f" = {rx + kdrops} ({ifrx - rx - kdrops:+d}: frames in the sockets at the window's ends)")
    dr = {k: v for k, v in up["drops"].items() if v}
    detail.append("drops " + (" ".join(f"{k}={v}" for k, v in dr.items()) or "none"))
    # hashictl(8) ACCOUNTING: the uplink is the only port and sends nothing
    if rx != up["tx_packets"] + sum(up["drops"].values()):
        detail.append(f"COUNTERS: rx_packets {rx} != tx_packets + drops {up['tx_packets'] + sum(up['drops'].values())}")
    # the workers' packets are the frames handed to the switch; a frame its ring refused is
    # in rx_packets (dispatch_full) and in no worker's packets. stats' window holds pmd-stats'.
    if rx - dfull < pk:
        detail.append(f"COUNTERS: stats rx_packets - dispatch_full {rx - dfull} < pmd-stats packets {pk}")
    if up["tx_packets"] or dr.keys() - {"no_port", "dispatch_full"}:
        detail.append("UNEXPECTED: frames sent or dropped other than no_port/dispatch_full")
    # both steerings should put about half on each queue: many flows (rss), and two destination
    # MACs whose default queues differ (mac)
    if nq == 2 and qsum and min(shares) < 25:
        detail.append("STEERING: queue shares %s, expected about 50/50" % "/".join("%.0f" % s for s in shares))
except (OSError, ValueError, KeyError, IndexError, ZeroDivisionError) as e:
    detail.append(f"could not read hashi's counters: {e!r}")
print(" ".join(out))
with open(f"{w}/detail", "w") as f:
    f.write("; ".join(detail))
PY
}

# --- the runs ---

median() { tr ' ' '\n' | awk '/^[0-9.]+$/' | sort -n | awk '{a[NR] = $1} END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }

echo "# $CMDLINE"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $NCPU CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))"

declare -A R=() # "CASE COL" -> the rounds' values
if part loop; then
    # SWITCH:WORKERS[:QUEUES] (queue pairs per port, default one per worker)
    if [ -z "${CASES:-}" ]; then
        CASES="hashi:1 hashi:2 hashi:2:1"
        case " $PEERS " in *" ovs "*) CASES+=" ovs:1 ovs:2" ;; esac
        case " $PEERS " in *" testpmd-io "*) CASES+=" io:1" ;; esac
    fi
    for round in $(seq "$ROUNDS"); do
        for c in $CASES; do
            IFS=: read -r sw n q <<< "$c"
            run "$sw" "$n" "${q:-$n}" > "$WORK/vals" || true # (not in $(...): a signal would wait for its end)
            read -r m s cy sc gc < "$WORK/vals" || true
            R["$c m"]+="${m:-?} " R["$c s"]+="${s:-?} " R["$c c"]+="${cy:-?} " R["$c sc"]+="${sc:-?} " R["$c gc"]+="${gc:-?} "
            echo "  [$SECONDS s] round $round: $sw $n worker(s) ${q:-$n} queue(s): loop ${m:-?} Mpps, switch ${s:-?} Mpps, ${cy:-?} cycles/pkt," \
                "CPU switch ${sc:-?}% generator ${gc:-?}%; $(cat "$WORK/detail")" >&2
        done
    done
fi
declare -A I=()
if part idle; then
    for mode in adaptive always; do
        idle_run $mode > "$WORK/idle-$mode" || true # (not in $(...): its processes are this shell's)
        I[$mode]=$(cat "$WORK/idle-$mode")
        echo "  [$SECONDS s] $mode: ${I[$mode]}" >&2
    done
fi
declare -A U=() # "STEERING:QUEUES:DISPATCH COL" -> the rounds' values
UP_COLS="g r cy sc wc sp kd df"
if part uplink && [ -n "$UP_CASES" ]; then
    if up_setup && ugen_start; then
        for round in $(seq "$ROUNDS"); do
            for c in $UP_CASES; do
                IFS=: read -r st q d <<< "$c"
                c="$st:$q:${d:-kernel}"
                up_run "$st" "$q" "${d:-kernel}" > "$WORK/vals" || true # (not in $(...), as above)
                read -r g r cy sc wc sp kd df sh < "$WORK/vals" || true
                for col in $UP_COLS; do U["$c $col"]+="${!col:-?} "; done
                U["$c sh"]=${sh:-?}
                echo "  [$SECONDS s] round $round: uplink $st, $q queue(s), dispatch ${d:-kernel}: veth ${g:-?} Mpps," \
                    "hashi ${r:-?} Mpps, ${cy:-?} cycles/frame, softirq ${sc:-?} cycles/frame, kernel_drops ${kd:-?}," \
                    "dispatch_full ${df:-?}, queue shares ${sh:-?} %; $(cat "$WORK/detail")" >&2
            done
        done
    fi
    ugen_stop
    ip link del $UP_IF 2> /dev/null || true
fi
if part loop; then
    echo
    printf 'vhost-user loop, %d-byte frames, testpmd io forwarding (tx_first, many flows), %s s measured after %s s, median of %d round(s); hashi --poll %s\n' \
        "$PKTLEN" "$W" "$WARM" "$ROUNDS" "$LOOP_POLL"
    printf 'machine: %d CPUs; CPU%% columns are CPU time in the window in %% of one CPU (all processes share these %d)\n\n' "$NCPU" "$NCPU"
    row() { printf '%-11s %-7s %-6s %-11s %-14s %9s %9s %10s %8s %8s %9s %8s\n' "$@"; }
    row switch workers queues "switch CPUs" "gen lcores" "loop Mpps" "sw Mpps" "cycles/pkt" "sw CPU%" "gen CPU%" "vs 1 wk" "cyc/OVS"
    for c in $CASES; do
        IFS=: read -r sw n q <<< "$c"
        name=$([ "$sw" = io ] && echo testpmd-io || { [ "$sw" = ovs ] && echo ovs-dpdk || echo hashi; })
        cpus=$([ "$n" = 1 ] && echo "$W1_CPUS" || echo "$W2_CPUS")
        gc=$([ "$n" = 1 ] && echo "$GEN1_CPUS" || echo "$GEN2_CPUS")
        m=$(median <<< "${R["$c m"]}")
        vs1="-"
        [ "$n" != 1 ] && [ -n "${R["$sw:1 m"]+x}" ] && vs1=$(ratio "$m" "$(median <<< "${R["$sw:1 m"]}")")
        vsovs="-"
        [ "$sw" != ovs ] && [ "${q:-$n}" = "$n" ] && [ -n "${R["ovs:$n c"]+x}" ] && vsovs=$(ratio "$(median <<< "${R["$c c"]}")" "$(median <<< "${R["ovs:$n c"]}")")
        sm=$([ "$sw" = io ] && echo - || median <<< "${R["$c s"]}")
        row "$name" "$n" "${q:-$n}" "$cpus" "$(lcores "$gc" | sed 's/^0@[0-9]*,//')" "$m" "$sm" \
            "$(median <<< "${R["$c c"]}")" "$(median <<< "${R["$c sc"]}")" "$(median <<< "${R["$c gc"]}")" "$vs1" "$vsovs"
    done
    echo
    echo "loop Mpps: packets the generator's two ports received per second over the window (testpmd Rx-pps);"
    echo "sw Mpps: packets the switch received in the window by its own counters; cycles/pkt: busy TSC"
    echo "cycles / received packets, summed over the workers (testpmd-io: over its whole run); vs 1 wk: loop"
    echo "Mpps over the 1-worker row; cyc/OVS: cycles/pkt over OVS-DPDK's with as many PMD threads;"
    echo "gen lcores: forwarding lcore@CPU (the generator's main lcore, idle at its prompt, shares the first)."
    for c in $CASES; do # where the receive queues went, when the script placed them
        IFS=: read -r sw n q <<< "$c"
        [ "$n" = 1 ] || [ "$sw" = io ] && continue
        pl=$(placement "$W2_CPUS" "${q:-$n}" "$GEN2_CPUS" | awk '{printf "%sp%s:%s@%s", sep, $1, $2, $3; sep = " "}')
        [ -n "$pl" ] && echo "$n workers, ${q:-$n} queue pair(s): receive queue@CPU $pl (LANES=$LANES: rxq pin, OVS pmd-rxq-affinity)"
    done | sort -u
fi
if part idle; then
    echo
    printf 'idle and wake-up: hashi --cores %s, ports vm1 vm2 (vhost-user, a testpmd VM pair connected, not\n' "$W2_CPUS"
    printf 'forwarding) and ta tb (TAP, namespaces %s and %s), no traffic but the pings\n' "$NS_A" "$NS_B"
    printf 'queues: %s\n\n' "$(cat "$WORK/placement-adaptive" 2> /dev/null || echo ?)"
    irow() { printf '%-9s %10s %12s %9s %9s %8s %8s\n' "$@"; }
    irow poll "hashi CPU%" "workers CPU%" sleeps/s wakes/s sleep% frames
    for mode in adaptive always; do
        read -r a b c d e f _ <<< "${I[$mode]%%|*}"
        irow "$mode" "$a" "$b" "$c" "$d" "$e" "$f"
    done
    echo "(hashi CPU%: utime+stime of the process over $IDLE_SECONDS s in % of one CPU; workers CPU%: its"
    echo "rte-worker threads; sleeps, wakes, sleep% (mean over workers), frames: pmd-stats over the window)"
    echo
    printf 'ping %s -> %s through hashi (ta -> tb and back), RTT in microseconds, min/median/max\n\n' "$NS_A" "$NS_B"
    lrow() { printf '%-9s %26s %7s %22s %24s\n' "$@"; }
    lrow poll "after ${LAT_GAP} s idle (${LAT_ROUNDS}x)" wakes "ping -i 0.2 (10)" "ping -i 0.0005 (390)"
    rtt() { # "min med max count" EXPECTED -> min/med/max, and how many replies did not come
        local a b c n
        read -r a b c n _ <<< "$1"
        printf '%s/%s/%s%s' "$a" "$b" "$c" "$([ "${n:-0}" -lt "$2" ] && echo " ($(($2 - ${n:-0})) lost)")"
    }
    for mode in adaptive always; do
        IFS='|' read -r _ lat cont busy <<< "${I[$mode]}"
        wk=-
        [ "$mode" = adaptive ] && wk="$(awk '{print $5}' <<< "$lat")/$((2 * LAT_ROUNDS))"
        lrow "$mode" "$(rtt "$lat" "$LAT_ROUNDS")" "$wk" "$(rtt "$cont" 10)" "$(rtt "$busy" 390)"
    done
    echo "(wakes: sleeps that a queue's signal ended during the idle pings, of the two each ping should"
    echo "cause: the request wakes ta's worker, the reply tb's; a missing one means a frame waited for a"
    echo "worker's timeout, up to the next one-second tick)"
fi
if part uplink && [ -n "$UP_CASES" ]; then
    echo
    printf 'AF_PACKET uplink %s, %d-byte UDP frames of many flows to %s and %s: unknown,\n' \
        "$UP_IF" "$PKTLEN" "$UP_DST0" "$UP_DST1"
    printf 'all dropped as no_port (the uplink is alone on its bridge); from testpmd txonly on %s (CPU %s),\n' \
        "$UP_PEER" "$UP_GEN_CPU"
    printf '%s; hashi --cores %s --poll %s, receive queue@CPU %s;\n' \
        "$([ "$UP_RATE" -gt 0 ] && echo "paced to $UP_RATE frames/s (tbf)" || echo "as fast as it goes")" \
        "$W2_CPUS" "$UP_POLL" "$(up_pins 2 | awk '{printf "%s%s@%s", sep, $1, $2; sep = " "}')"
    printf '%s s measured after %s s, median of %d round(s)\n\n' "$W" "$WARM" "$ROUNDS"
    urow() { printf '%-8s %-6s %-8s %7s %7s %9s %8s %7s %9s %12s %13s %7s\n' "$@"; }
    urow steering queues dispatch "in Mpps" "rx Mpps" cyc/frame "sirq cyc" "wk CPU%" "sirq CPU%" kernel_drops dispatch_full "queue%"
    for c in $UP_CASES; do
        IFS=: read -r st q d <<< "$c"
        c="$st:$q:${d:-kernel}"
        vals=()
        for col in $UP_COLS; do vals+=("$(median <<< "${U["$c $col"]-}")"); done
        urow "$st" "$q" "${d:-kernel}" "${vals[@]}" "${U["$c sh"]-?}"
    done
    echo
    echo "in Mpps: frames the veth delivered to hashi's end per second (its rx_packets); rx Mpps: frames hashi"
    echo "read (the uplink's rx_packets); cyc/frame: busy TSC cycles of both workers / frames read; sirq cyc:"
    echo "softirq time of CPUs $(cpu_stat | awk '{printf "%s%s", sep, substr($1, 4); sep = ","}') (/proc/stat, all processes), in TSC cycles, per frame the veth delivered (the"
    echo "kernel's receive path with its split, and the generator's qdisc, on the generator's CPU); wk CPU%,"
    echo "sirq CPU%: hashi's worker threads' CPU time and that softirq time, in % of one CPU; kernel_drops:"
    echo "frames a full socket refused (port list); dispatch_full: frames a full ring refused; queue%: each"
    echo "queue's share of the frames hashi read (worker list, per queue; the last round's)."
    for c in $UP_CASES; do # kernel against software, for each steering and queue count measured both ways
        IFS=: read -r st q d <<< "$c"
        [ "${d:-kernel}" = kernel ] && [ -n "${U["$st:$q:software cy"]+x}" ] || continue
        k=$(median <<< "${U["$st:$q:kernel cy"]-}") s=$(median <<< "${U["$st:$q:software cy"]-}")
        ks=$(median <<< "${U["$st:$q:kernel sc"]-}") ss=$(median <<< "${U["$st:$q:software sc"]-}")
        awk -v st="$st" -v q="$q" -v k="$k" -v s="$s" -v ks="$ks" -v ss="$ss" '
            function num(x) { return x ~ /^[0-9.]+$/ && x + 0 > 0 }
            function cmp(a, b, what) {
                if (!num(a) || !num(b)) return what ": not measured"
                return sprintf("%s: %s, %.0f against %.0f (software/kernel %.2fx)", what,
                    a + 0 < b + 0 ? "dispatch = kernel" : a + 0 > b + 0 ? "dispatch = software" : "neither",
                    a + 0 < b + 0 ? a : b, a + 0 < b + 0 ? b : a, b / a)
            }
            BEGIN {
                printf "steering %s, %s queues, cheaper per frame in this run by %s; %s\n", st, q,
                    cmp(k, s, "hashi cycles"),
                    num(ks) && num(ss) ? cmp(k + ks, s + ss, "with the softirq cycles") : "softirq not measured"
            }'
    done
fi
