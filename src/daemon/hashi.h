/*
 * The running switch as the control plane sees it: bridges, ports by name, the workers, which
 * worker polls which receive queue, the shared FDB and the buffer pools. Every function here
 * runs on the main (control) thread; changes to what a worker sees go through worker_call().
 *
 * Receive queues are assigned to workers round-robin (each new queue to the worker with the
 * fewest) or, with rxq-assign = cycles, by measured load on `rebalance`; a pinned queue stays
 * where it was put. A queue moves by first leaving its old worker (which has then sent all it
 * received from it) and then joining the new one, so no two workers ever poll one queue and a
 * flow's frames keep their order.
 */
#ifndef HASHI_DAEMON_H
#define HASHI_DAEMON_H

#include <stddef.h>

#include <rte_mempool.h>

#include "config/config.h"
#include "ports/port.h"
#include "switch/fdb.h"
#include "switch/worker.h"

#define HASHI_FDB_CAPACITY 16384

/* Where one receive queue is polled. */
struct hashi_rxq {
    int8_t worker; /* index into workers; -1 while unassigned */
    bool pinned;   /* placed by `rxq pin`: rebalancing leaves it */
};

struct hashi {
    struct hashi_config cfg; /* bridges and globals; cfg.ports is the start-up list only */
    uint32_t aging_s[CONFIG_MAX_BRIDGES];
    struct fdb fdb;
    struct rte_mempool *pools[RTE_MAX_NUMA_NODES]; /* one per NUMA node with a worker */
    unsigned n_workers;
    struct worker workers[WORKER_MAX];
    struct port_env env;
    struct port *ports[PORT_MAX];               /* by id, NULL: free */
    char ifnames[PORT_MAX][CONFIG_IFNAME_SIZE]; /* kernel interface of each port, "" for none */
    struct hashi_rxq rxqs[PORT_MAX][CONFIG_QUEUES_MAX];
    uint64_t steering_version[PORT_MAX];           /* MAC-steered uplinks: the map last given */
    bool numa_warned[PORT_MAX][CONFIG_QUEUES_MAX]; /* queue served across NUMA nodes, logged */
};

/* Counters of one port, summed over the workers at one instant. */
struct hashi_port_stats {
    const struct port *port;
    struct port_stats stats;
};

/* One worker as `worker list` shows it. */
struct hashi_worker_view {
    int core, numa;
    bool adaptive;
    struct worker_stats stats;
    uint16_t n_rxqs;
    struct worker_rxq rxqs[WORKER_MAX_RXQS];
};

/* Creates the pools, the FDB and one worker per entry of cores[] on lcores[] (EAL already
 * initialised); does not open ports or start the workers. Returns 0 or a positive errno with
 * a message. */
int hashi_init(struct hashi *h, const struct hashi_config *cfg, const unsigned *lcores,
               const int *cores, unsigned n, char *err, size_t errlen);

/* Starts every worker. Returns 0, or a positive errno with a message. */
int hashi_start(struct hashi *h, char *err, size_t errlen);

/* Closes every port, stops the workers, frees the pools. */
void hashi_fini(struct hashi *h);

/* Opens a port, assigns its receive queues and starts switching it. Returns 0 or a positive
 * errno with a message. */
int hashi_port_add(struct hashi *h, const struct port_config *cfg, char *err, size_t errlen);

/* Stops switching a port and closes it; its last counters go to *final (if not NULL), so that
 * what it carried stays accountable. Returns 0 or ENOENT with a message. */
int hashi_port_del(struct hashi *h, const char *name, struct port_stats *final, char *err,
                   size_t errlen);

/* Changes one setting of a running port: "rsc" (on|off), "queues" (1..8), "steering"
 * (mac|rss). Returns 0, or a positive errno with a message that says what is accepted. */
int hashi_port_set(struct hashi *h, const char *name, const char *key, const char *value, char *err,
                   size_t errlen);

/* Puts receive queue `queue` of port `name` on the worker of CPU `core` and keeps it there
 * (core -1: unpin, and let the next assignment place it). Returns 0, or a positive errno with
 * a message. */
int hashi_rxq_pin(struct hashi *h, const char *name, unsigned queue, int core, char *err,
                  size_t errlen);

/* Reassigns every unpinned receive queue by the configured rule (rxq-assign), from the load
 * measured since the last assignment, and restarts that measurement. */
void hashi_rxq_rebalance(struct hashi *h);

/* Once a second on the control thread: ages the FDB, brings MAC steering maps up to date with
 * what it has learned, and places a guest's unpinned queues on a worker of the NUMA node of its
 * memory (logging a warning, once, where a pin or the cores keep a queue on another node). */
void hashi_housekeeping(struct hashi *h);

/* Copies every port's counters (in id order) into out[PORT_MAX]; returns how many ports. */
size_t hashi_stats(struct hashi *h, struct hashi_port_stats *out);
void hashi_stats_clear(struct hashi *h);

/* Copies each worker's counters and queues into out[WORKER_MAX]; returns how many workers. */
unsigned hashi_workers(struct hashi *h, struct hashi_worker_view *out);
void hashi_pmd_stats_clear(struct hashi *h);

/* Copies up to max FDB entries (ordered by bridge, MAC); returns how many. */
size_t hashi_fdb(struct hashi *h, struct fdb_view *out, size_t max);

/* Buffers in use and in all, over every pool. */
void hashi_buffers(const struct hashi *h, unsigned *in_use, unsigned *total);

#endif
