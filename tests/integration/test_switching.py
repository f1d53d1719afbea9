"""L2 switching through hashi between testpmd virtio-user VMs."""
import time

from conftest import Vm, vhost_ports, wait_for
from traffic import announce, exchange, frame


def three_vms(lab, extra="", mtu=None):
    names = ["vm1", "vm2", "vm3"]
    h = lab.hashi(extra + vhost_ports(names, mtu=mtu, workdir=lab.dir))
    vms = [Vm(n, h.sock(n), f"02:00:00:00:00:0{i + 1}") for i, n in enumerate(names)]
    lab.vms(vms, mtu=mtu or 1500)
    for n in names:
        h.wait_link(n)
    return h, vms


def test_unicast_reaches_only_the_learned_port(lab):
    h, (a, b, c) = three_vms(lab)
    announce(b)
    time.sleep(0.5)
    fdb = {e["mac"]: e["port"] for e in h.ctl("fdb", "show")}
    assert fdb.get(b.mac) == "vm2"

    frames = [frame(a, b, tag=i) for i in range(20)]
    got = exchange(a, frames, [b, c])
    assert got["vm2"] == [bytes(f) for f in frames]
    assert got["vm3"] == []
    st = h.assert_balanced()
    by_name = {p["name"]: p for p in st}
    assert by_name["vm1"]["rx_packets"] == 20
    assert by_name["vm2"]["tx_packets"] == 20  # b's announce flooded to vm1 and vm3 only
    assert by_name["vm3"]["tx_packets"] == 1


def test_broadcast_and_unknown_unicast_flood_but_never_return(lab):
    h, (a, b, c) = three_vms(lab)
    bcast = [frame(a, "ff:ff:ff:ff:ff:ff", tag=i) for i in range(5)]
    unknown = [frame(a, "02:00:00:00:00:99", tag=10 + i) for i in range(5)]
    got = exchange(a, bcast + unknown, [a, b, c])
    want = [bytes(f) for f in bcast + unknown]
    assert got["vm2"] == want
    assert got["vm3"] == want
    assert got["vm1"] == []  # never back out of the ingress port
    st = {p["name"]: p for p in h.assert_balanced()}
    assert st["vm1"]["flood_copies"] == 10


def test_frame_to_a_mac_on_its_own_port_is_dropped_and_counted(lab):
    h, (a, b, c) = three_vms(lab)
    announce(a)
    time.sleep(0.5)
    other = Vm("x", a.sock, "02:00:00:00:00:77")
    other.host_if = a.host_if
    got = exchange(other, [frame(other, a, tag=1)], [b, c])
    assert got == {"vm2": [], "vm3": []}
    st = {p["name"]: p for p in h.assert_balanced()}
    assert st["vm1"]["drops"]["same_port"] == 1


def test_bad_source_mac_is_dropped_and_counted(lab):
    h, (a, b, c) = three_vms(lab)
    bad = Vm("bad", a.sock, "01:00:5e:00:00:01")  # multicast source: not a station
    bad.host_if = a.host_if
    got = exchange(bad, [frame(bad, "ff:ff:ff:ff:ff:ff")], [b, c])
    assert got == {"vm2": [], "vm3": []}
    assert {p["name"]: p for p in h.assert_balanced()}["vm1"]["drops"]["bad_frame"] == 1
    assert all(e["mac"] != bad.mac for e in h.ctl("fdb", "show"))


def test_learned_entries_age_out(lab):
    h, (a, b, c) = three_vms(lab, extra="[bridge br0]\naging = 2\n")
    announce(a)
    time.sleep(0.5)
    assert any(e["mac"] == a.mac for e in h.ctl("fdb", "show"))
    time.sleep(3.5)
    assert all(e["mac"] != a.mac for e in h.ctl("fdb", "show"))
    # once forgotten, frames to it are flooded again
    got = exchange(b, [frame(b, a, tag=3)], [a, c])
    assert len(got["vm1"]) == 1 and len(got["vm3"]) == 1


def test_mac_move_follows_the_station(lab):
    h, (a, b, c) = three_vms(lab)
    announce(a)
    time.sleep(0.3)
    moved = Vm("moved", c.sock, a.mac)  # a's MAC now speaks from vm3's port
    moved.host_if = c.host_if
    announce(moved)
    time.sleep(0.3)
    assert {e["mac"]: e["port"] for e in h.ctl("fdb", "show")}[a.mac] == "vm3"
    got = exchange(b, [frame(b, a, tag=5)], [a, c])
    assert got["vm1"] == [] and len(got["vm3"]) == 1


def test_jumbo_frames_cross_byte_identical(lab):
    h, (a, b, c) = three_vms(lab, mtu=9000)
    announce(b)
    time.sleep(0.3)
    frames = [frame(a, b, size=9014, tag=i) for i in range(5)]  # 9000-byte IP packet
    got = exchange(a, frames, [b])
    assert got["vm2"] == [bytes(f) for f in frames]
    assert all(len(f) == 9014 for f in got["vm2"])
    h.assert_balanced()


def test_jumbo_broadcast_reaches_every_vm_intact(lab):
    # a 9014-byte frame is a chain of buffers inside hashi, shared by the flood's targets
    h, (a, b, c) = three_vms(lab, mtu=9000)
    frames = [frame(a, "ff:ff:ff:ff:ff:ff", size=9014, tag=i) for i in range(20)]
    got = exchange(a, frames, [b, c])
    st = {p["name"]: p for p in h.assert_balanced()}
    assert (st["vm2"]["tx_packets"], st["vm3"]["tx_packets"]) == (20, 20), st
    assert got["vm2"] == [bytes(f) for f in frames]
    assert got["vm3"] == [bytes(f) for f in frames]
    st = {p["name"]: p for p in h.assert_balanced()}
    assert st["vm1"]["flood_copies"] == 20


def test_frame_above_the_port_mtu_is_dropped_and_counted(lab):
    names = ["big", "small"]
    h = lab.hashi(f"[port big]\npath = {lab.dir}/big.sock\nmtu = 9000\n"
                  f"[port small]\npath = {lab.dir}/small.sock\nmtu = 1500\n")
    big, small = Vm("big", h.sock("big"), "02:00:00:00:01:01"), \
        Vm("small", h.sock("small"), "02:00:00:00:01:02")
    lab.vms([big, small], mtu=9000)
    for n in names:
        h.wait_link(n)
    announce(small)
    time.sleep(0.3)
    got = exchange(big, [frame(big, small, size=4000), frame(big, small, size=1514, tag=1)],
                   [small])
    assert [len(f) for f in got["small"]] == [1514]
    st = {p["name"]: p for p in h.assert_balanced()}
    assert st["small"]["drops"]["tx_too_big"] == 1


def test_partial_checksums_are_completed_for_a_vm_without_checksum_offload(lab):
    from scapy.all import IP, TCP, UDP, Ether, Raw

    h = lab.hashi(vhost_ports(["sender", "receiver"], workdir=lab.dir))
    a = Vm("sender", h.sock("sender"), "02:00:00:00:06:01")
    b = Vm("receiver", h.sock("receiver"), "02:00:00:00:06:02")
    # The sender's testpmd recomputes each frame's checksums with hardware offload on its
    # virtio port: frames reach hashi with a pseudo-header sum and VIRTIO_NET_HDR_F_NEEDS_CSUM.
    # The receiver negotiated no checksum offload, so hashi must finish the checksums.
    lab.vms([a], commands=["set fwd csum", "port stop 0", "csum set ip sw 0",
                           "csum set tcp hw 0", "csum set udp hw 0", "port start 0"])
    lab.vms([b])
    h.wait_link("sender")
    h.wait_link("receiver")
    wait_for(lambda: "csum" in h.ports()["sender"]["features"], 20, what="CSUM negotiated")
    assert h.ports()["receiver"]["offloads"]["csum"] is False
    announce(b)
    time.sleep(0.3)

    sent = []
    for i, size in enumerate((1, 100, 1001, 1460)):
        # a wrong checksum on the wire into the sender: only a real completion makes it right
        l4 = TCP(sport=4000 + i, dport=80, seq=1000 * i, flags="PA", chksum=0x1234) \
            if i % 2 == 0 else UDP(sport=5000 + i, dport=53, chksum=0x1234)
        sent.append(Ether(src=a.mac, dst=b.mac) / IP(src="10.9.0.1", dst="10.9.0.2", id=i) /
                    l4 / Raw(bytes((i + j) & 0xff for j in range(size))))
    got = exchange(a, sent, [b])["receiver"]
    assert len(got) == len(sent)
    for raw in got:
        pkt = Ether(raw)
        l4 = pkt[TCP] if pkt.haslayer(TCP) else pkt[UDP]
        on_wire = l4.chksum
        del l4.chksum
        assert Ether(bytes(pkt))[l4.__class__].chksum == on_wire, pkt.summary()
    st = {p["name"]: p for p in h.assert_balanced()}
    assert st["receiver"]["tx_packets"] == len(sent)
