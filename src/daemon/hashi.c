#include "hashi.h"

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "util/util.h"

#define POOL_MBUFS 16383 /* a power of two minus one suits the ring under the pool */
#define POOL_CACHE 256

int hashi_init(struct hashi *h, const struct hashi_config *cfg, unsigned worker_lcore,
               int worker_core, char *err, size_t errlen)
{
    int rc;

    memset(h, 0, sizeof *h);
    h->cfg = *cfg;
    h->pool =
        rte_pktmbuf_pool_create("hashi_mbufs", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                (int)rte_lcore_to_socket_id(worker_lcore));
    if (!h->pool) {
        snprintf(err, errlen,
                 "cannot create the buffer pool (%s); give DPDK more memory, "
                 "e.g. eal = --no-huge -m 1024",
                 rte_strerror(rte_errno));
        return ENOMEM;
    }
    rc = worker_init(&h->worker, worker_lcore, worker_core, h->pool);
    if (rc) {
        snprintf(err, errlen, "cannot allocate the forwarding database");
        rte_mempool_free(h->pool);
        return rc;
    }
    for (unsigned i = 0; i < cfg->n_bridges; i++)
        h->worker.sw.aging_s[i] = cfg->bridges[i].aging_s;
    h->env.pool = h->pool;
    h->env.sync = worker_sync;
    h->env.sync_ctx = &h->worker;
    return 0;
}

void hashi_fini(struct hashi *h)
{
    char err[PORT_ERR_SIZE];

    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id])
            hashi_port_del(h, h->ports[id]->name, NULL, err, sizeof err);
    worker_stop(&h->worker);
    worker_destroy(&h->worker);
    rte_mempool_free(h->pool);
}

static struct port *find_port(const struct hashi *h, const char *name)
{
    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id] && !strcmp(h->ports[id]->name, name))
            return h->ports[id];
    return NULL;
}

static void attach_on_worker(struct worker *w, void *port)
{
    sw_attach(&w->sw, port);
}

struct detach {
    struct port *port;
    struct port_stats final;
};

static void detach_on_worker(struct worker *w, void *arg)
{
    struct detach *d = arg;

    sw_detach(&w->sw, d->port);
    d->final = d->port->stats;
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
    worker_call(&h->worker, attach_on_worker, port);
    LOG_INFO("port %s: added (%s, bridge %s)", cfg->name, class->type, cfg->bridge);
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
    worker_call(&h->worker, detach_on_worker, &d);
    if (final)
        *final = d.final;
    h->ports[port->id] = NULL;
    strcpy(deleted, port->name); /* `name` may point into the port */
    port->class->close(port);
    LOG_INFO("port %s: deleted", deleted);
    return 0;
}

struct rsc_setting {
    struct port *port;
    bool on;
};

static void set_rsc_on_worker(struct worker *w, void *arg)
{
    struct rsc_setting *set = arg;

    /* between two iterations the coalescing table is empty: nothing is held for the port */
    (void)w;
    set->port->rsc = set->on;
}

int hashi_port_set(struct hashi *h, const char *name, const char *key, const char *value, char *err,
                   size_t errlen)
{
    struct port *port = find_port(h, name);
    struct rsc_setting set = {.port = port};
    struct port_config parsed; /* the value, read as the config file would read it */

    if (!port) {
        snprintf(err, errlen, "no port named %s (hashictl port list shows them)", name);
        return ENOENT;
    }
    if (strcmp(key, "rsc") != 0) {
        snprintf(err, errlen, "'%s' cannot be set on a running port; settable: rsc", key);
        return EINVAL;
    }
    config_port_init(&parsed);
    if (config_port_set(&parsed, key, value, err, errlen) < 0)
        return EINVAL;
    set.on = parsed.rsc == 1;
    if (set.on && port->rsc_refusal) {
        snprintf(err, errlen, "port %s cannot carry coalesced frames: %s", name, port->rsc_refusal);
        return EINVAL;
    }
    worker_call(&h->worker, set_rsc_on_worker, &set);
    LOG_INFO("port %s: rsc %s", name, value);
    return 0;
}

struct stats_copy {
    struct hashi *h;
    struct hashi_port_stats *out;
    size_t n;
};

static void copy_stats_on_worker(struct worker *w, void *arg)
{
    struct stats_copy *copy = arg;

    (void)w;
    for (unsigned id = 0; id < PORT_MAX; id++) {
        struct port *port = copy->h->ports[id];
        if (port) {
            copy->out[copy->n].port = port;
            copy->out[copy->n].stats = port->stats;
            copy->n++;
        }
    }
}

size_t hashi_stats(struct hashi *h, struct hashi_port_stats *out)
{
    struct stats_copy copy = {h, out, 0};

    worker_call(&h->worker, copy_stats_on_worker, &copy);
    return copy.n;
}

static void clear_stats_on_worker(struct worker *w, void *arg)
{
    struct hashi *h = arg;

    (void)w;
    for (unsigned id = 0; id < PORT_MAX; id++)
        if (h->ports[id])
            memset(&h->ports[id]->stats, 0, sizeof h->ports[id]->stats);
}

void hashi_stats_clear(struct hashi *h)
{
    worker_call(&h->worker, clear_stats_on_worker, h);
}

static void copy_pmd_on_worker(struct worker *w, void *out)
{
    *(struct worker_stats *)out = w->stats;
}

void hashi_pmd_stats(struct hashi *h, struct worker_stats *out)
{
    worker_call(&h->worker, copy_pmd_on_worker, out);
}

static void clear_pmd_on_worker(struct worker *w, void *arg)
{
    (void)arg;
    memset(&w->stats, 0, sizeof w->stats);
}

void hashi_pmd_stats_clear(struct hashi *h)
{
    worker_call(&h->worker, clear_pmd_on_worker, NULL);
}

struct fdb_copy {
    struct fdb_view *out;
    size_t max, n;
};

static void copy_fdb_on_worker(struct worker *w, void *arg)
{
    struct fdb_copy *copy = arg;

    copy->n = fdb_dump(&w->sw.fdb, w->sw.now, copy->out, copy->max);
}

size_t hashi_fdb(struct hashi *h, struct fdb_view *out, size_t max)
{
    struct fdb_copy copy = {out, max, 0};

    worker_call(&h->worker, copy_fdb_on_worker, &copy);
    return copy.n;
}
