"""Several forwarding workers: receive queues spread over the workers, each polled by exactly
one; order kept within a flow, also while queues move between workers under traffic; MAC and
RSS steering of an AF_PACKET uplink's queues; idle workers that sleep; and the control errors
of queues and pins.

    ns a --TAP (2 queues)--+                     +-- vhost-user vm1 (2 queue pairs) --+
    ns b --TAP (2 queues)--+-- hashi, 2 workers -+-- vhost-user vm2 (2 queue pairs) --+ testpmd
    ns ext ==veth== uplink (afpacket, 2 queues, steering mac|rss)

The workers run on cores 0 and 1, which testpmd and the namespaces share: rates stay modest.
"""
import json
import os
import subprocess
import time

import pytest

from conftest import HASHI, NCPU, Vm, vhost_ports, wait_for
from traffic import announce, exchange, frame

TAG = os.getpid() % 10000
CORES = "cores = 0,1"
PY = "/usr/bin/python3"


def ifname(role):
    return f"hm{TAG}{role}"  # at most 15 characters


def tap_port(name, role, queues=1, mtu=1500):
    return f"[port {name}]\ntype = tap\nifname = {ifname(role)}\nmtu = {mtu}\nqueues = {queues}\n"


def uplink_port(name, iface, queues=2, steering=None):
    out = f"[port {name}]\ntype = afpacket\niface = {iface}\nmtu = 1500\nqueues = {queues}\n"
    return out + (f"steering = {steering}\n" if steering else "")


def workers(h):
    return h.ctl("worker", "list")


def placement(h):
    """{(port, queue): core} from `worker list`; asserts that no queue has two workers."""
    where = {}
    for w in workers(h):
        for q in w["queues"]:
            key = (q["port"], q["queue"])
            assert key not in where, f"{key} polled by cores {where[key]} and {w['core']}"
            where[key] = w["core"]
    return where


def queue_packets(h):
    """{(port, queue): frames received since the queue was last placed or rebalanced}."""
    return {(q["port"], q["queue"]): q["packets"] for w in workers(h) for q in w["queues"]}


def drops(st):
    return {n: {r: c for r, c in p["drops"].items() if c} for n, p in st.items()
            if any(p["drops"].values())}


def ping(ns, addr):
    ns.run("ping", "-c", "3", "-i", "0.2", "-W", "2", addr)


def iperf(client, server, addr, args=()):
    """iperf3 from client to server's addr; returns iperf3's JSON summary."""
    srv = server.popen("iperf3", "-s", "-1")
    try:
        wait_for(lambda: server.run("ss", "-ltn", check=False).stdout.count(":5201") > 0, 10,
                 what="iperf3 server")
        r = client.run("iperf3", "-c", addr, "-J", *args, timeout=120)
        return json.loads(r.stdout)["end"]
    finally:
        srv.kill()
        srv.wait()


# --- UDP flows with sequence numbers -------------------------------------------------------

# Receives on one UDP socket per flow (ports BASE .. BASE + n - 1) until `idle` seconds pass
# without a datagram (after the first) or `limit` seconds in all; prints per flow how many
# arrived, how many came out of order (a sequence number not above the last one), the first
# such pair, and the first gaps (missing sequence numbers, and the time.monotonic() when the
# datagram after them came).
RECEIVER = r"""
import json, selectors, socket, struct, sys, time
base, n, idle, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
sel = selectors.DefaultSelector()
flows = {}
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
    s.bind(("0.0.0.0", base + i))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, base + i)
    flows[base + i] = {"received": 0, "reordered": 0, "last": -1, "first_bad": None,
                       "gaps": [], "last_time": None}
print("ready", flush=True)
start = time.monotonic()
last = None
while True:
    now = time.monotonic()
    if now - start > limit or (last is not None and now - last > idle):
        break
    for key, _ in sel.select(0.2):
        while True:
            try:
                data = key.fileobj.recv(2048)
            except BlockingIOError:
                break
            last = time.monotonic()
            f = flows[key.data]
            seq = struct.unpack("!Q", data[:8])[0]
            f["received"] += 1
            if seq <= f["last"]:
                f["reordered"] += 1
                if f["first_bad"] is None:
                    f["first_bad"] = [f["last"], seq]
            elif seq > f["last"] + 1 and len(f["gaps"]) < 5:
                f["gaps"].append([f["last"] + 1, seq - 1, round(last, 3)])  # missing, when
            f["last"] = max(f["last"], seq)
            f["last_time"] = round(last, 3)
print(json.dumps(flows), flush=True)
"""

# Sends `count` datagrams on each of n flows (source port SPORT + i to destination port
# DPORT + i), round robin, numbered from 0, pausing 1 ms after every `batch` datagrams.
SENDER = r"""
import json, socket, struct, sys, time
dst, sport, dport, n, count, batch, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", sport + i))
    socks.append(s)
pad = bytes(size - 8)
sent, errors, k = [0] * n, 0, 0
for seq in range(count):
    for i, s in enumerate(socks):
        try:
            s.sendto(struct.pack("!Q", seq) + pad, (dst, dport + i))
            sent[i] += 1
        except OSError:
            errors += 1
        k += 1
        if k % batch == 0:
            time.sleep(0.001)
print(json.dumps({"sent": sent, "errors": errors}), flush=True)
"""

SPORT, DPORT = 41000, 52000


class Flows:
    """A receiver of n numbered UDP flows in namespace `dst_ns`, started at once."""

    def __init__(self, dst_ns, n, idle=2.0, limit=60.0):
        self.ns, self.n = dst_ns, n
        self.proc = dst_ns.popen(PY, "-c", RECEIVER, str(DPORT), str(n), str(idle), str(limit),
                                 stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.strip() == "ready", line + self.proc.stdout.read().decode()

    def send(self, src_ns, addr, count, batch=32, size=200, background=False):
        args = (PY, "-c", SENDER, addr, str(SPORT), str(DPORT), str(self.n), str(count),
                str(batch), str(size))
        if background:
            return src_ns.popen(*args, stdout=subprocess.PIPE)
        return json.loads(src_ns.run(*args, timeout=120).stdout)

    def result(self):
        out, _ = self.proc.communicate(timeout=90)
        return {int(k): v for k, v in json.loads(out.decode().strip().splitlines()[-1]).items()}

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def exchange(self, src_ns, addr, count, **send_args):
        """Sends count datagrams per flow from src_ns and waits for the receiver's account;
        returns (what the sender says it sent, what each flow received)."""
        try:
            out = self.send(src_ns, addr, count, **send_args)
            return out, self.result()
        finally:
            self.kill()


def kernel_losses(src, src_if, dst, dst_if):
    """What the kernels lost outside hashi: frames the sender's TAP could not queue for hashi
    (its queues full), and on the receiver's side the interface's receive drops and UDP's
    receive-buffer and other input errors."""
    def link(ns, iface):
        return json.loads(ns.run("ip", "-j", "-s", "link", "show", iface).stdout)[0]["stats64"]
    snmp = dst.run("cat", "/proc/net/snmp").stdout.splitlines()
    udp = [line.split()[1:] for line in snmp if line.startswith("Udp:")]
    udp = dict(zip(udp[0], map(int, udp[1])))
    return {"sender_tx_dropped": link(src, src_if)["tx"]["dropped"],
            "receiver_rx_dropped": link(dst, dst_if)["rx"]["dropped"],
            "udp_rcvbuf_errors": udp["RcvbufErrors"], "udp_in_errors": udp["InErrors"]}


def two_taps(lab, queues=2, extra="", settings=CORES):
    h = lab.hashi(tap_port("a", "a", queues) + tap_port("b", "b", queues) + extra,
                  settings=settings)
    a, b = lab.netns("a"), lab.netns("b")
    a.take(ifname("a"), "10.77.0.1", 1500)
    b.take(ifname("b"), "10.77.0.2", 1500)
    return h, a, b


# --- 1. the layout ----------------------------------------------------------------------------


def test_two_workers_poll_every_queue_of_four_ports_once(lab):
    """Two vhost-user VMs with two queue pairs each and two TAPs with two queues each: eight
    receive queues, each on exactly one of the two workers. TCP between the namespaces (four
    streams) and a closed traffic loop through both VMs on all their queues cross hashi at
    once, without a drop, and both workers carry frames."""
    # the VMs' loop is a wire between vm1 and vm2 (testpmd sends out of one whatever comes
    # in on the other): on the TAPs' bridge every broadcast would circle forever
    vms = vhost_ports(["vm1", "vm2"], workdir=lab.dir, queues=2).replace(
        "queues = 2\n", "queues = 2\nbridge = br1\n")
    h, a, b = two_taps(lab, extra="[bridge br0]\n[bridge br1]\n" + vms)
    # many flows (source addresses), so hashi spreads them over both receive queues of each
    # VM, and testpmd sends each back on the queue it came in on
    loop = lab.loop(h.sock("vm1"), h.sock("vm2"), queues=2, pmd_args=["--txonly-multi-flow"])
    wait_for(lambda: all(p.get("queues_enabled") == 2 and p["link"] == "up"
                         for n, p in h.ports().items() if n in ("vm1", "vm2")), 20,
             what="both VMs with 2 queue pairs enabled")
    ports = h.ports()
    assert (ports["vm1"]["queues"], ports["vm2"]["queues"]) == (2, 2), ports
    assert (ports["a"]["queues"], ports["b"]["queues"]) == (2, 2), ports

    ws = workers(h)
    assert sorted(w["core"] for w in ws) == [0, 1], ws
    where = placement(h)
    assert sorted(where) == sorted((p, q) for p in ("a", "b", "vm1", "vm2") for q in (0, 1)), where
    # a port's queues go round robin as they come: each worker gets one queue of every port
    assert [sum(1 for c in where.values() if c == core) for core in (0, 1)] == [4, 4], where

    ping(a, "10.77.0.2")
    summary = iperf(a, b, "10.77.0.2", args=("-P", "4", "-t", "3"))
    rates = [s["receiver"]["bits_per_second"] for s in summary["streams"]]
    assert len(rates) == 4 and min(rates) > 1e6, rates

    st = h.stats()  # while the loop runs: each worker's counters are read between its bursts
    assert drops(st) == {}, drops(st)
    assert st["vm1"]["rx_packets"] > 1000 and st["vm2"]["rx_packets"] > 1000, st
    h.assert_balanced()
    ws = workers(h)
    assert all(w["packets"] > 0 for w in ws), [(w["core"], w["packets"]) for w in ws]
    per_queue = queue_packets(h)
    # the loop's frames enter on every queue of both VMs (tx_first seeds each one)
    assert all(per_queue[(vm, q)] > 0 for vm in ("vm1", "vm2") for q in (0, 1)), per_queue
    loop.stop()


# --- 2. order within a flow -------------------------------------------------------------------


def check_flows(result, sent, losses_allowed, what):
    """Every flow arrived in order; the datagrams missing are at most losses_allowed."""
    bad = {p: f for p, f in result.items() if f["reordered"]}
    assert not bad, f"{what}: flows reordered: {bad}"
    missing = sum(sent) - sum(f["received"] for f in result.values())
    assert 0 <= missing <= losses_allowed, \
        f"{what}: {missing} datagrams missing, {losses_allowed} counted as dropped: {result}"
    return missing


def test_flows_keep_their_order_across_two_workers(lab):
    """Twelve UDP flows, 2000 numbered datagrams each, from ns a to ns b over TAPs with two
    queues on two workers: every flow arrives in sequence, and whatever is missing was counted
    as dropped (by hashi or by a kernel on the way)."""
    h, a, b = two_taps(lab)
    ping(a, "10.77.0.2")
    h.ctl("rxq", "rebalance")  # per-queue counters from zero
    h.ctl("stats", "clear")
    out, result = Flows(b, 12).exchange(a, "10.77.0.2", 2000)
    assert out["errors"] == 0, out
    st = h.stats()
    lost = sum(sum(p["drops"].values()) for p in st.values())
    kernel = kernel_losses(a, ifname("a"), b, ifname("b"))
    check_flows(result, out["sent"], lost + sum(kernel.values()), f"a -> b (kernels: {kernel})")
    h.assert_balanced()
    # the flows came in on both queues of a (the kernel spreads them by flow hash: all twelve
    # on one queue has a chance of 1 in 2048), so both workers switched frames of them into b
    # at the same time
    per_queue = queue_packets(h)
    assert per_queue[("a", 0)] > 0 and per_queue[("a", 1)] > 0, per_queue
    assert {c for (p, q), c in placement(h).items() if p == "a"} == {0, 1}


# --- 3./4. steering an uplink -----------------------------------------------------------------


def uplink_topology(lab, steering, dispatch):
    """ns ext behind a veth uplink with two queues, ns a and ns b behind one-queue TAPs."""
    up = ifname("u")
    ext, a, b = lab.netns("ext"), lab.netns("a"), lab.netns("b")
    lab.veth(up, ext, "eth0", 1500)
    ext.setup("eth0", "10.77.0.9", 1500)
    h = lab.hashi(uplink_port("up", up, 2, steering) + f"dispatch = {dispatch}\n" +
                  tap_port("a", "a") + tap_port("b", "b"), settings=CORES)
    a.take(ifname("a"), "10.77.0.1", 1500)
    b.take(ifname("b"), "10.77.0.2", 1500)
    return h, ext, a, b


DISPATCH = pytest.mark.parametrize("dispatch", ["kernel", "software"])


@DISPATCH
def test_mac_steering_keeps_each_vm_on_its_worker(lab, dispatch):
    """With steering mac, every frame from the uplink to a host goes to the uplink queue that
    the host's own worker polls: a's on core 0, b's on core 1, whatever the flow; whoever
    splits the frames (the kernel's fanout group or hashi itself)."""
    h, ext, a, b = uplink_topology(lab, "mac", dispatch)
    assert h.ports()["up"]["steering"] == "mac"
    for port, queue, core in (("a", 0, 0), ("b", 0, 1), ("up", 0, 0), ("up", 1, 1)):
        h.ctl("rxq", "pin", port, str(queue), str(core))
    assert placement(h) == {("a", 0): 0, ("b", 0): 1, ("up", 0): 0, ("up", 1): 1}
    # ext's neighbour entries never expire: no ARP probe of one host while the test sends to
    # the other (it would rightly count on the other host's queue)
    for ns, addr, role in ((a, "10.77.0.1", "a"), (b, "10.77.0.2", "b")):
        mac = ns.run("cat", f"/sys/class/net/{ifname(role)}/address").stdout.strip()
        ext.run("ip", "neigh", "replace", addr, "lladdr", mac, "nud", "permanent", "dev", "eth0")
    # learn both hosts (and ext), then give the control thread time to rewrite the program
    ping(ext, "10.77.0.1")
    ping(ext, "10.77.0.2")
    time.sleep(2.5)

    for dst_ns, addr, hot, cold in ((a, "10.77.0.1", 0, 1), (b, "10.77.0.2", 1, 0)):
        h.ctl("rxq", "rebalance")  # pins stay; every queue's counters start again
        assert placement(h)[("up", 0)] == 0 and placement(h)[("up", 1)] == 1
        out, result = Flows(dst_ns, 8).exchange(ext, addr, 500, batch=32)
        got = sum(f["received"] for f in result.values())
        assert got > 0.95 * sum(out["sent"]), (out, result)
        per_queue = queue_packets(h)
        reordered = {p: f for p, f in result.items() if f["reordered"]}
        # all on the host's queue, nothing on the other, and so no flow is split over two
        # workers
        assert per_queue[("up", hot)] >= got and per_queue[("up", cold)] == 0 and \
            not reordered, f"to {addr}: uplink queue {hot} should have all " \
            f"{got}: {per_queue}; flows reordered: {reordered}"
    h.assert_balanced()


@DISPATCH
def test_rss_steering_spreads_flows_over_the_queues(lab, dispatch):
    """With steering rss (the default), a flow hash (the kernel's, or hashi's Toeplitz) spreads
    32 flows to one host over both uplink queues."""
    h, ext, a, b = uplink_topology(lab, None, dispatch)
    assert h.ports()["up"]["steering"] == "rss"
    ping(ext, "10.77.0.1")
    h.ctl("rxq", "rebalance")
    out, result = Flows(a, 32).exchange(ext, "10.77.0.1", 150, batch=32)
    got = sum(f["received"] for f in result.values())
    assert got > 0.95 * sum(out["sent"]), (out, result)
    per_queue = queue_packets(h)
    total = per_queue[("up", 0)] + per_queue[("up", 1)]
    assert total >= got, per_queue
    shares = [per_queue[("up", q)] / total for q in (0, 1)]
    assert min(shares) >= 0.10, (shares, per_queue)
    # each flow stays on one queue, hence in order
    assert not any(f["reordered"] for f in result.values()), result
    h.assert_balanced()


# --- 5. moving queues under traffic -----------------------------------------------------------


def test_queues_move_between_workers_under_traffic_without_loss_or_reordering(lab):
    """While eight numbered UDP flows cross from ns a to ns b, the test moves the TAPs' queues
    between the workers twenty times (pins alternating the cores, unpin and rebalance): no
    datagram is lost or dropped and none is reordered."""
    h, a, b = two_taps(lab)
    # The sending TAP's queues hold 1000 frames: a worker kept off its CPU for a few hundred
    # ms (seen on this 2-CPU machine when other work shares it) would lose frames there,
    # outside hashi. A longer queue rides that out; a queue left unpolled still loses.
    a.run("ip", "link", "set", ifname("a"), "txqueuelen", "20000")
    ping(a, "10.77.0.2")
    h.ctl("stats", "clear")
    queues = [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    flows = Flows(b, 8, idle=3.0)
    sender = None
    moves, times = [], []
    try:
        # 8 x 7000 datagrams paced at 8 per ms at most: seven seconds or more, while the
        # moves take about five
        sender = flows.send(a, "10.77.0.2", 7000, batch=8, background=True)
        time.sleep(0.3)
        start = time.monotonic()
        for i in range(20):
            if i % 2 == 0:
                c = (i // 2) % 2
                want = {("a", 0): c, ("a", 1): 1 - c, ("b", 0): 1 - c, ("b", 1): c}
                for (port, queue), core in want.items():
                    h.ctl("rxq", "pin", port, str(queue), str(core))
                where = placement(h)
                assert {k: where[k] for k in want} == want, where
            else:
                for port, queue in queues:
                    h.ctl("rxq", "pin", port, str(queue), "none")
                h.ctl("rxq", "rebalance")
                where = placement(h)
            moves.append({k: where[k] for k in queues})
            times.append(round(time.monotonic(), 3))
            time.sleep(0.2)
        still_sending = sender.poll() is None
        print(f"20 moves in {time.monotonic() - start:.1f} s")
        out, _ = sender.communicate(timeout=60)
        out = json.loads(out.decode())
        result = flows.result()
    finally:
        if sender and sender.poll() is None:
            sender.kill()
            sender.wait()
        flows.kill()
    assert still_sending, "the transfer ended before the moves did; send longer"
    # the queues did change workers, many times
    changes = sum(1 for x, y in zip(moves, moves[1:]) for k in queues if x[k] != y[k])
    assert changes >= 20, moves
    assert out["errors"] == 0, out
    st = h.stats()
    assert drops(st) == {}, drops(st)
    h.assert_balanced()
    kernel = kernel_losses(a, ifname("a"), b, ifname("b"))
    missing = sum(out["sent"]) - sum(f["received"] for f in result.values())
    assert missing == 0, f"{missing} datagrams lost, hashi dropped none; kernels: {kernel}; " \
        f"flows: {result}; moves done at {times}"
    check_flows(result, out["sent"], 0, "a -> b while queues move")


# --- 6. idle workers sleep --------------------------------------------------------------------


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.parametrize("poll", ["adaptive", "always"])
def test_idle_workers_sleep_and_wake_for_traffic(lab, poll):
    """Two workers, two connected VMs (two queue pairs each) and two TAP hosts, no traffic:
    with adaptive polling (the default) hashi uses under 2% of one CPU; with poll = always its
    workers spin, which the same measurement sees (the bar is 30% of a CPU, 15 times the idle
    one: the two spinning workers share both CPUs with testpmd, which spins too, and with
    whatever else runs; they got 52% to 140% here). Traffic after the idle time flows at once."""
    settings = CORES + ("\npoll = always" if poll == "always" else "")
    h, a, b = two_taps(lab, extra=vhost_ports(["vm1", "vm2"], workdir=lab.dir, queues=2),
                       settings=settings)
    vm1, vm2 = Vm("vm1", h.sock("vm1"), "02:00:00:00:61:01"), Vm("vm2", h.sock("vm2"),
                                                                  "02:00:00:00:61:02")
    lab.vms([vm1, vm2], queues=2)
    wait_for(lambda: all(p.get("queues_enabled") == 2 for n, p in h.ports().items()
                         if n in ("vm1", "vm2")), 20, what="VMs with 2 queue pairs")
    # the frame each TAP host sent when its link came up was flooded to the VMs' ports before
    # the VMs were there (link_down): counted from here on
    h.ctl("stats", "clear")
    time.sleep(2)
    before = cpu_seconds(h.proc.pid)
    window = 10.0 if poll == "adaptive" else 3.0
    time.sleep(window)
    used = (cpu_seconds(h.proc.pid) - before) / window  # share of one CPU
    ws = workers(h)
    print(f"poll {poll}: hashi used {used:.2%} of a CPU over {window} s")
    if poll == "adaptive":
        assert used < 0.02, f"idle hashi used {used:.1%} of a CPU: {ws}"
        assert all(w["mode"] == "adaptive" and w["sleeps"] > 0 for w in ws), ws
    else:
        assert used > 0.3, f"spinning hashi used only {used:.1%} of a CPU: {ws}"
        assert all(w["mode"] == "always" and w["sleeps"] == 0 for w in ws), ws

    # traffic after the idle time: TAP to TAP, and VM to VM on the first try
    ping(a, "10.77.0.2")
    announce(vm2)
    time.sleep(0.3)
    frames = [frame(vm1, vm2, tag=i) for i in range(10)]
    got = exchange(vm1, frames, [vm2])
    assert got["vm2"] == [bytes(f) for f in frames]
    assert drops(h.stats()) == {}
    h.assert_balanced()


@pytest.mark.parametrize("uplink", ["kernel", "software", "afxdp"])
def test_idle_uplink_workers_sleep(lab, uplink):
    """An idle uplink costs next to nothing. An AF_PACKET uplink with two queues on two
    workers stays under 2% of a CPU, whoever splits its frames: with dispatch = kernel each
    queue is a socket its worker sleeps on; with dispatch = software the other queues are
    rings, whose eventfds wake their workers. An AF_XDP queue cannot wake its worker, which
    naps 1 ms at a time instead: one poll between naps, not a spin, so under 10% of a CPU."""
    up = ifname("u")
    ext = lab.netns("ext")
    lab.veth(up, ext, "eth0", 1500)
    ext.setup("eth0", "10.77.0.9", 1500)
    if uplink == "afxdp":
        port = f"[port up]\ntype = afxdp\niface = {up}\n"
    else:
        port = uplink_port("up", up, 2) + f"dispatch = {uplink}\n"
    h = lab.hashi(port, settings=CORES)
    time.sleep(2)
    before = cpu_seconds(h.proc.pid)
    time.sleep(5)
    used = (cpu_seconds(h.proc.pid) - before) / 5
    ws = workers(h)
    print(f"uplink {uplink}: idle hashi used {used:.2%} of a CPU")
    bound = 0.10 if uplink == "afxdp" else 0.02
    assert used < bound, f"idle hashi used {used:.1%} of a CPU ({uplink}): (core, sleeps, " \
        f"wakes, sleep%): " + \
        str([(w["core"], w["sleeps"], w["wakes"], round(w["sleep_percent"], 1)) for w in ws])


# --- 7. errors --------------------------------------------------------------------------------


def test_worker_settings_errors(workdir):
    """Bad worker settings stop hashi before it starts, with a message saying what to do."""
    cases = [("cores = 0,0", 1, "cores '0,0' names CPU 0 twice; list each once"),
             ("cores = 0-", 1, "cores '0-' is not a CPU list"),
             ("poll = sometimes", 1, "poll 'sometimes' is not valid; use: adaptive"),
             ("cores = 0,1\npoll-sleep-us = x", 1, "poll-sleep-us 'x' is not valid")]
    conf = os.path.join(workdir, "bad.conf")
    for line, rc, message in cases:
        with open(conf, "w") as f:
            f.write(f"[hashi]\nctl = {os.path.join(workdir, 'ctl.sock')}\n{line}\n")
        r = subprocess.run([HASHI, "--check-config", conf], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == rc and message in r.stderr, (line, r.returncode, r.stderr)
    # a CPU this process may not use: found when hashi starts (the file itself is fine)
    with open(conf, "w") as f:
        f.write(f"[hashi]\nctl = {os.path.join(workdir, 'ctl.sock')}\ncores = 0,{NCPU + 5}\n")
    r = subprocess.run([HASHI, "--config", conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert f"core {NCPU + 5} is not available to this process" in r.stderr, r.stderr


def test_queue_and_pin_errors(lab):
    """Pins and queue changes that cannot be done are refused with a message saying why; hashi
    keeps running; an uplink's queues change while it runs."""
    up = ifname("u")
    ext = lab.netns("ext")
    lab.veth(up, ext, "eth0", 1500)
    h = lab.hashi(uplink_port("up", up, 2) + tap_port("a", "a") +
                  vhost_ports(["vm1"], workdir=lab.dir, queues=2), settings=CORES)

    r = h.run_ctl("rxq", "pin", "up", "0", "5")
    assert r.returncode == 1, r
    assert "no worker runs on core 5; workers run on cores 0,1" in r.stderr, r.stderr
    r = h.run_ctl("rxq", "pin", "up", "2", "0")
    assert r.returncode == 1 and "port up has 2 receive queues (0 to 1)" in r.stderr, r.stderr
    r = h.run_ctl("rxq", "pin", "nosuch", "0", "0")
    assert r.returncode == 1 and "no port named nosuch" in r.stderr, r.stderr

    r = h.run_ctl("port", "set", "vm1", "queues", "2")
    assert r.returncode == 1 and "cannot change its queues while running" in r.stderr, r.stderr
    r = h.run_ctl("port", "set", "a", "steering", "mac")
    assert r.returncode == 1 and "has no steering" in r.stderr, r.stderr
    r = h.run_ctl("port", "set", "up", "queues", "9")
    assert r.returncode == 1 and "queues '9' is not valid" in r.stderr, r.stderr
    assert h.running()
    assert set(h.ports()) == {"up", "a", "vm1"}

    for n in (3, 2):
        h.ctl("port", "set", "up", "queues", str(n))
        assert h.ports()["up"]["queues"] == n
        where = placement(h)
        assert sorted(q for p, q in where if p == "up") == list(range(n)), where
        assert {c for (p, q), c in where.items() if p == "up"} == {0, 1}, where
    h.ctl("port", "set", "up", "steering", "mac")
    assert h.ports()["up"]["steering"] == "mac"
    assert sorted(q for p, q in placement(h) if p == "up") == [0, 1]
    # every queue is on a worker: 2 (up) + 1 (a) + 2 (vm1)
    assert len(placement(h)) == 5
    h.assert_balanced()
