/*
 * The running switch as the control plane sees it: bridges, ports by name, the worker and the
 * buffer pool. Every function here runs on the main (control) thread; changes to what the
 * worker sees go through worker_call().
 */
#ifndef HASHI_DAEMON_H
#define HASHI_DAEMON_H

#include <stddef.h>

#include <rte_mempool.h>

#include "config/config.h"
#include "ports/port.h"
#include "switch/fdb.h"
#include "switch/worker.h"

struct hashi {
    struct hashi_config cfg; /* bridges and globals; cfg.ports is the start-up list only */
    struct rte_mempool *pool;
    struct worker worker;
    struct port_env env;
    struct port *ports[PORT_MAX];               /* by id, NULL: free */
    char ifnames[PORT_MAX][CONFIG_IFNAME_SIZE]; /* kernel interface of each port, "" for none */
};

/* Counters of one port, copied at one instant. */
struct hashi_port_stats {
    const struct port *port;
    struct port_stats stats;
};

/* Creates the pool and the worker for cfg (EAL already initialised); does not open ports.
 * Returns 0 or a positive errno with a message. */
int hashi_init(struct hashi *h, const struct hashi_config *cfg, unsigned worker_lcore,
               int worker_core, char *err, size_t errlen);

/* Closes every port, stops the worker, frees the pool. */
void hashi_fini(struct hashi *h);

/* Opens a port and starts switching it. Returns 0 or a positive errno with a message. */
int hashi_port_add(struct hashi *h, const struct port_config *cfg, char *err, size_t errlen);

/* Stops switching a port and closes it; its last counters go to *final (if not NULL), so that
 * what it carried stays accountable. Returns 0 or ENOENT with a message. */
int hashi_port_del(struct hashi *h, const char *name, struct port_stats *final, char *err,
                   size_t errlen);

/* Changes one setting of a running port: key "rsc", value "on" or "off". Returns 0, or EINVAL
 * or ENOENT with a message that says what is accepted. */
int hashi_port_set(struct hashi *h, const char *name, const char *key, const char *value, char *err,
                   size_t errlen);

/* Copies every port's counters (in id order) into out[PORT_MAX]; returns how many ports. */
size_t hashi_stats(struct hashi *h, struct hashi_port_stats *out);
void hashi_stats_clear(struct hashi *h);

/* Copies the worker's cycle counters. */
void hashi_pmd_stats(struct hashi *h, struct worker_stats *out);
void hashi_pmd_stats_clear(struct hashi *h);

/* Copies up to max FDB entries (ordered by bridge, MAC); returns how many. */
size_t hashi_fdb(struct hashi *h, struct fdb_view *out, size_t max);

#endif
