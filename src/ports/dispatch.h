/*
 * Software dispatch: one receive queue's frames split over several queues by hashi itself, for
 * an uplink whose frames the kernel does not split (`dispatch = software`). The worker that
 * polls queue 0 reads the frames, keeps those that belong to queue 0 and hands each other
 * frame to its queue's ring, which the worker owning that queue drains as its receive queue.
 * Frames of one flow (rss) or one destination (mac) take the same ring for as long as the map
 * and the number of queues stay the same, and each ring has one producer and one consumer, so
 * they keep their order. (When the map changes, frames already waiting in the old ring can be
 * overtaken by later ones of the same destination on its new ring, as with the kernel's
 * split.)
 *
 * The alternative to PACKET_FANOUT: it costs a ring hand-off between cores per frame, but no
 * kernel work per extra socket, and it splits with hashi's own Toeplitz hash. (The benchmark
 * bench/multicore.sh measures both.)
 *
 * Threads: dispatch_split runs on queue 0's worker, dispatch_rx(q) on queue q's worker, the
 * rest on the control thread while no worker polls the queues (dispatch_set_steering excepted:
 * it may run while they do).
 */
#ifndef HASHI_DISPATCH_H
#define HASHI_DISPATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "config/config.h"
#include "ports/port.h"

#define DISPATCH_RING_SIZE                                                                         \
    4096                        /* frames waiting per queue (a power of two): room for a           \
                                   burst while the queue's worker wakes up */
#define DISPATCH_MAP_SLOTS 2048 /* MACs steered by destination: up to half of it */

/* Destination MAC -> queue, open addressing; key 0 marks a free slot (MACs are stored + 1). */
struct dispatch_map {
    uint64_t keys[DISPATCH_MAP_SLOTS];
    uint16_t queues[DISPATCH_MAP_SLOTS];
};

struct dispatch {
    char name[CONFIG_NAME_SIZE];
    uint16_t n_queues;
    struct rte_ring *rings[CONFIG_QUEUES_MAX]; /* [0] unused: queue 0 keeps its frames */
    int wake_fds[CONFIG_QUEUES_MAX];           /* eventfd per ring: frames for a sleeper */
    atomic_bool asleep[CONFIG_QUEUES_MAX];     /* the ring's worker sleeps (dispatch_wait) */
    atomic_int mode;                           /* enum port_steering */
    _Atomic(struct dispatch_map *) map;        /* the map in use */
    struct dispatch_map *maps[2];              /* the one in use and the next */
    uint64_t discarded;                        /* control thread: frames left in closed rings */
};

/* Prepares n queues (1..CONFIG_QUEUES_MAX) named after the port. Returns 0, or ENOMEM with a
 * message. */
int dispatch_init(struct dispatch *d, const char *name, uint16_t n, char *err, size_t errlen);

/* Changes the number of queues; frames waiting in rings that close are freed and added to
 * d->discarded. Returns 0, or ENOMEM with a message. */
int dispatch_resize(struct dispatch *d, uint16_t n, char *err, size_t errlen);

/* Frees the rings (and what waits in them, counted in d->discarded) and the maps. */
void dispatch_fini(struct dispatch *d);

/* Splits n frames just read from queue 0: those for queue 0 stay in pkts (in order) and their
 * number is returned; the others go to their rings (counted in io->stats->dispatched). A frame
 * whose ring is full is counted in io->stats (rx_packets and dispatch_full) and freed. n <=
 * PORT_BURST. */
uint16_t dispatch_split(struct dispatch *d, const struct port_io *io, struct rte_mbuf **pkts,
                        uint16_t n);

/* Receives up to n frames dispatched to queue q (>= 1). */
static inline uint16_t dispatch_rx(struct dispatch *d, uint16_t q, struct rte_mbuf **pkts,
                                   uint16_t n)
{
    return (uint16_t)rte_ring_sc_dequeue_burst(d->rings[q], (void **)pkts, n, NULL);
}

/* Adaptive polling of queue q (>= 1): arm marks its worker asleep and returns a descriptor that
 * turns readable when the splitting worker next hands the queue a frame; !arm undoes that and
 * returns 0. */
int dispatch_wait(struct dispatch *d, uint16_t q, bool arm);

/* Sets how frames are split; for PORT_STEER_MAC, the n MACs (48-bit numbers) and their queues
 * (the rest go by a hash of the destination MAC). `sync` returns once no worker is inside
 * dispatch_split, so the previous map can be reused. Returns 0. */
int dispatch_set_steering(struct dispatch *d, enum port_steering mode, const uint64_t *macs,
                          const uint16_t *queues, size_t n, void (*sync)(void *), void *ctx);

#endif
