#include "dispatch.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_malloc.h>

#include "offload/flow_hash.h"
#include "util/util.h"

/* A MAC's home slot in a map: the top bits of a Fibonacci hash (2^11 = DISPATCH_MAP_SLOTS). */
static inline uint32_t map_slot(uint64_t key)
{
    RTE_BUILD_BUG_ON(DISPATCH_MAP_SLOTS != 1 << 11);
    return (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 53);
}

static int make_ring(struct dispatch *d, uint16_t q, char *err, size_t errlen)
{
    static unsigned made; /* control thread only: ring names must be unique */
    char name[RTE_RING_NAMESIZE];

    snprintf(name, sizeof name, "dsp%u_%u", made++, q);
    d->rings[q] =
        rte_ring_create(name, DISPATCH_RING_SIZE, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!d->rings[q]) {
        snprintf(err, errlen, "port %s: cannot make a dispatch ring: %s", d->name,
                 rte_strerror(rte_errno));
        return ENOMEM;
    }
    atomic_init(&d->asleep[q], false);
    d->wake_fds[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->wake_fds[q] < 0) {
        snprintf(err, errlen, "port %s: cannot make an eventfd: %s", d->name, strerror(errno));
        rte_ring_free(d->rings[q]);
        d->rings[q] = NULL;
        return ENOMEM;
    }
    return 0;
}

static void free_ring(struct dispatch *d, uint16_t q)
{
    struct rte_mbuf *m;

    while (rte_ring_sc_dequeue(d->rings[q], (void **)&m) == 0) {
        rte_pktmbuf_free(m);
        d->discarded++;
    }
    rte_ring_free(d->rings[q]);
    d->rings[q] = NULL;
    close(d->wake_fds[q]);
}

int dispatch_init(struct dispatch *d, const char *name, uint16_t n, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    atomic_init(&d->mode, PORT_STEER_RSS);
    d->maps[0] = rte_zmalloc("dispatch_map", sizeof *d->maps[0], 0);
    d->maps[1] = rte_zmalloc("dispatch_map", sizeof *d->maps[1], 0);
    atomic_init(&d->map, d->maps[0]);
    d->n_queues = 1;
    if (!d->maps[0] || !d->maps[1]) {
        dispatch_fini(d);
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    int rc = dispatch_resize(d, n, err, errlen);
    if (rc)
        dispatch_fini(d);
    return rc;
}

int dispatch_resize(struct dispatch *d, uint16_t n, char *err, size_t errlen)
{
    int rc;

    for (; d->n_queues < n; d->n_queues++)
        if ((rc = make_ring(d, d->n_queues, err, errlen)) != 0)
            return rc;
    for (; d->n_queues > n; d->n_queues--)
        free_ring(d, d->n_queues - 1);
    return 0;
}

void dispatch_fini(struct dispatch *d)
{
    dispatch_resize(d, 1, NULL, 0);
    rte_free(d->maps[0]);
    rte_free(d->maps[1]);
}

/* The low four bytes of the destination MAC: the same default as the kernel-side program, so
 * an unmapped destination takes the same queue whichever side splits. */
static inline uint32_t dst_low(const struct rte_mbuf *m)
{
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *) + 2;

    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t mac_queue(const struct dispatch_map *map, const struct rte_mbuf *m,
                                 uint16_t n)
{
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
    uint64_t key = 1;

    for (int b = 0; b < RTE_ETHER_ADDR_LEN; b++)
        key += (uint64_t)p[b] << (40 - 8 * b);
    for (uint32_t i = map_slot(key);; i = (i + 1) % DISPATCH_MAP_SLOTS) {
        if (map->keys[i] == key)
            return map->queues[i] < n ? map->queues[i] : 0;
        if (map->keys[i] == 0)
            return (uint16_t)(dst_low(m) % n);
    }
}

uint16_t dispatch_split(struct dispatch *d, const struct port_io *io, struct rte_mbuf **pkts,
                        uint16_t n)
{
    struct rte_mbuf *out[CONFIG_QUEUES_MAX][PORT_BURST];
    uint16_t count[CONFIG_QUEUES_MAX] = {0}, kept = 0, n_queues = d->n_queues;
    bool by_mac = atomic_load_explicit(&d->mode, memory_order_relaxed) == PORT_STEER_MAC;
    const struct dispatch_map *map = atomic_load_explicit(&d->map, memory_order_acquire);

    if (n_queues == 1)
        return n;

    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        uint16_t q;

        if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN))
            q = 0; /* a runt: the switch counts it */
        else if (by_mac)
            q = mac_queue(map, m, n_queues);
        else
            q = flow_hash_queue(flow_hash(m), n_queues);
        if (q == 0)
            pkts[kept++] = m;
        else
            out[q][count[q]++] = m;
    }
    for (uint16_t q = 1; q < n_queues; q++) {
        unsigned sent;
        if (!count[q])
            continue;
        sent = rte_ring_sp_enqueue_burst(d->rings[q], (void **)out[q], count[q], NULL);
        io->stats->dispatched += sent;
        /* the ring's worker marks itself asleep and then looks at the ring once more; the
         * fence orders this enqueue before the look at its mark, so one of the two sees the
         * other */
        atomic_thread_fence(memory_order_seq_cst);
        if (sent && atomic_load_explicit(&d->asleep[q], memory_order_relaxed) &&
            atomic_exchange(&d->asleep[q], false)) {
            uint64_t one = 1;
            (void)!write(d->wake_fds[q], &one, sizeof one);
        }
        for (unsigned i = sent; i < count[q]; i++) {
            io->stats->rx_packets++;
            io->stats->rx_bytes += rte_pktmbuf_pkt_len(out[q][i]);
            io->stats->drops[PORT_DROP_RX_DISPATCH_FULL]++;
            rte_pktmbuf_free(out[q][i]);
        }
    }
    return kept;
}

int dispatch_wait(struct dispatch *d, uint16_t q, bool arm)
{
    uint64_t value;

    if (arm) {
        atomic_store(&d->asleep[q], true);
        return d->wake_fds[q];
    }
    atomic_store(&d->asleep[q], false);
    (void)!read(d->wake_fds[q], &value, sizeof value);
    return 0;
}

int dispatch_set_steering(struct dispatch *d, enum port_steering mode, const uint64_t *macs,
                          const uint16_t *queues, size_t n, void (*sync)(void *), void *ctx)
{
    struct dispatch_map *next = atomic_load(&d->map) == d->maps[0] ? d->maps[1] : d->maps[0];

    /* the map not in use is filled, published, and the old one is free once every worker has
     * left dispatch_split */
    memset(next, 0, sizeof *next);
    if (n > DISPATCH_MAP_SLOTS / 2)
        LOG_WARN("port %s: %zu MACs to steer, %d fit: the rest go by hash", d->name, n,
                 DISPATCH_MAP_SLOTS / 2);
    for (size_t i = 0; i < n && i < DISPATCH_MAP_SLOTS / 2; i++) {
        uint64_t key = macs[i] + 1;
        uint32_t s = map_slot(key);
        while (next->keys[s] != 0 && next->keys[s] != key)
            s = (s + 1) % DISPATCH_MAP_SLOTS;
        next->keys[s] = key;
        next->queues[s] = queues[i];
    }
    atomic_store(&d->map, next);
    atomic_store(&d->mode, mode);
    sync(ctx);
    return 0;
}
