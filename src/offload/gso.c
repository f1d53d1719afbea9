#include "gso.h"

#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include "csum.h"

/* Offsets of the fields a segment reads or rewrites, from the start of their header. Byte
 * offsets instead of DPDK's packed structs: the headers sit at whatever l2_len says, and
 * memcpy needs no alignment. */
#define IP4_TOTLEN 2
#define IP4_ID     4
#define IP4_FRAG   6
#define IP4_PROTO  9
#define IP4_CSUM   10
#define IP4_ADDRS  12 /* source and destination, 8 bytes */
#define IP6_PLEN   4
#define IP6_NEXT   6
#define IP6_ADDRS  8 /* source and destination, 32 bytes */
#define TCP_SEQ    4
#define TCP_DOFF   12
#define TCP_FLAGS  13
#define TCP_CSUM   16

#define IP4_MF_OFFSET 0x3fff /* more-fragments flag and fragment offset */
#define TCP_FIN       0x01
#define TCP_PSH       0x08
#define TCP_CWR       0x80

/* The most header bytes the mbuf's l2_len, l3_len and l4_len bit-fields can describe. */
#define HDR_MAX                                                                                    \
    ((1u << RTE_MBUF_L2_LEN_BITS) + (1u << RTE_MBUF_L3_LEN_BITS) + (1u << RTE_MBUF_L4_LEN_BITS))

/* TX requests a complete segment satisfies; any other would be lost by the split. */
#define TX_ACCEPTED                                                                                \
    (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IP_CKSUM |    \
     RTE_MBUF_F_TX_TCP_CKSUM)

/* What the checks found out about the frame, and the original values a segment rewrites. */
struct tso_frame {
    bool ipv6;
    uint32_t l2, l3, l4, hdr_len; /* hdr_len = l2 + l3 + l4 */
    uint32_t payload;             /* bytes after the headers */
    uint16_t mss, n_segs;
    uint8_t hdr[HDR_MAX]; /* the original headers, rewritten in place for each segment */
    uint32_t seq;
    uint16_t ip_id;
    uint8_t flags;
    uint32_t addr_sum; /* pseudo-header addresses, in the byte order of rte_raw_cksum */
};

/* A read position in the source chain: segments are cut in order, so the chain is walked once. */
struct chain_pos {
    const struct rte_mbuf *m;
    uint32_t off; /* within m's data */
};

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return rte_be_to_cpu_16(v);
}

static void put16(uint8_t *p, uint16_t host)
{
    uint16_t v = rte_cpu_to_be_16(host);
    memcpy(p, &v, sizeof v);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return rte_be_to_cpu_32(v);
}

static void put32(uint8_t *p, uint32_t host)
{
    uint32_t v = rte_cpu_to_be_32(host);
    memcpy(p, &v, sizeof v);
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Copies len bytes from pos into dst and moves pos past them. The caller has checked that the
 * chain holds them (empty segments in the middle of the chain are stepped over). */
static void chain_copy(struct chain_pos *pos, uint8_t *dst, uint32_t len)
{
    while (len > 0) {
        uint32_t avail = rte_pktmbuf_data_len(pos->m) - pos->off;
        if (avail == 0) {
            pos->m = pos->m->next;
            pos->off = 0;
            continue;
        }
        uint32_t take = RTE_MIN(avail, len);
        memcpy(dst, rte_pktmbuf_mtod_offset(pos->m, const uint8_t *, pos->off), take);
        dst += take;
        len -= take;
        pos->off += take;
    }
}

/* Walks IPv6 extension headers from the fixed header's next-header field: they must end exactly
 * at l3_len, in TCP. Only hop-by-hop, routing and destination options are walked: a fragment
 * header (a TSO frame is never a fragment), AH (its ICV covers the whole original, so no
 * segment would authenticate), ESP (opaque) or an unknown header means l3_len does not describe
 * a frame we can segment. */
static bool ipv6_leads_to_tcp(const uint8_t *ip, uint32_t l3)
{
    uint8_t next = ip[IP6_NEXT];
    uint32_t off = 40;

    while (off < l3) {
        if (off + 2 > l3)
            return false;
        switch (next) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
            next = ip[off];
            off += (ip[off + 1] + 1u) * 8;
            break;
        default:
            return false;
        }
    }
    return off == l3 && next == IPPROTO_TCP;
}

/* Checks that the metadata describes m and fills f, leaving pos (at the start of m) at the
 * first payload byte; GSO_ERR_BAD when the metadata does not describe m. */
static int parse(const struct rte_mbuf *m, uint16_t max, struct tso_frame *f, struct chain_pos *pos)
{
    uint64_t tx = m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK;
    uint32_t chain_len = 0, limit = RTE_MIN((uint32_t)max, (uint32_t)GSO_MAX_SEGS);

    if (!(tx & RTE_MBUF_F_TX_TCP_SEG) || (tx & ~TX_ACCEPTED))
        return GSO_ERR_BAD;
    if (!(tx & RTE_MBUF_F_TX_IPV4) == !(tx & RTE_MBUF_F_TX_IPV6))
        return GSO_ERR_BAD; /* neither or both */
    f->ipv6 = (tx & RTE_MBUF_F_TX_IPV6) != 0;
    f->mss = m->tso_segsz;
    f->l2 = m->l2_len;
    f->l3 = m->l3_len;
    f->l4 = m->l4_len;
    f->hdr_len = f->l2 + f->l3 + f->l4;
    if (f->mss == 0 || f->l2 < RTE_ETHER_HDR_LEN || f->l3 < (f->ipv6 ? 40u : 20u) || f->l4 < 20)
        return GSO_ERR_BAD;

    /* Everything below reads the chain up to pkt_len: it must really be that long. */
    for (const struct rte_mbuf *s = m; s; s = s->next)
        chain_len += rte_pktmbuf_data_len(s);
    if (chain_len != rte_pktmbuf_pkt_len(m) || f->hdr_len >= chain_len)
        return GSO_ERR_BAD;
    chain_copy(pos, f->hdr, f->hdr_len);

    const uint8_t *ip = f->hdr + f->l2, *th = ip + f->l3;
    if (f->ipv6) {
        if (ip[0] >> 4 != 6 || !ipv6_leads_to_tcp(ip, f->l3))
            return GSO_ERR_BAD;
        f->addr_sum = rte_raw_cksum(ip + IP6_ADDRS, 32);
    } else {
        if (ip[0] >> 4 != 4 || (ip[0] & 0xfu) * 4u != f->l3 || ip[IP4_PROTO] != IPPROTO_TCP ||
            (get16(ip + IP4_FRAG) & IP4_MF_OFFSET) != 0)
            return GSO_ERR_BAD;
        f->addr_sum = rte_raw_cksum(ip + IP4_ADDRS, 8);
        f->ip_id = get16(ip + IP4_ID);
    }
    if ((th[TCP_DOFF] >> 4) * 4u != f->l4)
        return GSO_ERR_BAD;
    f->seq = get32(th + TCP_SEQ);
    f->flags = th[TCP_FLAGS];

    f->payload = chain_len - f->hdr_len;
    /* mss * limit <= 65535 * 128 cannot overflow */
    if (f->payload > (uint32_t)f->mss * limit)
        return GSO_ERR_BAD;
    f->n_segs = (uint16_t)((f->payload + f->mss - 1) / f->mss);
    /* the first segment is the longest: its IP length field must hold it */
    uint32_t ip_len = f->l3 - (f->ipv6 ? 40 : 0) + f->l4 + RTE_MIN(f->payload, (uint32_t)f->mss);
    if (ip_len > UINT16_MAX)
        return GSO_ERR_BAD;
    return 0;
}

/* Rewrites f->hdr for segment i of len payload bytes starting at payload offset off, including
 * both checksums. Returns 0, or GSO_ERR_BAD if the payload is not in m (parse rules that out). */
static int fill_headers(const struct rte_mbuf *m, struct tso_frame *f, uint16_t i, uint32_t off,
                        uint32_t len)
{
    uint8_t *ip = f->hdr + f->l2, *th = ip + f->l3;
    uint32_t tcp_len = f->l4 + len, sum;
    uint8_t flags = f->flags;
    uint16_t payload_sum;

    if (i != 0)
        flags &= (uint8_t)~TCP_CWR; /* congestion window reduced once, not once per segment */
    if (i + 1 != f->n_segs)
        flags &= (uint8_t) ~(TCP_PSH | TCP_FIN); /* both belong to the end of the data */
    th[TCP_FLAGS] = flags;
    put32(th + TCP_SEQ, f->seq + off); /* wraps modulo 2^32, as sequence numbers do */

    if (f->ipv6) {
        put16(ip + IP6_PLEN, (uint16_t)(f->l3 - 40 + tcp_len));
    } else {
        put16(ip + IP4_TOTLEN, (uint16_t)(f->l3 + tcp_len));
        put16(ip + IP4_ID, (uint16_t)(f->ip_id + i));
        put16(ip + IP4_CSUM, 0);
        uint16_t ip_sum = (uint16_t)~rte_raw_cksum(ip, f->l3);
        memcpy(ip + IP4_CSUM, &ip_sum, sizeof ip_sum);
    }

    /* The payload starts l4 (a multiple of 4) bytes into the TCP segment, so its sum adds in
     * the same byte lanes as the header's. */
    if (csum_sum(m, f->hdr_len + off, len, &payload_sum) < 0)
        return GSO_ERR_BAD;
    put16(th + TCP_CSUM, 0);
    sum = f->addr_sum + rte_cpu_to_be_16(IPPROTO_TCP) + rte_cpu_to_be_16((uint16_t)tcp_len) +
          rte_raw_cksum(th, f->l4) + payload_sum;
    uint16_t tcp_sum = (uint16_t)~fold(sum);
    memcpy(th + TCP_CSUM, &tcp_sum, sizeof tcp_sum);
    return 0;
}

/* A segment being built: bytes are appended at the tail, the chain grows as mbufs fill up. */
struct seg_build {
    struct rte_mempool *pool;
    struct rte_mbuf *head, *tail;
};

/* Returns where the next bytes go and sets *room to how many fit there, adding an mbuf to the
 * chain when the tail is full; NULL when the pool is empty or hands out mbufs without room
 * (which would otherwise chain forever). What was allocated stays in b->head. */
static uint8_t *seg_room(struct seg_build *b, uint32_t *room)
{
    if (!b->tail || rte_pktmbuf_tailroom(b->tail) == 0) {
        struct rte_mbuf *n = rte_pktmbuf_alloc(b->pool);
        if (!n)
            return NULL;
        if (b->tail) {
            n->data_off = 0; /* headroom is only of use in front of the frame */
            b->tail->next = n;
            b->head->nb_segs++;
        } else {
            b->head = n;
        }
        b->tail = n;
        if (rte_pktmbuf_tailroom(n) == 0)
            return NULL;
    }
    *room = rte_pktmbuf_tailroom(b->tail);
    return rte_pktmbuf_mtod_offset(b->tail, uint8_t *, rte_pktmbuf_data_len(b->tail));
}

static void seg_commit(struct seg_build *b, uint32_t len)
{
    b->tail->data_len = (uint16_t)(b->tail->data_len + len);
    b->head->pkt_len += len;
}

/* Appends len bytes from a flat buffer (from) or, when from is NULL, from the source chain. */
static int seg_append(struct seg_build *b, const uint8_t *from, struct chain_pos *pos, uint32_t len)
{
    while (len > 0) {
        uint32_t room;
        uint8_t *to = seg_room(b, &room);
        if (!to)
            return GSO_ERR_NOMEM;
        uint32_t take = RTE_MIN(room, len);
        if (from) {
            memcpy(to, from, take);
            from += take;
        } else {
            chain_copy(pos, to, take);
        }
        seg_commit(b, take);
        len -= take;
    }
    return 0;
}

/* Builds segment i (payload bytes [off, off + len)) into *out; on failure frees what it took. */
static int make_segment(const struct rte_mbuf *m, struct tso_frame *f, struct rte_mempool *pool,
                        uint16_t i, uint32_t off, uint32_t len, struct chain_pos *pos,
                        struct rte_mbuf **out)
{
    struct seg_build b = {pool, NULL, NULL};
    int rc = fill_headers(m, f, i, off, len);

    if (rc == 0)
        rc = seg_append(&b, f->hdr, NULL, f->hdr_len);
    if (rc == 0)
        rc = seg_append(&b, NULL, pos, len);
    if (rc < 0) {
        rte_pktmbuf_free(b.head); /* NULL-safe */
        return rc;
    }
    /* ol_flags is left as rte_pktmbuf_alloc() reset it: no request, only RTE_MBUF_F_EXTERNAL
     * when the pool's mbufs have pinned external buffers (clearing that would break the free) */
    b.head->l2_len = f->l2;
    b.head->l3_len = f->l3;
    b.head->l4_len = f->l4;
    *out = b.head;
    return 0;
}

int gso_segment(const struct rte_mbuf *m, struct rte_mempool *pool, struct rte_mbuf **segs,
                uint16_t max)
{
    struct tso_frame f;
    struct chain_pos pos = {m, 0};
    uint32_t off = 0;
    int rc = parse(m, max, &f, &pos);

    if (rc < 0)
        return rc;
    for (uint16_t i = 0; i < f.n_segs; i++) {
        uint32_t len = RTE_MIN((uint32_t)f.mss, f.payload - off);
        rc = make_segment(m, &f, pool, i, off, len, &pos, &segs[i]);
        if (rc < 0) {
            rte_pktmbuf_free_bulk(segs, i);
            return rc;
        }
        off += len;
    }
    return f.n_segs;
}
