/*
 * AF_PACKET uplinks: a packet socket bound to a NIC or veth, promiscuous, that sees every frame
 * the interface receives and sends frames out of it. The socket always carries a virtio-net
 * header (PACKET_VNET_HDR), like a TAP: frames the kernel coalesced (GRO) arrive whole as TSO
 * frames and partial checksums arrive marked, so the switch segments and completes them for
 * receivers that need it. `offload` decides what hashi sends: with it on, TSO frames and
 * partial checksums leave whole for the NIC (or the kernel's GSO); with it off, only finished
 * wire frames.
 *
 * With queues = N the port holds N sockets in one PACKET_FANOUT group (always a group, so that
 * queues can be added and removed while it runs): the kernel splits received frames over them,
 * and each socket is a receive queue polled by one worker, with no hand-off between cores.
 * How it splits is the port's steering: `rss`, the kernel's symmetric flow hash (both
 * directions of a connection on one queue); or `mac`, a classic BPF program that hashi writes
 * from the FDB, mapping each VM's MAC to the queue polled by the worker that serves the VM's
 * port, so one VM's traffic is received, switched and delivered on one core.
 *
 * With `dispatch = software` the port has one socket instead, and hashi splits what it reads
 * over the queues itself (ports/dispatch.h): the same two steerings, with hashi's Toeplitz
 * hash for rss, at the cost of a hand-off between cores for every frame not kept by queue 0.
 *
 * hashi's own socket code rather than DPDK's net_af_packet, because net_af_packet has no
 * virtio-net header: it would truncate GRO frames and could not hand TSO to the kernel.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "ports/dispatch.h"
#include "ports/netif.h"
#include "ports/port.h"
#include "ports/vnet_queue.h"
#include "util/util.h"

#define AFPACKET_SOCKET_BUFFER (8 << 20) /* bytes; rides out a worker pause at 10 Gbit/s */

#define AFPACKET_MAX_STEERED_MACS 800 /* 5 BPF instructions each, within BPF_MAXINSNS */

struct afpacket_port {
    struct port up;
    char ifname[CONFIG_IFNAME_SIZE];
    unsigned ifindex;
    bool offload;
    uint16_t fanout_id;
    bool soft_dispatch;
    uint16_t n_queues;        /* sockets: one per queue, or one with software dispatch */
    struct rte_mempool *pool; /* sizes reads */
    uint64_t kernel_drops;    /* control thread only: frames the kernel dropped, socket full */
    struct vnet_queue queues[CONFIG_QUEUES_MAX]; /* receive queues; .fd: the socket */
    struct vnet_queue tx; /* one sending socket, apart, so receive sockets may come and go */
    struct port_env env;
    struct dispatch dispatch; /* with soft_dispatch */
};

const struct port_class afpacket_port_class;

static struct afpacket_port *afpacket_port_cast(const struct port *port)
{
    return container_of(port, struct afpacket_port, up);
}

static int set_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value);
}

static struct sock_filter incoming_code[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0),          /* outgoing: not for this socket */
    BPF_STMT(BPF_RET | BPF_K, UINT32_MAX), /* anything else, whole */
};
static const struct sock_fprog incoming_only = {
    .len = sizeof incoming_code / sizeof incoming_code[0],
    .filter = incoming_code,
};

/* A packet socket on ifindex with large buffers. A receiving one is promiscuous, blind to the
 * frames sent out of the interface, and a member of the port's fanout group; a sending one
 * receives nothing. Returns the descriptor, or -1 with err set. */
static int open_socket(const struct afpacket_port *ap, bool rx, char *err, size_t errlen)
{
    struct sockaddr_ll addr = {.sll_family = AF_PACKET,
                               .sll_protocol = rx ? htons(ETH_P_ALL) : 0,
                               .sll_ifindex = (int)ap->ifindex};
    struct packet_mreq promisc = {.mr_ifindex = (int)ap->ifindex, .mr_type = PACKET_MR_PROMISC};
    int fanout_mode = ap->up.steering == PORT_STEER_MAC ? PACKET_FANOUT_CBPF : PACKET_FANOUT_HASH;
    /* protocol 0: no frame is queued before bind() picks the interface (ETH_P_ALL here would
     * take every interface's frames meanwhile) */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step;

    if (fd < 0) {
        snprintf(err, errlen, "cannot open a packet socket: %s (run as root)", strerror(errno));
        return -1;
    }
    step = "PACKET_VNET_HDR";
    if (set_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0)
        goto fail;
    step = "PACKET_AUXDATA"; /* the VLAN tags the kernel takes off received frames */
    if (set_int(fd, SOL_PACKET, PACKET_AUXDATA, 1) < 0)
        goto fail;
    step = "PACKET_IGNORE_OUTGOING";
    if (set_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1) < 0)
        goto fail;
    step = "socket buffers";
    if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, AFPACKET_SOCKET_BUFFER) < 0 ||
        set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, AFPACKET_SOCKET_BUFFER) < 0)
        goto fail;
    step = "bind";
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        goto fail;
    if (!rx)
        return fd;
    if (ap->soft_dispatch)
        goto promiscuous;
    /* A fanout group has its own receive hook, which PACKET_IGNORE_OUTGOING does not reach
     * (the group's flag for it is newer than the kernels hashi supports): this filter keeps
     * what hashi sends out of the interface from coming back in. */
    step = "the outgoing-frame filter";
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &incoming_only, sizeof incoming_only) < 0)
        goto fail;
    step = "PACKET_FANOUT";
    if (set_int(fd, SOL_PACKET, PACKET_FANOUT, ap->fanout_id | fanout_mode << 16) < 0)
        goto fail;
promiscuous:
    step = "promiscuous mode";
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof promisc) < 0)
        goto fail;
    return fd;

fail:
    snprintf(err, errlen, "packet socket on %s: %s failed: %s", ap->ifname, step, strerror(errno));
    close(fd);
    return -1;
}

static void close_queues(struct afpacket_port *ap, uint16_t from)
{
    for (uint16_t q = from; q < ap->n_queues; q++) {
        vnet_queue_fini(&ap->queues[q]);
        close(ap->queues[q].fd); /* leaving promiscuous mode with the last one */
        ap->queues[q].fd = -1;
    }
    ap->n_queues = from;
    if (!ap->soft_dispatch)
        ap->up.n_rxq = from;
}

/* Opens sockets until there are n. Returns 0, or EINVAL with err set. Either way the port's
 * receive queues are the sockets open: a socket in the fanout group takes its share of the
 * traffic, so it must be one that a worker polls. */
static int open_queues(struct afpacket_port *ap, uint16_t n, char *err, size_t errlen)
{
    int rc = 0;

    for (; ap->n_queues < n; ap->n_queues++) {
        int fd = open_socket(ap, true, err, errlen);
        if (fd < 0) {
            rc = EINVAL;
            break;
        }
        if (vnet_queue_init(&ap->queues[ap->n_queues], fd, true, true, VNET_QUEUE_MAX_FRAME,
                            ap->pool) != 0) {
            snprintf(err, errlen, "the buffer pool's mbufs are too small for this MTU");
            close(fd);
            rc = EINVAL;
            break;
        }
    }
    if (!ap->soft_dispatch)
        ap->up.n_rxq = ap->n_queues;
    return rc;
}

/* A fanout group id no other port of this process has: groups are per network namespace, so
 * another process's group could still collide; then joining fails and says so. */
static uint16_t new_fanout_id(void)
{
    static unsigned counter; /* control thread only */

    return (uint16_t)((unsigned)getpid() * 131u + ++counter);
}

/* A fanout group keeps the mode it was made with: a new mode needs new sockets in a new group.
 * They are opened first, so the interface's traffic always has sockets to go to; the old ones
 * (which no worker polls now) close after, with what they still held. On failure the old ones
 * stay. Returns 0, or EINVAL with err set. */
static int remake_group(struct afpacket_port *ap, enum port_steering mode, char *err, size_t errlen)
{
    struct vnet_queue old[CONFIG_QUEUES_MAX];
    uint16_t n = ap->n_queues, old_id = ap->fanout_id;
    enum port_steering old_mode = ap->up.steering;
    int rc;

    memcpy(old, ap->queues, sizeof old);
    ap->n_queues = 0;
    ap->fanout_id = new_fanout_id();
    ap->up.steering = mode;
    if ((rc = open_queues(ap, n, err, errlen)) != 0) {
        close_queues(ap, 0);
        memcpy(ap->queues, old, sizeof old);
        ap->n_queues = ap->up.n_rxq = n;
        ap->fanout_id = old_id;
        ap->up.steering = old_mode;
        return rc;
    }
    for (uint16_t q = 0; q < n; q++) {
        vnet_queue_fini(&old[q]);
        close(old[q].fd);
    }
    return 0;
}

static int afpacket_open(const struct port_config *cfg, const struct port_env *env,
                         struct port **out, char *err, size_t errlen)
{
    struct afpacket_port *ap = rte_zmalloc("afpacket_port", sizeof *ap, RTE_CACHE_LINE_SIZE);
    int rc;

    if (!ap) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    port_init(&ap->up, &afpacket_port_class, cfg);
    strcpy(ap->ifname, cfg->ifname);
    ap->offload = cfg->offload;
    ap->pool = env->pool;
    ap->env = *env;
    ap->soft_dispatch = cfg->soft_dispatch;
    ap->fanout_id = new_fanout_id();
    ap->ifindex = if_nametoindex(cfg->ifname);
    if (ap->ifindex == 0) {
        snprintf(err, errlen, "interface %s does not exist; create it or fix iface", cfg->ifname);
        rc = ENODEV;
        goto fail;
    }
    if ((rc = netif_set_up(ap->ifname)) != 0) {
        snprintf(err, errlen, "cannot bring %s up: %s", ap->ifname, strerror(rc));
        goto fail;
    }
    if (ap->soft_dispatch &&
        (rc = dispatch_init(&ap->dispatch, cfg->name, (uint16_t)cfg->queues, err, errlen)) != 0)
        goto fail;
    ap->up.n_rxq = (uint16_t)cfg->queues;
    if ((rc = open_queues(ap, ap->soft_dispatch ? 1 : (uint16_t)cfg->queues, err, errlen)) != 0) {
        close_queues(ap, 0);
        goto fail_dispatch;
    }
    if ((ap->tx.fd = open_socket(ap, false, err, errlen)) < 0) {
        close_queues(ap, 0);
        rc = EINVAL;
        goto fail_dispatch;
    }
    vnet_queue_init(&ap->tx, ap->tx.fd, true, true, VNET_QUEUE_MAX_FRAME, ap->pool);
    *out = &ap->up;
    return 0;

fail_dispatch:
    if (ap->soft_dispatch)
        dispatch_fini(&ap->dispatch);
fail:
    rte_free(ap);
    return rc;
}

static void afpacket_close(struct port *port)
{
    struct afpacket_port *ap = afpacket_port_cast(port);

    if (ap->soft_dispatch) {
        dispatch_fini(&ap->dispatch);
        if (ap->dispatch.discarded)
            LOG_WARN("port %s: %llu dispatched frames were still waiting for their queue",
                     port->name, (unsigned long long)ap->dispatch.discarded);
    }
    close_queues(ap, 0);
    close(ap->tx.fd);
    rte_free(ap);
}

static int afpacket_set_queues(struct port *port, uint16_t n, char *err, size_t errlen)
{
    struct afpacket_port *ap = afpacket_port_cast(port);

    if (ap->soft_dispatch) {
        int rc = dispatch_resize(&ap->dispatch, n, err, errlen);
        port->n_rxq = ap->dispatch.n_queues;
        return rc;
    }
    if (n < ap->n_queues) {
        close_queues(ap, n);
        return 0;
    }
    return open_queues(ap, n, err, errlen);
}

/* Where the program reads the destination MAC. The kernel runs a fanout program on a frame
 * whose data starts at the network header, so the Ethernet header is reached through the
 * link-layer base. */
#define DST_MAC_HIGH ((uint32_t)SKF_LL_OFF)     /* bytes 0-1 */
#define DST_MAC_LOW  ((uint32_t)SKF_LL_OFF + 2) /* bytes 2-5 */

/* The BPF program of MAC steering: destination MAC -> queue for the listed MACs, and a hash of
 * the destination MAC's low four bytes for the rest (the kernel takes it modulo the group's
 * size). Returns the program length. */
static unsigned mac_program(struct sock_filter *prog, const uint64_t *macs, const uint16_t *queues,
                            size_t n)
{
    unsigned len = 0;

    for (size_t i = 0; i < n; i++) {
        /* dst MAC bytes 2-5, then 0-1: a mismatch jumps to the next MAC's first instruction */
        prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DST_MAC_LOW);
        prog[len++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)macs[i], 0, 3);
        prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, DST_MAC_HIGH);
        prog[len++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                   (uint32_t)(macs[i] >> 32), 0, 1);
        prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, queues[i]);
    }
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, DST_MAC_LOW);
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
    return len;
}

static int afpacket_set_steering(struct port *port, enum port_steering mode, const uint64_t *macs,
                                 const uint16_t *queues, size_t n, char *err, size_t errlen)
{
    static struct sock_filter prog[5 * AFPACKET_MAX_STEERED_MACS + 2]; /* control thread only */
    struct afpacket_port *ap = afpacket_port_cast(port);

    if (ap->soft_dispatch) {
        port->steering = mode;
        return dispatch_set_steering(&ap->dispatch, mode, macs, queues, n, ap->env.sync,
                                     ap->env.sync_ctx);
    }
    if (mode != port->steering) {
        int rc = remake_group(ap, mode, err, errlen);
        if (rc)
            return rc;
    }
    if (mode == PORT_STEER_MAC) {
        struct sock_fprog fprog = {
            .len = (unsigned short)mac_program(prog, macs, queues,
                                               RTE_MIN(n, (size_t)AFPACKET_MAX_STEERED_MACS)),
            .filter = prog,
        };
        if (n > AFPACKET_MAX_STEERED_MACS)
            LOG_WARN("port %s: %zu MACs to steer, %d fit: the rest go by hash", port->name, n,
                     AFPACKET_MAX_STEERED_MACS);
        if (setsockopt(ap->queues[0].fd, SOL_PACKET, PACKET_FANOUT_DATA, &fprog, sizeof fprog) <
            0) {
            snprintf(err, errlen, "cannot load the steering program on %s: %s", ap->ifname,
                     strerror(errno));
            return EINVAL;
        }
    }
    return 0;
}

static uint16_t afpacket_rx_burst(struct port *port, uint16_t queue, const struct port_io *io,
                                  struct rte_mbuf **pkts, uint16_t n)
{
    struct afpacket_port *ap = afpacket_port_cast(port);

    if (!ap->soft_dispatch)
        return vnet_queue_rx(&ap->queues[queue], io, pkts, n);
    if (queue > 0)
        return dispatch_rx(&ap->dispatch, queue, pkts, n);
    return dispatch_split(&ap->dispatch, io, pkts, vnet_queue_rx(&ap->queues[0], io, pkts, n));
}

static int afpacket_rx_wait(struct port *port, uint16_t queue, bool arm)
{
    struct afpacket_port *ap = afpacket_port_cast(port);

    if (ap->soft_dispatch && queue > 0)
        return dispatch_wait(&ap->dispatch, queue, arm);
    return arm ? ap->queues[queue].fd : 0;
}

static uint16_t afpacket_tx_burst(struct port *port, const struct port_io *io,
                                  struct rte_mbuf **pkts, uint16_t n)
{
    /* the kernel picks the NIC queue */
    return vnet_queue_tx(&afpacket_port_cast(port)->tx, io, pkts, n);
}

static bool afpacket_link_up(const struct port *port)
{
    (void)port;
    return true; /* a send on a down interface fails and is counted as link_down */
}

static uint32_t afpacket_offloads(const struct port *port)
{
    return afpacket_port_cast(port)->offload ? PORT_OL_CSUM | PORT_OL_TSO4 | PORT_OL_TSO6 : 0;
}

static void afpacket_describe(struct port *port, json_t *out)
{
    struct afpacket_port *ap = afpacket_port_cast(port);
    struct tpacket_stats st;
    socklen_t len = sizeof st;

    json_object_set_new(out, "iface", json_string(ap->ifname));
    /* Frames that never reached hashi because its socket buffer was full: they are outside
     * the port's counters, so they are shown here. Reading the kernel's count resets it. */
    for (uint16_t q = 0; q < ap->n_queues; q++) {
        len = sizeof st;
        if (getsockopt(ap->queues[q].fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
            ap->kernel_drops += st.tp_drops;
    }
    json_object_set_new(out, "queues", json_integer(port->n_rxq));
    json_object_set_new(out, "dispatch", json_string(ap->soft_dispatch ? "software" : "kernel"));
    if (ap->soft_dispatch)
        json_object_set_new(out, "dispatch_discarded",
                            json_integer((json_int_t)ap->dispatch.discarded));
    json_object_set_new(out, "steering",
                        json_string(port->steering == PORT_STEER_MAC ? "mac" : "rss"));
    json_object_set_new(out, "kernel_drops", json_integer((json_int_t)ap->kernel_drops));
}

const struct port_class afpacket_port_class = {
    .type = "afpacket",
    .open = afpacket_open,
    .close = afpacket_close,
    .rx_burst = afpacket_rx_burst,
    .tx_burst = afpacket_tx_burst,
    .rx_wait = afpacket_rx_wait,
    .set_queues = afpacket_set_queues,
    .set_steering = afpacket_set_steering,
    .link_up = afpacket_link_up,
    .offloads = afpacket_offloads,
    .coalesce_limits = vnet_queue_coalesce_limits,
    .describe = afpacket_describe,
};
