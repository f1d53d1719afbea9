/*
 * Virtio-net headers to and from mbuf offload state, over frames built here byte by byte.
 *
 * No EAL: every segment is a heap buffer of exactly its length, described by a hand-made mbuf
 * (as test_csum.c does), so that under ASan any read or write beyond a frame or segment is
 * reported, also for runts and truncated headers. A counter of live segments stands in for the
 * pool leak check. Checksums are verified with an RFC 1071 sum of its own, not csum.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload/csum.h"
#include "offload/vnet_hdr.h"
#include "ref_csum.h"
#include "unit.h"
#include "wire.h"

#define FRAME_MAX 9000

#define P_HOPOPTS  0
#define P_ICMP     1
#define P_TCP      6
#define P_UDP      17
#define P_ROUTING  43
#define P_FRAGMENT 44
#define P_ICMPV6   58
#define P_DSTOPTS  60

#define GSO_UDP_L4 5 /* VIRTIO_NET_HDR_GSO_UDP_L4, newer than these kernel headers */

#define ALL_TX_FLAGS                                                                               \
    (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM |   \
     RTE_MBUF_F_TX_IP_CKSUM)

/* ---- frames ---- */

/* A frame to build: Ethernet with tags, IPv4 or IPv6 with extension headers, an L4 header. */
struct fspec {
    int ipv6;
    int vlans;          /* 0, 1 (0x8100) or 2 (0x88a8 then 0x8100) */
    int ip_opt;         /* IPv4 option bytes, a multiple of 4 */
    int n_ext;          /* IPv6 extension headers of 8 bytes each, types in ext[] */
    uint8_t ext[3];     /* P_HOPOPTS, P_ROUTING, P_DSTOPTS, P_FRAGMENT */
    uint8_t ext_more;   /* 8-byte units the first one has beyond its 8 (its length field) */
    uint8_t proto;      /* P_TCP, P_UDP, P_ICMP, P_ICMPV6 */
    int tcp_opt;        /* TCP option bytes, a multiple of 4 */
    uint32_t payload;   /* bytes after the L4 header */
    uint16_t frag;      /* IPv4 flags and fragment offset field */
    uint16_t ethertype; /* 0: IPv4 or IPv6 as ipv6 says */
};

struct layout {
    uint32_t l2, l3, l4, len;
    uint32_t field;  /* the L4 checksum field, from the frame's start */
    uint32_t pseudo; /* pseudo-header sum (unfolded); 0 for ICMPv4 */
};

static uint32_t l4_hdr_len(const struct fspec *s)
{
    return s->proto == P_TCP ? 20 + (uint32_t)s->tcp_opt : 8;
}

static uint32_t l4_field(uint8_t proto)
{
    return proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;
}

/* Writes s into buf. The L4 checksum field holds what a sender of NEEDS_CSUM leaves there:
 * the folded pseudo-header sum (0 for ICMPv4, which has none). */
static void build(const struct fspec *s, uint8_t *buf, struct layout *lay)
{
    uint8_t *p = buf, *ip, *l4;
    uint32_t l4_total;

    memset(lay, 0, sizeof *lay);
    for (int i = 0; i < 12; i++)
        p[i] = (uint8_t)(i == 0 || i == 6 ? 0x02 : 0x10 + i);
    p += 12;
    for (int v = 0; v < s->vlans; v++) {
        wr16(p, s->vlans == 2 && v == 0 ? 0x88a8 : 0x8100);
        wr16(p + 2, 100 + v);
        p += 4;
    }
    wr16(p, s->ethertype ? s->ethertype : s->ipv6 ? 0x86dd : 0x0800);
    p += 2;
    lay->l2 = (uint32_t)(p - buf);
    lay->l3 = s->ipv6 ? 40 + 8 * ((uint32_t)s->n_ext + (s->n_ext ? s->ext_more : 0u))
                      : 20 + (uint32_t)s->ip_opt;
    lay->l4 = l4_hdr_len(s);
    l4_total = lay->l4 + s->payload;
    lay->len = lay->l2 + lay->l3 + l4_total;
    lay->field = lay->l2 + lay->l3 + l4_field(s->proto);

    ip = p;
    memset(ip, 0, lay->l3);
    if (s->ipv6) {
        ip[0] = 0x60;
        wr16(ip + 4, lay->l3 - 40 + l4_total);
        ip[6] = s->n_ext ? s->ext[0] : s->proto;
        ip[7] = 64;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0x20 + i * 7);
        for (int e = 0, at = 40; e < s->n_ext; e++) {
            uint8_t *x = ip + at;
            uint8_t more = e == 0 ? s->ext_more : 0;
            x[0] = e + 1 < s->n_ext ? s->ext[e + 1] : s->proto;
            x[1] = more;
            if (s->ext[e] == P_FRAGMENT)
                x[3] = 1; /* offset 0, more fragments */
            else if (s->ext[e] == P_ROUTING)
                x[2] = 0, x[3] = 0; /* type 0, no segments left */
            else
                x[2] = 1, x[3] = (uint8_t)(4 + 8 * more); /* PadN over the rest */
            at += 8 * (1 + more);
        }
        lay->pseudo = ref_pseudo(ip, 1, s->proto, l4_total);
    } else {
        ip[0] = (uint8_t)(0x40 | lay->l3 / 4);
        wr16(ip + 2, lay->l3 + l4_total);
        wr16(ip + 4, 0x1234);
        wr16(ip + 6, s->frag);
        ip[8] = 64;
        ip[9] = s->proto;
        memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
        for (int i = 0; i < s->ip_opt; i++)
            ip[20 + i] = 1; /* NOP */
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, lay->l3, 0)));
        lay->pseudo = s->proto == P_ICMP ? 0 : ref_pseudo(ip, 0, s->proto, l4_total);
    }

    l4 = ip + lay->l3;
    memset(l4, 0, lay->l4);
    if (s->proto == P_TCP) {
        wr16(l4, 40000);
        wr16(l4 + 2, 5201);
        l4[7] = 1; /* seq */
        l4[12] = (uint8_t)(lay->l4 / 4 << 4);
        l4[13] = 0x18; /* PSH ACK */
        wr16(l4 + 14, 512);
        for (int i = 0; i < s->tcp_opt; i++)
            l4[20 + i] = 1; /* NOP */
    } else if (s->proto == P_UDP) {
        wr16(l4, 40000);
        wr16(l4 + 2, 4789);
        wr16(l4 + 4, l4_total);
    } else {
        l4[0] = s->proto == P_ICMP ? 8 : 128; /* echo request */
        wr16(l4 + 4, 7);
        wr16(l4 + 6, 1);
    }
    for (uint32_t i = 0; i < s->payload; i++)
        l4[lay->l4 + i] = (uint8_t)(i * 31 + 7);
    wr16(buf + lay->field, ref_fold(lay->pseudo));
}

/* ---- mbufs over exact-size heap buffers ---- */

static int live; /* segments made and not yet freed */

static struct rte_mbuf *seg_over(const uint8_t *bytes, uint32_t len)
{
    struct rte_mbuf *m = calloc(1, sizeof *m);
    uint8_t *buf = malloc(len); /* ASan: nothing beyond len, not even for len 0 */

    assert_non_null(m);
    assert_non_null(buf);
    if (len)
        memcpy(buf, bytes, len);
    m->buf_addr = buf;
    m->buf_len = (uint16_t)len;
    m->data_off = 0;
    m->data_len = (uint16_t)len;
    m->pkt_len = len;
    m->nb_segs = 1;
    rte_mbuf_refcnt_set(m, 1);
    live++;
    return m;
}

/* The frame in one segment, or in two cut at split (0: no cut). */
static struct rte_mbuf *mk(const uint8_t *bytes, uint32_t len, uint32_t split)
{
    struct rte_mbuf *m;

    if (split == 0 || split >= len)
        return seg_over(bytes, len);
    m = seg_over(bytes, split);
    m->next = seg_over(bytes + split, len - split);
    m->nb_segs = 2;
    m->pkt_len = len;
    return m;
}

static void put(struct rte_mbuf *m)
{
    while (m) {
        struct rte_mbuf *next = m->next;
        free(m->buf_addr);
        free(m);
        live--;
        m = next;
    }
}

/* Copies the chain's bytes into out; returns their count. */
static uint32_t flat(const struct rte_mbuf *m, uint8_t *out)
{
    uint32_t len = 0;

    for (; m; m = m->next) {
        memcpy(out + len, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
        len += m->data_len;
    }
    return len;
}

static int no_leaks(void **state)
{
    (void)state;
    if (live != 0) {
        print_error("%d segments leaked\n", live);
        live = 0;
        return -1;
    }
    return 0;
}

/* ---- headers ---- */

static struct virtio_net_hdr csum_hdr(uint32_t start, uint32_t offset)
{
    struct virtio_net_hdr h = {0};

    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.csum_start = (uint16_t)start;
    h.csum_offset = (uint16_t)offset;
    return h;
}

/* What the kernel sends with a TCP GSO frame of layout lay. */
static struct virtio_net_hdr gso_hdr(uint8_t type, uint16_t size, const struct layout *lay)
{
    struct virtio_net_hdr h = csum_hdr(lay->l2 + lay->l3, 16);

    h.gso_type = type;
    h.gso_size = size;
    h.hdr_len = (uint16_t)(lay->l2 + lay->l3 + lay->l4);
    return h;
}

/* Runs vnet_hdr_to_mbuf on the frame (cut at split), stale offload state set beforehand; on
 * return *out holds the frame's bytes afterwards. The mbuf is freed unless keep is given. */
static enum vnet_verdict run(const struct virtio_net_hdr *h, const uint8_t *frame, uint32_t len,
                             uint32_t split, uint8_t *out, struct rte_mbuf **keep)
{
    struct rte_mbuf *m = mk(frame, len, split);
    enum vnet_verdict v;

    m->ol_flags = ALL_TX_FLAGS;
    v = vnet_hdr_to_mbuf(h, m);
    if (out)
        CHECK(flat(m, out) == len);
    if (keep)
        *keep = m;
    else
        put(m);
    return v;
}

/* ---- no offload ---- */

static void test_no_flags_nothing_parsed(void **state)
{
    static uint8_t frame[FRAME_MAX], after[FRAME_MAX];
    const struct fspec specs[] = {
        {.proto = P_TCP, .payload = 100},
        {.ipv6 = 1, .proto = P_UDP, .payload = 3},
        {.ethertype = 0x0806, .proto = P_UDP, .payload = 10},
    };
    struct virtio_net_hdr zero = {0}, valid = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};
    struct rte_mbuf *m;
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(specs); i++) {
        snprintf(ctx, sizeof ctx, "no flags, spec %zu", i);
        build(&specs[i], frame, &lay);
        for (int k = 0; k < 2; k++) {
            CHECK(run(k ? &valid : &zero, frame, lay.len, 0, after, &m) == VNET_OK);
            /* DATA_VALID: the kernel checked the L4 checksum, which coalescing then trusts */
            CHECK(m->ol_flags == (k ? RTE_MBUF_F_RX_L4_CKSUM_GOOD : 0));
            CHECK(memcmp(frame, after, lay.len) == 0);
            put(m);
        }
    }
    /* nothing to look at, so also a runt or an empty frame passes (the switch drops those) */
    for (uint32_t len = 0; len < 14; len++) {
        snprintf(ctx, sizeof ctx, "no flags, runt %u", len);
        CHECK(run(&zero, frame, len, 0, NULL, &m) == VNET_OK);
        CHECK(m->ol_flags == 0);
        put(m);
    }
}

/* ---- NEEDS_CSUM that an mbuf describes ---- */

/* Completes the flagged checksum with csum.c and checks the result with the pseudo-header: the
 * l2_len and l3_len set from the header pointed at the right field. */
static void check_flagged_completes(struct rte_mbuf *m, const struct layout *lay)
{
    static uint8_t out[FRAME_MAX];
    uint32_t start = lay->l2 + lay->l3;

    CHECK(csum_complete(m) == 0);
    CHECK(flat(m, out) == lay->len);
    CHECK(ref_fold(ref_sum16(out + start, lay->len - start, lay->pseudo)) == 0xffff);
}

static void test_csum_tcp_udp_flagged(void **state)
{
    static uint8_t frame[FRAME_MAX], after[FRAME_MAX];
    const struct fspec specs[] = {
        {.proto = P_TCP, .payload = 1000},
        {.proto = P_UDP, .payload = 501},
        {.ipv6 = 1, .proto = P_TCP, .tcp_opt = 12, .payload = 1440},
        {.ipv6 = 1, .proto = P_UDP, .payload = 77},
        {.vlans = 1, .proto = P_TCP, .payload = 33},
        {.vlans = 1, .proto = P_UDP, .payload = 1},
        {.vlans = 2, .proto = P_TCP, .payload = 1460},
        {.vlans = 2, .proto = P_UDP, .payload = 0},
        {.vlans = 1, .ipv6 = 1, .proto = P_TCP, .payload = 9},
        {.vlans = 2, .ipv6 = 1, .proto = P_UDP, .payload = 1200},
        {.ip_opt = 8, .proto = P_TCP, .payload = 100},
        {.ip_opt = 40, .proto = P_UDP, .payload = 100},
        {.frag = 0x4000, .proto = P_TCP, .payload = 100}, /* DF is no fragment */
        /* IPv6 extension headers are walked (l3_len includes them, DPDK's convention): a TCP
         * or UDP header right after them is flagged too */
        {.ipv6 = 1, .n_ext = 1, .ext = {P_HOPOPTS}, .proto = P_UDP, .payload = 300},
        {.ipv6 = 1, .n_ext = 2, .ext = {P_HOPOPTS, P_DSTOPTS}, .proto = P_TCP, .payload = 30},
        {.ipv6 = 1, .n_ext = 1, .ext = {P_HOPOPTS}, .ext_more = 1, .proto = P_UDP, .payload = 9},
    };
    struct rte_mbuf *m;
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(specs); i++) {
        const struct fspec *s = &specs[i];
        uint64_t want = (s->proto == P_TCP ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM) |
                        (s->ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);

        build(s, frame, &lay);
        struct virtio_net_hdr h = csum_hdr(lay.l2 + lay.l3, l4_field(s->proto));
        /* in one segment; then with only the headers in the first */
        for (int cut = 0; cut < 2; cut++) {
            snprintf(ctx, sizeof ctx, "csum spec %zu cut %d", i, cut);
            CHECK(run(&h, frame, lay.len, cut ? lay.field + 2 : 0, after, &m) == VNET_OK);
            CHECK(m->ol_flags == want);
            CHECK(m->l2_len == lay.l2);
            CHECK(m->l3_len == lay.l3);
            CHECK(memcmp(frame, after, lay.len) == 0); /* left for the receiver to complete */
            check_flagged_completes(m, &lay);
            put(m);
        }
    }
}

/* ---- NEEDS_CSUM that an mbuf cannot describe: completed at once ---- */

/* The field at start + offset must now hold the complement of the sum from start to the end of
 * the original frame (with the sender's seed in the field), every other byte unchanged. */
static void check_completed(const uint8_t *orig, const uint8_t *got, uint32_t len, uint32_t start,
                            uint32_t offset)
{
    uint16_t want = (uint16_t)~ref_fold(ref_sum16(orig + start, len - start, 0));

    CHECK(rd16(got + start + offset) == want);
    CHECK(memcmp(orig, got, start + offset) == 0);
    CHECK(memcmp(orig + start + offset + 2, got + start + offset + 2, len - start - offset - 2) ==
          0);
}

/* Runs frame with NEEDS_CSUM at (start, offset), cut at split (0: one segment): the checksum must
 * be completed at once, nothing left flagged. The frame as it came out is left in after. */
static void expect_completed(const uint8_t *frame, const struct layout *lay, uint32_t start,
                             uint32_t offset, uint32_t split, uint8_t *after)
{
    struct virtio_net_hdr h = csum_hdr(start, offset);
    struct rte_mbuf *m;

    CHECK(run(&h, frame, lay->len, split, after, &m) == VNET_OK);
    CHECK(m->ol_flags == 0);
    check_completed(frame, after, lay->len, start, offset);
    put(m);
}

static void test_csum_other_completed_at_once(void **state)
{
    static uint8_t frame[FRAME_MAX], after[FRAME_MAX];
    /* csum_start 4 bytes into the TCP header (skip), offsets other than the protocol's field
     * (not that field: done as asked), and not IP at all */
    static const struct {
        struct fspec s;
        uint32_t skip, offset;
        const char *what;
    } asked[] = {
        {{.ipv6 = 1, .proto = P_TCP, .payload = 50}, 4, 12, "tcp start + 4"},
        {{.proto = P_TCP, .tcp_opt = 8, .payload = 50}, 4, 16, "tcp start + 4, offset 16"},
        {{.ipv6 = 1, .proto = P_UDP, .payload = 10}, 0, 4, "udp offset 4"},
        {{.proto = P_TCP, .payload = 10}, 0, 6, "tcp offset 6"},
        {{.ethertype = 0x88b5, .proto = P_UDP, .payload = 40}, 0, 6, "not ip"},
    };
    struct layout lay;
    struct fspec s;
    uint32_t start;

    (void)state;
    /* ICMPv4, in one segment and cut at an odd offset in the payload */
    s = (struct fspec){.proto = P_ICMP, .payload = 999};
    build(&s, frame, &lay);
    start = lay.l2 + lay.l3;
    for (int cut = 0; cut < 2; cut++) {
        snprintf(ctx, sizeof ctx, "icmp cut %d", cut);
        expect_completed(frame, &lay, start, 2, cut ? start + 101 : 0, after);
        CHECK(ref_fold(ref_sum16(after + start, lay.len - start, 0)) == 0xffff);
    }

    /* ICMPv6 behind a VLAN tag and a hop-by-hop header (as MLD has): the seed is the
     * pseudo-header sum */
    s = (struct fspec){
        .ipv6 = 1, .vlans = 1, .n_ext = 1, .ext = {P_HOPOPTS}, .proto = P_ICMPV6, .payload = 64};
    build(&s, frame, &lay);
    snprintf(ctx, sizeof ctx, "icmpv6");
    start = lay.l2 + lay.l3;
    expect_completed(frame, &lay, start, 2, 0, after);
    CHECK(ref_fold(ref_sum16(after + start, lay.len - start, lay.pseudo)) == 0xffff);

    /* UDP in an IPv4 fragment, and behind an IPv6 fragment header: no L4 header to offload */
    for (int v6 = 0; v6 < 2; v6++) {
        s = v6 ? (struct fspec){.ipv6 = 1,
                                .n_ext = 1,
                                .ext = {P_FRAGMENT},
                                .proto = P_UDP,
                                .payload = 200}
               : (struct fspec){.frag = 0x2000, .proto = P_UDP, .payload = 200};
        build(&s, frame, &lay);
        snprintf(ctx, sizeof ctx, "udp fragment v6 %d", v6);
        start = lay.l2 + lay.l3;
        expect_completed(frame, &lay, start, 6, 0, after);
        CHECK(ref_fold(ref_sum16(after + start, lay.len - start, lay.pseudo)) == 0xffff);
    }

    /* csum_start not at the L4 header: an inner checksum in a UDP payload (seed 0) */
    s = (struct fspec){.proto = P_UDP, .payload = 120};
    build(&s, frame, &lay);
    frame[lay.l2 + lay.l3 + 8 + 2] = 0;
    frame[lay.l2 + lay.l3 + 8 + 3] = 0;
    snprintf(ctx, sizeof ctx, "inner checksum");
    start = lay.l2 + lay.l3 + 8;
    expect_completed(frame, &lay, start, 2, 0, after);
    CHECK(ref_fold(ref_sum16(after + start, lay.len - start, 0)) == 0xffff);

    for (size_t i = 0; i < RTE_DIM(asked); i++) {
        build(&asked[i].s, frame, &lay);
        snprintf(ctx, sizeof ctx, "%s", asked[i].what);
        expect_completed(frame, &lay, lay.l2 + lay.l3 + asked[i].skip, asked[i].offset, 0, after);
    }
}

/* ---- csum_start/csum_offset that do not fit ---- */

static void test_csum_offset_outside(void **state)
{
    static uint8_t frame[FRAME_MAX], after[FRAME_MAX];
    struct fspec s = {.proto = P_TCP, .payload = 100};
    struct layout lay;
    uint32_t l4;

    (void)state;
    build(&s, frame, &lay);
    l4 = lay.l2 + lay.l3;
    const struct {
        uint32_t start, offset, split;
        enum vnet_verdict want;
    } cases[] = {
        {lay.len, 0, 0, VNET_BAD_CSUM_OFFSET},     /* start at the end */
        {lay.len - 1, 0, 0, VNET_BAD_CSUM_OFFSET}, /* field half outside */
        {0, lay.len - 1, 0, VNET_BAD_CSUM_OFFSET}, /* the same by offset */
        {l4, lay.len - l4 - 1, 0, VNET_BAD_CSUM_OFFSET},
        {0xffff, 0xffff, 0, VNET_BAD_CSUM_OFFSET}, /* no wrap around */
        {l4, 0xffff, 0, VNET_BAD_CSUM_OFFSET},
        {0xffff, 16, 0, VNET_BAD_CSUM_OFFSET},
        {lay.len - 2, 0, 0, VNET_OK}, /* the last two bytes: fits */
        /* the headers must be in the first segment */
        {l4, 16, l4 + 10, VNET_BAD_CSUM_OFFSET},     /* field in the second */
        {l4, 16, l4 + 17, VNET_BAD_CSUM_OFFSET},     /* field across the cut */
        {l4, 16, l4 + 18, VNET_OK},                  /* field just in the first */
        {l4 + 30, 2, l4 + 20, VNET_BAD_CSUM_OFFSET}, /* generic: start in the second */
        {l4 + 20, 2, l4 + 23, VNET_BAD_CSUM_OFFSET}, /* generic: field across */
        {l4 + 20, 2, l4 + 24, VNET_OK},
    };

    for (size_t i = 0; i < RTE_DIM(cases); i++) {
        struct virtio_net_hdr h = csum_hdr(cases[i].start, cases[i].offset);
        enum vnet_verdict v;

        snprintf(ctx, sizeof ctx, "csum case %zu: start %u offset %u split %u", i, cases[i].start,
                 cases[i].offset, cases[i].split);
        v = run(&h, frame, lay.len, cases[i].split, after, NULL);
        CHECK(v == cases[i].want);
        if (v != VNET_OK)
            CHECK(memcmp(frame, after, lay.len) == 0); /* refused before anything was written */
    }
}

/* ---- GSO ---- */

static void test_gso_valid(void **state)
{
    static uint8_t frame[FRAME_MAX], after[FRAME_MAX];
    const struct fspec specs[] = {
        {.proto = P_TCP, .payload = 3000},
        {.proto = P_TCP, .tcp_opt = 12, .payload = 3000},
        {.proto = P_TCP, .tcp_opt = 40, .ip_opt = 12, .vlans = 1, .payload = 1},
        {.proto = P_TCP, .tcp_opt = 12, .vlans = 2, .frag = 0x4000, .payload = 8000},
        {.ipv6 = 1, .proto = P_TCP, .payload = 3000},
        {.ipv6 = 1, .proto = P_TCP, .tcp_opt = 12, .vlans = 1, .payload = 5000},
        {.ipv6 = 1, .n_ext = 1, .ext = {P_HOPOPTS}, .proto = P_TCP, .tcp_opt = 12, .payload = 3000},
        {.ipv6 = 1,
         .n_ext = 3,
         .ext = {P_HOPOPTS, P_ROUTING, P_DSTOPTS},
         .proto = P_TCP,
         .vlans = 2,
         .payload = 2000},
        {.ipv6 = 1,
         .n_ext = 2,
         .ext = {P_HOPOPTS, P_DSTOPTS},
         .ext_more = 2,
         .proto = P_TCP,
         .payload = 2000},
    };
    struct rte_mbuf *m;
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(specs); i++) {
        const struct fspec *s = &specs[i];
        uint8_t type = s->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        uint64_t want = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                        (s->ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);

        build(s, frame, &lay);
        uint32_t hdrs = lay.l2 + lay.l3 + lay.l4;
        /* hdr_len is a hint: exact, 0, short of the headers, up to the whole frame */
        const uint16_t hdr_lens[] = {(uint16_t)hdrs, 0, (uint16_t)(hdrs - 10), (uint16_t)lay.len};
        for (size_t k = 0; k < RTE_DIM(hdr_lens); k++) {
            /* one segment; headers alone in the first; the first ending in the payload */
            for (int cut = 0; cut < 3; cut++) {
                /* the third variant carries the ECN bit, which GRO sets after a CWR */
                uint8_t t = (uint8_t)(type | (cut == 2 ? VIRTIO_NET_HDR_GSO_ECN : 0));
                struct virtio_net_hdr h = gso_hdr(t, 1448, &lay);
                uint32_t split = cut == 0 ? 0 : cut == 1 ? hdrs : hdrs + 1;

                h.hdr_len = hdr_lens[k];
                snprintf(ctx, sizeof ctx, "gso spec %zu hdr_len %u cut %d", i, h.hdr_len, cut);
                CHECK(run(&h, frame, lay.len, split, after, &m) == VNET_OK);
                CHECK(m->ol_flags == want);
                CHECK(m->l2_len == lay.l2);
                CHECK(m->l3_len == lay.l3);
                CHECK(m->l4_len == lay.l4);
                CHECK(m->tso_segsz == 1448);
                CHECK(memcmp(frame, after, lay.len) == 0);
                put(m);
            }
        }
    }
}

/* GRO frames a NIC verified arrive with DATA_VALID and no NEEDS_CSUM: they become partial
 * checksums like every other TSO frame, the field seeded with the pseudo-header sum. */
static void test_gso_data_valid(void **state)
{
    static uint8_t frame[FRAME_MAX], after[FRAME_MAX];
    const struct fspec specs[] = {
        {.proto = P_TCP, .tcp_opt = 12, .payload = 3000},
        {.proto = P_TCP, .vlans = 2, .payload = 5000},
        {.ipv6 = 1, .proto = P_TCP, .tcp_opt = 12, .payload = 3000},
        {.ipv6 = 1, .n_ext = 1, .ext = {P_HOPOPTS}, .proto = P_TCP, .payload = 2000},
    };
    struct rte_mbuf *m;
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(specs); i++) {
        const struct fspec *s = &specs[i];
        uint8_t type = s->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        struct virtio_net_hdr h;
        uint16_t field;

        build(s, frame, &lay);
        h = gso_hdr(type, 1448, &lay);
        h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
        h.csum_start = h.csum_offset = 0;
        frame[lay.field] = 0xde; /* what GRO left there means nothing */
        frame[lay.field + 1] = 0xad;
        snprintf(ctx, sizeof ctx, "data_valid gso spec %zu", i);
        CHECK(run(&h, frame, lay.len, 0, after, &m) == VNET_OK);
        CHECK(m->ol_flags == (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
                              (s->ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4)));
        CHECK(m->l2_len == lay.l2 && m->l3_len == lay.l3 && m->l4_len == lay.l4);
        field = (uint16_t)(after[lay.field] << 8 | after[lay.field + 1]);
        CHECK(field == ref_fold(lay.pseudo));
        CHECK(memcmp(frame, after, lay.field) == 0);
        put(m);
        /* not TCP under a TCP gso_type: still refused */
        h.gso_type = s->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
        CHECK(run(&h, frame, lay.len, 0, NULL, NULL) == VNET_BAD_GSO);
    }
}

struct refusal {
    const char *what;
    struct fspec spec;
    /* changes to the header the kernel would have sent for spec, and to the frame */
    int gso_type;                      /* -1: the right one */
    int gso_size;                      /* -1: 1448 */
    int hdr_len;                       /* -1: l2 + l3 + l4 */
    int flags;                         /* -1: NEEDS_CSUM */
    int csum_start_delta, csum_offset; /* csum_offset -1: the protocol's field */
    int split;    /* first segment ends this many bytes into the L4 header (0: no cut) */
    int data_off; /* TCP data offset nibble; -1: right */
    enum vnet_verdict want;
};

static void test_gso_refused(void **state)
{
    static uint8_t frame[FRAME_MAX];
    const struct fspec tcp4 = {.proto = P_TCP, .tcp_opt = 12, .payload = 3000};
    const struct fspec tcp6 = {.ipv6 = 1, .proto = P_TCP, .tcp_opt = 12, .payload = 3000};
    const struct fspec udp4 = {.proto = P_UDP, .payload = 3000};
    const struct fspec udp6 = {.ipv6 = 1, .proto = P_UDP, .payload = 3000};
    const int V4 = VIRTIO_NET_HDR_GSO_TCPV4, V6 = VIRTIO_NET_HDR_GSO_TCPV6;
    const struct refusal cases[] = {
        /* gso_type not TCP, or not the frame's */
        {"gso udp (ufo)", udp4, VIRTIO_NET_HDR_GSO_UDP, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"gso udp_l4", udp6, GSO_UDP_L4, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"udp | ecn", udp4, VIRTIO_NET_HDR_GSO_UDP | VIRTIO_NET_HDR_GSO_ECN, -1, -1, -1, 0, -1, 0,
         -1, VNET_BAD_GSO},
        {"gso type 2", tcp4, 2, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"gso type 0x7f", tcp4, 0x7f, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"gso type 0xff", tcp6, 0xff, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"tcpv4 on ipv6", tcp6, V4, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"tcpv6 on ipv4", tcp4, V6, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"tcpv4 on udp", udp4, V4, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"tcpv6 on udp", udp6, V6, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"ipv4 more fragments",
         {.proto = P_TCP, .frag = 0x2000, .payload = 3000},
         V4,
         -1,
         -1,
         -1,
         0,
         -1,
         0,
         -1,
         VNET_BAD_GSO},
        {"ipv4 fragment offset",
         {.proto = P_TCP, .frag = 0x0010, .payload = 3000},
         V4,
         -1,
         -1,
         -1,
         0,
         -1,
         0,
         -1,
         VNET_BAD_GSO},
        {"ipv6 fragment header",
         {.ipv6 = 1, .n_ext = 1, .ext = {P_FRAGMENT}, .proto = P_TCP, .payload = 3000},
         V6,
         -1,
         -1,
         -1,
         0,
         -1,
         0,
         -1,
         VNET_BAD_GSO},
        {"not ip",
         {.ethertype = 0x88b5, .proto = P_TCP, .payload = 3000},
         V4,
         -1,
         -1,
         -1,
         0,
         -1,
         0,
         -1,
         VNET_BAD_GSO},
        /* sizes */
        {"gso_size 0", tcp4, -1, 0, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"gso_size 0 v6", tcp6, -1, 0, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"hdr_len beyond the frame", tcp4, -1, -1, 14 + 20 + 32 + 3001, -1, 0, -1, 0, -1,
         VNET_BAD_GSO},
        {"hdr_len 0xffff", tcp6, -1, -1, 0xffff, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        /* the TCP header */
        {"tcp header beyond the first segment", tcp4, -1, -1, -1, -1, 0, -1, 18, -1, VNET_BAD_GSO},
        {"tcp options beyond the first segment", tcp6, -1, -1, -1, -1, 0, -1, 24, -1, VNET_BAD_GSO},
        {"tcp options end one byte into the second", tcp4, -1, -1, -1, -1, 0, -1, 31, -1,
         VNET_BAD_GSO},
        {"data offset 4", tcp4, -1, -1, -1, -1, 0, -1, 0, 4, VNET_BAD_GSO},
        {"data offset 0", tcp6, -1, -1, -1, -1, 0, -1, 0, 0, VNET_BAD_GSO},
        {"data offset 15 beyond a short frame",
         {.proto = P_TCP, .payload = 30},
         -1,
         -1,
         0,
         -1,
         0,
         -1,
         0,
         15,
         VNET_BAD_GSO},
        {"no payload", {.proto = P_TCP, .tcp_opt = 12}, -1, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        {"no payload v6", {.ipv6 = 1, .proto = P_TCP}, -1, -1, -1, -1, 0, -1, 0, -1, VNET_BAD_GSO},
        /* the partial checksum GSO needs */
        {"gso without needs_csum", tcp4, -1, -1, -1, 0, 0, -1, 0, -1, VNET_BAD_CSUM_OFFSET},
        {"gso v6 without needs_csum", tcp6, -1, -1, -1, 0, 0, -1, 0, -1, VNET_BAD_CSUM_OFFSET},
        {"gso csum_offset 6", tcp4, -1, -1, -1, -1, 0, 6, 0, -1, VNET_BAD_CSUM_OFFSET},
        {"gso csum_offset 18", tcp6, -1, -1, -1, -1, 0, 18, 0, -1, VNET_BAD_CSUM_OFFSET},
        {"gso csum_start 4 early", tcp4, -1, -1, -1, -1, -4, 20, 0, -1, VNET_BAD_CSUM_OFFSET},
        {"gso csum_start 4 late", tcp6, -1, -1, -1, -1, 4, 16, 0, -1, VNET_BAD_CSUM_OFFSET},
        {"gso csum_start beyond the frame", tcp4, -1, -1, -1, -1, 4000, 16, 0, -1,
         VNET_BAD_CSUM_OFFSET},
    };
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(cases); i++) {
        const struct refusal *c = &cases[i];
        struct virtio_net_hdr h;

        snprintf(ctx, sizeof ctx, "refusal: %s", c->what);
        build(&c->spec, frame, &lay);
        if (c->data_off >= 0) {
            uint8_t *doff = frame + lay.l2 + lay.l3 + 12;
            *doff = (uint8_t)(c->data_off << 4 | (*doff & 0x0f));
        }
        h = gso_hdr(V4, 1448, &lay);
        h.gso_type = (uint8_t)(c->gso_type >= 0 ? c->gso_type : c->spec.ipv6 ? V6 : V4);
        if (c->gso_size >= 0)
            h.gso_size = (uint16_t)c->gso_size;
        if (c->hdr_len >= 0)
            h.hdr_len = (uint16_t)c->hdr_len;
        if (c->flags >= 0)
            h.flags = (uint8_t)c->flags;
        h.csum_start = (uint16_t)(h.csum_start + c->csum_start_delta);
        h.csum_offset =
            (uint16_t)(c->csum_offset >= 0 ? c->csum_offset : (int)l4_field(c->spec.proto));
        CHECK(run(&h, frame, lay.len, c->split ? lay.l2 + lay.l3 + (uint32_t)c->split : 0, NULL,
                  NULL) == c->want);
    }
}

/* ---- runts and truncated headers ---- */

/* Every prefix of a few frames under every kind of header: nothing is read beyond the frame
 * (ASan), and a GSO header is only taken for a prefix with the whole headers and some payload
 * behind them. */
static void test_runts_and_truncated_headers(void **state)
{
    static uint8_t frame[FRAME_MAX];
    const struct fspec specs[] = {
        {.proto = P_TCP, .ip_opt = 8, .tcp_opt = 12, .payload = 4},
        {.vlans = 2, .proto = P_TCP, .payload = 4},
        {.ipv6 = 1,
         .n_ext = 2,
         .ext = {P_HOPOPTS, P_DSTOPTS},
         .ext_more = 1,
         .proto = P_TCP,
         .tcp_opt = 4,
         .payload = 4},
        {.ipv6 = 1, .vlans = 1, .proto = P_UDP, .payload = 4},
        {.proto = P_ICMP, .payload = 4},
    };
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(specs); i++) {
        const struct fspec *s = &specs[i];
        uint8_t type = s->ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;

        build(s, frame, &lay);
        uint32_t hdrs = lay.l2 + lay.l3 + lay.l4;
        struct virtio_net_hdr gso = gso_hdr(type, 1000, &lay), gso_only = gso;
        struct virtio_net_hdr right = csum_hdr(lay.l2 + lay.l3, l4_field(s->proto));
        struct virtio_net_hdr at0 = csum_hdr(0, 0), at14 = csum_hdr(14, 16);
        struct virtio_net_hdr valid = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};
        struct virtio_net_hdr wild = {.flags = 0xff,
                                      .gso_type = 0xff,
                                      .hdr_len = 0xffff,
                                      .gso_size = 0xffff,
                                      .csum_start = 0xffff,
                                      .csum_offset = 0xffff};

        gso.hdr_len = 0; /* let the frame's length decide, not the hint */
        gso_only.flags = 0;
        for (uint32_t len = 0; len <= lay.len; len++) {
            const struct virtio_net_hdr *all[] = {&gso,  &gso_only, &right, &at0,
                                                  &at14, &valid,    &wild};
            for (size_t k = 0; k < RTE_DIM(all); k++) {
                /* in one segment, and cut after the first 1, 14 and half of the bytes */
                const uint32_t cuts[] = {0, 1, 14, len / 2};
                for (size_t c = 0; c < RTE_DIM(cuts); c++) {
                    bool single = cuts[c] == 0 || cuts[c] >= len;
                    enum vnet_verdict v;

                    snprintf(ctx, sizeof ctx, "spec %zu prefix %u header %zu cut %u", i, len, k,
                             cuts[c]);
                    v = run(all[k], frame, len, cuts[c], NULL, NULL);
                    CHECK(v == VNET_OK || v == VNET_BAD_GSO || v == VNET_BAD_CSUM_OFFSET);
                    if (all[k] == &gso && s->proto != P_TCP)
                        CHECK(v != VNET_OK);
                    else if (all[k] == &gso && (single || cuts[c] >= hdrs))
                        CHECK((v == VNET_OK) == (len > hdrs));
                    else if (all[k] == &gso)
                        CHECK(v != VNET_OK); /* headers not all in the first segment */
                    if (all[k] == &gso_only || all[k] == &wild)
                        CHECK(v != VNET_OK);
                }
            }
        }
    }
}

/* ---- back to the kernel ---- */

static void round_trip(const struct virtio_net_hdr *h, const uint8_t *frame, uint32_t len)
{
    struct virtio_net_hdr back;
    struct rte_mbuf *m;

    CHECK(run(h, frame, len, 0, NULL, &m) == VNET_OK);
    memset(&back, 0xa5, sizeof back);
    vnet_hdr_from_mbuf(m, &back);
    CHECK(back.flags == h->flags);
    CHECK(back.gso_type == h->gso_type);
    CHECK(back.hdr_len == h->hdr_len);
    CHECK(back.gso_size == h->gso_size);
    CHECK(back.csum_start == h->csum_start);
    CHECK(back.csum_offset == h->csum_offset);
    put(m);
}

static void test_round_trip(void **state)
{
    static uint8_t frame[FRAME_MAX];
    const struct fspec gso_specs[] = {
        {.proto = P_TCP, .tcp_opt = 12, .payload = 3000},
        {.proto = P_TCP, .vlans = 2, .ip_opt = 4, .payload = 1449},
        {.ipv6 = 1, .proto = P_TCP, .tcp_opt = 12, .payload = 3000},
        {.ipv6 = 1, .vlans = 1, .n_ext = 1, .ext = {P_HOPOPTS}, .proto = P_TCP, .payload = 3000},
    };
    const struct fspec csum_specs[] = {
        {.proto = P_TCP, .payload = 100},
        {.proto = P_UDP, .vlans = 1, .payload = 100},
        {.ipv6 = 1, .proto = P_TCP, .payload = 100},
        {.ipv6 = 1, .vlans = 2, .proto = P_UDP, .payload = 100},
    };
    const struct fspec plain = {.proto = P_UDP, .payload = 10};
    struct virtio_net_hdr h;
    struct layout lay;

    (void)state;
    for (size_t i = 0; i < RTE_DIM(gso_specs); i++) {
        snprintf(ctx, sizeof ctx, "round trip gso %zu", i);
        build(&gso_specs[i], frame, &lay);
        h = gso_hdr(gso_specs[i].ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
                    i % 2 ? 536 : 1448, &lay);
        round_trip(&h, frame, lay.len);
    }
    for (size_t i = 0; i < RTE_DIM(csum_specs); i++) {
        snprintf(ctx, sizeof ctx, "round trip csum %zu", i);
        build(&csum_specs[i], frame, &lay);
        h = csum_hdr(lay.l2 + lay.l3, l4_field(csum_specs[i].proto));
        round_trip(&h, frame, lay.len);
    }
    snprintf(ctx, sizeof ctx, "round trip none");
    build(&plain, frame, &lay);
    memset(&h, 0, sizeof h);
    round_trip(&h, frame, lay.len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_no_flags_nothing_parsed, no_leaks),
        cmocka_unit_test_teardown(test_csum_tcp_udp_flagged, no_leaks),
        cmocka_unit_test_teardown(test_csum_other_completed_at_once, no_leaks),
        cmocka_unit_test_teardown(test_csum_offset_outside, no_leaks),
        cmocka_unit_test_teardown(test_gso_valid, no_leaks),
        cmocka_unit_test_teardown(test_gso_data_valid, no_leaks),
        cmocka_unit_test_teardown(test_gso_refused, no_leaks),
        cmocka_unit_test_teardown(test_runts_and_truncated_headers, no_leaks),
        cmocka_unit_test_teardown(test_round_trip, no_leaks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
