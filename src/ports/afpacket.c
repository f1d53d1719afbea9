/*
 * AF_PACKET uplinks: a packet socket bound to a NIC or veth, promiscuous, that sees every frame
 * the interface receives and sends frames out of it. The socket always carries a virtio-net
 * header (PACKET_VNET_HDR), like a TAP: frames the kernel coalesced (GRO) arrive whole as TSO
 * frames and partial checksums arrive marked, so the switch segments and completes them for
 * receivers that need it. `offload` decides what hashi sends: with it on, TSO frames and
 * partial checksums leave whole for the NIC (or the kernel's GSO); with it off, only finished
 * wire frames.
 *
 * hashi's own socket code rather than DPDK's net_af_packet, because net_af_packet has no
 * virtio-net header: it would truncate GRO frames and could not hand TSO to the kernel.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "ports/netif.h"
#include "ports/port.h"
#include "ports/vnet_queue.h"
#include "util/util.h"

#define AFPACKET_SOCKET_BUFFER (8 << 20) /* bytes; rides out a worker pause at 10 Gbit/s */

struct afpacket_port {
    struct port up;
    char ifname[CONFIG_IFNAME_SIZE];
    bool offload;
    int fd;
    uint64_t kernel_drops; /* control thread only: frames the kernel dropped, socket full */
    struct vnet_queue queue;
};

const struct port_class afpacket_port_class;

static struct afpacket_port *afpacket_port_cast(const struct port *port)
{
    return container_of(port, struct afpacket_port, up);
}

static int set_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value);
}

/* A packet socket on ifindex: promiscuous, blind to the frames it sends itself, with large
 * buffers. Returns the descriptor, or -1 with err set. */
static int open_socket(const struct afpacket_port *ap, unsigned ifindex, char *err, size_t errlen)
{
    struct sockaddr_ll addr = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ifindex};
    struct packet_mreq promisc = {.mr_ifindex = (int)ifindex, .mr_type = PACKET_MR_PROMISC};
    /* protocol 0: no frame is queued before bind() picks the interface (ETH_P_ALL here would
     * take every interface's frames meanwhile) */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step;

    if (fd < 0) {
        snprintf(err, errlen, "cannot open a packet socket: %s (run as root)", strerror(errno));
        return -1;
    }
    step = "PACKET_VNET_HDR";
    if (set_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0)
        goto fail;
    step = "PACKET_AUXDATA"; /* the VLAN tags the kernel takes off received frames */
    if (set_int(fd, SOL_PACKET, PACKET_AUXDATA, 1) < 0)
        goto fail;
    step = "PACKET_IGNORE_OUTGOING";
    if (set_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1) < 0)
        goto fail;
    step = "socket buffers";
    if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, AFPACKET_SOCKET_BUFFER) < 0 ||
        set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, AFPACKET_SOCKET_BUFFER) < 0)
        goto fail;
    step = "bind";
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        goto fail;
    step = "promiscuous mode";
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof promisc) < 0)
        goto fail;
    return fd;

fail:
    snprintf(err, errlen, "packet socket on %s: %s failed: %s", ap->ifname, step, strerror(errno));
    close(fd);
    return -1;
}

static int afpacket_open(const struct port_config *cfg, const struct port_env *env,
                         struct port **out, char *err, size_t errlen)
{
    struct afpacket_port *ap = rte_zmalloc("afpacket_port", sizeof *ap, RTE_CACHE_LINE_SIZE);
    unsigned ifindex = if_nametoindex(cfg->ifname);
    int rc;

    if (!ap) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    port_init(&ap->up, &afpacket_port_class, cfg);
    strcpy(ap->ifname, cfg->ifname);
    ap->offload = cfg->offload;
    if (ifindex == 0) {
        snprintf(err, errlen, "interface %s does not exist; create it or fix iface", cfg->ifname);
        rc = ENODEV;
        goto fail;
    }
    if ((rc = netif_set_up(ap->ifname)) != 0) {
        snprintf(err, errlen, "cannot bring %s up: %s", ap->ifname, strerror(rc));
        goto fail;
    }
    if ((ap->fd = open_socket(ap, ifindex, err, errlen)) < 0) {
        rc = EINVAL;
        goto fail;
    }
    if (vnet_queue_init(&ap->queue, ap->fd, true, true, VNET_QUEUE_MAX_FRAME, env->pool) != 0) {
        snprintf(err, errlen, "the buffer pool's mbufs are too small for this MTU");
        close(ap->fd);
        rc = EINVAL;
        goto fail;
    }
    *out = &ap->up;
    return 0;

fail:
    rte_free(ap);
    return rc;
}

static void afpacket_close(struct port *port)
{
    struct afpacket_port *ap = afpacket_port_cast(port);

    vnet_queue_fini(&ap->queue);
    close(ap->fd); /* leaving promiscuous mode with it */
    rte_free(ap);
}

static uint16_t afpacket_rx_burst(struct port *port, struct rte_mbuf **pkts, uint16_t n)
{
    return vnet_queue_rx(&afpacket_port_cast(port)->queue, port, pkts, n);
}

static uint16_t afpacket_tx_burst(struct port *port, struct rte_mbuf **pkts, uint16_t n)
{
    return vnet_queue_tx(&afpacket_port_cast(port)->queue, port, pkts, n);
}

static bool afpacket_link_up(const struct port *port)
{
    (void)port;
    return true; /* a send on a down interface fails and is counted as link_down */
}

static uint32_t afpacket_offloads(const struct port *port)
{
    return afpacket_port_cast(port)->offload ? PORT_OL_CSUM | PORT_OL_TSO4 | PORT_OL_TSO6 : 0;
}

static void afpacket_describe(struct port *port, json_t *out)
{
    struct afpacket_port *ap = afpacket_port_cast(port);
    struct tpacket_stats st;
    socklen_t len = sizeof st;

    json_object_set_new(out, "iface", json_string(ap->ifname));
    /* Frames that never reached hashi because its socket buffer was full: they are outside
     * the port's counters, so they are shown here. Reading the kernel's count resets it. */
    if (getsockopt(ap->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
        ap->kernel_drops += st.tp_drops;
    json_object_set_new(out, "kernel_drops", json_integer((json_int_t)ap->kernel_drops));
}

const struct port_class afpacket_port_class = {
    .type = "afpacket",
    .open = afpacket_open,
    .close = afpacket_close,
    .rx_burst = afpacket_rx_burst,
    .tx_burst = afpacket_tx_burst,
    .link_up = afpacket_link_up,
    .offloads = afpacket_offloads,
    .coalesce_limits = vnet_queue_coalesce_limits,
    .describe = afpacket_describe,
};
