#include "rsc.h"

#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "offload/csum.h"
#include "offload/frame.h"

const char *const rsc_flush_names[RSC_FLUSH_N] = {
#define X(id, name) [RSC_FLUSH_##id] = name,
    RSC_FLUSH_REASONS(X)
#undef X
};

const char *const rsc_bypass_names[RSC_BYPASS_N] = {
#define X(id, name) [RSC_BYPASS_##id] = name,
    RSC_BYPASS_REASONS(X)
#undef X
};

/* TCP flags (byte 13 of the header) */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_URG 0x20
#define TCP_CWR 0x80
/* flags a segment may have apart from the aggregate's head: PSH/FIN end it, CWR starts one */
#define TCP_FLAGS_FREE (TCP_PSH | TCP_FIN | TCP_CWR)

/* A frame as the engine reads it. Pointers are into the first buffer, which holds every header
 * (checked before they are set). */
struct segment {
    struct rte_mbuf *m;
    uint8_t *l2;
    uint8_t *l3;
    struct rte_tcp_hdr *tcp;
    uint16_t l2_len, l3_len, l4_len;
    uint8_t ip_version;
    uint32_t payload; /* TCP payload bytes */
    uint32_t hash;
};

void rsc_init(struct rsc_table *t, rsc_emit_fn emit, void *ctx)
{
    memset(t, 0, sizeof *t);
    t->emit = emit;
    t->ctx = ctx;
}

static inline uint16_t hdr_len(const struct segment *s)
{
    return (uint16_t)(s->l2_len + s->l3_len + s->l4_len);
}

/* Where a header's source and destination addresses are, and how long they are together. */
static inline uint32_t addrs_offset(uint8_t ip_version)
{
    return ip_version == 4 ? offsetof(struct rte_ipv4_hdr, src_addr)
                           : offsetof(struct rte_ipv6_hdr, src_addr);
}

static inline uint32_t addrs_len(uint8_t ip_version)
{
    return ip_version == 4 ? 2 * sizeof(rte_be32_t) : 2 * 16;
}

/* --- reading a segment --------------------------------------------------------------------- */

/* Finds the headers of a TCP segment that could be merged, as far as its own layout goes.
 * Returns RSC_BYPASS_N when s describes a TCP segment over IPv4 without options or IPv6 without
 * extension headers, all headers in the first buffer and the IP length exactly the frame's. On
 * IP_OPTIONS, FRAGMENT and LAYOUT with a readable TCP header, s->tcp is set (else NULL) so that
 * a held flow of the same identity can still be found. */
static enum rsc_bypass read_segment(struct rte_mbuf *m, struct segment *s)
{
    struct frame_headers f;
    uint32_t ip_len, data = rte_pktmbuf_data_len(m);

    frame_parse(m, &f);
    s->m = m;
    s->tcp = NULL;
    if (f.cut_short)
        return RSC_BYPASS_LAYOUT; /* it may be TCP: order is kept the careful way */
    if (f.ip_version == 0 || f.l4_proto != IPPROTO_TCP)
        return RSC_BYPASS_NOT_TCP;
    s->ip_version = (uint8_t)f.ip_version;
    s->l2_len = f.l2_len;
    s->l3_len = f.l3_len;
    s->l2 = rte_pktmbuf_mtod(m, uint8_t *);
    s->l3 = s->l2 + s->l2_len;
    if (f.fragment)
        return RSC_BYPASS_FRAGMENT;
    if ((uint32_t)s->l2_len + s->l3_len + sizeof(struct rte_tcp_hdr) > data)
        return RSC_BYPASS_LAYOUT;
    s->tcp = (struct rte_tcp_hdr *)(s->l3 + s->l3_len);
    s->l4_len = (uint16_t)((s->tcp->data_off >> 4) * 4);
    if (s->ip_version == 4) {
        const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)s->l3;
        ip_len = rte_be_to_cpu_16(ip->total_length);
        if (s->l3_len != sizeof *ip)
            return RSC_BYPASS_IP_OPTIONS;
    } else {
        const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)s->l3;
        ip_len = sizeof *ip + rte_be_to_cpu_16(ip->payload_len);
        if (s->l3_len != sizeof *ip)
            return RSC_BYPASS_IP_OPTIONS;
    }
    if (s->l4_len < sizeof(struct rte_tcp_hdr) || hdr_len(s) > data ||
        ip_len + s->l2_len != rte_pktmbuf_pkt_len(m) || ip_len < (uint32_t)s->l3_len + s->l4_len)
        return RSC_BYPASS_LAYOUT;
    s->payload = ip_len - s->l3_len - s->l4_len;
    return RSC_BYPASS_N;
}

/* The flow identity hashed: ingress port, addresses, ports (the rest is compared on a match). */
static uint32_t flow_hash(const struct segment *s, uint16_t in_port)
{
    uint64_t addrs[4]; /* rte_hash_crc reads 8 bytes at a time: the copy is aligned */
    uint32_t ports, len = addrs_len(s->ip_version);

    memcpy(addrs, s->l3 + addrs_offset(s->ip_version), len);
    memcpy(&ports, &s->tcp->src_port, sizeof ports);
    return rte_hash_crc(addrs, len, rte_hash_crc_4byte(ports, in_port));
}

/* The IPv4 header checksum and the TCP checksum are right, or someone vouched for them: a local
 * sender's partial checksum (its data never crossed a wire) or the ingress port's check. */
static bool checksums_good(const struct segment *s)
{
    const struct rte_mbuf *m = s->m;
    uint32_t l4_off = (uint32_t)s->l2_len + s->l3_len;
    uint32_t sum;
    uint16_t data_sum;

    if (s->ip_version == 4 && rte_raw_cksum(s->l3, s->l3_len) != 0xffff &&
        !(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_GOOD))
        return false;
    if ((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM ||
        (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        return true;
    if (csum_sum(m, l4_off, s->l4_len + s->payload, &data_sum) < 0)
        return false;
    sum = data_sum;
    sum += s->ip_version == 4 ? rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)s->l3, 0)
                              : rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)s->l3, 0);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

/* Everything that must hold before a segment may enter the engine; RSC_BYPASS_N when all do. */
static enum rsc_bypass check_segment(const struct rsc_target *to, const struct segment *s)
{
    const struct rte_mbuf *m = s->m;
    uint8_t flags = s->tcp->tcp_flags;

    if (!(s->ip_version == 4 ? to->tso4 : to->tso6))
        return RSC_BYPASS_RECEIVER;
    if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)
        return RSC_BYPASS_LARGE;
    if (flags & (TCP_SYN | TCP_RST | TCP_URG))
        return RSC_BYPASS_TCP_FLAGS;
    if (s->payload == 0)
        return RSC_BYPASS_NO_PAYLOAD;
    /* a flooded copy is shared by every target: merging would change it for all of them */
    if (rte_mbuf_refcnt_read(m) != 1)
        return RSC_BYPASS_FLOOD;
    if (RTE_MBUF_HAS_EXTBUF(m) || RTE_MBUF_CLONED(m))
        return RSC_BYPASS_LAYOUT;
    /* a receiver that cannot hold two such segments in one frame gains nothing */
    if (rte_pktmbuf_pkt_len(m) + s->payload > to->max_frame || 2u * m->nb_segs > to->max_segs)
        return RSC_BYPASS_RECEIVER;
    if (!checksums_good(s))
        return RSC_BYPASS_BAD_CSUM;
    return RSC_BYPASS_N;
}

/* --- flows ---------------------------------------------------------------------------------- */

static inline uint8_t *head_l3(const struct rsc_flow *f, const struct segment *s)
{
    return rte_pktmbuf_mtod(f->head, uint8_t *) + s->l2_len;
}

/* Same identity: ingress port, receiver, Ethernet header with its VLAN tags, IP version,
 * addresses, IPv6 flow label, TCP ports. */
static bool same_flow(const struct rsc_flow *f, const struct rsc_target *to,
                      const struct segment *s)
{
    const uint8_t *l2 = rte_pktmbuf_mtod(f->head, const uint8_t *);
    const uint8_t *l3 = l2 + s->l2_len;

    if (f->hash != s->hash || f->port != to->port || f->in_port != to->in_port ||
        f->head->l2_len != s->l2_len || memcmp(l2, s->l2, s->l2_len) != 0)
        return false;
    /* equal Ethernet headers: the same ethertype, so the same IP version */
    if (memcmp(l3 + addrs_offset(s->ip_version), s->l3 + addrs_offset(s->ip_version),
               addrs_len(s->ip_version)) != 0)
        return false;
    if (s->ip_version == 6) {
        const struct rte_ipv6_hdr *a = (const struct rte_ipv6_hdr *)l3;
        const struct rte_ipv6_hdr *b = (const struct rte_ipv6_hdr *)s->l3;
        if (((a->vtc_flow ^ b->vtc_flow) & rte_cpu_to_be_32(RTE_IPV6_HDR_FL_MASK)) != 0)
            return false;
    }
    return memcmp(l3 + f->head->l3_len, s->tcp, 4) == 0; /* ports */
}

static struct rsc_flow *find_flow(struct rsc_table *t, const struct rsc_target *to,
                                  const struct segment *s)
{
    for (uint16_t i = 0; i < t->n_flows; i++) {
        struct rsc_flow *f = &t->flows[t->order[i]];
        if (same_flow(f, to, s))
            return f;
    }
    return NULL;
}

/* Rewrites the headers of an aggregate of several segments for the receiver: IP lengths (and
 * the IPv4 header checksum), the PSH/FIN of the last segment, the TCP checksum field as the
 * pseudo-header sum over the new length (a partial checksum, virtio's NEEDS_CSUM), and the
 * mbuf's TSO request. */
static void finish_aggregate(struct rsc_flow *f)
{
    struct rte_mbuf *m = f->head;
    uint8_t *l2 = rte_pktmbuf_mtod(m, uint8_t *);
    uint16_t l4_len = (uint16_t)(f->hdr_len - m->l2_len - m->l3_len);
    struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(l2 + m->l2_len + m->l3_len);
    uint64_t ip_flag;

    if (m->l3_len == sizeof(struct rte_ipv4_hdr)) {
        struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(l2 + m->l2_len);
        ip->total_length = rte_cpu_to_be_16((uint16_t)(m->pkt_len - m->l2_len));
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        tcp->cksum = rte_ipv4_phdr_cksum(ip, 0);
        ip_flag = RTE_MBUF_F_TX_IPV4;
    } else {
        struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(l2 + m->l2_len);
        ip->payload_len = rte_cpu_to_be_16((uint16_t)(m->pkt_len - m->l2_len - sizeof *ip));
        tcp->cksum = rte_ipv6_phdr_cksum(ip, 0);
        ip_flag = RTE_MBUF_F_TX_IPV6;
    }
    tcp->tcp_flags |= f->push;
    m->ol_flags = (m->ol_flags & ~(RTE_MBUF_F_TX_OFFLOAD_MASK)) | RTE_MBUF_F_TX_TCP_SEG |
                  RTE_MBUF_F_TX_TCP_CKSUM | ip_flag;
    m->l4_len = l4_len;
    m->tso_segsz = f->mss;
}

/* Lets the aggregate go and frees its slot. */
static void emit_flow(struct rsc_table *t, struct rsc_flow *f, enum rsc_flush reason)
{
    uint8_t slot = (uint8_t)(f - t->flows);
    struct rte_mbuf *m = f->head;
    void *port = f->port;
    uint16_t i;

    if (f->count > 1)
        finish_aggregate(f);
    f->stats->aggregates_out++;
    f->stats->flushes[reason]++;
    f->head = NULL;
    for (i = 0; t->order[i] != slot; i++)
        ;
    memmove(&t->order[i], &t->order[i + 1], (size_t)(t->n_flows - i - 1));
    t->n_flows--;
    t->emit(t->ctx, port, m);
}

/* Starts an aggregate with segment s (checked already). */
static void start_flow(struct rsc_table *t, const struct rsc_target *to, const struct segment *s)
{
    struct rsc_flow *f;
    uint32_t limit = (uint32_t)s->l2_len + RSC_MAX_IP_LEN;
    uint8_t slot = 0;

    if (t->n_flows == RSC_MAX_FLOWS)
        emit_flow(t, &t->flows[t->order[0]], RSC_FLUSH_TABLE_FULL);
    while (t->flows[slot].head)
        slot++;
    f = &t->flows[slot];
    f->head = s->m;
    f->tail = rte_pktmbuf_lastseg(s->m);
    f->port = to->port;
    f->stats = to->stats;
    f->hash = s->hash;
    f->next_seq = rte_be_to_cpu_32(s->tcp->sent_seq) + s->payload;
    f->max_frame = to->max_frame < limit ? to->max_frame : limit;
    f->max_segs = to->max_segs;
    f->in_port = to->in_port;
    f->hdr_len = hdr_len(s);
    f->mss = (uint16_t)s->payload;
    f->count = 1;
    f->id_step = -1;
    f->push = s->tcp->tcp_flags & (TCP_PSH | TCP_FIN);
    if (s->ip_version == 4)
        f->ip_id = rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)s->l3)->packet_id);
    /* the offsets finish_aggregate and the receiver need, whatever the ingress port set */
    s->m->l2_len = s->l2_len;
    s->m->l3_len = s->l3_len;
    t->order[t->n_flows++] = slot;
}

/* IP fields that must not change within an aggregate: TTL/hop limit, TOS/traffic class (ECN
 * included), DF; the IPv4 ID must stay fixed (with DF) or grow by one per segment. */
static bool same_ip(struct rsc_flow *f, const struct segment *s, int8_t *id_step)
{
    const uint8_t *l3 = head_l3(f, s);

    if (s->ip_version == 4) {
        const struct rte_ipv4_hdr *a = (const struct rte_ipv4_hdr *)l3;
        const struct rte_ipv4_hdr *b = (const struct rte_ipv4_hdr *)s->l3;
        uint16_t id = rte_be_to_cpu_16(b->packet_id);
        bool df = (b->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) != 0;

        if (a->type_of_service != b->type_of_service || a->time_to_live != b->time_to_live ||
            a->fragment_offset != b->fragment_offset)
            return false;
        if (id == (uint16_t)(f->ip_id + 1) && f->id_step != 0)
            *id_step = 1;
        else if (id == f->ip_id && df && f->id_step != 1)
            *id_step = 0;
        else
            return false;
        return true;
    }
    const struct rte_ipv6_hdr *a = (const struct rte_ipv6_hdr *)l3;
    const struct rte_ipv6_hdr *b = (const struct rte_ipv6_hdr *)s->l3;
    return a->vtc_flow == b->vtc_flow && a->hop_limits == b->hop_limits;
}

/* Whether s may join f as its next segment; RSC_FLUSH_N when it may, else why f must go. */
static enum rsc_flush can_join(struct rsc_flow *f, const struct segment *s, int8_t *id_step)
{
    const struct rte_tcp_hdr *a = (const struct rte_tcp_hdr *)(head_l3(f, s) + s->l3_len);
    const struct rte_tcp_hdr *b = s->tcp;

    if (rte_be_to_cpu_32(b->sent_seq) != f->next_seq)
        return RSC_FLUSH_OUT_OF_ORDER;
    if (f->hdr_len != hdr_len(s))
        return RSC_FLUSH_MISMATCH; /* options added or removed */
    /* ack, window, urgent pointer and every option byte as the head's: segmenting the
     * aggregate repeats the head's header on every segment */
    if (a->recv_ack != b->recv_ack || a->rx_win != b->rx_win || a->tcp_urp != b->tcp_urp ||
        a->data_off != b->data_off /* its low bits: reserved, AccECN's AE */ ||
        ((a->tcp_flags ^ b->tcp_flags) & ~TCP_FLAGS_FREE) != 0 || (b->tcp_flags & TCP_CWR) ||
        memcmp(a + 1, b + 1, s->l4_len - sizeof *a) != 0 || s->payload > f->mss ||
        !same_ip(f, s, id_step))
        return RSC_FLUSH_MISMATCH;
    if (f->head->pkt_len + s->payload > f->max_frame ||
        f->head->nb_segs + s->m->nb_segs > f->max_segs)
        return RSC_FLUSH_SIZE;
    return RSC_FLUSH_N;
}

/* Appends s's payload to f: its headers are cut off and its buffers chained behind f's. */
static void join(struct rsc_flow *f, const struct segment *s, int8_t id_step)
{
    struct rte_mbuf *m = s->m;

    rte_pktmbuf_adj(m, hdr_len(s));
    if (rte_pktmbuf_data_len(m) == 0) {
        /* the first buffer held nothing but headers: leave it out of the chain */
        struct rte_mbuf *rest = m->next;
        rest->nb_segs = (uint16_t)(m->nb_segs - 1);
        rest->pkt_len = m->pkt_len;
        m->next = NULL;
        m->nb_segs = 1;
        rte_pktmbuf_free_seg(m);
        m = rest;
    }
    f->tail->next = m;
    f->head->nb_segs = (uint16_t)(f->head->nb_segs + m->nb_segs);
    f->head->pkt_len += m->pkt_len;
    f->tail = rte_pktmbuf_lastseg(m);
    f->next_seq += s->payload;
    f->count++;
    f->push = s->tcp->tcp_flags & (TCP_PSH | TCP_FIN);
    if (s->ip_version == 4) {
        f->ip_id = rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)s->l3)->packet_id);
        f->id_step = id_step;
    }
}

/* Ends f now when no later segment may join it. */
static void close_if_done(struct rsc_table *t, struct rsc_flow *f, uint32_t payload)
{
    if (f->push)
        emit_flow(t, f, RSC_FLUSH_PUSH);
    else if (payload < f->mss)
        emit_flow(t, f, RSC_FLUSH_SHORT);
    else if (f->head->pkt_len + f->mss > f->max_frame || f->head->nb_segs >= f->max_segs)
        emit_flow(t, f, RSC_FLUSH_SIZE);
}

/* A frame that passes unmerged: whatever of its flow is held goes first. Frames whose TCP
 * header could not be read cannot be matched to a flow; for those, every flow from the same
 * ingress port to the same receiver goes, which keeps order at the price of a few early
 * flushes on a rare path. */
static bool bypass(struct rsc_table *t, const struct rsc_target *to, struct segment *s,
                   enum rsc_bypass reason)
{
    to->stats->bypasses[reason]++;
    if (t->n_flows == 0 || reason == RSC_BYPASS_NOT_TCP)
        return false;
    if (s->tcp && reason != RSC_BYPASS_FRAGMENT && reason != RSC_BYPASS_IP_OPTIONS) {
        struct rsc_flow *f;
        s->hash = flow_hash(s, to->in_port);
        if ((f = find_flow(t, to, s)) != NULL)
            emit_flow(t, f, RSC_FLUSH_UNMERGEABLE);
        return false;
    }
    for (uint16_t i = 0; i < t->n_flows;) {
        struct rsc_flow *f = &t->flows[t->order[i]];
        if (f->port == to->port && f->in_port == to->in_port)
            emit_flow(t, f, RSC_FLUSH_UNMERGEABLE);
        else
            i++;
    }
    return false;
}

bool rsc_input(struct rsc_table *t, const struct rsc_target *to, struct rte_mbuf *m)
{
    struct segment s;
    enum rsc_bypass why = read_segment(m, &s);
    struct rsc_flow *f;
    enum rsc_flush flush;
    int8_t id_step = -1;

    if (why == RSC_BYPASS_N)
        why = check_segment(to, &s);
    if (why != RSC_BYPASS_N)
        return bypass(t, to, &s, why);

    s.hash = flow_hash(&s, to->in_port);
    f = find_flow(t, to, &s);
    if (f) {
        flush = can_join(f, &s, &id_step);
        if (flush == RSC_FLUSH_N) {
            to->stats->segments_in++;
            join(f, &s, id_step);
            close_if_done(t, f, s.payload);
            return true;
        }
        emit_flow(t, f, flush);
        /* a gap, an overlap or a retransmission goes to the receiver as it came, so that its
         * stack sees the very segment it has to account for (SACK, DSACK) */
        if (flush == RSC_FLUSH_OUT_OF_ORDER) {
            to->stats->bypasses[RSC_BYPASS_OUT_OF_ORDER]++;
            return false;
        }
    }
    to->stats->segments_in++;
    start_flow(t, to, &s);
    close_if_done(t, &t->flows[t->order[t->n_flows - 1]], s.payload);
    return true;
}

void rsc_flush(struct rsc_table *t)
{
    while (t->n_flows)
        emit_flow(t, &t->flows[t->order[0]], RSC_FLUSH_POLL_END);
}
