/*
 * AF_XDP uplinks through DPDK's net_af_xdp (libxdp/libbpf): an XDP program on the interface
 * redirects received frames into a socket whose buffers are hashi's mbufs, so frames skip the
 * kernel's network stack. Cheaper per frame than AF_PACKET, but without offloads: every frame is
 * a plain Ethernet frame in one buffer (DPDK 22.11 has no AF_XDP multi-buffer), so the MTU is
 * bounded by one mbuf and TSO frames are segmented in software on the way out.
 *
 * One queue each way: the ethdev's one transmit queue is shared by every worker under a
 * spinlock, the one lock on hashi's fast path (an interface with more channels could give each
 * worker its own; a veth has one).
 *
 * The switch reaches the device only through this port class; the ethdev is created when the
 * port opens (rte_vdev_init) and removed when it closes.
 *
 * Each AF_XDP port receives into a buffer pool of its own, registered with the kernel as the
 * socket's memory (UMEM), and closing the port frees that pool whole: DPDK 22.11's net_af_xdp
 * does not return the buffers left in its fill ring when it closes (2048 per port), which in
 * the shared pool would starve every other port after a few deletions.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_spinlock.h>

#include "ports/port.h"
#include "util/util.h"

#define AFXDP_RING_SIZE  1024
#define AFXDP_POOL_SIZE  8191 /* fill + rx + tx rings, frames in the switch, per-core cache */
#define AFXDP_POOL_CACHE 256

struct afxdp_port {
    struct port up;
    char ifname[CONFIG_IFNAME_SIZE];
    char vdev[RTE_DEV_NAME_MAX_LEN];
    uint16_t eth_port;
    struct rte_mempool *pool;
    rte_spinlock_t tx_lock;
};

const struct port_class afxdp_port_class;

static struct afxdp_port *afxdp_port_cast(const struct port *port)
{
    return container_of(port, struct afxdp_port, up);
}

/* The port's own pool, buffers as large as the shared pool's. (Page-sized buffers would carry
 * a larger MTU, but net_af_xdp 22.11 fails to register them as UMEM here.) */
static struct rte_mempool *create_pool(void)
{
    static unsigned n_created; /* control thread only; names must be unique, not meaningful */
    char name[RTE_MEMPOOL_NAMESIZE];

    snprintf(name, sizeof name, "afxdp_%u", n_created++);
    return rte_pktmbuf_pool_create(name, AFXDP_POOL_SIZE, AFXDP_POOL_CACHE, 0,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
}

/* The largest MTU a frame can have and still fit one buffer after the headroom XDP keeps in
 * front of it; larger frames the kernel drops unseen. */
static uint32_t max_mtu(const struct rte_eth_dev_info *info, struct rte_mempool *pool)
{
    uint32_t frame = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM - XDP_PACKET_HEADROOM;

    return RTE_MIN(info->max_mtu, frame - RTE_ETHER_HDR_LEN - RTE_VLAN_HLEN);
}

/* Configures and starts the ethdev with one queue pair. Returns 0, or -1 with err set. */
static int start_device(struct afxdp_port *xp, char *err, size_t errlen)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
    uint16_t id = xp->eth_port;
    int socket = rte_eth_dev_socket_id(id);
    int rc;

    memset(&conf, 0, sizeof conf);
    if ((rc = rte_eth_dev_info_get(id, &info)) != 0) {
        snprintf(err, errlen, "AF_XDP device on %s: %s", xp->ifname, rte_strerror(-rc));
        return -1;
    }
    if (xp->up.mtu > max_mtu(&info, xp->pool)) {
        snprintf(err, errlen,
                 "AF_XDP on %s carries an MTU of at most %u (one buffer per frame); lower mtu, "
                 "or use type afpacket for jumbo frames",
                 xp->ifname, max_mtu(&info, xp->pool));
        return -1;
    }
    if ((rc = rte_eth_dev_configure(id, 1, 1, &conf)) != 0 ||
        (rc = rte_eth_dev_set_mtu(id, (uint16_t)xp->up.mtu)) != 0 ||
        (rc = rte_eth_rx_queue_setup(id, 0, AFXDP_RING_SIZE, (unsigned)socket, NULL, xp->pool)) !=
            0 ||
        (rc = rte_eth_tx_queue_setup(id, 0, AFXDP_RING_SIZE, (unsigned)socket, NULL)) != 0 ||
        (rc = rte_eth_dev_start(id)) != 0) {
        snprintf(err, errlen, "cannot start AF_XDP on %s: %s (hashi's log has DPDK's reason)",
                 xp->ifname, rte_strerror(-rc));
        return -1;
    }
    if ((rc = rte_eth_promiscuous_enable(id)) != 0)
        LOG_WARN("port %s: promiscuous mode on %s: %s", xp->up.name, xp->ifname, rte_strerror(-rc));
    return 0;
}

static int afxdp_open(const struct port_config *cfg, const struct port_env *env, struct port **out,
                      char *err, size_t errlen)
{
    struct afxdp_port *xp = rte_zmalloc("afxdp_port", sizeof *xp, RTE_CACHE_LINE_SIZE);
    char args[64];

    (void)env; /* frames arrive in the port's own pool */
    if (!xp) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    port_init(&xp->up, &afxdp_port_class, cfg);
    strcpy(xp->ifname, cfg->ifname);
    rte_spinlock_init(&xp->tx_lock);
    if (if_nametoindex(xp->ifname) == 0) {
        snprintf(err, errlen, "interface %s does not exist; create it or fix iface", xp->ifname);
        rte_free(xp);
        return ENODEV;
    }
    if (!(xp->pool = create_pool())) {
        snprintf(err, errlen, "cannot create the AF_XDP buffer pool (%s); give DPDK more memory",
                 rte_strerror(rte_errno));
        rte_free(xp);
        return ENOMEM;
    }
    snprintf(xp->vdev, sizeof xp->vdev, "net_af_xdp_%s", cfg->name);
    snprintf(args, sizeof args, "iface=%s,start_queue=0,queue_count=1", xp->ifname);
    if (rte_vdev_init(xp->vdev, args) != 0 ||
        rte_eth_dev_get_port_by_name(xp->vdev, &xp->eth_port) != 0) {
        snprintf(err, errlen,
                 "cannot create an AF_XDP socket on %s (is the interface up, and does the "
                 "kernel allow XDP on it? hashi's log has DPDK's reason)",
                 xp->ifname);
        rte_vdev_uninit(xp->vdev);
        rte_mempool_free(xp->pool);
        rte_free(xp);
        return EINVAL;
    }
    if (start_device(xp, err, errlen) != 0) {
        rte_eth_dev_close(xp->eth_port);
        rte_vdev_uninit(xp->vdev);
        rte_mempool_free(xp->pool);
        rte_free(xp);
        return EINVAL;
    }
    *out = &xp->up;
    return 0;
}

static void afxdp_close(struct port *port)
{
    struct afxdp_port *xp = afxdp_port_cast(port);

    rte_eth_dev_stop(xp->eth_port);
    rte_eth_dev_close(xp->eth_port);
    rte_vdev_uninit(xp->vdev);
    /* the switch holds none of these buffers now: it was detached from the port, and what the
     * port received was sent (copied out, or by other AF_XDP ports) or freed before that */
    rte_mempool_free(xp->pool);
    rte_free(xp);
}

static uint16_t afxdp_rx_burst(struct port *port, uint16_t queue, const struct port_io *io,
                               struct rte_mbuf **pkts, uint16_t n)
{
    (void)io; /* frames arrive in the port's own pool, counted by the switch */
    return rte_eth_rx_burst(afxdp_port_cast(port)->eth_port, queue, pkts, n);
}

static uint16_t afxdp_tx_burst(struct port *port, const struct port_io *io, struct rte_mbuf **pkts,
                               uint16_t n)
{
    struct afxdp_port *xp = afxdp_port_cast(port);
    uint32_t len[PORT_TX_BUFFER];
    uint16_t whole = 0, sent;

    /* net_af_xdp 22.11 copies pkt_len bytes from the first segment only: a chained frame
     * (none fits the MTU today, but a smaller buffer size would make them) is refused */
    for (uint16_t i = 0; i < n; i++) {
        if (likely(pkts[i]->nb_segs == 1)) {
            len[whole] = rte_pktmbuf_pkt_len(pkts[i]);
            pkts[whole++] = pkts[i];
        } else {
            io->stats->drops[PORT_DROP_TX_BAD_OFFLOAD]++;
            rte_pktmbuf_free(pkts[i]);
        }
    }
    rte_spinlock_lock(&xp->tx_lock);
    sent = rte_eth_tx_burst(xp->eth_port, 0, pkts, whole);
    rte_spinlock_unlock(&xp->tx_lock);
    /* the PMD owns (and may have freed) what it took: their lengths were noted before */
    for (uint16_t i = 0; i < sent; i++)
        io->stats->tx_bytes += len[i];
    rte_pktmbuf_free_bulk(pkts + sent, whole - sent);
    io->stats->drops[PORT_DROP_TX_RING_FULL] += whole - sent;
    return sent;
}

static bool afxdp_link_up(const struct port *port)
{
    (void)port;
    return true; /* frames sent while the interface is down are the kernel's to drop */
}

static uint32_t afxdp_offloads(const struct port *port)
{
    (void)port;
    return 0;
}

static void afxdp_describe(struct port *port, json_t *out)
{
    json_object_set_new(out, "iface", json_string(afxdp_port_cast(port)->ifname));
}

const struct port_class afxdp_port_class = {
    .type = "afxdp",
    .open = afxdp_open,
    .close = afxdp_close,
    .rx_burst = afxdp_rx_burst,
    .tx_burst = afxdp_tx_burst,
    .link_up = afxdp_link_up,
    .offloads = afxdp_offloads,
    .describe = afxdp_describe,
};
