#include "hashi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "util/util.h"

#define POOL_MBUFS 16383 /* a power of two minus one suits the ring under the pool */
#define POOL_CACHE 256

static void sync_workers(void *ctx);
static void wake_workers(void *ctx);

static struct rte_mempool *pool_for_node(struct hashi *h, int node, char *err, size_t errlen)
{
    char name[RTE_MEMPOOL_NAMESIZE];

    if (h->pools[node])
        return h->pools[node];
    snprintf(name, sizeof name, "hashi_mbufs_%d", node);
    h->pools[node] =
        rte_pktmbuf_pool_create(name, POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, node);
    if (!h->pools[node])
        snprintf(err, errlen,
                 "cannot create the buffer pool on NUMA node %d (%s); give DPDK more memory, "
                 "e.g. eal = --no-huge -m 1024",
                 node, rte_strerror(rte_errno));
    return h->pools[node];
}

static void free_pools(struct hashi *h)
{
    for (unsigned i = 0; i < RTE_MAX_NUMA_NODES; i++)
        rte_mempool_free(h->pools[i]);
}

int hashi_init(struct hashi *h, const struct hashi_config *cfg, const unsigned *lcores,
               const int *cores, unsigned n, char *err, size_t errlen)
{
    uint64_t epoch = rte_rdtsc();
    int rc;

    memset(h, 0, sizeof *h);
    h->cfg = *cfg;
    for (unsigned id = 0; id < PORT_MAX; id++)
        for (unsigned q = 0; q < CONFIG_QUEUES_MAX; q++)
            h->rxqs[id][q] = (struct hashi_rxq){.worker = -1};
    for (unsigned i = 0; i < cfg->n_bridges; i++)
        h->aging_s[i] = cfg->bridges[i].aging_s;
    if ((rc = fdb_init(&h->fdb, HASHI_FDB_CAPACITY)) != 0) {
        snprintf(err, errlen, "cannot allocate the forwarding database");
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        int node = (int)rte_lcore_to_socket_id(lcores[i]);
        struct worker_params p = {
            .index = i,
            .lcore = lcores[i],
            .core = cores[i],
            .epoch_tsc = epoch,
            .cfg = cfg,
            .fdb = &h->fdb,
            .pool = pool_for_node(h, node, err, errlen),
        };
        if (!p.pool) {
            rc = ENOMEM;
            goto fail;
        }
        if ((rc = worker_init(&h->workers[i], &p)) != 0) {
            snprintf(err, errlen, "cannot prepare the worker for core %d: %s", cores[i],
                     strerror(rc));
            goto fail;
        }
        if ((rc = fdb_reader_register(&h->fdb, i)) != 0) {
            worker_destroy(&h->workers[i]);
            snprintf(err, errlen, "cannot register worker %u with the FDB", i);
            goto fail;
        }
        h->n_workers++;
    }
    h->env.pool = h->workers[0].sw.pool;
    h->env.sync = sync_workers;
    h->env.wake = wake_workers;
    h->env.sync_ctx = h;
    return 0;

fail:
    for (unsigned i = 0; i < h->n_workers; i++)
        worker_destroy(&h->workers[i]);
    free_pools(h);
    fdb_destroy(&h->fdb);
    return rc;
}

int hashi_start(struct hashi *h, char *err, size_t errlen)
{
    for (unsigned i = 0; i < h->n_workers; i++) {
        int rc = worker_start(&h->workers[i]);
        if (rc) {
            snprintf(err, errlen, "cannot start the worker on core %d: %s", h->workers[i].core,
                     strerror(rc));
            return rc;
        }
    }
    return 0;
}

void hashi_fini(struct hashi *h)
{
    char err[PORT_ERR_SIZE];

    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id])
            hashi_port_del(h, h->ports[id]->name, NULL, err, sizeof err);
    for (unsigned i = 0; i < h->n_workers; i++) {
        worker_stop(&h->workers[i]);
        fdb_reader_unregister(&h->fdb, i);
        worker_destroy(&h->workers[i]);
    }
    fdb_destroy(&h->fdb);
    free_pools(h);
}

static void nothing(struct worker *w, void *arg)
{
    (void)w;
    (void)arg;
}

/* port_env.sync: every worker has left any port call it was in, and woken if it slept. */
static void sync_workers(void *ctx)
{
    struct hashi *h = ctx;

    for (unsigned i = 0; i < h->n_workers; i++)
        worker_call(&h->workers[i], nothing, NULL);
}

static void wake_workers(void *ctx)
{
    struct hashi *h = ctx;

    for (unsigned i = 0; i < h->n_workers; i++)
        worker_wake(&h->workers[i]);
}

static void call_all(struct hashi *h, worker_fn fn, void *arg)
{
    for (unsigned i = 0; i < h->n_workers; i++)
        worker_call(&h->workers[i], fn, arg);
}

static struct port *find_port(const struct hashi *h, const char *name)
{
    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id] && !strcmp(h->ports[id]->name, name))
            return h->ports[id];
    return NULL;
}

/* --- receive queue assignment --- */

/* Queues moving off a worker leave their load counters here for their next worker. */
struct rxq_move {
    struct hashi *h;
    struct worker_rxq moved[PORT_MAX][CONFIG_QUEUES_MAX];
};

/* First step of a reassignment, on each worker: let go of every queue that is no longer its
 * own. When this returns the worker has switched and sent all it received from them. */
static void drop_moved_rxqs(struct worker *w, void *arg)
{
    struct rxq_move *mv = arg;
    struct worker_rxq keep[WORKER_MAX_RXQS];
    uint16_t n = 0;

    for (uint16_t i = 0; i < w->n_rxqs; i++) {
        const struct worker_rxq *q = &w->rxqs[i];
        if (mv->h->rxqs[q->port][q->queue].worker == (int8_t)w->index)
            keep[n++] = *q;
        else
            mv->moved[q->port][q->queue] = *q;
    }
    worker_set_rxqs(w, keep, n);
}

struct rxq_list {
    uint16_t n;
    struct worker_rxq rxqs[WORKER_MAX_RXQS];
};

static void set_rxqs_on_worker(struct worker *w, void *arg)
{
    struct rxq_list *list = arg;

    worker_set_rxqs(w, list->rxqs, list->n);
}

/* Makes the workers poll what h->rxqs says, in two steps so that no queue is ever polled by
 * two workers at once. */
static void apply_rxqs(struct hashi *h)
{
    static struct rxq_move mv; /* control thread only; too large for the stack */

    memset(&mv, 0, sizeof mv);
    mv.h = h;
    call_all(h, drop_moved_rxqs, &mv);
    for (unsigned w = 0; w < h->n_workers; w++) {
        struct rxq_list list = {0};
        for (unsigned id = 0; id < PORT_MAX; id++) {
            if (!h->ports[id])
                continue;
            for (uint16_t q = 0; q < h->ports[id]->n_rxq; q++)
                if (h->rxqs[id][q].worker == (int8_t)w) {
                    struct worker_rxq *e = &list.rxqs[list.n++];
                    *e = mv.moved[id][q];
                    e->port = (uint16_t)id;
                    e->queue = q;
                }
        }
        worker_call(&h->workers[w], set_rxqs_on_worker, &list);
    }
}

/* The worker with the least `load` (ties: the lowest index), among those on NUMA node `node`
 * if there are any (node -1: any worker). */
static unsigned least_loaded(const struct hashi *h, const uint64_t *load, int node)
{
    int best = -1;

    for (int pass = 0; pass < 2 && best < 0; pass++, node = -1)
        for (unsigned w = 0; w < h->n_workers; w++)
            if ((node < 0 || h->workers[w].numa == node) && (best < 0 || load[w] < load[best]))
                best = (int)w;
    return (unsigned)best;
}

/* How many receive queues each worker has, into count[WORKER_MAX]. */
static void count_rxqs(const struct hashi *h, uint64_t *count)
{
    memset(count, 0, WORKER_MAX * sizeof *count);
    for (unsigned p = 0; p < PORT_MAX; p++)
        for (unsigned q = 0; h->ports[p] && q < h->ports[p]->n_rxq; q++)
            if (h->rxqs[p][q].worker >= 0)
                count[h->rxqs[p][q].worker]++;
}

/* Places every unassigned queue of port id on the worker with the fewest queues: round-robin
 * over the workers as queues come. */
static void assign_new_rxqs(struct hashi *h, unsigned id)
{
    uint64_t count[WORKER_MAX];

    count_rxqs(h, count);
    for (uint16_t q = 0; q < h->ports[id]->n_rxq; q++) {
        struct hashi_rxq *r = &h->rxqs[id][q];
        if (r->worker < 0) {
            unsigned w = least_loaded(h, count, atomic_load(&h->ports[id]->numa));
            r->worker = (int8_t)w;
            count[w]++;
        }
    }
}

/* Forgets where port id's queues were, pins included. */
static void unassign_rxqs(struct hashi *h, unsigned id)
{
    for (unsigned q = 0; q < CONFIG_QUEUES_MAX; q++) {
        h->rxqs[id][q] = (struct hashi_rxq){.worker = -1, .pinned = false};
        h->numa_warned[id][q] = false;
    }
}

/* --- ports --- */

static void attach_on_worker(struct worker *w, void *port)
{
    sw_attach(&w->sw, port);
}

struct detach {
    struct port *port;
    struct port_stats final; /* summed over the workers */
};

static void detach_on_worker(struct worker *w, void *arg)
{
    struct detach *d = arg;
    struct port_stats st;

    sw_detach(&w->sw, d->port, &st);
    port_stats_add(&d->final, &st);
}

int hashi_port_add(struct hashi *h, const struct port_config *cfg, char *err, size_t errlen)
{
    const struct port_class *class = port_class_find(cfg->type);
    const struct bridge_config *bridge = config_find_bridge(&h->cfg, cfg->bridge);
    struct port *port;
    unsigned id;
    int rc;

    if (find_port(h, cfg->name)) {
        snprintf(err, errlen, "port %s exists already; delete it first or pick another name",
                 cfg->name);
        return EEXIST;
    }
    if (!bridge) {
        snprintf(err, errlen, "bridge %s does not exist", cfg->bridge);
        return ENOENT;
    }
    if (!class) {
        snprintf(err, errlen, "port type %s is not available", config_port_type_name(cfg->type));
        return EOPNOTSUPP;
    }
    if ((rc = config_port_check(cfg, err, errlen)) < 0)
        return EINVAL;
    /* two ports on one interface would switch every frame twice, or loop (an AF_PACKET port
     * on a TAP hashi writes) */
    for (id = 0; id < PORT_MAX; id++)
        if (h->ports[id] && cfg->ifname[0] && !strcmp(h->ifnames[id], cfg->ifname)) {
            snprintf(err, errlen, "port %s uses interface %s already; give each port its own",
                     h->ports[id]->name, cfg->ifname);
            return EEXIST;
        }
    for (id = 0; id < PORT_MAX && h->ports[id]; id++)
        ;
    if (id == PORT_MAX) {
        snprintf(err, errlen, "hashi has %d ports already, its maximum", PORT_MAX);
        return ENOSPC;
    }
    rc = class->open(cfg, &h->env, &port, err, errlen);
    if (rc)
        return rc;
    port->id = (uint16_t)id;
    port->bridge = (uint16_t)(bridge - h->cfg.bridges);
    h->ports[id] = port;
    strcpy(h->ifnames[id], cfg->ifname);
    call_all(h, attach_on_worker, port);
    unassign_rxqs(h, id);
    assign_new_rxqs(h, id);
    apply_rxqs(h);
    h->steering_version[id] = 0;
    LOG_INFO("port %s: added (%s, bridge %s, %u receive queue%s)", cfg->name, class->type,
             cfg->bridge, port->n_rxq, port->n_rxq == 1 ? "" : "s");
    return 0;
}

int hashi_port_del(struct hashi *h, const char *name, struct port_stats *final, char *err,
                   size_t errlen)
{
    struct port *port = find_port(h, name);
    char deleted[CONFIG_NAME_SIZE];
    struct detach d = {.port = port};

    if (!port) {
        snprintf(err, errlen, "no port named %s (hashictl port list shows them)", name);
        return ENOENT;
    }
    unassign_rxqs(h, port->id);
    apply_rxqs(h);
    call_all(h, detach_on_worker, &d);
    /* no worker sends to the port or learns on it any more: its MACs go once, here, on the
     * thread that also ages the FDB (one deleting thread at a time) */
    fdb_flush_port(&h->fdb, port->id);
    if (final)
        *final = d.final;
    h->ports[port->id] = NULL;
    strcpy(deleted, port->name); /* `name` may point into the port */
    port->class->close(port);
    LOG_INFO("port %s: deleted", deleted);
    return 0;
}

/* MAC steering: each destination MAC learned on another port of the uplink's bridge goes to
 * the uplink queue polled by the worker that polls that port's first queue, so a VM's traffic
 * is received, switched and delivered on one core. MACs whose worker polls no queue of the
 * uplink are left to the port's default (a hash of the MAC). */
static int update_mac_steering(struct hashi *h, struct port *uplink, bool force, char *err,
                               size_t errlen)
{
    static struct fdb_view views[HASHI_FDB_CAPACITY];
    static uint64_t macs[HASHI_FDB_CAPACITY];
    static uint16_t queues[HASHI_FDB_CAPACITY];
    size_t n = fdb_dump(&h->fdb, 0, views, HASHI_FDB_CAPACITY), n_map = 0;
    uint64_t version = 1469598103934665603ull; /* FNV-1a over the map: redo only on change */

    for (size_t i = 0; i < n; i++) {
        const struct port *dst = views[i].port < PORT_MAX ? h->ports[views[i].port] : NULL;
        int8_t worker;

        if (!dst || dst == uplink || dst->bridge != uplink->bridge ||
            views[i].bridge != dst->bridge)
            continue;
        worker = h->rxqs[dst->id][0].worker;
        for (uint16_t q = 0; q < uplink->n_rxq && worker >= 0; q++)
            if (h->rxqs[uplink->id][q].worker == worker) {
                uint64_t mac = 0;
                for (int b = 0; b < 6; b++)
                    mac = mac << 8 | views[i].mac[b];
                macs[n_map] = mac;
                queues[n_map] = q;
                n_map++;
                version = (version ^ mac ^ (uint64_t)q << 48) * 1099511628211ull;
                break;
            }
    }
    if (!force && version == h->steering_version[uplink->id])
        return 0;
    int rc = uplink->class->set_steering(uplink, PORT_STEER_MAC, macs, queues, n_map, err, errlen);
    if (rc == 0)
        h->steering_version[uplink->id] = version;
    return rc;
}

struct rsc_setting {
    struct port *port;
    bool on;
};

static void set_rsc_on_worker(struct worker *w, void *arg)
{
    const struct rsc_setting *set = arg;

    sw_set_rsc(&w->sw, set->port, set->on);
}

static int set_rsc(struct hashi *h, struct port *port, const struct port_config *parsed, char *err,
                   size_t errlen)
{
    struct rsc_setting set = {.port = port, .on = parsed->rsc == 1};

    if (set.on && port->rsc_refusal) {
        snprintf(err, errlen, "port %s cannot carry coalesced frames: %s", port->name,
                 port->rsc_refusal);
        return EINVAL;
    }
    /* each worker switches between two of its bursts; while one has and another has not,
     * both deliver correct frames */
    call_all(h, set_rsc_on_worker, &set);
    port->rsc = set.on; /* what `port list` shows */
    return 0;
}

static int set_queues(struct hashi *h, struct port *port, uint16_t n, char *err, size_t errlen)
{
    int rc;

    if (!port->class->set_queues) {
        snprintf(err, errlen,
                 "port %s (%s) cannot change its queues while running (a vhost-user guest "
                 "chooses how many of the port's queue pairs it uses: delete and add the port "
                 "to change the most; an afxdp port has one)",
                 port->name, port->class->type);
        return EINVAL;
    }
    /* no worker polls the port while its queues change; frames already in the kernel's queues
     * that close are lost to the kernel, as when a TAP queue is closed by any program */
    unassign_rxqs(h, port->id);
    apply_rxqs(h);
    rc = port->class->set_queues(port, n, err, errlen);
    assign_new_rxqs(h, port->id);
    apply_rxqs(h);
    h->steering_version[port->id] = 0;
    return rc;
}

static int set_steering(struct hashi *h, struct port *port, enum port_steering mode, char *err,
                        size_t errlen)
{
    bool remake = mode != port->steering;
    int rc;

    /* a new mode makes the receive sockets again: no worker may poll them meanwhile */
    if (remake) {
        unassign_rxqs(h, port->id);
        apply_rxqs(h);
    }
    h->steering_version[port->id] = 0;
    if (mode == PORT_STEER_MAC)
        rc = update_mac_steering(h, port, true, err, errlen);
    else
        rc = port->class->set_steering(port, mode, NULL, NULL, 0, err, errlen);
    if (remake) {
        assign_new_rxqs(h, port->id);
        apply_rxqs(h);
    }
    return rc;
}

int hashi_port_set(struct hashi *h, const char *name, const char *key, const char *value, char *err,
                   size_t errlen)
{
    struct port *port = find_port(h, name);
    struct port_config parsed; /* the value, read as the config file would read it */
    int rc;

    if (!port) {
        snprintf(err, errlen, "no port named %s (hashictl port list shows them)", name);
        return ENOENT;
    }
    if (strcmp(key, "rsc") != 0 && strcmp(key, "queues") != 0 && strcmp(key, "steering") != 0) {
        snprintf(err, errlen,
                 "'%s' cannot be set on a running port; settable: rsc, queues, steering", key);
        return EINVAL;
    }
    config_port_init(&parsed);
    if (config_port_set(&parsed, key, value, err, errlen) < 0)
        return EINVAL;
    if (!strcmp(key, "rsc")) {
        rc = set_rsc(h, port, &parsed, err, errlen);
    } else if (!strcmp(key, "queues")) {
        rc = set_queues(h, port, (uint16_t)parsed.queues, err, errlen);
    } else if (!port->class->set_steering) {
        snprintf(err, errlen,
                 "port %s (%s) has no steering: its peer picks the queue (a guest its transmit "
                 "queue, the kernel a TAP's); steering applies to afpacket uplinks",
                 name, port->class->type);
        rc = EINVAL;
    } else {
        rc = set_steering(h, port, parsed.steer_mac ? PORT_STEER_MAC : PORT_STEER_RSS, err, errlen);
    }
    if (rc == 0)
        LOG_INFO("port %s: %s %s", name, key, value);
    return rc;
}

/* A queue is best served from the node where its peer's memory is: every frame is copied in
 * or out of that memory. Unpinned queues move there (to the node's least busy worker); a
 * pinned one, or one with no worker on that node, stays and is reported once. */
static void place_by_numa(struct hashi *h, struct port *port)
{
    int node = atomic_load(&port->numa);
    uint64_t count[WORKER_MAX];
    bool moved = false;

    count_rxqs(h, count);
    for (uint16_t q = 0; q < port->n_rxq && node >= 0; q++) {
        struct hashi_rxq *r = &h->rxqs[port->id][q];
        unsigned best;

        if (r->worker < 0 || h->workers[r->worker].numa == node)
            continue;
        best = least_loaded(h, count, node); /* on another node only if the node has none */
        if (!r->pinned && h->workers[best].numa == node) {
            count[r->worker]--;
            count[best]++;
            r->worker = (int8_t)best;
            moved = true;
        } else if (!h->numa_warned[port->id][q]) {
            LOG_WARN("port %s: queue %u is served by core %d on NUMA node %d, its guest's memory "
                     "is on node %d (%s)",
                     port->name, q, h->workers[r->worker].core, h->workers[r->worker].numa, node,
                     r->pinned ? "pinned there" : "no worker on that node; add one to --cores");
            h->numa_warned[port->id][q] = true;
        }
    }
    if (moved)
        apply_rxqs(h);
}

/* Seconds since the workers' common epoch: the clock the FDB's entries are dated by. */
static uint32_t fdb_now(const struct hashi *h)
{
    const struct worker *w = &h->workers[0];

    return (uint32_t)((rte_rdtsc() - w->epoch_tsc) / w->tsc_hz);
}

void hashi_housekeeping(struct hashi *h)
{
    char err[PORT_ERR_SIZE];

    /* here rather than on a worker: a sweep of the table would stall that worker's queues */
    fdb_age(&h->fdb, fdb_now(h), h->aging_s, CONFIG_MAX_BRIDGES);

    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id])
            place_by_numa(h, h->ports[id]);

    for (unsigned id = 0; id < PORT_MAX; id++) {
        struct port *port = h->ports[id];
        if (port && port->steering == PORT_STEER_MAC &&
            update_mac_steering(h, port, false, err, sizeof err) != 0)
            LOG_WARN("port %s: MAC steering not updated: %s", port->name, err);
    }
}

/* --- pinning and rebalancing --- */

int hashi_rxq_pin(struct hashi *h, const char *name, unsigned queue, int core, char *err,
                  size_t errlen)
{
    struct port *port = find_port(h, name);
    unsigned w;

    if (!port) {
        snprintf(err, errlen, "no port named %s (hashictl port list shows them)", name);
        return ENOENT;
    }
    if (queue >= port->n_rxq) {
        snprintf(err, errlen, "port %s has %u receive queue%s (0 to %u)", name, port->n_rxq,
                 port->n_rxq == 1 ? "" : "s", port->n_rxq - 1u);
        return EINVAL;
    }
    if (core < 0) {
        h->rxqs[port->id][queue].pinned = false;
        return 0;
    }
    for (w = 0; w < h->n_workers && h->workers[w].core != core; w++)
        ;
    if (w == h->n_workers) {
        char cores[128];
        size_t len = 0;
        for (unsigned i = 0; i < h->n_workers && len < sizeof cores; i++)
            len += (size_t)snprintf(cores + len, sizeof cores - len, "%s%d", i ? "," : "",
                                    h->workers[i].core);
        snprintf(err, errlen, "no worker runs on core %d; workers run on cores %s", core, cores);
        return EINVAL;
    }
    h->rxqs[port->id][queue] = (struct hashi_rxq){.worker = (int8_t)w, .pinned = true};
    h->numa_warned[port->id][queue] = false;
    apply_rxqs(h);
    LOG_INFO("port %s: receive queue %u pinned to core %d", name, queue, core);
    return 0;
}

struct rxq_load {
    uint16_t port, queue;
    uint64_t cycles;
};

static int by_load_desc(const void *a, const void *b)
{
    const struct rxq_load *x = a, *y = b;

    if (x->cycles != y->cycles)
        return x->cycles < y->cycles ? 1 : -1;
    return x->port != y->port ? x->port - y->port : x->queue - y->queue;
}

static void reset_loads_on_worker(struct worker *w, void *arg)
{
    (void)arg;
    for (uint16_t i = 0; i < w->n_rxqs; i++)
        w->rxqs[i].packets = w->rxqs[i].cycles = 0;
}

void hashi_rxq_rebalance(struct hashi *h)
{
    static struct hashi_worker_view views[WORKER_MAX];
    static struct rxq_load loads[PORT_MAX * CONFIG_QUEUES_MAX];
    uint64_t load[WORKER_MAX] = {0};
    unsigned n = 0, n_workers = hashi_workers(h, views);

    /* pinned queues stay and count toward their worker's load; the rest are placed heaviest
     * first on the least loaded worker (by cycles), or spread evenly by count (roundrobin),
     * on the NUMA node of their peer's memory where it is known and has a worker */
    for (unsigned w = 0; w < n_workers; w++)
        for (uint16_t i = 0; i < views[w].n_rxqs; i++) {
            const struct worker_rxq *q = &views[w].rxqs[i];
            uint64_t cost = h->cfg.rxq_assign_cycles ? q->cycles : 1;
            if (h->rxqs[q->port][q->queue].pinned)
                load[w] += cost;
            else
                loads[n++] = (struct rxq_load){q->port, q->queue, cost};
        }
    qsort(loads, n, sizeof *loads, by_load_desc);
    for (unsigned i = 0; i < n; i++) {
        unsigned w = least_loaded(h, load, atomic_load(&h->ports[loads[i].port]->numa));
        h->rxqs[loads[i].port][loads[i].queue].worker = (int8_t)w;
        /* a queue that carried nothing still counts, so idle queues spread too */
        load[w] += loads[i].cycles ? loads[i].cycles : 1;
    }
    apply_rxqs(h);
    call_all(h, reset_loads_on_worker, NULL);
    LOG_INFO("receive queues rebalanced (%s)", h->cfg.rxq_assign_cycles ? "cycles" : "roundrobin");
}

/* --- counters --- */

struct stats_sum {
    struct port_stats ports[PORT_MAX];
};

static void add_stats_on_worker(struct worker *w, void *arg)
{
    sw_stats_add(&w->sw, ((struct stats_sum *)arg)->ports);
}

size_t hashi_stats(struct hashi *h, struct hashi_port_stats *out)
{
    static struct stats_sum sum; /* control thread only */
    size_t n = 0;

    memset(&sum, 0, sizeof sum);
    call_all(h, add_stats_on_worker, &sum);
    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id]) {
            out[n].port = h->ports[id];
            out[n].stats = sum.ports[id];
            n++;
        }
    return n;
}

static void clear_stats_on_worker(struct worker *w, void *arg)
{
    (void)arg;
    for (unsigned id = 0; id < PORT_MAX; id++)
        memset(&w->sw.ports[id].stats, 0, sizeof w->sw.ports[id].stats);
}

void hashi_stats_clear(struct hashi *h)
{
    call_all(h, clear_stats_on_worker, NULL);
}

static void copy_worker(struct worker *w, void *out)
{
    struct hashi_worker_view *v = out;

    v->core = w->core;
    v->numa = w->numa;
    v->adaptive = w->adaptive;
    v->stats = w->stats;
    v->n_rxqs = w->n_rxqs;
    memcpy(v->rxqs, w->rxqs, w->n_rxqs * sizeof *w->rxqs);
}

unsigned hashi_workers(struct hashi *h, struct hashi_worker_view *out)
{
    for (unsigned i = 0; i < h->n_workers; i++)
        worker_call(&h->workers[i], copy_worker, &out[i]);
    return h->n_workers;
}

static void clear_pmd_on_worker(struct worker *w, void *arg)
{
    (void)arg;
    memset(&w->stats, 0, sizeof w->stats);
}

void hashi_pmd_stats_clear(struct hashi *h)
{
    call_all(h, clear_pmd_on_worker, NULL);
}

size_t hashi_fdb(struct hashi *h, struct fdb_view *out, size_t max)
{
    return fdb_dump(&h->fdb, fdb_now(h), out, max);
}

void hashi_buffers(const struct hashi *h, unsigned *in_use, unsigned *total)
{
    *in_use = *total = 0;
    for (unsigned i = 0; i < RTE_MAX_NUMA_NODES; i++)
        if (h->pools[i]) {
            *in_use += rte_mempool_in_use_count(h->pools[i]);
            *total += h->pools[i]->size;
        }
}
