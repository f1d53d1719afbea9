"""Real topologies for hashi's integration tests.

A "VM" here is DPDK testpmd: a complete virtio-net driver (virtio-user) that speaks vhost-user
to hashi. Each VM's virtio port is paired, by testpmd's io forwarding, with a pcap port on a
veth pair, so a test injects frames with scapy on the host side of the veth and sniffs what the
VM received there: byte-exact checks with a real driver in the path.

    scapy -> hvXa ==veth== hvXb -> testpmd(pcap <-> virtio-user) -> vhost-user -> hashi

Every fixture removes what it created (processes, veths, sockets), also when a test fails.
"""
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HASHI_BUILD", os.path.join(REPO, "build"))
HASHI = os.path.join(BUILD, "hashi")
HASHICTL = os.path.join(BUILD, "hashictl")
TESTPMD = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"

# hashi's worker gets the last CPU, the VMs share the first one.
NCPU = os.cpu_count() or 1
HASHI_CORE = NCPU - 1
VM_CPU = 0

_ids = itertools.count()


def wait_for(predicate, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Program:
    """A program running in the background with its output in a log file (appended to across
    restarts)."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None

    def spawn(self, args, stdin=subprocess.DEVNULL):
        """Starts args; returns the log's length before, where this run's output begins."""
        seen = len(self.read_log())
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=stdin)
        return seen

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def end(self, sig=signal.SIGINT, timeout=20):
        """Sends sig (None: the caller already asked it to stop) and waits; kills it after
        timeout. Returns its exit status, or None if it had to be killed."""
        if self.proc is None:
            return 0
        rc = self.proc.poll()
        if rc is None:
            if sig is not None:
                self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return rc

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Hashi(Program):
    """One hashi daemon with a config file written from `config` (a string)."""

    def __init__(self, workdir, config="", use_config=True, settings=""):
        """`settings`: extra lines for the [hashi] section, e.g. "cores = 0,1\npoll = always\n";
        one that sets `core` or `cores` replaces the default `core = HASHI_CORE`."""
        super().__init__(os.path.join(workdir, "hashi.log"))
        self.dir = workdir
        self.use_config = use_config
        self.ctl_path = os.path.join(workdir, "ctl.sock")
        self.conf = os.path.join(workdir, "hashi.conf")
        if settings and not settings.endswith("\n"):
            settings += "\n"
        core = "" if re.search(r"^\s*cores?\s*=", settings, re.M) else f"core = {HASHI_CORE}\n"
        with open(self.conf, "w") as f:
            f.write(f"[hashi]\nctl = {self.ctl_path}\n{core}{settings}{config}")

    def sock(self, name):
        return os.path.join(self.dir, f"{name}.sock")

    def start(self):
        args = ["--config", self.conf] if self.use_config else \
            ["--ctl", self.ctl_path, "--core", str(HASHI_CORE)]
        self.spawn([HASHI] + args)
        wait_for(lambda: self.ctl_ok() or self.proc.poll() is not None, 30, what="hashi control")
        assert self.proc.poll() is None, f"hashi exited early:\n{self.read_log()}"
        return self

    def ctl_ok(self):
        return os.path.exists(self.ctl_path) and self.run_ctl("port", "list").returncode == 0

    def run_ctl(self, *words, json_out=True):
        args = [HASHICTL, "--ctl", self.ctl_path] + (["--json"] if json_out else []) + list(words)
        return subprocess.run(args, capture_output=True, text=True, timeout=30)

    def ctl(self, *words):
        r = self.run_ctl(*words)
        assert r.returncode == 0, f"hashictl {' '.join(words)} failed: {r.stderr}"
        return json.loads(r.stdout)

    def request(self, line):
        """Sends one raw line on the control socket; returns the decoded reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.ctl_path)
            s.sendall(line)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)

    def stats(self):
        return {p["name"]: p for p in self.ctl("stats")}

    def ports(self):
        return {p["name"]: p for p in self.ctl("port", "list")}

    def wait_link(self, name, up=True, timeout=20):
        want = "up" if up else "down"
        wait_for(lambda: self.ports().get(name, {}).get("link") == want, timeout,
                 what=f"port {name} link {want}")

    def assert_balanced(self, deleted=()):
        """Every frame hashi received, every flood copy and every software-GSO segment was sent
        or dropped with a reason; coalesced segments count as the aggregates they became.
        `deleted`: the final counters `port del` returned for ports no longer listed."""
        st = self.ctl("stats") + list(deleted)
        rx = sum(p["rx_packets"] + p["flood_copies"] + p["gso_segments"] - p["gso_frames"]
                 - p["rsc"]["segments_in"] + p["rsc"]["aggregates_out"] for p in st)
        out = sum(p["tx_packets"] + sum(p["drops"].values()) for p in st)
        assert rx == out, f"counters do not balance: rx+copies={rx}, tx+drops={out}: {st}"
        return st

    def stop(self):
        """SIGTERM, as systemd would; hashi must exit 0 and remove its sockets."""
        rc = self.end(signal.SIGTERM)
        assert rc is not None, f"hashi did not stop on SIGTERM:\n{self.read_log()}"
        return rc


class Vm:
    """One VM's addressing: its vhost-user socket, MAC, and the veth where tests reach it."""

    def __init__(self, name, sock, mac, server=False):
        n = next(_ids)
        self.name, self.sock, self.mac, self.server = name, sock, mac, server
        self.host_if = f"hv{os.getpid() % 10000}x{n}a"  # where scapy sends and sniffs
        self.pmd_if = f"hv{os.getpid() % 10000}x{n}b"  # where testpmd's pcap port sits
        self.idle_if = f"hv{os.getpid() % 10000}x{n}c"  # a VmSet with queues: see there
        self.idle_peer = f"hv{os.getpid() % 10000}x{n}d"


def _ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


class VmSet(Program):
    """One testpmd process running one or more VMs (virtio-user port + pcap port each)."""

    def __init__(self, workdir, vms, mtu=1500, commands=(), queues=1):
        """`commands`: testpmd command lines to run before forwarding starts (interactive
        mode), e.g. to set a forwarding engine's offloads; empty runs io forwarding.
        `queues`: queue pairs of each virtio-user port (testpmd enables them all). The pcap
        port then has as many queues too: its first receives from the veth, the others from a
        second veth pair that carries nothing (so frames the veth brings enter the VM once, on
        queue 0); all of them send to the veth."""
        self.dir, self.vms, self.mtu, self.commands = workdir, vms, mtu, list(commands)
        self.queues = queues
        self.prefix = f"hvm{os.getpid()}x{next(_ids)}"
        super().__init__(os.path.join(workdir, f"{self.prefix}.log"))
        for vm in vms:
            _ip("link", "add", vm.host_if, "type", "veth", "peer", "name", vm.pmd_if)
            ifnames = [vm.host_if, vm.pmd_if]
            if queues > 1:
                _ip("link", "add", vm.idle_if, "type", "veth", "peer", "name", vm.idle_peer)
                ifnames += [vm.idle_if, vm.idle_peer]
            for ifname in ifnames:
                # no addresses and no IPv6: the kernel itself must send nothing into the switch
                with open(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "w") as f:
                    f.write("1")
                _ip("link", "set", ifname, "mtu", str(max(mtu, 1500)), "up")

    def start(self):
        args = [TESTPMD, "--lcores", f"0@{VM_CPU},1@{VM_CPU}", "--no-pci", "--no-huge",
                "-m", "512", "--file-prefix", self.prefix, "--log-level", "*:warning"]
        for i, vm in enumerate(self.vms):
            vdev = f"virtio_user{i},path={vm.sock},queues={self.queues},mac={vm.mac}"
            if vm.server:
                vdev += ",server=1"
            pcap = f"net_pcap{i},rx_iface_in={vm.pmd_if}"
            pcap += f",rx_iface_in={vm.idle_if}" * (self.queues - 1)
            pcap += f",tx_iface={vm.pmd_if}" * self.queues
            args += ["--vdev", vdev, "--vdev", pcap]
        # ports are 0:virtio0 1:pcap0 2:virtio1 3:pcap1 ...; paired topology forwards 0<->1...
        args += ["--", "--port-topology=paired", "--mbuf-size=10240", "--total-num-mbufs=4096",
                 f"--max-pkt-len={max(self.mtu, 1500) + 18}", "--burst=32"]
        if self.queues > 1:
            args += [f"--rxq={self.queues}", f"--txq={self.queues}"]
        if self.commands:
            # line-buffered, so the log shows when forwarding started
            args = ["stdbuf", "-oL"] + args + ["-i"]
            ready = "packet forwarding - ports="
        else:
            args += ["--forward-mode=io", "--auto-start", "--stats-period", "1"]
            ready = "Port statistics"
        seen = self.spawn(args, subprocess.PIPE if self.commands else subprocess.DEVNULL)
        if self.commands:
            # stdin stays open: testpmd's prompt quits at end of input
            self.proc.stdin.write("".join(c + "\n" for c in self.commands + ["start"]).encode())
            self.proc.stdin.flush()
        wait_for(lambda: ready in self.read_log()[seen:] or
                 self.proc.poll() is not None, 30, what="testpmd to forward")
        assert self.proc.poll() is None, f"testpmd exited:\n{self.read_log()}"
        return self

    def stop(self, kill=False):
        if kill:
            self.end(signal.SIGKILL)
        elif self.running() and self.proc.stdin:
            self.proc.stdin.close()  # end of input: the prompt quits
            self.end(None)
        else:
            self.end(signal.SIGINT)
        self.proc = None

    def destroy(self):
        self.stop()
        for vm in self.vms:
            subprocess.run(["ip", "link", "del", vm.host_if], capture_output=True)
            if self.queues > 1:
                subprocess.run(["ip", "link", "del", vm.idle_if], capture_output=True)


class Loop(Program):
    """A closed traffic loop: one testpmd, two virtio-user ports, io forwarding seeded with
    tx_first bursts (the method of ../shared/tools/loopgen.sh), for load while a test acts."""

    def __init__(self, workdir, sock0, sock1, pktlen=64, pmd_args=(), queues=1):
        """`queues`: queue pairs of both ports, all enabled; each (port, queue) gets its own
        tx_first burst, and what arrives on a receive queue leaves on the other port's transmit
        queue of the same number."""
        self.prefix = f"hlp{os.getpid()}x{next(_ids)}"
        super().__init__(os.path.join(workdir, f"{self.prefix}.log"))
        if queues > 1:
            pmd_args = [f"--rxq={queues}", f"--txq={queues}"] + list(pmd_args)
        args = [TESTPMD, "--lcores", f"0@{VM_CPU},1@{VM_CPU}", "--no-pci", "--no-huge",
                "-m", "512", "--file-prefix", self.prefix, "--log-level", "*:warning",
                "--vdev", f"virtio_user0,path={sock0},queues={queues},mac=02:00:00:00:10:01",
                "--vdev", f"virtio_user1,path={sock1},queues={queues},mac=02:00:00:00:10:02", "--",
                "--forward-mode=io", "--eth-peer=0,02:00:00:00:10:02",
                "--eth-peer=1,02:00:00:00:10:01", f"--txpkts={pktlen}", "--burst=32",
                "--total-num-mbufs=8192", "--tx-first", "--auto-start", "--stats-period",
                "1"] + list(pmd_args)
        self.spawn(args)

    def stop(self):
        self.end(signal.SIGINT)


class Netns:
    """A network namespace: a full TCP/IP host for ping, iperf3 and tshark."""

    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        _ip("netns", "add", name)
        self.run("ip", "link", "set", "lo", "up")
        # no IPv6 chatter: the tests count frames
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")

    def run(self, *args, check=True, timeout=60):
        r = subprocess.run(["ip", "netns", "exec", self.name] + list(args), capture_output=True,
                           text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"{self.name}: {' '.join(args)}: {r.stdout}{r.stderr}"
        return r

    def popen(self, *args, stdout=subprocess.DEVNULL):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + list(args), stdout=stdout,
                                stderr=subprocess.STDOUT)

    def take(self, ifname, addr, mtu):
        """Moves ifname (from the root namespace) here and gives it addr/24 and mtu."""
        _ip("link", "set", ifname, "netns", self.name)
        self.setup(ifname, addr, mtu)

    def setup(self, ifname, addr, mtu):
        self.run("ip", "addr", "add", f"{addr}/24", "dev", ifname)
        self.run("ip", "link", "set", ifname, "mtu", str(mtu), "up")

    def destroy(self):
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def veth_pair(name, peer_ns, peer_name, mtu):
    """A veth `name` in the root namespace (up) whose peer `peer_name` sits in peer_ns."""
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    _ip("link", "add", name, "mtu", str(mtu), "type", "veth", "peer", "name", peer_name,
        "mtu", str(mtu), "netns", peer_ns.name)
    with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w") as f:
        f.write("1")
    _ip("link", "set", name, "up")


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="hashi-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lab(workdir):
    """Builds topologies and tears every piece down afterwards."""

    class Lab:
        def __init__(self):
            self.dir = workdir
            self.daemons, self.vmsets, self.loops, self.namespaces = [], [], [], []
            self.links = []

        def hashi(self, config="", use_config=True, settings=""):
            h = Hashi(self.dir, config, use_config, settings)
            self.daemons.append(h)
            return h.start()

        def vms(self, vms, mtu=1500, start=True, commands=(), queues=1):
            s = VmSet(self.dir, vms, mtu, commands, queues)
            self.vmsets.append(s)
            return s.start() if start else s

        def netns(self, name):
            ns = Netns(f"{name}-{os.getpid() % 10000}")
            self.namespaces.append(ns)
            return ns

        def veth(self, name, peer_ns, peer_name, mtu=1500):
            veth_pair(name, peer_ns, peer_name, mtu)
            self.links.append(name)

        def loop(self, sock0, sock1, pktlen=64, pmd_args=(), queues=1):
            lp = Loop(self.dir, sock0, sock1, pktlen, pmd_args, queues)
            self.loops.append(lp)
            return lp

        def close(self):
            for lp in self.loops:
                lp.stop()
            for s in self.vmsets:
                s.destroy()
            try:
                for h in self.daemons:
                    rc = h.stop()
                    assert rc == 0, f"hashi exited {rc}:\n{h.read_log()}"
            finally:
                for ns in self.namespaces:
                    ns.destroy()
                for link in self.links:
                    subprocess.run(["ip", "link", "del", link], capture_output=True)

    lab = Lab()
    yield lab
    lab.close()


def vhost_ports(names, mtu=None, mode=None, workdir=None, queues=None):
    """Config text for vhost-user ports named `names`, sockets in workdir."""
    out = ""
    for n in names:
        out += f"[port {n}]\ntype = vhost-user\npath = {os.path.join(workdir, n + '.sock')}\n"
        if mtu:
            out += f"mtu = {mtu}\n"
        if mode:
            out += f"mode = {mode}\n"
        if queues:
            out += f"queues = {queues}\n"
    return out
