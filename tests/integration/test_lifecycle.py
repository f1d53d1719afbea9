"""Ports coming and going: hot add/remove under traffic, VM and hashi restarts in both
vhost-user modes, a frontend that vanishes mid-traffic."""
import os
import time

from conftest import Vm, vhost_ports, wait_for
from traffic import announce, exchange, frame


def rx(h, name):
    return h.stats()[name]["rx_packets"]


def flowing(h, name, seconds=1.0):
    """True when port `name` keeps receiving."""
    before = rx(h, name)
    time.sleep(seconds)
    return rx(h, name) > before


def test_ports_added_and_removed_under_traffic(lab):
    h = lab.hashi(vhost_ports(["l0", "l1"], workdir=lab.dir))
    lab.loop(h.sock("l0"), h.sock("l1"))
    h.wait_link("l0")
    h.wait_link("l1")
    wait_for(lambda: flowing(h, "l0"), 15, what="loop traffic")

    for i in range(3):
        h.ctl("port", "add", f"extra{i}", "type", "vhost-user", "path", h.sock(f"extra{i}"),
              "mtu", "9000")
    assert os.path.exists(h.sock("extra1"))
    assert flowing(h, "l0") and flowing(h, "l1")
    for i in range(3):
        h.ctl("port", "del", f"extra{i}")
    assert not os.path.exists(h.sock("extra1"))  # a server socket goes with its port
    assert flowing(h, "l0") and flowing(h, "l1")

    # Removing a port that is carrying traffic: the other side's frames lose their
    # destination; they are flooded to nobody and counted, and hashi keeps going.
    final = h.ctl("port", "del", "l1")
    assert final["name"] == "l1" and final["rx_packets"] > 0
    assert "l1" not in h.ports()
    wait_for(lambda: h.stats()["l0"]["drops"]["no_port"] > 0, 10, what="no_port drops")
    for lp in lab.loops:
        lp.stop()
    time.sleep(0.5)
    h.assert_balanced(deleted=[final])


def test_vm_restart_in_server_mode(lab):
    h = lab.hashi(vhost_ports(["vm1", "vm2"], workdir=lab.dir))
    a, b = Vm("vm1", h.sock("vm1"), "02:00:00:00:02:01"), Vm("vm2", h.sock("vm2"),
                                                               "02:00:00:00:02:02")
    vms = lab.vms([a, b])
    h.wait_link("vm1")
    vms.stop()
    h.wait_link("vm1", up=False)
    vms.start()
    h.wait_link("vm1")
    h.wait_link("vm2")
    announce(b)
    got = exchange(a, [frame(a, b, tag=i) for i in range(5)], [b])
    assert len(got["vm2"]) == 5
    h.assert_balanced()


def test_client_mode_reconnects_after_vm_and_hashi_restarts(lab):
    # hashi starts first: client ports keep trying until the VMs create their sockets
    h = lab.hashi(vhost_ports(["vm1", "vm2"], mode="client", workdir=lab.dir))
    a = Vm("vm1", h.sock("vm1"), "02:00:00:00:03:01", server=True)
    b = Vm("vm2", h.sock("vm2"), "02:00:00:00:03:02", server=True)
    vms = lab.vms([a, b])
    h.wait_link("vm1")
    h.wait_link("vm2")
    assert h.ports()["vm1"]["mode"] == "client"

    def works():
        announce(b)
        return len(exchange(a, [frame(a, b, tag=i) for i in range(5)], [b])["vm2"]) == 5

    assert works()

    # hashi restarts; the VMs keep running and come back without a restart of their own
    assert h.stop() == 0
    assert os.path.exists(a.sock), "a client-mode port must not remove the VM's socket"
    h.start()
    h.wait_link("vm1")
    h.wait_link("vm2")
    assert works()

    # the VM restarts; hashi reconnects by itself
    vms.stop()
    h.wait_link("vm1", up=False)
    vms.start()
    h.wait_link("vm1")
    h.wait_link("vm2")
    assert works()
    h.assert_balanced()


def test_frontend_that_vanishes_takes_down_only_its_port(lab):
    h = lab.hashi(vhost_ports(["l0", "l1", "vm3", "vm4"], workdir=lab.dir))
    c, d = Vm("vm3", h.sock("vm3"), "02:00:00:00:04:03"), Vm("vm4", h.sock("vm4"),
                                                               "02:00:00:00:04:04")
    victims = lab.vms([c, d])
    loop = lab.loop(h.sock("l0"), h.sock("l1"))
    for n in ("l0", "l1", "vm3", "vm4"):
        h.wait_link(n)
    wait_for(lambda: flowing(h, "l0"), 15, what="loop traffic")

    victims.stop(kill=True)  # SIGKILL: no goodbye on the vhost-user socket
    h.wait_link("vm3", up=False)
    h.wait_link("vm4", up=False)
    assert flowing(h, "l0") and flowing(h, "l1")
    assert h.ports()["l0"]["link"] == "up"
    loop.stop()
    time.sleep(0.5)
    h.assert_balanced()
