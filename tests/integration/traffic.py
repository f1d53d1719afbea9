"""Injecting frames into test VMs and sniffing what they receive (scapy on the veths)."""
import socket
import threading
import time

from scapy.all import AsyncSniffer, Ether, Raw, conf, sendp

SO_RCVBUFFORCE = 33  # Linux; root may exceed net.core.rmem_max


def exchange(sender, frames, listeners, settle=1.5):
    """Sends `frames` from VM `sender`; returns {vm name: [frame bytes]} of what each listener
    VM received (its own transmissions left out)."""
    sniffers = {}
    for vm in listeners:
        ready = threading.Event()
        sock = conf.L2listen(iface=vm.host_if)
        # a burst of jumbo frames overflows scapy's default 64 KB receive buffer
        sock.ins.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        sn = AsyncSniffer(opened_socket=sock, store=True, started_callback=ready.set)
        sn.start()
        ready.wait(5)
        sniffers[vm.name] = (vm, sn, sock)
    time.sleep(0.2)
    if frames:
        sendp(frames, iface=sender.host_if, verbose=False)
    time.sleep(settle)
    got = {}
    for name, (vm, sn, sock) in sniffers.items():
        pkts = sn.stop()
        sock.close()
        got[name] = [bytes(p) for p in pkts if p.haslayer(Ether) and p[Ether].src != vm.mac]
    return got


def announce(vm):
    """One broadcast frame from vm, so the switch learns its MAC."""
    sendp(Ether(src=vm.mac, dst="ff:ff:ff:ff:ff:ff", type=0x88b5) / Raw(b"hello" * 10),
          iface=vm.host_if, verbose=False)


def frame(src, dst, size=64, tag=0):
    """A test frame of `size` bytes (no FCS) whose payload encodes `tag`, with a local
    experimental EtherType so no stack reacts to it."""
    head = Ether(src=src.mac, dst=dst if isinstance(dst, str) else dst.mac, type=0x88b5)
    body = tag.to_bytes(4, "big") + bytes((i * 7 + tag) & 0xff for i in range(size - 18))
    return head / Raw(body)
