/*
 * vhost-user ports through DPDK's rte_vhost: hashi is the backend of a virtio-net device whose
 * frontend is QEMU (or DPDK's virtio-user). In server mode hashi creates the socket and waits;
 * in client mode it connects to the frontend's socket and rte_vhost reconnects every second
 * while the frontend is away, so a restarted QEMU or hashi finds its peer again unaided.
 *
 * Multiqueue (VIRTIO_NET_F_MQ): the port has `queues` queue pairs, and the guest enables as many
 * as it uses. Each guest transmit queue is a receive queue of the port, polled by one worker.
 * Toward the guest, each frame goes to the enabled receive queue its flow hashes to, so a flow
 * stays on one guest vCPU and flows spread over all of them. Two workers may then send to one
 * guest queue at once; rte_vhost serialises that with the queue's own lock, the one place
 * where workers can meet on a vhost port.
 *
 * rte_vhost calls new_device/destroy_device on its own thread. The worker reads the device id
 * with one atomic load per burst; destroy_device clears it and then waits (port_env.sync) for
 * the worker to leave any rx/tx call it may be in, after which rte_vhost may unmap guest memory.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_vhost.h>

#include "ports/port.h"
#include "util/util.h"

/* Queue pair q is vring 2q (the guest receives: hashi enqueues) and 2q + 1 (the guest
 * transmits: hashi dequeues). */
#define VHOST_GUEST_RX(q) (2u * (q))
#define VHOST_GUEST_TX(q) (2u * (q) + 1)
#define VHOST_ENQUEUE_MAX 32 /* rte_vhost_enqueue_burst silently takes no more (MAX_PKT_BURST) */

/* Features hashi does not handle, withdrawn from rte_vhost's defaults. HOST_TSO4/6 stay: the
 * switch segments TSO frames in software for receivers that cannot take them. The legacy GSO
 * bit would permit any GSO type, ECN and UFO frames hashi cannot segment. */
#define VHOST_UNHANDLED_FEATURES                                                                   \
    ((1ull << VIRTIO_NET_F_GSO) | (1ull << VIRTIO_NET_F_HOST_ECN) |                                \
     (1ull << VIRTIO_NET_F_HOST_UFO) | (1ull << VIRTIO_NET_F_GUEST_UFO) |                          \
     (1ull << VIRTIO_NET_F_GUEST_ECN))

struct vhost_port {
    struct port up;
    char path[CONFIG_PATH_SIZE];
    bool client;
    struct port_env env;
    atomic_int vid;        /* -1 while no frontend is ready */
    atomic_uint offloads;  /* PORT_OL_* from the negotiated features */
    uint64_t features;     /* negotiated, for display; control threads only */
    uint16_t frontend_mtu; /* what the frontend announced, 0 if none */
    uint16_t queue_pairs;  /* configured: the most the guest may use */
    atomic_uint enabled;   /* bit per vring the guest enabled */

    bool mrg_rxbuf; /* a frame may span several posted buffers: written before vid is
                       published, read by the worker after it loads vid */
};

const struct port_class vhost_port_class;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vhost_port *registry[PORT_MAX];

static struct vhost_port *vhost_port_cast(const struct port *port)
{
    return container_of(port, struct vhost_port, up);
}

/* The port whose socket is `vid`'s; the caller holds registry_lock. */
static struct vhost_port *registry_find_vid(int vid)
{
    char path[CONFIG_PATH_SIZE];

    if (rte_vhost_get_ifname(vid, path, sizeof path) < 0)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(registry); i++)
        if (registry[i] && !strcmp(registry[i]->path, path))
            return registry[i];
    return NULL;
}

static uint32_t offloads_from_features(uint64_t features)
{
    uint32_t ol = 0;

    if (features & (1ull << VIRTIO_NET_F_GUEST_CSUM)) {
        ol |= PORT_OL_CSUM;
        if (features & (1ull << VIRTIO_NET_F_GUEST_TSO4))
            ol |= PORT_OL_TSO4;
        if (features & (1ull << VIRTIO_NET_F_GUEST_TSO6))
            ol |= PORT_OL_TSO6;
    }
    return ol;
}

static int vhost_new_device(int vid)
{
    struct vhost_port *vp;
    uint64_t features = 0;
    uint16_t mtu = 0;

    pthread_mutex_lock(&registry_lock);
    vp = registry_find_vid(vid);
    if (!vp || atomic_load(&vp->vid) >= 0) {
        /* a second frontend on a server socket must not take the port from the first */
        if (vp)
            LOG_WARN("port %s: refusing a second frontend on %s", vp->up.name, vp->path);
        pthread_mutex_unlock(&registry_lock);
        return -1;
    }
    rte_vhost_get_negotiated_features(vid, &features);
    if (rte_vhost_get_mtu(vid, &mtu) < 0)
        mtu = 0;
    if (rte_vhost_get_vring_num(vid) > 2u * vp->queue_pairs) {
        LOG_ERR("port %s: the guest has %u queue pairs, the port %u; add the port with "
                "queues = %u (at most %d) or give the guest fewer",
                vp->up.name, rte_vhost_get_vring_num(vid) / 2, vp->queue_pairs,
                rte_vhost_get_vring_num(vid) / 2, CONFIG_QUEUES_MAX);
        pthread_mutex_unlock(&registry_lock);
        return -1;
    }
    /* hashi polls: ask the guest not to kick on every transmit */
    for (uint16_t q = 0; q < rte_vhost_get_vring_num(vid); q++)
        rte_vhost_enable_guest_notification(vid, q, 0);
    vp->features = features;
    vp->frontend_mtu = mtu;
    vp->mrg_rxbuf = features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
    atomic_store(&vp->up.numa, rte_vhost_get_numa_node(vid));
    atomic_store(&vp->offloads, offloads_from_features(features));
    atomic_store_explicit(&vp->vid, vid, memory_order_release);
    LOG_INFO("port %s: frontend ready on %s (features 0x%llx, %u queue pair%s)", vp->up.name,
             vp->path, (unsigned long long)features, rte_vhost_get_vring_num(vid) / 2,
             rte_vhost_get_vring_num(vid) / 2 == 1 ? "" : "s");
    /* sleeping workers look again: their queues can signal now */
    vp->env.wake(vp->env.sync_ctx);
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

static void vhost_destroy_device(int vid)
{
    struct vhost_port *vp;

    bool gone = false;

    pthread_mutex_lock(&registry_lock);
    vp = registry_find_vid(vid);
    if (vp && atomic_load(&vp->vid) < 0)
        atomic_store(&vp->enabled, 0); /* a frontend refused before it was ready */
    if (vp && atomic_load(&vp->vid) == vid) {
        atomic_store(&vp->vid, -1);
        atomic_store(&vp->offloads, 0);
        atomic_store(&vp->enabled, 0); /* a new connection enables its own queues */
        atomic_store(&vp->up.numa, -1);
        gone = true;
    }
    pthread_mutex_unlock(&registry_lock);
    /* Waits for the workers without the registry lock: a worker may be spinning on another
     * guest's queue lock, held by rte_vhost while a callback of that guest waits for the
     * registry lock. (vp stays: the port cannot be closed while rte_vhost is in a callback of
     * its socket.) */
    if (gone) {
        vp->env.sync(vp->env.sync_ctx);
        LOG_INFO("port %s: frontend gone", vp->up.name);
    }
}

/* The guest enables the queue pairs it uses (all of them, or as many as it has vCPUs) and may
 * change that while it runs (ethtool -L). */
static int vhost_vring_state_changed(int vid, uint16_t vring, int enable)
{
    struct vhost_port *vp;

    if (vring >= 32)
        return 0;
    pthread_mutex_lock(&registry_lock);
    vp = registry_find_vid(vid);
    /* a second frontend refused on the port's socket must not touch the first one's queues;
     * the frontend being set up (before new_device) has vid -1 in the port */
    if (vp && (atomic_load(&vp->vid) < 0 || atomic_load(&vp->vid) == vid)) {
        if (enable)
            atomic_fetch_or(&vp->enabled, 1u << vring);
        else
            atomic_fetch_and(&vp->enabled, ~(1u << vring));
        /* a worker asleep with a queue it thought unused looks again (rte_vhost holds the
         * queues' locks here: waiting for a worker that takes one would never end) */
        vp->env.wake(vp->env.sync_ctx);
    }
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

static const struct rte_vhost_device_ops vhost_ops = {
    .new_device = vhost_new_device,
    .destroy_device = vhost_destroy_device,
    .vring_state_changed = vhost_vring_state_changed,
};

/* A server socket left behind by a crashed process is removed; a live one is not. */
static int clear_stale_socket(const char *path, char *err, size_t errlen)
{
    switch (util_socket_state(path)) {
    case UTIL_SOCKET_ABSENT:
        return 0;
    case UTIL_SOCKET_STALE:
        unlink(path);
        return 0;
    case UTIL_SOCKET_LIVE:
        snprintf(err, errlen, "another process listens on %s; choose another path", path);
        return EADDRINUSE;
    case UTIL_SOCKET_NOT_SOCKET:
        break;
    }
    snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another path", path);
    return EEXIST;
}

static int registry_add(struct vhost_port *vp, char *err, size_t errlen)
{
    int rc = ENOSPC;

    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < ARRAY_SIZE(registry); i++)
        if (registry[i] && !strcmp(registry[i]->path, vp->path)) {
            snprintf(err, errlen, "port %s already uses %s", registry[i]->up.name, vp->path);
            rc = EEXIST;
            goto out;
        }
    for (size_t i = 0; i < ARRAY_SIZE(registry); i++)
        if (!registry[i]) {
            registry[i] = vp;
            rc = 0;
            goto out;
        }
    snprintf(err, errlen, "too many vhost-user ports (at most %d)", PORT_MAX);
out:
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

static void registry_remove(struct vhost_port *vp)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < ARRAY_SIZE(registry); i++)
        if (registry[i] == vp)
            registry[i] = NULL;
    pthread_mutex_unlock(&registry_lock);
}

static int vhost_open(const struct port_config *cfg, const struct port_env *env, struct port **out,
                      char *err, size_t errlen)
{
    struct vhost_port *vp = rte_zmalloc("vhost_port", sizeof *vp, RTE_CACHE_LINE_SIZE);
    uint64_t flags = cfg->client ? RTE_VHOST_USER_CLIENT : 0;
    int rc;

    if (!vp) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    port_init(&vp->up, &vhost_port_class, cfg);
    strcpy(vp->path, cfg->path);
    vp->client = cfg->client;
    vp->env = *env;
    vp->queue_pairs = (uint16_t)cfg->queues;
    vp->up.n_rxq = vp->queue_pairs;
    atomic_init(&vp->vid, -1);
    atomic_init(&vp->offloads, 0);
    atomic_init(&vp->enabled, 0);

    if ((rc = registry_add(vp, err, errlen)) != 0)
        goto fail;
    if (!vp->client && (rc = clear_stale_socket(vp->path, err, errlen)) != 0)
        goto fail_registry;
    if (rte_vhost_driver_register(vp->path, flags) < 0) {
        snprintf(err, errlen,
                 "cannot register vhost-user socket %s (is its directory there "
                 "and writable?)",
                 vp->path);
        rc = EINVAL;
        goto fail_registry;
    }
    if (rte_vhost_driver_disable_features(vp->path, VHOST_UNHANDLED_FEATURES) < 0 ||
        rte_vhost_driver_callback_register(vp->path, &vhost_ops) < 0 ||
        rte_vhost_driver_start(vp->path) < 0) {
        snprintf(err, errlen, "cannot start vhost-user socket %s", vp->path);
        rc = EIO;
        goto fail_driver;
    }
    *out = &vp->up;
    return 0;

fail_driver:
    rte_vhost_driver_unregister(vp->path);
fail_registry:
    registry_remove(vp);
fail:
    rte_free(vp);
    return rc;
}

static void vhost_close(struct port *port)
{
    struct vhost_port *vp = vhost_port_cast(port);

    /* Unregistering destroys a connected device (through vhost_destroy_device, which needs
     * the registry entry) and removes a server socket file. rte_vhost 22.11 fails only for a
     * path it does not know, and then calls nothing back. (Rings a frontend disables need no
     * callback at all: rte_vhost stops enqueue/dequeue on them itself.) */
    if (rte_vhost_driver_unregister(vp->path) < 0)
        LOG_ERR("port %s: rte_vhost did not know %s", port->name, vp->path);
    registry_remove(vp);
    rte_free(vp);
}

static uint16_t vhost_rx_burst(struct port *port, uint16_t queue, const struct port_io *io,
                               struct rte_mbuf **pkts, uint16_t n)
{
    struct vhost_port *vp = vhost_port_cast(port);
    int vid = atomic_load_explicit(&vp->vid, memory_order_acquire);

    if (vid < 0 ||
        !(atomic_load_explicit(&vp->enabled, memory_order_relaxed) & 1u << VHOST_GUEST_TX(queue)))
        return 0;
    return rte_vhost_dequeue_burst(vid, (uint16_t)VHOST_GUEST_TX(queue), io->pool, pkts, n);
}

/* Enqueues n frames on one guest receive queue. rte_vhost copies into guest buffers and leaves
 * the mbufs to the caller; it takes at most VHOST_ENQUEUE_MAX frames a call, so a longer burst
 * goes in chunks until the ring fills. Returns how many the guest took (the first ones), with
 * their bytes added to st. */
static uint16_t enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n,
                        struct port_stats *st)
{
    uint16_t sent = 0;

    while (sent < n) {
        uint16_t chunk = RTE_MIN((uint16_t)(n - sent), VHOST_ENQUEUE_MAX);
        uint16_t done = rte_vhost_enqueue_burst(vid, vring, pkts + sent, chunk);
        sent += done;
        if (done < chunk)
            break;
    }
    for (uint16_t i = 0; i < sent; i++)
        st->tx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
    return sent;
}

static uint16_t vhost_tx_burst(struct port *port, const struct port_io *io, struct rte_mbuf **pkts,
                               uint16_t n)
{
    struct vhost_port *vp = vhost_port_cast(port);
    int vid = atomic_load_explicit(&vp->vid, memory_order_acquire);
    unsigned enabled = atomic_load_explicit(&vp->enabled, memory_order_relaxed);
    uint16_t rxq[CONFIG_QUEUES_MAX], n_rxq = 0, sent = 0;

    for (uint16_t q = 0; q < vp->queue_pairs; q++)
        if (enabled & 1u << VHOST_GUEST_RX(q))
            rxq[n_rxq++] = (uint16_t)VHOST_GUEST_RX(q);
    if (vid >= 0 && n_rxq == 1) {
        sent = enqueue(vid, rxq[0], pkts, n, io->stats);
    } else if (vid >= 0 && n_rxq > 1) {
        /* what one full queue refuses is lost alone */
        struct port_flow_split split;

        port_split_by_flow(&split, pkts, n, n_rxq);
        for (uint16_t q = 0; q < n_rxq; q++)
            if (split.count[q])
                sent += enqueue(vid, rxq[q], split.pkts[q], split.count[q], io->stats);
    }
    rte_pktmbuf_free_bulk(pkts, n);
    io->stats->drops[PORT_DROP_TX_RING_FULL] += n - sent;
    return sent;
}

/* Adaptive polling: the guest kicks the queue's eventfd when it adds frames, once asked to.
 * (While hashi polls it asks the guest not to: a kick per transmit costs the guest a VM
 * exit.) */
static int vhost_rx_wait(struct port *port, uint16_t queue, bool arm)
{
    struct vhost_port *vp = vhost_port_cast(port);
    int vid = atomic_load_explicit(&vp->vid, memory_order_acquire);
    uint16_t vring = (uint16_t)VHOST_GUEST_TX(queue);
    struct rte_vhost_vring vr;

    if (vid < 0)
        return arm ? PORT_WAIT_NONE : 0;
    if (!arm) {
        /* even if the guest disabled the queue meanwhile: rte_vhost keeps the request for
         * when it comes back, and a guest that kicks on every transmit pays a VM exit each */
        rte_vhost_enable_guest_notification(vid, vring, 0);
    } else if (!(atomic_load_explicit(&vp->enabled, memory_order_relaxed) & 1u << vring)) {
        return PORT_WAIT_NONE;
    } else {
        rte_vhost_enable_guest_notification(vid, vring, 1);
        /* The worker's last look at the queue may have found its lock taken (rte_vhost handling
         * a message) and seen nothing; frames the guest posted before this request make no
         * kick. Counting them takes the lock: if there are any, nap instead of sleeping. */
        if (rte_vhost_get_vhost_vring(vid, vring, &vr) != 0 || vr.kickfd < 0 ||
            rte_vhost_rx_queue_count(vid, vring) > 0)
            return PORT_WAIT_NAP;
        return vr.kickfd;
    }
    if (rte_vhost_get_vhost_vring(vid, vring, &vr) != 0 || vr.kickfd < 0)
        return 0;
    /* consume a kick, so that the descriptor does not stay readable; the descriptor belongs
     * to the frontend's eventfd and may block, hence the check first */
    struct pollfd pfd = {.fd = vr.kickfd, .events = POLLIN};
    uint64_t kicks;
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
        (void)!read(vr.kickfd, &kicks, sizeof kicks);
    return 0;
}

static bool vhost_link_up(const struct port *port)
{
    return atomic_load_explicit(&vhost_port_cast(port)->vid, memory_order_relaxed) >= 0;
}

static uint32_t vhost_offloads(const struct port *port)
{
    return atomic_load_explicit(&vhost_port_cast(port)->offloads, memory_order_relaxed);
}

/* A guest with mergeable receive buffers spreads a frame over as many of them as it needs; one
 * without must fit each frame into the one buffer it posted, or rte_vhost refuses it and every
 * frame behind it. How large that buffer is only the guest's ring says, and hashi does not read
 * the ring itself: rte_vhost remaps it under its own lock when the guest's memory changes (a
 * hotplug), so a read from the worker could touch unmapped memory. Such a guest therefore gets
 * nothing larger than the MTU: no aggregates, and TSO frames segmented. */
static void vhost_coalesce_limits(const struct port *port, uint32_t *max_frame, uint16_t *max_segs)
{
    const struct vhost_port *vp = vhost_port_cast(port);
    bool up = atomic_load_explicit(&vp->vid, memory_order_acquire) >= 0;

    *max_segs = UINT16_MAX;                       /* rte_vhost copies chains of any length */
    *max_frame = up && vp->mrg_rxbuf ? UINT32_MAX /* the engine's 64 KiB limit applies */
                                     : port->max_frame;
}

static void vhost_describe(struct port *port, json_t *out)
{
    static const struct {
        int bit;
        const char *name;
    } shown[] = {
        {VIRTIO_F_VERSION_1, "version_1"},
        {VIRTIO_NET_F_MRG_RXBUF, "mrg_rxbuf"},
        {VIRTIO_RING_F_EVENT_IDX, "event_idx"},
        {VIRTIO_RING_F_INDIRECT_DESC, "indirect_desc"},
        {VIRTIO_NET_F_CSUM, "csum"},
        {VIRTIO_NET_F_GUEST_CSUM, "guest_csum"},
        {VIRTIO_NET_F_GUEST_TSO4, "guest_tso4"},
        {VIRTIO_NET_F_GUEST_TSO6, "guest_tso6"},
        {VIRTIO_NET_F_MTU, "mtu"},
        {VIRTIO_NET_F_HOST_TSO4, "host_tso4"},
        {VIRTIO_NET_F_HOST_TSO6, "host_tso6"},
        {VIRTIO_NET_F_MQ, "mq"},
    };
    const struct vhost_port *vp = vhost_port_cast(port);
    json_t *features = json_array();
    bool up;

    /* features and frontend_mtu are written by rte_vhost's thread under the same lock */
    pthread_mutex_lock(&registry_lock);
    up = vhost_link_up(port);
    for (size_t i = 0; up && i < ARRAY_SIZE(shown); i++)
        if (vp->features & (1ull << shown[i].bit))
            json_array_append_new(features, json_string(shown[i].name));
    json_object_set_new(out, "frontend_mtu", json_integer(up ? vp->frontend_mtu : 0));
    json_object_set_new(out, "queues", json_integer(vp->queue_pairs));
    json_object_set_new(
        out, "queues_enabled",
        json_integer(up ? __builtin_popcount(atomic_load(&vp->enabled) & 0x55555555u) : 0));
    pthread_mutex_unlock(&registry_lock);
    json_object_set_new(out, "path", json_string(vp->path));
    json_object_set_new(out, "mode", json_string(vp->client ? "client" : "server"));
    json_object_set_new(out, "features", features);
}

const struct port_class vhost_port_class = {
    .type = "vhost-user",
    .open = vhost_open,
    .close = vhost_close,
    .rx_burst = vhost_rx_burst,
    .tx_burst = vhost_tx_burst,
    .rx_wait = vhost_rx_wait,
    .link_up = vhost_link_up,
    .coalesce_limits = vhost_coalesce_limits,
    .offloads = vhost_offloads,
    .describe = vhost_describe,
};
