/*
 * TAP ports: hashi reads and writes Ethernet frames of a kernel TAP device through
 * /dev/net/tun, each with a virtio-net header (IFF_VNET_HDR), so TSO frames and partial
 * checksums cross between the kernel and hashi whole (DPDK's net_tap drops these headers, which
 * is why this is hashi's own code).
 *
 * Opening creates the device when it is absent (it then lives as long as the port) and attaches
 * to it when it exists: a persistent TAP made by `ip tuntap add`, or one libvirt prepared.
 * A device hashi creates is multi-queue (IFF_MULTI_QUEUE), so that `port set NAME queues N`
 * can add and remove queues while it runs; an existing one is opened multi-queue when queues
 * is above 1. hashi holds one descriptor per queue, each a receive queue of the port polled by
 * one worker; the kernel spreads its transmissions over them by flow. Frames toward the kernel
 * go through the descriptor their flow hashes to: any would do for the kernel, but one per
 * flow keeps its frames in order whichever worker sends them.
 *
 * TUNSETOFFLOAD tells the kernel what hashi accepts from it: with offload on, TSO4/TSO6 and
 * partial checksums, which the switch segments or completes for receivers that need it.
 */
#include <errno.h>
#include <stdatomic.h>
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
    bool multi_queue;
    uint32_t max_frame;
    struct rte_mempool *pool; /* sizes reads */
    uint16_t n_queues;        /* open descriptors (control thread) */
    atomic_ushort n_txq;      /* of them, those workers send through */
    struct port_env env;
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
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (tp->multi_queue ? IFF_MULTI_QUEUE : 0);
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
                     tp->ifname, tp->multi_queue ? "multi-queue" : "a single queue");
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

/* Closes queues from..to-1. */
static void close_queues(struct tap_port *tp, uint16_t from, uint16_t to)
{
    for (uint16_t q = from; q < to; q++) {
        vnet_queue_fini(&tp->queues[q]);
        close(tp->queues[q].fd);
    }
}

/* Opens queues until there are n. Returns 0, or -1 with err set (the queues opened stay). */
static int open_queues(struct tap_port *tp, uint16_t n, char *err, size_t errlen)
{
    for (; tp->n_queues < n; tp->n_queues++) {
        int fd = open_queue(tp, err, errlen);
        if (fd < 0)
            return -1;
        if (vnet_queue_init(&tp->queues[tp->n_queues], fd, true, false, tp->max_frame, tp->pool) !=
            0) {
            close(fd);
            snprintf(err, errlen, "the buffer pool's mbufs are too small for %u-byte frames",
                     tp->max_frame);
            return -1;
        }
    }
    return 0;
}

static int tap_open(const struct port_config *cfg, const struct port_env *env, struct port **out,
                    char *err, size_t errlen)
{
    struct tap_port *tp = rte_zmalloc("tap_port", sizeof *tp, RTE_CACHE_LINE_SIZE);
    int rc;

    if (!tp) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    port_init(&tp->up, &tap_port_class, cfg);
    strcpy(tp->ifname, cfg->ifname);
    tp->offload = cfg->offload;
    tp->created = if_nametoindex(tp->ifname) == 0;
    tp->multi_queue = tp->created || cfg->queues > 1;
    tp->max_frame = tp->offload ? VNET_QUEUE_MAX_FRAME : tp->up.max_frame;
    tp->pool = env->pool;
    tp->env = *env;
    if (open_queues(tp, (uint16_t)cfg->queues, err, errlen) != 0) {
        rc = EINVAL;
        goto fail;
    }
    /* A device hashi made gets the port's MTU and is up, ready to be moved into a namespace or
     * addressed; one that existed keeps what its owner gave it. */
    if (tp->created &&
        ((rc = netif_set_mtu(tp->ifname, cfg->mtu)) != 0 || (rc = netif_set_up(tp->ifname)) != 0)) {
        snprintf(err, errlen, "cannot set up tap %s: %s", tp->ifname, strerror(rc));
        goto fail;
    }
    tp->up.n_rxq = tp->n_queues;
    atomic_init(&tp->n_txq, tp->n_queues);
    *out = &tp->up;
    return 0;

fail:
    close_queues(tp, 0, tp->n_queues);
    rte_free(tp);
    return rc;
}

static void tap_close(struct port *port)
{
    struct tap_port *tp = tap_port_cast(port);

    /* a device hashi created is not persistent: the kernel removes it with the last descriptor */
    close_queues(tp, 0, tp->n_queues);
    rte_free(tp);
}

static int tap_set_queues(struct port *port, uint16_t n, char *err, size_t errlen)
{
    struct tap_port *tp = tap_port_cast(port);

    if (!tp->multi_queue && n > 1) {
        snprintf(err, errlen,
                 "tap %s was made by another program without multi-queue; recreate it with "
                 "`ip tuntap add ... multi_queue` to give it more queues",
                 tp->ifname);
        return EINVAL;
    }
    if (n > tp->n_queues) {
        int rc = open_queues(tp, n, err, errlen) == 0 ? 0 : EINVAL;
        atomic_store(&tp->n_txq, tp->n_queues);
        port->n_rxq = tp->n_queues;
        return rc;
    }
    /* workers stop sending through the queues that go before they are closed */
    atomic_store(&tp->n_txq, n);
    tp->env.sync(tp->env.sync_ctx);
    close_queues(tp, n, tp->n_queues);
    tp->n_queues = n;
    port->n_rxq = n;
    return 0;
}

static uint16_t tap_rx_burst(struct port *port, uint16_t queue, const struct port_io *io,
                             struct rte_mbuf **pkts, uint16_t n)
{
    return vnet_queue_rx(&tap_port_cast(port)->queues[queue], io, pkts, n);
}

static int tap_rx_wait(struct port *port, uint16_t queue, bool arm)
{
    /* the descriptor is readable while the queue holds a frame: nothing to arm or consume */
    return arm ? tap_port_cast(port)->queues[queue].fd : 0;
}

static uint16_t tap_tx_burst(struct port *port, const struct port_io *io, struct rte_mbuf **pkts,
                             uint16_t n)
{
    struct tap_port *tp = tap_port_cast(port);
    /* acquire: a queue added at run time is open before its count is published */
    uint16_t n_txq = atomic_load_explicit(&tp->n_txq, memory_order_acquire);
    struct port_flow_split split;
    uint16_t sent = 0;

    if (n_txq == 1)
        return vnet_queue_tx(&tp->queues[0], io, pkts, n);
    port_split_by_flow(&split, pkts, n, n_txq);
    for (uint16_t q = 0; q < n_txq; q++)
        if (split.count[q])
            sent += vnet_queue_tx(&tp->queues[q], io, split.pkts[q], split.count[q]);
    return sent;
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
    .rx_wait = tap_rx_wait,
    .set_queues = tap_set_queues,
    .link_up = tap_link_up,
    .offloads = tap_offloads,
    .coalesce_limits = vnet_queue_coalesce_limits,
    .describe = tap_describe,
};
