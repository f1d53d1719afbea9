"""The command line and the control socket: bad input gets a clear error and the daemon keeps
running; the JSON fields scripts rely on are there."""
import json
import os
import signal
import socket
import subprocess
import time

from conftest import HASHI, Vm, vhost_ports, wait_for
from traffic import announce, exchange, frame


def test_starts_without_config_with_an_empty_br0(lab):
    h = lab.hashi(use_config=False)
    assert h.ctl("port", "list") == []
    h.ctl("port", "add", "vm1", "type", "vhost-user", "path", h.sock("vm1"), "mode", "server")
    p = h.ports()["vm1"]
    assert (p["bridge"], p["mtu"], p["link"], p["mode"]) == ("br0", 1500, "down", "server")


def test_bad_requests_get_errors_and_the_daemon_keeps_serving(lab):
    h = lab.hashi(vhost_ports(["vm1"], workdir=lab.dir))
    cases = [
        (["port", "add", "vm2", "type", "vhost-user", "path", h.sock("vm2"), "mtu", "99999"],
         "mtu"),
        (["port", "add", "vm2", "type", "tapx", "path", h.sock("vm2")], "unknown port type"),
        (["port", "add", "vm2", "type", "vhost-user"], "has no path"),
        (["port", "add", "vm1", "type", "vhost-user", "path", h.sock("other")], "exists"),
        (["port", "add", "vm2", "type", "vhost-user", "path", h.sock("vm1")], "vm1"),
        (["port", "add", "vm2", "path", h.sock("vm2"), "bridge", "nope"], "bridge nope"),
        (["port", "add", "vm2", "path", "relative.sock"], "absolute"),
        (["port", "del", "ghost"], "no port named ghost"),
    ]
    for words, message in cases:
        r = h.run_ctl(*words, json_out=False)
        assert r.returncode == 1, (words, r.stdout, r.stderr)
        assert message in r.stderr, (words, r.stderr)
    assert list(h.ports()) == ["vm1"]

    r = h.run_ctl("frobnicate", json_out=False)
    assert r.returncode == 2 and "unknown command" in r.stderr

    assert h.request(b"this is not json\n")["ok"] is False
    assert "command" in h.request(b'{"args": {}}\n')["error"]
    assert h.request(b'{"command": "no-such"}\n')["ok"] is False
    assert h.request(b'{"command": "port-add", "args": {"name": 5, "mtu": [1]}}\n')["ok"] is False
    assert h.request(b'{"command": "port-list"}\n')["ok"] is True
    assert h.proc.poll() is None


def test_hashictl_without_a_daemon_says_so(workdir):
    r = subprocess.run([os.path.join(os.path.dirname(HASHI), "hashictl"), "--ctl",
                        os.path.join(workdir, "none.sock"), "port", "list"],
                       capture_output=True, text=True)
    assert r.returncode == 3 and "is hashi running" in r.stderr


def test_config_errors_name_file_line_and_fix(workdir):
    conf = os.path.join(workdir, "bad.conf")
    with open(conf, "w") as f:
        f.write("[hashi]\ncore = 0\n\n[port vm1]\ntype = vhost-user\nmtu = 12000\n")
    for args in (["--config", conf], ["--check-config", conf]):
        r = subprocess.run([HASHI] + args, capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert f"{conf}:6:" in r.stderr and "68 to 9216" in r.stderr, r.stderr
    with open(conf, "w") as f:
        f.write(f"[port vm1]\npath = {workdir}/vm1.sock\n")
    r = subprocess.run([HASHI, "--check-config", conf], capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout


def test_stats_json_fields_and_clear(lab):
    h = lab.hashi(vhost_ports(["vm1", "vm2"], workdir=lab.dir))
    a, b = Vm("vm1", h.sock("vm1"), "02:00:00:00:05:01"), Vm("vm2", h.sock("vm2"),
                                                               "02:00:00:00:05:02")
    lab.vms([a, b])
    h.wait_link("vm1")
    h.wait_link("vm2")
    announce(b)
    exchange(a, [frame(a, b, tag=i, size=100) for i in range(10)], [b])
    st = h.stats()
    for p in st.values():
        assert {"name", "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "drops"} <= set(p)
        assert isinstance(p["drops"], dict)
    assert st["vm1"]["rx_packets"] == 10 and st["vm1"]["rx_bytes"] == 1000
    assert st["vm2"]["tx_bytes"] == 1000
    pmd = h.ctl("pmd-stats")
    assert len(pmd) == 1
    w = pmd[0]
    assert {"core", "packets", "busy_cycles", "idle_cycles", "cycles_per_packet",
            "buffers_in_use", "buffers_total"} <= set(w)
    # vhost-user ports park no buffers: once traffic stops, every buffer is back (no leak)
    assert w["buffers_in_use"] == 0 and w["buffers_total"] > 0
    assert w["packets"] >= 11 and w["busy_cycles"] > 0 and w["cycles_per_packet"] > 0
    h.ctl("stats", "clear")
    assert all(p["rx_packets"] == 0 and p["tx_packets"] == 0 for p in h.stats().values())
    h.ctl("pmd-stats", "clear")
    assert h.ctl("pmd-stats")[0]["packets"] == 0


def test_negotiated_features_and_offloads(lab):
    h = lab.hashi(vhost_ports(["l0", "l1"], workdir=lab.dir))
    # a VM that asks for every receive offload hashi offers (checksum, LRO = guest TSO) and
    # for checksum offload and TSO on transmit (host TSO: hashi segments for those who need it)
    lab.loop(h.sock("l0"), h.sock("l1"), pmd_args=["--rx-offloads=0x1c", "--tx-offloads=0x2c"])
    # virtio-user negotiates twice: at probe, and again with the offloads it was configured for
    p = wait_for(lambda: (lambda p: "guest_csum" in p["features"] and p)(h.ports()["l0"]), 20,
                 what="offloads negotiated")
    for f in ("version_1", "mrg_rxbuf", "csum", "guest_csum", "guest_tso4", "guest_tso6",
              "host_tso4", "host_tso6"):
        assert f in p["features"], p
    assert p["offloads"] == {"csum": True, "tso4": True, "tso6": True}


def test_version_and_help():
    for flag, text in (("--version", "hashi 0."), ("--help", "--check-config")):
        r = subprocess.run([HASHI, flag], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and text in r.stdout
    r = subprocess.run([HASHI, "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage" in r.stderr


def test_second_hashi_on_the_same_socket_is_refused(lab):
    h = lab.hashi()
    r = subprocess.run([HASHI, "--ctl", h.ctl_path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "another hashi serves" in r.stderr
    assert h.ctl("port", "list") == []  # the first one is untouched


def test_sigint_and_sigterm_shut_down_cleanly(lab):
    for sig in (signal.SIGINT, signal.SIGTERM):
        h = lab.hashi(vhost_ports(["vm1", "vm2"], workdir=lab.dir))
        a, b = Vm("vm1", h.sock("vm1"), "02:00:00:00:07:01"), Vm("vm2", h.sock("vm2"),
                                                                   "02:00:00:00:07:02")
        vms = lab.vms([a, b])
        h.wait_link("vm1")
        h.wait_link("vm2")
        assert h.end(sig) == 0, h.read_log()
        for path in (h.sock("vm1"), h.sock("vm2"), h.ctl_path):
            assert not os.path.exists(path), f"{path} left behind after {sig.name}"
        assert "shutting down" in h.read_log()
        vms.destroy()
        lab.vmsets.remove(vms)
        lab.daemons.remove(h)


def test_overlong_values_are_refused_not_truncated(lab):
    h = lab.hashi()
    path = "/tmp/" + "x" * 200 + ".sock"
    r = h.request(json.dumps({"command": "port-add",
                              "args": {"name": "vm1", "path": path}}).encode() + b"\n")
    assert r["ok"] is False and "longer than" in r["error"]
    assert h.ctl("port", "list") == []


def test_a_client_that_never_reads_cannot_stall_the_daemon(lab):
    h = lab.hashi()
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.connect(h.ctl_path)
    stuck.setblocking(False)
    request = b'{"command": "pmd-stats"}\n' * 1000
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # requests, and never a read of the replies
        try:
            stuck.send(request)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break  # hashi already cut it off
    started = time.monotonic()
    assert h.ctl("port", "list") == []
    assert time.monotonic() - started < 5, "another client waited on the stuck one"
    stuck.close()


def test_a_second_frontend_on_a_port_is_refused(lab):
    h = lab.hashi(vhost_ports(["vm1", "vm2"], workdir=lab.dir))
    a, b = Vm("vm1", h.sock("vm1"), "02:00:00:00:08:01"), Vm("vm2", h.sock("vm2"),
                                                               "02:00:00:00:08:02")
    lab.vms([a, b])
    h.wait_link("vm1")
    h.wait_link("vm2")
    intruder = lab.vms([Vm("dup", h.sock("vm1"), "02:00:00:00:08:09")])
    wait_for(lambda: "refusing a second frontend" in h.read_log(), 20, what="the refusal")
    announce(b)
    assert len(exchange(a, [frame(a, b, tag=i) for i in range(5)], [b])["vm2"]) == 5
    intruder.destroy()
    lab.vmsets.remove(intruder)
    time.sleep(1)
    # the intruder leaving does not take the first frontend's link with it
    assert h.ports()["vm1"]["link"] == "up"
    assert len(exchange(a, [frame(a, b, tag=i) for i in range(5)], [b])["vm2"]) == 5
    h.assert_balanced()
