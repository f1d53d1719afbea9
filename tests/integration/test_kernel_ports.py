"""Kernel-facing ports with real hosts: network namespaces behind TAP ports and behind a veth
uplink (AF_PACKET or AF_XDP), TCP from iperf3, frames checked on the wire with tshark.

    ns a --TAP--+
    ns b --TAP--+-- hashi --uplink-- veth ==== ns ext
"""
import json
import os
import subprocess

import pytest

from conftest import TESTPMD, VM_CPU, Program, wait_for

TAG = os.getpid() % 10000


def ifname(role):
    return f"ht{TAG}{role}"  # at most 15 characters


def tap_port(name, role, mtu=9000, offload="on", queues=1):
    return (f"[port {name}]\ntype = tap\nifname = {ifname(role)}\nmtu = {mtu}\n"
            f"offload = {offload}\nqueues = {queues}\n")


def iperf(client, server, addr, seconds=2, args=()):
    """Runs iperf3 from client to server's addr; returns iperf3's JSON summary."""
    srv = server.popen("iperf3", "-s", "-1")
    try:
        wait_for(lambda: server.run("ss", "-ltn", check=False).stdout.count(":5201") > 0, 10,
                 what="iperf3 server")
        length = ("-t", str(seconds)) if seconds else ()
        r = client.run("iperf3", "-c", addr, "-J", *length, *args, timeout=120)
        return json.loads(r.stdout)["end"]
    finally:
        srv.kill()
        srv.wait()


def gbits(summary):
    return summary["sum_received"]["bits_per_second"] / 1e9


def ping(ns, addr, mtu):
    """A ping of the largest size the MTU allows, never fragmented."""
    ns.run("ping", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", str(mtu - 28), addr)


def mac(ns, iface):
    return ns.run("cat", f"/sys/class/net/{iface}/address").stdout.strip()


def two_taps(lab, mtu, offload="on", queues=1):
    h = lab.hashi(tap_port("a", "a", offload=offload, queues=queues) +
                  tap_port("b", "b", offload=offload, queues=queues))
    a, b = lab.netns("a"), lab.netns("b")
    a.take(ifname("a"), "10.88.0.1", mtu)
    b.take(ifname("b"), "10.88.0.2", mtu)
    return h, a, b


@pytest.mark.parametrize("mtu,queues", [(1500, 1), (9000, 1), (1500, 4)])
def test_tap_to_tap_carries_tso_frames_whole(lab, mtu, queues):
    """With several queues (IFF_MULTI_QUEUE) the kernel spreads flows over them: four streams
    must all arrive, so hashi reads every queue."""
    h, a, b = two_taps(lab, mtu, queues=queues)
    ping(a, "10.88.0.2", mtu)
    summary = iperf(a, b, "10.88.0.2", args=("-P", str(queues)) if queues > 1 else ())
    assert gbits(summary) > 0.2, summary
    rates = [s["receiver"]["bits_per_second"] for s in summary["streams"]]
    assert len(rates) == queues and min(rates) > 1e7, rates
    st = h.stats()
    # the sender's kernel handed hashi TSO frames and hashi passed them on unsegmented: the
    # average frame is far above the MTU, and nothing was segmented in software
    assert st["a"]["rx_bytes"] / st["a"]["rx_packets"] > mtu + 14
    assert st["b"]["tx_bytes"] / st["b"]["tx_packets"] > mtu + 14
    assert st["a"]["gso_frames"] == st["b"]["gso_frames"] == 0
    assert sum(st["b"]["drops"].values()) == 0, st
    h.assert_balanced()


def test_tap_without_offload_gets_segments(lab):
    """The receiving TAP has offload off: hashi segments the sender's TSO frames for it."""
    h = lab.hashi(tap_port("a", "a") + tap_port("b", "b", offload="off"))
    a, b = lab.netns("a"), lab.netns("b")
    a.take(ifname("a"), "10.88.0.1", 1500)
    b.take(ifname("b"), "10.88.0.2", 1500)
    ports = h.ports()
    assert ports["a"]["offloads"] == {"csum": True, "tso4": True, "tso6": True}
    assert ports["b"]["offloads"] == {"csum": False, "tso4": False, "tso6": False}
    summary = iperf(a, b, "10.88.0.2")
    assert gbits(summary) > 0.1, summary
    st = h.stats()
    assert st["b"]["gso_frames"] > 0 and st["b"]["gso_segments"] > 2 * st["b"]["gso_frames"]
    assert st["b"]["tx_bytes"] / st["b"]["tx_packets"] <= 1514
    h.assert_balanced()


def capture(ns, iface, path):
    """Starts tshark in ns on iface, writing path; returns the process once it captures."""
    proc = ns.popen("tshark", "-q", "-i", iface, "-w", path, "-f", "tcp",
                    stdout=subprocess.PIPE)
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0 or proc.poll() is not None,
             20, what="tshark to start")
    assert proc.poll() is None, proc.stdout.read()
    return proc


def tshark_fields(path, fields, display_filter):
    args = ["tshark", "-r", path, "-o", "tcp.check_checksum:TRUE", "-o",
            "ip.check_checksum:TRUE", "-o", "tcp.analyze_sequence_numbers:FALSE", "-T", "fields",
            "-Y", display_filter]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


@pytest.mark.parametrize("uplink,mtu", [("afpacket", 1500), ("afpacket", 9000), ("afxdp", 1500)])
def test_tso_into_uplink_without_offload_arrives_as_mss_segments(lab, workdir, uplink, mtu):
    """TSO frames from a TAP host go out of an uplink without offloads as MSS-sized segments
    whose IP and TCP checksums tshark verifies on the far side's wire."""
    up = ifname("u")
    ext, a = lab.netns("ext"), lab.netns("a")
    lab.veth(up, ext, "eth0", mtu)
    # ext receives what hashi wrote; it computes its own checksums (a veth would otherwise pass
    # them partial, as only offload-aware readers expect)
    ext.run("ethtool", "-K", "eth0", "tx", "off")
    ext.setup("eth0", "10.88.0.9", mtu)
    offload = "offload = off\n" if uplink == "afpacket" else ""
    h = lab.hashi(tap_port("a", "a") + f"[port up]\ntype = {uplink}\niface = {up}\nmtu = {mtu}\n"
                  + offload)
    a.take(ifname("a"), "10.88.0.1", mtu)
    ping(a, "10.88.0.9", mtu)

    pcap = os.path.join(workdir, "ext.pcap")
    tshark = capture(ext, "eth0", pcap)
    try:
        # whole frames are captured to verify their checksums: a fixed amount keeps it small
        summary = iperf(a, ext, "10.88.0.9", seconds=None, args=("-n", "20M"))
    finally:
        tshark.terminate()
        tshark.wait(20)
    assert gbits(summary) > 0.05, summary
    st = h.stats()
    assert st["up"]["gso_frames"] > 0, st["up"]
    h.assert_balanced()

    data = tshark_fields(pcap, ["frame.len", "tcp.len", "ip.checksum.status",
                                "tcp.checksum.status"], "ip.src == 10.88.0.1 && tcp.len > 0")
    mss = mtu - 20 - 20 - 12  # TCP timestamps are on
    # most of them: tshark itself may miss some on a busy machine
    assert len(data) > 0.5 * 20e6 / mss
    bad = [d for d in data if d[2] != "1" or d[3] != "1"]  # 1: good, 0: bad, 2: unverified
    assert not bad, f"{len(bad)} of {len(data)} segments with bad checksums: {bad[:5]}"
    assert max(int(d[0]) for d in data) <= mtu + 14
    lengths = [int(d[1]) for d in data]
    assert max(lengths) == mss
    # full-size segments dominate: a TSO frame becomes MSS segments and at most one short one
    assert lengths.count(mss) > len(lengths) // 2


def test_uplink_with_offload_passes_gro_frames_whole(lab):
    """AF_PACKET with virtio-net headers: the far side's TSO frames arrive as TSO frames and go
    whole to a TAP host, in both directions; nothing is segmented in software."""
    up = ifname("u")
    ext, a = lab.netns("ext"), lab.netns("a")
    lab.veth(up, ext, "eth0", 1500)
    ext.setup("eth0", "10.88.0.9", 1500)
    h = lab.hashi(tap_port("a", "a") + f"[port up]\ntype = afpacket\niface = {up}\nmtu = 1500\n")
    a.take(ifname("a"), "10.88.0.1", 1500)
    ping(ext, "10.88.0.1", 1500)
    assert gbits(iperf(ext, a, "10.88.0.1")) > 0.2
    assert gbits(iperf(a, ext, "10.88.0.9")) > 0.2
    st = h.stats()
    assert st["up"]["rx_bytes"] / st["up"]["rx_packets"] > 1514
    assert st["up"]["tx_bytes"] / st["up"]["tx_packets"] > 1514
    assert all(p["gso_frames"] == 0 for p in st.values())
    h.assert_balanced()
    # frames the kernel could not queue for hashi are outside hashi's counters: listed apart
    assert h.ports()["up"]["kernel_drops"] >= 0


def test_vlan_tags_cross_an_afpacket_uplink(lab, workdir):
    """The kernel takes the VLAN tag off every frame before a packet socket sees it; hashi puts
    it back, so tagged frames from the uplink reach a TAP host still tagged."""
    up = ifname("u")
    ext, a = lab.netns("ext"), lab.netns("a")
    lab.veth(up, ext, "eth0", 1500)
    ext.run("ip", "link", "set", "eth0", "up")
    h = lab.hashi(tap_port("a", "a") + f"[port up]\ntype = afpacket\niface = {up}\nmtu = 1500\n")
    a.take(ifname("a"), "10.88.0.1", 1500)
    pcap = os.path.join(workdir, "a.pcap")
    # tshark stops by itself after five of the test's frames, so none is lost in a buffer when
    # it ends; the frames are sent again until it has them (it may start listening late)
    tshark = a.popen("tshark", "-q", "-i", ifname("a"), "-w", pcap, "-c", "5", "-f",
                     "ether src 02:00:00:00:44:01")
    try:
        for _ in range(10):
            ext.run("/usr/bin/python3", "-c",
                    "from scapy.all import *; sendp([Ether(src='02:00:00:00:44:01', "
                    "dst='ff:ff:ff:ff:ff:ff')/Dot1Q(vlan=100, prio=3)/IP(src='10.89.0.9', "
                    "dst='10.89.0.1')/UDP(sport=7, dport=7)/Raw(b'tagged%d' % i) "
                    "for i in range(5)], iface='eth0', verbose=False)")
            try:
                tshark.wait(2)
                break
            except subprocess.TimeoutExpired:
                pass
    finally:
        tshark.kill()
        tshark.wait()
    tagged = tshark_fields(pcap, ["vlan.id", "vlan.priority", "udp.dstport"],
                           "eth.src == 02:00:00:00:44:01")
    assert tagged == [["100", "3", "7"]] * 5, tagged
    h.assert_balanced()


def test_kernel_port_errors(lab):
    """Bad kernel port requests fail with a message that says what to do; hashi keeps going."""
    h = lab.hashi()
    ext = lab.netns("ext")
    up = ifname("u")
    lab.veth(up, ext, "eth0", 1500)

    r = h.run_ctl("port", "add", "x", "type", "afpacket", "iface", ifname("none"))
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = h.run_ctl("port", "add", "x", "type", "afxdp", "iface", up, "mtu", "9000")
    assert r.returncode == 1 and "use type afpacket for jumbo frames" in r.stderr, r.stderr
    # an AF_XDP port's buffers go with it (net_af_xdp keeps its fill ring's on close)
    h.ctl("port", "add", "x", "type", "afxdp", "iface", up)
    h.ctl("port", "del", "x")
    assert h.ctl("pmd-stats")[0]["buffers_in_use"] == 0
    # a veth is not a TAP
    r = h.run_ctl("port", "add", "x", "type", "tap", "ifname", up)
    assert r.returncode == 1 and "not a TAP" in r.stderr, r.stderr
    r = h.run_ctl("port", "add", "x", "type", "tap", "path", "/tmp/x.sock")
    assert r.returncode == 1 and "has no interface" in r.stderr, r.stderr
    # one port per interface
    h.ctl("port", "add", "y", "type", "afpacket", "iface", up)
    r = h.run_ctl("port", "add", "x", "type", "afpacket", "iface", up)
    assert r.returncode == 1 and "uses interface" in r.stderr, r.stderr
    h.ctl("port", "del", "y")
    assert h.ports() == {}

    # an existing TAP is attached, and outlives its port
    tap = ifname("p")
    subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr"], check=True)
    try:
        h.ctl("port", "add", "p", "type", "tap", "ifname", tap, "mtu", "1500")
        assert h.ports()["p"]["created"] is False
        h.ctl("port", "del", "p")
        assert os.path.exists(f"/sys/class/net/{tap}")
    finally:
        subprocess.run(["ip", "link", "del", tap], capture_output=True)
    # one that hashi created goes with its port
    h.ctl("port", "add", "q", "type", "tap", "ifname", tap, "queues", "2")
    q = h.ports()["q"]
    assert q["created"] is True and q["queues"] == 2
    h.ctl("port", "del", "q")
    assert not os.path.exists(f"/sys/class/net/{tap}")


class TapVm(Program):
    """A VM on a vhost-user port with a TCP/IP stack: testpmd forwards between its virtio-user
    port (0) and a net_tap device (1), which a namespace then owns.

    Without TSO, io forwarding: the virtio driver negotiates no guest TSO or checksum offload,
    so hashi segments and completes checksums for it. With TSO, the csum engine: the driver
    negotiates guest TSO (LRO) and sends TSO frames itself (tso set on port 0), and net_tap
    segments what goes to the kernel (tso set on port 1). The csum engine rewrites MAC
    addresses (destination: the port's peer), so forward() names the real hosts as peers."""

    def __init__(self, workdir, sock, tap, mtu, tso=False):
        self.prefix = f"htv{os.getpid()}"
        super().__init__(os.path.join(workdir, f"{self.prefix}.log"))
        args = [TESTPMD, "--lcores", f"0@{VM_CPU},1@{VM_CPU}", "--no-pci", "--no-huge",
                "-m", "512", "--file-prefix", self.prefix, "--log-level", "*:warning",
                "--vdev", f"virtio_user0,path={sock},queues=1,mac=02:00:00:00:33:01",
                "--vdev", f"net_tap0,iface={tap}", "--", "--port-topology=paired",
                "--total-num-mbufs=16384", f"--max-pkt-len={mtu + 18}"]
        if not tso:
            self.spawn(args + ["--forward-mode=io", "--auto-start", "--stats-period", "1"])
            ready = "Port statistics"
        else:
            mss = mtu - 52
            commands = ["set fwd csum", "port stop all", "port config 0 rx_offload tcp_lro on",
                        "port config 0 rx_offload tcp_cksum on"]
            for port in (0, 1):
                commands += [f"csum set ip hw {port}", f"csum set tcp hw {port}",
                             f"tso set {mss} {port}"]
            commands += ["port start all"]
            self.spawn(["stdbuf", "-oL"] + args + ["-i"], subprocess.PIPE)
            self.command(*commands)
            ready = "Configuring Port 1"
        try:
            wait_for(lambda: ready in self.read_log() or self.proc.poll() is not None,
                     30, what="testpmd to forward")
        except AssertionError as e:
            raise AssertionError(f"{e}:\n{self.read_log()}") from None
        assert self.proc.poll() is None, self.read_log()

    def command(self, *lines):
        self.proc.stdin.write("".join(c + "\n" for c in lines).encode())
        self.proc.stdin.flush()

    def forward(self, mac_hashi_side, mac_tap_side):
        self.command(f"set eth-peer 0 {mac_hashi_side}", f"set eth-peer 1 {mac_tap_side}",
                     "start")
        wait_for(lambda: "packet forwarding - ports=" in self.read_log(), 20,
                 what="testpmd to forward")

    def stop(self):
        if self.proc and self.proc.stdin:
            self.proc.stdin.close()  # end of input: the prompt quits
            return self.end(None)
        return self.end()


def test_tap_to_vhost_user(lab, workdir):
    """A namespace behind a TAP port talks TCP with a namespace behind a vhost-user VM: the TAP
    side's TSO frames reach the VM as checksummed MSS segments; the VM's frames come back."""
    sock = os.path.join(workdir, "v.sock")
    h = lab.hashi(tap_port("a", "a") + f"[port v]\ntype = vhost-user\npath = {sock}\n")
    a, c = lab.netns("a"), lab.netns("c")
    a.take(ifname("a"), "10.88.0.1", 1500)
    vm = TapVm(workdir, sock, ifname("c"), 1500)
    try:
        h.wait_link("v")
        c.take(ifname("c"), "10.88.0.3", 1500)
        c.run("ethtool", "-K", ifname("c"), "tx", "off")
        assert h.ports()["v"]["offloads"] == {"csum": False, "tso4": False, "tso6": False}
        ping(a, "10.88.0.3", 1500)
        pcap = os.path.join(workdir, "c.pcap")
        tshark = capture(c, ifname("c"), pcap)
        try:
            to_vm = iperf(a, c, "10.88.0.3", seconds=None, args=("-n", "10M"))
        finally:
            tshark.terminate()
            tshark.wait(20)
        from_vm = iperf(c, a, "10.88.0.1")
    finally:
        vm.stop()
    assert gbits(to_vm) > 0.02 and gbits(from_vm) > 0.02
    st = h.stats()
    assert st["v"]["gso_frames"] > 0
    h.assert_balanced()
    data = tshark_fields(pcap, ["tcp.len", "ip.checksum.status", "tcp.checksum.status"],
                         "ip.src == 10.88.0.1 && tcp.len > 0")
    assert len(data) > 0.5 * 10e6 / 1448
    assert all(d[1] == "1" and d[2] == "1" for d in data), [d for d in data if d[1:] != ["1", "1"]][:5]
    assert max(int(d[0]) for d in data) == 1448


def test_tap_to_vhost_user_with_tso(lab, workdir):
    """Both ends negotiate TSO (guest and host). The VM marks its TCP frames for TSO (they come
    from its net_tap at MTU size, so each is one segment) and TCP runs through to the TAP side
    with virtio-net GSO headers all the way. (The other direction cannot be driven here:
    testpmd's net_tap cannot segment large LRO chains for its kernel side.)"""
    sock = os.path.join(workdir, "v.sock")
    h = lab.hashi(tap_port("a", "a") + f"[port v]\ntype = vhost-user\npath = {sock}\n")
    a, c = lab.netns("a"), lab.netns("c")
    a.take(ifname("a"), "10.88.0.1", 1500)
    vm = TapVm(workdir, sock, ifname("c"), 1500, tso=True)
    try:
        wait_for(lambda: h.ports()["v"]["offloads"] == {"csum": True, "tso4": True,
                                                        "tso6": True}, 20,
                 what="guest TSO negotiated")
        assert "host_tso4" in h.ports()["v"]["features"]
        c.take(ifname("c"), "10.88.0.3", 1500)
        vm.forward(mac(a, ifname("a")), mac(c, ifname("c")))
        ping(a, "10.88.0.3", 1500)
        h.ctl("stats", "clear")
        from_vm = iperf(c, a, "10.88.0.1")
        st = h.stats()
        assert gbits(from_vm) > 0.1, from_vm
        assert sum(st["a"]["drops"].values()) == 0, st["a"]
    finally:
        vm.stop()
    assert all(p["gso_frames"] == 0 for p in h.stats().values())
    h.assert_balanced()
