/*
 * TAP ports: hashi reads and writes Ethernet frames of a kernel TAP device through
 * /dev/net/tun, each with a virtio-net header (IFF_VNET_HDR), so TSO frames and partial
 * checksums cross between the kernel and hashi whole (DPDK's net_tap drops these headers, which
 * is why this is hashi's own code).
 *
 * Opening creates the device when it is absent (it then lives as long as the port) and attaches
 * to it when it exists: a persistent TAP made by `ip tuntap add`, or one libvirt prepared.
 * With queues > 1 the device is multi-queue (IFF_MULTI_QUEUE) and hashi holds one descriptor
 * per queue; the kernel spreads its transmissions over them by flow, and hashi polls them all.
 *
 * TUNSETOFFLOAD tells the kernel what hashi accepts from it: with offload on, TSO4/TSO6 and
 * partial checksums, which the switch segments or completes for receivers that need it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "ports/netif.h"
#include "ports/port.h"
#include "ports/vnet_queue.h"
#include "util/util.h"

struct tap_port {
    struct port up;
    char ifname[CONFIG_IFNAME_SIZE];
    bool created; /* hashi made the device, so it goes when the port goes */
    bool offload;
    uint16_t n_queues;
    uint16_t next_rxq; /* where the next poll starts, so no queue starves the others */
    struct vnet_queue queues[CONFIG_QUEUES_MAX];
};

const struct port_class tap_port_class;

static struct tap_port *tap_port_cast(const struct port *port)
{
    return container_of(port, struct tap_port, up);
}

/* Opens one queue descriptor of the device, creating the device if needed. */
static int open_queue(struct tap_port *tp, char *err, size_t errlen)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    int hdr_size = sizeof(struct virtio_net_hdr);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open /dev/net/tun: %s (load the tun module; run as root)",
                 strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    util_strlcpy(ifr.ifr_name, tp->ifname, sizeof ifr.ifr_name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (tp->n_queues > 1 ? IFF_MULTI_QUEUE : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        if (e == EBUSY)
            snprintf(err, errlen,
                     "tap %s is in use by another program (a TAP without multi-queue has one "
                     "reader); stop it or give the port another ifname",
                     tp->ifname);
        else if (e == EINVAL)
            snprintf(err, errlen,
                     "%s exists but is not a TAP with %s; delete it or set queues to match",
                     tp->ifname, tp->n_queues > 1 ? "multi-queue" : "a single queue");
        else
            snprintf(err, errlen, "cannot attach to tap %s: %s", tp->ifname, strerror(e));
        close(fd);
        return -1;
    }
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0 ||
        ioctl(fd, TUNSETOFFLOAD,
              (unsigned long)(tp->offload ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0)) < 0) {
        snprintf(err, errlen, "cannot set the offloads of tap %s: %s", tp->ifname, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void close_queues(struct tap_port *tp, uint16_t n)
{
    for (uint16_t q = 0; q < n; q++) {
        vnet_queue_fini(&tp->queues[q]);
        close(tp->queues[q].fd);
    }
}

static int tap_open(const struct port_config *cfg, const struct port_env *env, struct port **out,
                    char *err, size_t errlen)
{
    struct tap_port *tp = rte_zmalloc("tap_port", sizeof *tp, RTE_CACHE_LINE_SIZE);
    uint32_t max_frame;
    uint16_t q;
    int rc;

    if (!tp) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    port_init(&tp->up, &tap_port_class, cfg);
    strcpy(tp->ifname, cfg->ifname);
    tp->offload = cfg->offload;
    tp->n_queues = (uint16_t)cfg->queues;
    tp->created = if_nametoindex(tp->ifname) == 0;
    max_frame = tp->offload ? VNET_QUEUE_MAX_FRAME : tp->up.max_frame;

    for (q = 0; q < tp->n_queues; q++) {
        int fd = open_queue(tp, err, errlen);
        if (fd < 0) {
            rc = EINVAL;
            goto fail;
        }
        if (vnet_queue_init(&tp->queues[q], fd, true, false, max_frame, env->pool) != 0) {
            close(fd);
            snprintf(err, errlen, "the buffer pool's mbufs are too small for %u-byte frames",
                     max_frame);
            rc = EINVAL;
            goto fail;
        }
    }
    /* A device hashi made gets the port's MTU and is up, ready to be moved into a namespace or
     * addressed; one that existed keeps what its owner gave it. */
    if (tp->created &&
        ((rc = netif_set_mtu(tp->ifname, cfg->mtu)) != 0 || (rc = netif_set_up(tp->ifname)) != 0)) {
        snprintf(err, errlen, "cannot set up tap %s: %s", tp->ifname, strerror(rc));
        goto fail;
    }
    *out = &tp->up;
    return 0;

fail:
    close_queues(tp, q);
    rte_free(tp);
    return rc;
}

static void tap_close(struct port *port)
{
    struct tap_port *tp = tap_port_cast(port);

    /* a device hashi created is not persistent: the kernel removes it with the last descriptor */
    close_queues(tp, tp->n_queues);
    rte_free(tp);
}

static uint16_t tap_rx_burst(struct port *port, struct rte_mbuf **pkts, uint16_t n)
{
    struct tap_port *tp = tap_port_cast(port);
    uint16_t got = 0;

    for (uint16_t i = 0; i < tp->n_queues && got < n; i++) {
        uint16_t q = (uint16_t)((tp->next_rxq + i) % tp->n_queues);
        got += vnet_queue_rx(&tp->queues[q], port, pkts + got, (uint16_t)(n - got));
    }
    tp->next_rxq = (uint16_t)((tp->next_rxq + 1) % tp->n_queues);
    return got;
}

static uint16_t tap_tx_burst(struct port *port, struct rte_mbuf **pkts, uint16_t n)
{
    /* any queue's descriptor injects into the same device; the kernel does not care which */
    return vnet_queue_tx(&tap_port_cast(port)->queues[0], port, pkts, n);
}

static bool tap_link_up(const struct port *port)
{
    (void)port;
    return true; /* the kernel takes frames whenever the descriptor is open */
}

static uint32_t tap_offloads(const struct port *port)
{
    return tap_port_cast(port)->offload ? PORT_OL_CSUM | PORT_OL_TSO4 | PORT_OL_TSO6 : 0;
}

static void tap_describe(struct port *port, json_t *out)
{
    const struct tap_port *tp = tap_port_cast(port);

    json_object_set_new(out, "ifname", json_string(tp->ifname));
    json_object_set_new(out, "queues", json_integer(tp->n_queues));
    json_object_set_new(out, "created", json_boolean(tp->created));
}

const struct port_class tap_port_class = {
    .type = "tap",
    .open = tap_open,
    .close = tap_close,
    .rx_burst = tap_rx_burst,
    .tx_burst = tap_tx_burst,
    .link_up = tap_link_up,
    .offloads = tap_offloads,
    .coalesce_limits = vnet_queue_coalesce_limits,
    .describe = tap_describe,
};
