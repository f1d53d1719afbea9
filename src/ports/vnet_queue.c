#include "vnet_queue.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/if_packet.h>

#include <rte_ether.h>

#include "offload/vnet_hdr.h"

int vnet_queue_init(struct vnet_queue *q, int fd, bool vnet_hdr, bool is_socket, uint32_t max_frame,
                    struct rte_mempool *pool)
{
    uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
    /* one byte more than the longest frame: a read that fills every byte was cut short */
    uint32_t segs = (max_frame + 1 + room - 1) / room;

    memset(q, 0, sizeof *q);
    q->fd = fd;
    if (segs > VNET_QUEUE_MAX_SEGS)
        return EINVAL;
    q->vnet_hdr = vnet_hdr;
    q->is_socket = is_socket;
    q->segs_per_frame = (uint16_t)segs;
    return 0;
}

void vnet_queue_fini(struct vnet_queue *q)
{
    rte_pktmbuf_free_bulk(q->spare, q->n_spare);
    q->n_spare = 0;
}

static int refill(struct vnet_queue *q, struct rte_mempool *pool)
{
    uint16_t want = q->segs_per_frame - q->n_spare;

    if (want == 0)
        return 0;
    if (rte_pktmbuf_alloc_bulk(pool, q->spare + q->n_spare, want) != 0)
        return -1;
    q->n_spare += want;
    return 0;
}

/* Links the first mbufs of the spare chain that hold len bytes into one frame and moves the
 * unused ones to the front. */
static struct rte_mbuf *take_frame(struct vnet_queue *q, uint32_t len)
{
    struct rte_mbuf *head = q->spare[0], *prev = NULL;
    uint16_t used = 0;
    uint32_t left = len;

    do {
        struct rte_mbuf *m = q->spare[used++];
        uint32_t part = RTE_MIN(left, (uint32_t)rte_pktmbuf_tailroom(m));
        m->data_len = (uint16_t)part;
        if (prev)
            prev->next = m;
        prev = m;
        left -= part;
    } while (left > 0);
    prev->next = NULL;
    head->nb_segs = used;
    head->pkt_len = len;
    q->n_spare -= used;
    memmove(q->spare, q->spare + used, q->n_spare * sizeof q->spare[0]);
    return head;
}

/* Reads one frame. A packet socket also tells, in *vlan (TPID << 16 | TCI, 0 for none), the
 * VLAN tag the kernel took off the frame before the socket saw it (it untags every received
 * frame; a TAP reader gets the tag back in the frame, a packet socket only beside it). */
static ssize_t read_frame(struct vnet_queue *q, struct iovec *iov, int n_iov, uint32_t *vlan)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } control;
    struct msghdr msg = {.msg_iov = iov,
                         .msg_iovlen = (size_t)n_iov,
                         .msg_control = &control,
                         .msg_controllen = sizeof control};
    ssize_t r;

    *vlan = 0;
    if (!q->is_socket)
        return readv(q->fd, iov, n_iov);
    r = recvmsg(q->fd, &msg, MSG_TRUNC); /* the true length, also when cut short */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); r >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        struct tpacket_auxdata aux;
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
            continue;
        memcpy(&aux, CMSG_DATA(c), sizeof aux);
        if (aux.tp_status & TP_STATUS_VLAN_VALID) {
            uint32_t tpid =
                aux.tp_status & TP_STATUS_VLAN_TPID_VALID ? aux.tp_vlan_tpid : RTE_ETHER_TYPE_VLAN;
            *vlan = tpid << 16 | aux.tp_vlan_tci;
        }
    }
    return r;
}

/* Puts a tag the kernel took off back behind the MAC addresses, and moves the virtio-net
 * header's offsets with the frame. Returns -1 when the first segment has no room for it. */
static int restore_vlan(struct rte_mbuf *m, uint32_t vlan, struct virtio_net_hdr *hdr)
{
    uint8_t *p = (uint8_t *)rte_pktmbuf_prepend(m, RTE_VLAN_HLEN);
    rte_be16_t tag[2] = {rte_cpu_to_be_16((uint16_t)(vlan >> 16)),
                         rte_cpu_to_be_16((uint16_t)vlan)};

    if (!p || rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN)
        return -1;
    memmove(p, p + RTE_VLAN_HLEN, 2 * RTE_ETHER_ADDR_LEN);
    memcpy(p + 2 * RTE_ETHER_ADDR_LEN, tag, sizeof tag);
    if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        hdr->csum_start = (uint16_t)(hdr->csum_start + RTE_VLAN_HLEN);
    if (hdr->hdr_len)
        hdr->hdr_len = (uint16_t)(hdr->hdr_len + RTE_VLAN_HLEN);
    return 0;
}

static void rx_drop(struct port_stats *st, enum port_drop reason, struct rte_mbuf *m)
{
    st->rx_packets++;
    st->rx_bytes += rte_pktmbuf_pkt_len(m);
    st->drops[reason]++;
    rte_pktmbuf_free(m);
}

uint16_t vnet_queue_rx(struct vnet_queue *q, const struct port_io *io, struct rte_mbuf **pkts,
                       uint16_t n)
{
    struct port_stats *st = io->stats;
    struct iovec iov[VNET_QUEUE_MAX_SEGS + 1];
    struct virtio_net_hdr hdr;
    uint16_t got = 0;

    /* reads are bounded, not only frames: a read that fails over and over must not hold the
     * worker */
    for (uint16_t reads = 0; got < n && reads < 2 * n && refill(q, io->pool) == 0; reads++) {
        uint32_t hdr_len = q->vnet_hdr ? sizeof hdr : 0, room = 0;
        int n_iov = 0;
        uint32_t vlan;
        ssize_t r;

        if (q->vnet_hdr)
            iov[n_iov++] = (struct iovec){.iov_base = &hdr, .iov_len = sizeof hdr};
        for (uint16_t i = 0; i < q->n_spare; i++) {
            struct rte_mbuf *m = q->spare[i];
            iov[n_iov++] = (struct iovec){.iov_base = rte_pktmbuf_mtod(m, void *),
                                          .iov_len = rte_pktmbuf_tailroom(m)};
            room += rte_pktmbuf_tailroom(m);
        }
        r = read_frame(q, iov, n_iov, &vlan);
        if (r < 0 && errno == EINVAL) {
            /* the kernel consumed a frame whose GSO type a virtio-net header cannot express
             * (UDP tunnels...): count it lost rather than let it vanish */
            st->rx_packets++;
            st->drops[PORT_DROP_RX_BAD_GSO]++;
            continue;
        }
        if (r < 0)
            break; /* EAGAIN: the queue is empty; anything else shows again next poll */
        if ((size_t)r < hdr_len + RTE_ETHER_HDR_LEN) {
            /* shorter than an Ethernet header (or than the virtio-net header): handed on as it
             * is, so the switch counts it as a bad frame like any other runt */
            pkts[got++] = take_frame(q, r > (ssize_t)hdr_len ? (uint32_t)r - hdr_len : 1);
            continue;
        }
        uint32_t len = (uint32_t)r - hdr_len;
        if (len >= room) {
            struct rte_mbuf *m = take_frame(q, room);
            m->pkt_len = len; /* counted at its true length */
            rx_drop(st, PORT_DROP_RX_TOO_BIG, m);
            continue;
        }
        /* (fresh mbufs carry no offload flags: without a header there is nothing to set) */
        struct rte_mbuf *m = take_frame(q, len);
        if (vlan && unlikely(restore_vlan(m, vlan, &hdr) < 0)) {
            rx_drop(st, PORT_DROP_RX_BAD_FRAME, m);
            continue;
        }
        enum vnet_verdict v = q->vnet_hdr ? vnet_hdr_to_mbuf(&hdr, m) : VNET_OK;
        if (unlikely(v != VNET_OK)) {
            rx_drop(st, v == VNET_BAD_GSO ? PORT_DROP_RX_BAD_GSO : PORT_DROP_RX_BAD_CSUM_OFFSET, m);
            continue;
        }
        pkts[got++] = m;
    }
    return got;
}

uint16_t vnet_queue_tx(struct vnet_queue *q, const struct port_io *io, struct rte_mbuf **pkts,
                       uint16_t n)
{
    struct port_stats *st = io->stats;
    struct iovec iov[VNET_QUEUE_MAX_SEGS + 1];
    struct virtio_net_hdr hdr;
    uint16_t sent = 0, i;

    for (i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        int n_iov = 0;

        if (m->nb_segs > VNET_QUEUE_MAX_SEGS) {
            st->drops[PORT_DROP_TX_ERROR]++;
            continue;
        }
        if (q->vnet_hdr) {
            vnet_hdr_from_mbuf(m, &hdr);
            iov[n_iov++] = (struct iovec){.iov_base = &hdr, .iov_len = sizeof hdr};
        }
        for (struct rte_mbuf *s = m; s; s = s->next)
            iov[n_iov++] = (struct iovec){.iov_base = rte_pktmbuf_mtod(s, void *),
                                          .iov_len = rte_pktmbuf_data_len(s)};
        if (writev(q->fd, iov, n_iov) >= 0) {
            sent++;
            st->tx_bytes += rte_pktmbuf_pkt_len(m);
        } else if (errno == EAGAIN || errno == ENOBUFS) {
            break; /* the kernel's queue is full: the rest of the burst waits no better */
        } else {
            st->drops[errno == ENETDOWN || errno == ENXIO || errno == EIO ? PORT_DROP_TX_LINK_DOWN
                                                                          : PORT_DROP_TX_ERROR]++;
        }
    }
    st->drops[PORT_DROP_TX_RING_FULL] += n - i;
    rte_pktmbuf_free_bulk(pkts, n);
    return sent;
}

void vnet_queue_coalesce_limits(const struct port *port, uint32_t *max_frame, uint16_t *max_segs)
{
    (void)port;
    *max_frame = VNET_QUEUE_MAX_FRAME;
    *max_segs = VNET_QUEUE_MAX_SEGS;
}
