/*
 * Receive segment coalescing (src/offload/rsc.c) over real mbufs, DPDK EAL in --no-huge mode.
 * TCP segments are built here byte by byte (Ethernet with 0-2 VLAN tags, IPv4 or IPv6, TCP with
 * or without timestamps, a payload derived from the sequence number) and offered to the engine
 * as the switch offers them. What a receiver would see, the frames the engine emits and the ones
 * it gives back, in the order it sees them, is checked against ../shared/RSC-RULES.md: which
 * segments make up each frame; the coalesced headers (IP lengths, IPv4 header checksum, the
 * partial TCP checksum, PSH/FIN, the TSO request), recomputed here with ref_csum.h rather than
 * with the engine's own helpers; the payload byte for byte; lone and passed frames left as they
 * came; and the receiver's counters by reason.
 *
 * Cases, from the rules' list: in-order trains (IPv4, IPv6, VLAN, QinQ, sequence wrap); gaps,
 * retransmissions and overlaps; PSH mid-train; FIN with data and bare FIN; option changes
 * (timestamp advance, SACK block); ECN (CE, ECE, CWR); TTL, DF, TOS, ack and window changes;
 * IPv4 ID fixed, incrementing and random; IPv4 fragments and options; IPv6 extension headers;
 * flow identity (VLAN, MACs, addresses, flow label, ingress port, receiver); MTU 9000 and the
 * 65535 limit with single and chained buffers; interleaved flows and a full flow table; bad and
 * vouched-for checksums; pure ACKs and window updates; SYN/RST/URG; TSO frames; short and
 * over-long segments; receivers without TSO4/TSO6, with small buffers, few buffers per frame;
 * non-TCP frames; Ethernet padding; shared buffers; headers split across buffers.
 *
 * Every test ends with the pools holding what they held when it began.
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

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "offload/rsc.h"
#include "ref_csum.h"
#include "unit.h"
#include "wire.h"

#define POOL_SIZE     4095
#define BIG_POOL_SIZE 255
#define BIG_ROOM      9216 /* a 9014-byte frame in one buffer */
#define MAX_IN        256
#define MAX_OUT       256
#define FRAME_MAX     (70 * 1024)

#define MSS       1448 /* MTU 1500, IPv4, timestamps */
#define MSS6      1428 /* MTU 1500, IPv6, timestamps */
#define JUMBO     8948 /* MTU 9000, IPv4, timestamps */
#define JUMBO6    8928
#define MAX_FRAME (65535 + 14 + 8)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static struct rte_mempool *pool;     /* RTE_MBUF_DEFAULT_BUF_SIZE */
static struct rte_mempool *big_pool; /* BIG_ROOM */

/* --- frames ------------------------------------------------------------------------------- */

/* One direction of a TCP connection; every segment built from it advances seq (and the IPv4 ID
 * unless fixed_id). Tests change fields between segments. */
struct flow {
    bool ipv6;
    int vlans; /* 0; 1: 0x8100 `vlan`; 2: 0x88a8 `outer`, then 0x8100 `vlan` */
    uint16_t vlan, outer;
    uint8_t mac;  /* last byte of the source MAC */
    uint8_t host; /* last byte of the source address */
    uint16_t sport, dport;
    uint32_t label;   /* IPv6 flow label */
    uint8_t tos, ttl; /* IPv4 TOS / IPv6 traffic class; TTL / hop limit */
    bool df;
    bool fixed_id;
    uint16_t ip_id;
    uint32_t seq, ack;
    uint16_t win;
    uint8_t flags;
    uint8_t reserved; /* the low bits of the data offset byte (AccECN's AE is bit 0) */
    uint8_t opt_len;
    uint8_t opt[40];
};

/* What is odd about one segment (all zero: nothing). */
struct odd {
    uint16_t frag;        /* ORed into the IPv4 flags/fragment offset field */
    uint8_t ip_opts;      /* bytes of IPv4 options, a multiple of 4 */
    bool hbh;             /* an IPv6 hop-by-hop header */
    bool bad_tcp, bad_ip; /* a wrong checksum */
    uint8_t pad;          /* Ethernet padding behind the IP packet */
    bool shared;          /* referenced twice, as a flood to two ports leaves a buffer */
    uint64_t ol_flags;
    uint16_t first, chunk; /* a chain: bytes in the first buffer (0: one buffer), then per buffer */
    struct rte_mempool *mp; /* NULL: pool */
};

/* A frame offered to the engine, with a copy of its bytes as built. */
struct input {
    struct rte_mbuf *m;
    const struct flow *fl; /* NULL: not TCP */
    const struct rsc_target *to;
    uint8_t *bytes;
    uint32_t len, payload;
    uint16_t l2, l3, l4;
    uint16_t nb_segs;
    bool ipv6, hdr_only_first;
    uint64_t ol_flags;
};

/* A frame a receiver sees: emitted by the engine, or given back by rsc_input (passed). */
struct output {
    struct rte_mbuf *m;
    void *port;
    bool passed;
};

static struct input ins[MAX_IN];
static struct output outs[MAX_OUT];
static int n_in, n_out;

static struct rsc_table tbl;
static struct rsc_stats st, st2;
static int port_a, port_b; /* their addresses are the receivers' identities */
static struct rsc_target rx, rx2;
static unsigned pool_start, big_start;
static const char *test_name = "";

static void set_ts(struct flow *f, uint32_t tsval, uint32_t tsecr)
{
    static const uint8_t head[4] = {1, 1, 8, 10}; /* NOP NOP TS */

    memcpy(f->opt, head, 4);
    wr32(f->opt + 4, tsval);
    wr32(f->opt + 8, tsecr);
    f->opt_len = 12;
}

static void add_sack(struct flow *f, uint32_t left, uint32_t right)
{
    static const uint8_t head[4] = {1, 1, 5, 10}; /* NOP NOP SACK, one block */

    memcpy(f->opt + f->opt_len, head, 4);
    wr32(f->opt + f->opt_len + 4, left);
    wr32(f->opt + f->opt_len + 8, right);
    f->opt_len = (uint8_t)(f->opt_len + 12);
}

static struct flow flow4(uint16_t sport)
{
    struct flow f = {.sport = sport,
                     .dport = 5201,
                     .mac = 2,
                     .host = 2,
                     .ttl = 64,
                     .df = true,
                     .ip_id = 100,
                     .seq = 1000000,
                     .ack = 777,
                     .win = 501,
                     .flags = TCP_ACK};

    set_ts(&f, 1000, 2000);
    return f;
}

static struct flow flow6(uint16_t sport)
{
    struct flow f = flow4(sport);

    f.ipv6 = true;
    f.label = 0x12345;
    return f;
}

static uint8_t pattern(const struct flow *fl, uint32_t seq)
{
    return (uint8_t)((seq ^ seq >> 8 ^ seq >> 17) + fl->sport + fl->host);
}

/* Writes the segment fl's state describes into buf; fills in's lengths. Returns the length. */
static uint32_t build(const struct flow *fl, uint32_t payload, const struct odd *o, uint8_t *buf,
                      struct input *in)
{
    static const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    uint8_t *p = buf, *ip, *th;
    uint32_t l3, l4 = 20u + fl->opt_len, sum;

    memcpy(p, dst_mac, 6);
    p[6] = 0x02, p[7] = 0, p[8] = 0, p[9] = 0, p[10] = 1, p[11] = fl->mac;
    p += 12;
    if (fl->vlans == 2) {
        wr16(p, 0x88a8);
        wr16(p + 2, fl->outer);
        p += 4;
    }
    if (fl->vlans >= 1) {
        wr16(p, 0x8100);
        wr16(p + 2, fl->vlan);
        p += 4;
    }
    wr16(p, fl->ipv6 ? 0x86dd : 0x0800);
    p += 2;
    in->l2 = (uint16_t)(p - buf);
    ip = p;
    if (!fl->ipv6) {
        l3 = 20u + o->ip_opts;
        ip[0] = (uint8_t)(0x40 | l3 / 4);
        ip[1] = fl->tos;
        wr16(ip + 2, l3 + l4 + payload);
        wr16(ip + 4, fl->ip_id);
        wr16(ip + 6, (fl->df ? 0x4000u : 0u) | o->frag);
        ip[8] = fl->ttl;
        ip[9] = 6;
        wr16(ip + 10, 0);
        ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = fl->host;
        ip[16] = 10, ip[17] = 0, ip[18] = 1, ip[19] = 1;
        memset(ip + 20, 1, o->ip_opts); /* NOPs after a router alert */
        if (o->ip_opts >= 4)
            ip[20] = 0x94, ip[21] = 4, ip[22] = 0, ip[23] = 0;
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, l3, 0)) ^ (o->bad_ip ? 0x0101 : 0));
    } else {
        l3 = 40u + (o->hbh ? 8 : 0);
        wr32(ip, 6u << 28 | (uint32_t)fl->tos << 20 | (fl->label & 0xfffff));
        wr16(ip + 4, l3 - 40 + l4 + payload);
        ip[6] = o->hbh ? 0 : 6;
        ip[7] = fl->ttl;
        memset(ip + 8, 0, 32);
        ip[8] = 0xfd, ip[23] = fl->host;
        ip[24] = 0xfd, ip[37] = 1, ip[39] = 1;
        if (o->hbh) {
            static const uint8_t hbh[8] = {6, 0, 1, 4, 0, 0, 0, 0}; /* PadN */
            memcpy(ip + 40, hbh, sizeof hbh);
        }
    }
    in->l3 = (uint16_t)l3;
    in->l4 = (uint16_t)l4;
    th = ip + l3;
    wr16(th, fl->sport);
    wr16(th + 2, fl->dport);
    wr32(th + 4, fl->seq);
    wr32(th + 8, fl->ack);
    th[12] = (uint8_t)(l4 / 4 << 4 | fl->reserved);
    th[13] = fl->flags;
    wr16(th + 14, fl->win);
    wr16(th + 16, 0);
    wr16(th + 18, fl->flags & TCP_URG ? 1 : 0);
    memcpy(th + 20, fl->opt, fl->opt_len);
    for (uint32_t i = 0; i < payload; i++)
        th[l4 + i] = pattern(fl, fl->seq + i);
    sum = ref_sum16(th, l4 + payload, ref_pseudo(ip, fl->ipv6, 6, l4 + payload));
    wr16(th + 16, (uint16_t)~ref_fold(sum) ^ (o->bad_tcp ? 0x0101 : 0));
    memset(th + l4 + payload, 0, o->pad);
    in->payload = payload;
    in->ipv6 = fl->ipv6;
    return (uint32_t)(th - buf) + l4 + payload + o->pad;
}

/* Copies a frame into one buffer, or a chain (o->first bytes, then o->chunk per buffer). */
static struct rte_mbuf *make_mbuf(const uint8_t *buf, uint32_t len, const struct odd *o)
{
    struct rte_mempool *mp = o->mp ? o->mp : pool;
    struct rte_mbuf *head = NULL, *tail = NULL;
    uint32_t done = 0, take = o->first ? o->first : len;

    while (done < len) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

        assert_non_null(m);
        take = RTE_MIN(take, len - done);
        assert_true(take <= rte_pktmbuf_tailroom(m));
        unit_chain_add(&head, &tail, m, buf + done, take);
        done += take;
        take = o->chunk ? o->chunk : len;
    }
    return head;
}

/* Offers input i to the engine as target `to`; a frame given back is what the caller sends. */
static bool offer(const struct rsc_target *to, int i)
{
    bool taken;

    ins[i].to = to;
    taken = rsc_input(&tbl, to, ins[i].m);
    if (!taken) {
        assert_true(n_out < MAX_OUT);
        outs[n_out++] = (struct output){ins[i].m, NULL, true};
    }
    return taken;
}

static struct input *new_input(uint32_t size)
{
    struct input *in;

    assert_true(n_in < MAX_IN);
    in = &ins[n_in];
    memset(in, 0, sizeof *in);
    in->bytes = malloc(size);
    assert_non_null(in->bytes);
    return in;
}

/* Builds fl's next segment with `payload` bytes, the oddities of o, and offers it. */
static bool feed_odd(const struct rsc_target *to, struct flow *fl, uint32_t payload,
                     const struct odd *o)
{
    struct input *in = new_input(FRAME_MAX);

    in->len = build(fl, payload, o, in->bytes, in);
    in->m = make_mbuf(in->bytes, in->len, o);
    in->m->ol_flags = o->ol_flags;
    in->ol_flags = o->ol_flags;
    in->fl = fl;
    in->nb_segs = in->m->nb_segs;
    in->hdr_only_first = in->m->data_len == in->l2 + in->l3 + in->l4;
    if (o->shared)
        rte_mbuf_refcnt_update(in->m, 1);
    fl->seq += payload;
    if (!fl->fixed_id)
        fl->ip_id++;
    return offer(to, n_in++);
}

static bool feed(const struct rsc_target *to, struct flow *fl, uint32_t payload)
{
    static const struct odd none;

    return feed_odd(to, fl, payload, &none);
}

/* Offers a frame that is no TCP segment. */
static bool feed_raw(const struct rsc_target *to, const uint8_t *bytes, uint32_t len)
{
    static const struct odd none;
    struct input *in = new_input(len);

    memcpy(in->bytes, bytes, len);
    in->len = len;
    in->m = make_mbuf(bytes, len, &none);
    in->nb_segs = 1;
    return offer(to, n_in++);
}

static void emit(void *c, void *port, struct rte_mbuf *m)
{
    (void)c;
    assert_true(n_out < MAX_OUT);
    outs[n_out++] = (struct output){m, port, false};
}

/* --- checks ------------------------------------------------------------------------------- */

/* Copies a chain into out, checking nb_segs and pkt_len against the buffers. */
static uint32_t flatten(const struct rte_mbuf *m, uint8_t *out)
{
    uint32_t len = 0, n = 0;

    for (const struct rte_mbuf *s = m; s; s = s->next, n++) {
        CHECK(len + s->data_len <= FRAME_MAX);
        memcpy(out + len, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
        len += s->data_len;
    }
    CHECK(n == m->nb_segs);
    CHECK(len == m->pkt_len);
    return len;
}

static bool same_stream(int i, int j)
{
    return ins[i].fl == ins[j].fl && ins[i].to == ins[j].to;
}

/* The first n inputs of input first's stream (flow and target), from first on. */
static void members(int first, int n, int *idx)
{
    int k = 0;

    for (int i = first; i < n_in && k < n; i++)
        if (same_stream(i, first))
            idx[k++] = i;
    CHECK(k == n);
}

/* Output o is input i as it came: the same mbuf, bytes and offload flags. */
static void check_lone(const struct output *o, int i, bool passed)
{
    static uint8_t got[FRAME_MAX];
    const struct input *in = &ins[i];

    CHECK(o->m == in->m);
    CHECK(o->passed == passed);
    if (!passed)
        CHECK(o->port == in->to->port);
    CHECK(flatten(o->m, got) == in->len);
    CHECK(memcmp(got, in->bytes, in->len) == 0);
    CHECK(o->m->ol_flags == in->ol_flags);
}

static uint8_t out_tcp_flags(int k, int i)
{
    return rte_pktmbuf_mtod(outs[k].m, const uint8_t *)[ins[i].l2 + ins[i].l3 + 13];
}

/* Output k is the aggregate of the n segments of input first's stream from first on. */
static void check_aggregate(int k, int first, int n)
{
    static uint8_t got[FRAME_MAX];
    const struct output *o = &outs[k];
    const struct input *h = &ins[first];
    const uint32_t hdr = (uint32_t)h->l2 + h->l3 + h->l4;
    uint8_t exp[256], *ip = exp + h->l2, *th = ip + h->l3;
    const uint8_t *gip = got + h->l2, *gth = gip + h->l3;
    uint32_t payload = 0, len, off = hdr;
    uint16_t segs = h->nb_segs;
    int idx[MAX_IN];

    if (n == 1) {
        check_lone(o, first, false);
        return;
    }
    members(first, n, idx);
    for (int j = 0; j < n; j++) {
        const struct input *in = &ins[idx[j]];
        CHECK((uint32_t)in->l2 + in->l3 + in->l4 == hdr);
        payload += in->payload;
        if (j > 0)
            segs = (uint16_t)(segs + in->nb_segs - in->hdr_only_first);
    }
    CHECK(o->m == h->m);
    CHECK(!o->passed);
    CHECK(o->port == h->to->port);
    len = flatten(o->m, got);
    CHECK(len == hdr + payload);
    CHECK(o->m->nb_segs == segs);
    CHECK(o->m->nb_segs <= h->to->max_segs);
    CHECK(len <= h->to->max_frame);
    for (int j = 0; j < n; j++) {
        const struct input *in = &ins[idx[j]];
        CHECK(memcmp(got + off, in->bytes + hdr, in->payload) == 0);
        off += in->payload;
    }

    /* the head's header with the new lengths, checksums and the last segment's PSH/FIN */
    memcpy(exp, h->bytes, hdr);
    if (!h->ipv6) {
        CHECK(len - h->l2 <= 65535);
        CHECK(rd16(gip + 2) == len - h->l2);
        CHECK(ref_fold(ref_sum16(gip, h->l3, 0)) == 0xffff);
        wr16(ip + 2, len - h->l2);
        memcpy(ip + 10, gip + 10, 2); /* valid, as checked; 0 and 0xffff both are */
    } else {
        CHECK(rd16(gip + 4) == len - h->l2 - 40);
        wr16(ip + 4, len - h->l2 - 40);
    }
    th[13] |= ins[idx[n - 1]].bytes[hdr - h->l4 + 13] & (TCP_PSH | TCP_FIN);
    wr16(th + 16, ref_fold(ref_pseudo(ip, h->ipv6, 6, h->l4 + payload)));
    CHECK(rd16(gth + 16) == rd16(th + 16));
    CHECK(gth[13] == th[13]);
    CHECK(memcmp(got, exp, hdr) == 0);

    CHECK((o->m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) ==
          (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
           (h->ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4)));
    CHECK((o->m->ol_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK) ==
          (h->ol_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK));
    CHECK(o->m->l2_len == h->l2 && o->m->l3_len == h->l3 && o->m->l4_len == h->l4);
    CHECK(o->m->tso_segsz == h->payload);
}

/* What one output must be: the aggregate of n segments of input first's stream from first
 * on (n == 1: the segment unchanged), emitted; or input first passed back. */
struct want {
    int first, n;
    bool passed;
};
/* clang-format off */
#define AGG(i, n) {(i), (n), false}
#define PASS(i)   {(i), 1, true}
/* clang-format on */

static void check_outputs(const struct want *w, int n)
{
    CHECK(n_out == n);
    for (int k = 0; k < n; k++) {
        snprintf(ctx, sizeof ctx, "%s: output %d", test_name, k);
        if (w[k].passed)
            check_lone(&outs[k], w[k].first, true);
        else
            check_aggregate(k, w[k].first, w[k].n);
    }
    snprintf(ctx, sizeof ctx, "%s", test_name);
}

#define EXPECT(...)                                                                                \
    do {                                                                                           \
        const struct want w_[] = {__VA_ARGS__};                                                    \
        check_outputs(w_, (int)RTE_DIM(w_));                                                       \
    } while (0)

/* Every input reached the receiver exactly once, and each stream's inputs in order: outputs are
 * matched to inputs by their first mbuf, aggregates sized by their length. */
static void check_all_delivered(void)
{
    static bool used[MAX_IN];

    memset(used, 0, sizeof used);
    for (int k = 0; k < n_out; k++) {
        int i = 0, n = 0;
        uint32_t len = 0;

        snprintf(ctx, sizeof ctx, "%s: output %d", test_name, k);
        while (i < n_in && (used[i] || ins[i].m != outs[k].m))
            i++;
        CHECK(i < n_in);
        for (int j = 0; j < i; j++)
            CHECK(!same_stream(i, j) || used[j]); /* nothing of the stream overtaken */
        for (int j = i; j < n_in && len < outs[k].m->pkt_len; j++) {
            if (!same_stream(i, j))
                continue;
            CHECK(!used[j]);
            len += (n == 0 ? ins[j].len : ins[j].payload);
            used[j] = true;
            n++;
        }
        if (outs[k].passed)
            check_lone(&outs[k], i, true);
        else
            check_aggregate(k, i, n);
    }
    for (int i = 0; i < n_in; i++)
        CHECK(used[i]);
    snprintf(ctx, sizeof ctx, "%s", test_name);
}

#define STATS(...) ((struct rsc_stats){__VA_ARGS__})

static void check_stats(const struct rsc_stats *got, struct rsc_stats want)
{
    if (got->segments_in != want.segments_in || got->aggregates_out != want.aggregates_out)
        fail_msg("segments_in %llu aggregates_out %llu, want %llu %llu [%s]",
                 (unsigned long long)got->segments_in, (unsigned long long)got->aggregates_out,
                 (unsigned long long)want.segments_in, (unsigned long long)want.aggregates_out,
                 ctx);
    for (int r = 0; r < RSC_FLUSH_N; r++)
        if (got->flushes[r] != want.flushes[r])
            fail_msg("flushes[%s] %llu, want %llu [%s]", rsc_flush_names[r],
                     (unsigned long long)got->flushes[r], (unsigned long long)want.flushes[r], ctx);
    for (int r = 0; r < RSC_BYPASS_N; r++)
        if (got->bypasses[r] != want.bypasses[r])
            fail_msg("bypasses[%s] %llu, want %llu [%s]", rsc_bypass_names[r],
                     (unsigned long long)got->bypasses[r], (unsigned long long)want.bypasses[r],
                     ctx);
}

/* --- per test ----------------------------------------------------------------------------- */

static void release(void)
{
    for (int k = 0; k < n_out; k++)
        rte_pktmbuf_free(outs[k].m);
    for (int i = 0; i < n_in; i++)
        free(ins[i].bytes);
    n_out = n_in = 0;
}

/* A fresh engine, counters and receivers: rx a normal one (port_a, in_port 1), rx2 another
 * (port_b, its own counters). */
static void fresh(const char *name)
{
    rsc_init(&tbl, emit, NULL);
    memset(&st, 0, sizeof st);
    memset(&st2, 0, sizeof st2);
    rx = (struct rsc_target){.port = &port_a,
                             .stats = &st,
                             .max_frame = MAX_FRAME,
                             .max_segs = 1000,
                             .in_port = 1,
                             .tso4 = true,
                             .tso6 = true};
    rx2 = rx;
    rx2.port = &port_b;
    rx2.stats = &st2;
    test_name = name;
    snprintf(ctx, sizeof ctx, "%s", name);
}

/* Ends a case: nothing held, everything freed, the pools as full as at the start. */
static void finish(void)
{
    CHECK(rsc_idle(&tbl));
    release();
    assert_int_equal(rte_mempool_avail_count(pool), pool_start);
    assert_int_equal(rte_mempool_avail_count(big_pool), big_start);
}

static int setup(void **state)
{
    (void)state;
    n_in = n_out = 0;
    pool_start = rte_mempool_avail_count(pool);
    big_start = rte_mempool_avail_count(big_pool);
    fresh("");
    return 0;
}

/* After a failed test too: whatever is held or recorded goes back to the pools. */
static int teardown(void **state)
{
    (void)state;
    rsc_flush(&tbl);
    release();
    return 0;
}

/* --- trains ------------------------------------------------------------------------------- */

/* A lone segment leaves as it came, offload flags included; a flush with nothing held emits
 * nothing. */
static void test_lone_segment_unchanged(void **state)
{
    struct flow a = flow4(1000);
    struct odd o = {.ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD};

    (void)state;
    fresh("lone");
    CHECK(feed_odd(&rx, &a, MSS, &o));
    CHECK(n_out == 0 && !rsc_idle(&tbl));
    rsc_flush(&tbl);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 1));
    check_stats(&st,
                STATS(.segments_in = 1, .aggregates_out = 1, .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* Ten full segments in order: one aggregate, held until the end of the poll. */
static void test_in_order_trains(void **state)
{
    static const struct {
        const char *name;
        bool ipv6, no_ts;
        int vlans;
        uint32_t seq, mss;
    } cases[] = {
        {"ipv4 timestamps", false, false, 0, 1000000, MSS},
        {"ipv4 no options", false, true, 0, 1000000, 1460},
        {"ipv6 timestamps", true, false, 0, 1000000, MSS6},
        {"ipv4 802.1Q", false, false, 1, 1000000, MSS},
        {"ipv6 QinQ", true, false, 2, 1000000, MSS6},
        {"ipv4 sequence wrap", false, false, 0, 0xffffd000u, MSS},
        {"ipv6 sequence wrap", true, false, 0, 0xfffffff0u, MSS6},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = cases[c].ipv6 ? flow6(1000) : flow4(1000);

        fresh(cases[c].name);
        a.vlans = cases[c].vlans;
        a.vlan = 10;
        a.outer = 300;
        a.seq = cases[c].seq;
        if (cases[c].no_ts)
            a.opt_len = 0;
        for (int i = 0; i < 10; i++)
            CHECK(feed(&rx, &a, cases[c].mss));
        CHECK(n_out == 0);
        rsc_flush(&tbl);
        EXPECT(AGG(0, 10));
        check_stats(
            &st, STATS(.segments_in = 10, .aggregates_out = 1, .flushes[RSC_FLUSH_POLL_END] = 1));
        finish();
    }
}

/* A gap: the aggregate goes (out_of_order) when the segment after the gap arrives, which then
 * passes alone; the next segment starts a new aggregate; the missing segment, late, flushes it
 * and passes alone too. */
static void test_out_of_order_gap(void **state)
{
    struct flow a = flow4(1000);
    uint32_t gap;

    (void)state;
    fresh("gap");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    gap = a.seq;
    a.seq += MSS;
    CHECK(!feed(&rx, &a, MSS));
    CHECK(n_out == 2);
    feed(&rx, &a, MSS);
    a.seq = gap;
    CHECK(!feed(&rx, &a, MSS)); /* the late one */
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2), AGG(3, 1), PASS(4));
    check_stats(&st,
                STATS(.segments_in = 3, .aggregates_out = 2, .flushes[RSC_FLUSH_OUT_OF_ORDER] = 2,
                      .bypasses[RSC_BYPASS_OUT_OF_ORDER] = 2));
    finish();
}

/* A retransmission (seq before the expected one) flushes what is held and passes alone; a
 * segment overlapping data already sent then starts a new aggregate (nothing of its flow is
 * held any more). */
static void test_retransmission_and_overlap(void **state)
{
    struct flow a = flow4(1000);
    uint32_t start = a.seq;

    (void)state;
    fresh("retransmission");
    for (int i = 0; i < 3; i++)
        feed(&rx, &a, MSS);
    a.seq = start + MSS; /* the second segment again */
    CHECK(!feed(&rx, &a, MSS));
    CHECK(n_out == 2);
    a.seq -= 500; /* its last 500 bytes and 948 new ones */
    CHECK(feed(&rx, &a, MSS));
    CHECK(n_out == 2);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 3), PASS(3), AGG(4, 1));
    check_stats(&st,
                STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_OUT_OF_ORDER] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_OUT_OF_ORDER] = 1));
    finish();
}

/* PSH joins as the last segment and the aggregate leaves at once, with PSH; the next segment
 * starts a new one. */
static void test_psh_mid_train(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("psh");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    a.flags |= TCP_PSH;
    feed(&rx, &a, MSS);
    a.flags &= (uint8_t)~TCP_PSH;
    CHECK(n_out == 1);
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 3), AGG(3, 2));
    CHECK(out_tcp_flags(0, 0) == (TCP_ACK | TCP_PSH));
    CHECK(out_tcp_flags(1, 3) == TCP_ACK);
    check_stats(&st, STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_PUSH] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* A FIN with data joins as the last segment and ends the aggregate, which carries FIN. */
static void test_fin_with_data_ends_aggregate(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("fin with data");
    for (int i = 0; i < 4; i++)
        feed(&rx, &a, MSS);
    a.flags |= TCP_FIN;
    CHECK(feed(&rx, &a, 700));
    CHECK(n_out == 1);
    EXPECT(AGG(0, 5));
    CHECK(out_tcp_flags(0, 0) == (TCP_ACK | TCP_FIN));
    check_stats(&st, STATS(.segments_in = 5, .aggregates_out = 1, .flushes[RSC_FLUSH_PUSH] = 1));
    finish();
}

/* A bare FIN cannot join: the flow's aggregate goes first (unmergeable), the FIN behind it. */
static void test_bare_fin_passes_behind_aggregate(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("bare fin");
    for (int i = 0; i < 3; i++)
        feed(&rx, &a, MSS);
    a.flags |= TCP_FIN;
    CHECK(!feed(&rx, &a, 0));
    CHECK(rsc_idle(&tbl));
    EXPECT(AGG(0, 3), PASS(3));
    check_stats(&st,
                STATS(.segments_in = 3, .aggregates_out = 1, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .bypasses[RSC_BYPASS_NO_PAYLOAD] = 1));
    finish();
}

/* --- what must match ---------------------------------------------------------------------- */

/* A new timestamp value: the option bytes differ, the aggregate goes (mismatch). */
static void test_timestamp_advance(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("timestamp advance");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    set_ts(&a, 1001, 2000);
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 2));
    check_stats(&st, STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_MISMATCH] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* A SACK block appears: the TCP header grows by 12 bytes, the aggregate goes (mismatch), and
 * the next one has the longer header. */
static void test_sack_block_added(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("sack block");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    add_sack(&a, 5000, 6000);
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 2));
    CHECK(outs[1].m->l4_len == 44);
    check_stats(&st, STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_MISMATCH] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* One header field changes after two segments: the aggregate goes (mismatch), the changed
 * segment starts the next one, which the one after it joins. */
static void test_header_changes_flush(void **state)
{
    static const struct {
        const char *name;
        bool ipv6;
        enum { TOS, TTL, DF, ACK, WIN, FLAGS, TS_OFF, IP_ID } field;
        uint32_t from, to;
    } cases[] = {
        {"ipv4 ECN ECT(0) -> CE", false, TOS, 0x02, 0x03},
        {"ipv4 ECN not-ECT -> ECT(1)", false, TOS, 0x00, 0x01},
        {"ipv4 DSCP", false, TOS, 0x00, 0xb8},
        {"ipv6 ECN ECT(0) -> CE", true, TOS, 0x02, 0x03},
        {"ipv6 DSCP", true, TOS, 0x00, 0x28},
        {"ipv4 TTL", false, TTL, 64, 63},
        {"ipv6 hop limit", true, TTL, 64, 65},
        {"ipv4 DF cleared", false, DF, 1, 0},
        {"ipv4 DF set", false, DF, 0, 1},
        {"ipv4 ack", false, ACK, 777, 778},
        {"ipv6 ack", true, ACK, 777, 2000},
        {"ipv4 window", false, WIN, 501, 502},
        {"ipv6 window", true, WIN, 501, 300},
        {"ipv4 ECE set", false, FLAGS, TCP_ACK, TCP_ACK | TCP_ECE},
        {"ipv4 ECE cleared", false, FLAGS, TCP_ACK | TCP_ECE, TCP_ACK},
        {"ipv4 timestamps dropped", false, TS_OFF, 12, 0},
        {"ipv6 timestamps dropped", true, TS_OFF, 12, 0},
        {"ipv4 ID jumps", false, IP_ID, 100, 4000},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = cases[c].ipv6 ? flow6(1000) : flow4(1000);
        uint32_t mss = cases[c].ipv6 ? MSS6 : MSS;

        fresh(cases[c].name);
        for (int step = 0; step < 2; step++) {
            uint32_t v = step ? cases[c].to : cases[c].from;
            switch (cases[c].field) {
            case TOS:
                a.tos = (uint8_t)v;
                break;
            case TTL:
                a.ttl = (uint8_t)v;
                break;
            case DF:
                a.df = v != 0;
                break;
            case ACK:
                a.ack = v;
                break;
            case WIN:
                a.win = (uint16_t)v;
                break;
            case FLAGS:
                a.flags = (uint8_t)v;
                break;
            case TS_OFF:
                a.opt_len = (uint8_t)v;
                break;
            case IP_ID:
                if (step)
                    a.ip_id = (uint16_t)v;
                break;
            }
            feed(&rx, &a, mss);
            feed(&rx, &a, mss);
            CHECK(n_out == step);
        }
        rsc_flush(&tbl);
        EXPECT(AGG(0, 2), AGG(2, 2));
        check_stats(&st, STATS(.segments_in = 4, .aggregates_out = 2,
                               .flushes[RSC_FLUSH_MISMATCH] = 1, .flushes[RSC_FLUSH_POLL_END] = 1));
        finish();
    }
}

/* The IPv4 ID stays (with DF) or grows by one per segment, across 0xffff too; anything else
 * ends the aggregate. groups: the aggregates the four segments make. */
static void test_ipv4_id_rules(void **state)
{
    static const struct {
        const char *name;
        bool df;
        uint16_t ids[4];
        int groups[4]; /* sizes, 0-terminated */
    } cases[] = {
        {"fixed with DF", true, {7, 7, 7, 7}, {4}},
        {"incrementing", true, {7, 8, 9, 10}, {4}},
        {"incrementing across 0xffff", true, {0xfffe, 0xffff, 0, 1}, {4}},
        {"incrementing without DF", false, {7, 8, 9, 10}, {4}},
        {"fixed without DF", false, {7, 7, 7, 7}, {1, 1, 1, 1}},
        {"fixed, then incrementing", true, {7, 7, 8, 9}, {2, 2}},
        {"incrementing, then fixed", true, {7, 8, 8, 8}, {2, 2}},
        {"decrementing", true, {9, 8, 7, 6}, {1, 1, 1, 1}},
        {"random", true, {7, 4000, 123, 9}, {1, 1, 1, 1}},
        {"step of two", true, {7, 9, 11, 13}, {1, 1, 1, 1}},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = flow4(1000);
        struct want w[4];
        int n = 0, first = 0;

        fresh(cases[c].name);
        a.df = cases[c].df;
        for (int i = 0; i < 4; i++) {
            a.ip_id = cases[c].ids[i];
            feed(&rx, &a, MSS);
        }
        rsc_flush(&tbl);
        for (; n < 4 && cases[c].groups[n]; first += cases[c].groups[n++])
            w[n] = (struct want)AGG(first, cases[c].groups[n]);
        check_outputs(w, n);
        check_stats(&st, STATS(.segments_in = 4, .aggregates_out = (uint64_t)n,
                               .flushes[RSC_FLUSH_MISMATCH] = (uint64_t)n - 1,
                               .flushes[RSC_FLUSH_POLL_END] = 1));
        finish();
    }
}

/* CWR on a new segment ends the aggregate (mismatch) and starts the next one, which keeps CWR
 * on its header (GSO puts it on the first segment only). */
static void test_cwr_starts_next_aggregate(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("cwr");
    a.flags = TCP_ACK | TCP_ECE;
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    a.flags |= TCP_CWR;
    feed(&rx, &a, MSS);
    CHECK(n_out == 1);
    a.flags &= (uint8_t)~TCP_CWR;
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 3));
    CHECK(out_tcp_flags(1, 2) == (TCP_ACK | TCP_ECE | TCP_CWR));
    check_stats(&st, STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_MISMATCH] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* Short segments join and close; a longer one than the first does not join. */
static void test_short_segment_joins_and_closes(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("short");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    feed(&rx, &a, 600);
    CHECK(n_out == 1);
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 3), AGG(3, 2));
    check_stats(&st, STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_SHORT] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

static void test_segment_longer_than_mss(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("longer than mss");
    feed(&rx, &a, 1000);
    feed(&rx, &a, 1000);
    feed(&rx, &a, MSS);
    CHECK(n_out == 1);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 2));
    CHECK(outs[0].m->tso_segsz == 1000 && outs[1].m->tso_segsz == MSS);
    check_stats(&st, STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_MISMATCH] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* --- never merged ------------------------------------------------------------------------- */

/* Fragments (MF, or an offset) pass unmerged behind the flow's aggregate, in order. */
static void test_ipv4_fragments_bypass(void **state)
{
    struct flow a = flow4(1000);
    struct odd mf = {.frag = 0x2000}, offset = {.frag = 185}; /* 1480 bytes in */

    (void)state;
    fresh("fragments");
    a.df = false;
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_odd(&rx, &a, MSS, &mf));
    CHECK(!feed_odd(&rx, &a, MSS, &offset));
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2), PASS(3), AGG(4, 2));
    check_stats(&st,
                STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_FRAGMENT] = 2));
    finish();
}

static void test_ipv4_options_bypass(void **state)
{
    struct flow a = flow4(1000);
    struct odd ra = {.ip_opts = 4}, more = {.ip_opts = 12};

    (void)state;
    fresh("ip options");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_odd(&rx, &a, MSS, &ra));
    CHECK(!feed_odd(&rx, &a, MSS, &more));
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2), PASS(3), AGG(4, 2));
    check_stats(&st,
                STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_IP_OPTIONS] = 2));
    finish();
}

/* IPv6 merges; with a hop-by-hop header it passes unmerged, behind what was held. */
static void test_ipv6_extension_headers(void **state)
{
    struct flow a = flow6(1000);
    struct odd hbh = {.hbh = true};

    (void)state;
    fresh("ipv6 extension headers");
    feed(&rx, &a, MSS6);
    feed(&rx, &a, MSS6);
    CHECK(!feed_odd(&rx, &a, MSS6, &hbh));
    CHECK(!feed_odd(&rx, &a, MSS6, &hbh));
    feed(&rx, &a, MSS6);
    feed(&rx, &a, MSS6);
    feed(&rx, &a, MSS6);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2), PASS(3), AGG(4, 3));
    check_stats(&st,
                STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_IP_OPTIONS] = 2));
    finish();
}

/* A wrong TCP or IPv4 header checksum is never hidden by a merge: the frame passes as it came,
 * behind the flow's aggregate; alone it passes without flushing anything. */
static void test_bad_checksums_pass_unmerged(void **state)
{
    static const struct {
        const char *name;
        struct odd o;
    } cases[] = {
        {"bad tcp checksum", {.bad_tcp = true}},
        {"bad ipv4 header checksum", {.bad_ip = true}},
        {"bad tcp checksum, flagged bad",
         {.bad_tcp = true, .ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD}},
        {"bad tcp checksum, ip flagged good",
         {.bad_tcp = true, .ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD}},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = flow4(1000), b = flow4(2000);

        fresh(cases[c].name);
        CHECK(!feed_odd(&rx, &b, MSS, &cases[c].o)); /* nothing held */
        for (int i = 0; i < 3; i++)
            feed(&rx, &a, MSS);
        CHECK(!feed_odd(&rx, &a, MSS, &cases[c].o));
        feed(&rx, &a, MSS);
        feed(&rx, &a, MSS);
        rsc_flush(&tbl);
        EXPECT(PASS(0), AGG(1, 3), PASS(4), AGG(5, 2));
        check_stats(
            &st, STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                       .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_BAD_CSUM] = 2));
        finish();
    }
}

/* A local sender's partial checksum (RTE_MBUF_F_TX_TCP_CKSUM: the field holds anything) and a
 * port's verdict (RTE_MBUF_F_RX_L4_CKSUM_GOOD) are trusted: such segments merge, and the
 * aggregate's field is the partial checksum over the new length. */
static void test_vouched_checksums_merge(void **state)
{
    static const struct {
        const char *name;
        uint64_t ol_flags;
    } cases[] = {
        {"partial checksum", RTE_MBUF_F_TX_TCP_CKSUM},
        {"partial checksum with ipv4 flag", RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4},
        {"rx checksum good", RTE_MBUF_F_RX_L4_CKSUM_GOOD},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = flow4(1000), b = flow6(1000);
        struct odd o = {.bad_tcp = true, .ol_flags = cases[c].ol_flags};

        fresh(cases[c].name);
        for (int i = 0; i < 4; i++) {
            CHECK(feed_odd(&rx, &a, MSS, &o));
            CHECK(feed_odd(&rx, &b, MSS6, &o));
        }
        rsc_flush(&tbl);
        EXPECT(AGG(0, 4), AGG(1, 4));
        check_stats(&st,
                    STATS(.segments_in = 8, .aggregates_out = 2, .flushes[RSC_FLUSH_POLL_END] = 2));
        finish();
    }
}

/* Segments without payload pass: a pure ACK of another flow leaves the held aggregate alone, a
 * window update of the held flow sends it first. */
static void test_pure_acks_and_window_updates(void **state)
{
    struct flow a = flow4(1000), other = flow4(3000);

    (void)state;
    fresh("pure acks");
    CHECK(!feed(&rx, &a, 0)); /* nothing held */
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed(&rx, &other, 0));
    CHECK(n_out == 2);
    feed(&rx, &a, MSS);
    a.win = 900;
    CHECK(!feed(&rx, &a, 0)); /* window update */
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(PASS(0), PASS(3), AGG(1, 3), PASS(5), AGG(6, 2));
    check_stats(&st,
                STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_NO_PAYLOAD] = 3));
    finish();
}

/* SYN, RST or URG with data: passed behind the flow's aggregate. */
static void test_syn_rst_urg_bypass(void **state)
{
    static const struct {
        const char *name;
        uint8_t flags;
    } cases[] = {
        {"syn", TCP_SYN | TCP_ACK},
        {"rst", TCP_RST | TCP_ACK},
        {"urg", TCP_URG | TCP_ACK},
        {"urg psh", TCP_URG | TCP_PSH | TCP_ACK},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = flow4(1000);

        fresh(cases[c].name);
        feed(&rx, &a, MSS);
        feed(&rx, &a, MSS);
        a.flags = cases[c].flags;
        CHECK(!feed(&rx, &a, 100));
        a.flags = TCP_ACK;
        feed(&rx, &a, MSS);
        rsc_flush(&tbl);
        EXPECT(AGG(0, 2), PASS(2), AGG(3, 1));
        check_stats(
            &st, STATS(.segments_in = 3, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                       .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_TCP_FLAGS] = 1));
        finish();
    }
}

/* A TSO frame is already large: passed behind the flow's aggregate. */
static void test_tso_frame_bypass(void **state)
{
    struct flow a = flow4(1000);
    struct odd tso = {.mp = big_pool,
                      .ol_flags =
                          RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4};

    (void)state;
    fresh("tso frame");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_odd(&rx, &a, 3 * MSS, &tso));
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2));
    check_stats(&st, STATS(.segments_in = 2, .aggregates_out = 1,
                           .flushes[RSC_FLUSH_UNMERGEABLE] = 1, .bypasses[RSC_BYPASS_LARGE] = 1));
    finish();
}

/* UDP, ARP: not TCP, passed at once; a held TCP aggregate stays held. */
static void test_not_tcp_bypass(void **state)
{
    struct flow a = flow4(1000);
    uint8_t udp[14 + 40 + 8 + 64] = {0}, arp[60] = {0}, udp4[14 + 20 + 8 + 64] = {0};

    (void)state;
    fresh("not tcp");
    /* IPv4/UDP with a right header checksum */
    wr16(udp4 + 12, 0x0800);
    udp4[14] = 0x45;
    wr16(udp4 + 16, 20 + 8 + 64);
    udp4[22] = 64;
    udp4[23] = 17;
    udp4[26] = 10, udp4[29] = 2, udp4[30] = 10, udp4[33] = 1;
    wr16(udp4 + 24, (uint16_t)~ref_fold(ref_sum16(udp4 + 14, 20, 0)));
    wr16(udp4 + 34, 1000), wr16(udp4 + 36, 5201), wr16(udp4 + 38, 8 + 64);
    /* IPv6/UDP */
    wr16(udp + 12, 0x86dd);
    udp[14] = 0x60;
    wr16(udp + 18, 8 + 64);
    udp[20] = 17;
    udp[21] = 64;
    wr16(udp + 54, 1000), wr16(udp + 56, 5201), wr16(udp + 58, 8 + 64);
    /* ARP request */
    memset(arp, 0xff, 6);
    wr16(arp + 12, 0x0806);
    wr16(arp + 14, 1), wr16(arp + 16, 0x0800), arp[18] = 6, arp[19] = 4, wr16(arp + 20, 1);

    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_raw(&rx, udp4, sizeof udp4));
    CHECK(!feed_raw(&rx, udp, sizeof udp));
    CHECK(!feed_raw(&rx, arp, sizeof arp));
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(PASS(2), PASS(3), PASS(4), AGG(0, 3));
    check_stats(&st, STATS(.segments_in = 3, .aggregates_out = 1, .flushes[RSC_FLUSH_POLL_END] = 1,
                           .bypasses[RSC_BYPASS_NOT_TCP] = 3));
    finish();
}

/* Ethernet padding behind the IP packet (IP length shorter than the frame): layout, passed
 * behind the flow's aggregate. */
static void test_ethernet_padding_bypass(void **state)
{
    struct flow a = flow4(1000), tiny = flow4(4000);
    struct odd pad4 = {.pad = 4}, pad_to_60 = {.pad = 60 - (14 + 20 + 20 + 2)};

    (void)state;
    fresh("padding");
    tiny.opt_len = 0;
    CHECK(!feed_odd(&rx, &tiny, 2, &pad_to_60));
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_odd(&rx, &a, MSS, &pad4));
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(PASS(0), AGG(1, 2), PASS(3), AGG(4, 1));
    check_stats(&st,
                STATS(.segments_in = 3, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_LAYOUT] = 2));
    finish();
}

/* A buffer another port also holds (a flood's reference) is not the engine's to cut up. */
static void test_shared_buffer_bypass(void **state)
{
    struct flow a = flow4(1000);
    struct odd shared = {.shared = true};

    (void)state;
    fresh("shared buffer");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_odd(&rx, &a, MSS, &shared));
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2), AGG(3, 1));
    CHECK(rte_mbuf_refcnt_read(ins[2].m) == 2);
    rte_pktmbuf_free(ins[2].m); /* the other port's reference */
    check_stats(&st,
                STATS(.segments_in = 3, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_FLOOD] = 1));
    finish();
}

/* The TCP header beyond the first buffer: layout, passed, and nothing of its ingress port
 * toward that receiver overtaken. */
static void test_tcp_header_beyond_first_buffer(void **state)
{
    struct flow a = flow4(1000);
    struct odd split = {.first = 14 + 20 + 10, .chunk = 2000};

    (void)state;
    fresh("split tcp header");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    CHECK(!feed_odd(&rx, &a, MSS, &split));
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), PASS(2), AGG(3, 1));
    check_stats(&st,
                STATS(.segments_in = 3, .aggregates_out = 2, .flushes[RSC_FLUSH_UNMERGEABLE] = 1,
                      .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_LAYOUT] = 1));
    finish();
}

/* Even the IP header cut by the buffer boundary: the frame cannot be matched to a flow, so
 * every flow from its ingress port to its receiver goes first (the other flow here included). */
static void test_ip_header_beyond_first_buffer(void **state)
{
    struct flow a = flow4(1000), b = flow4(2000);
    struct odd split = {.first = 14 + 10, .chunk = 2000};

    (void)state;
    fresh("split ip header");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    feed(&rx, &b, MSS);
    CHECK(!feed_odd(&rx, &a, MSS, &split));
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 1), PASS(3));
    check_stats(&st, STATS(.segments_in = 3, .aggregates_out = 2,
                           .flushes[RSC_FLUSH_UNMERGEABLE] = 2, .bypasses[RSC_BYPASS_LAYOUT] = 1));
    finish();
}

/* A change in the TCP header's reserved bits (AccECN's AE flag lives there) ends the aggregate:
 * segmenting would repeat the first segment's bits on every segment. */
static void test_reserved_tcp_bits_mismatch(void **state)
{
    struct flow a = flow4(1000);

    (void)state;
    fresh("reserved bits");
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    a.reserved = 0x01;
    feed(&rx, &a, MSS);
    feed(&rx, &a, MSS);
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 2));
    check_stats(&st, STATS(.segments_in = 4, .aggregates_out = 2, .flushes[RSC_FLUSH_MISMATCH] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* --- flow identity ------------------------------------------------------------------------ */

/* Two streams equal in all but one identity field, interleaved segment by segment (the same
 * sequence numbers, so a merge across them would be in order): two aggregates. */
static void test_identity_keeps_flows_apart(void **state)
{
    static const struct {
        const char *name;
        bool ipv6;
        int vlans;
        enum { VLAN, OUTER, TAGGED, MAC, HOST, SPORT, DPORT, LABEL } field;
    } cases[] = {
        {"802.1Q VLAN ID", false, 1, VLAN},        {"802.1ad outer tag", true, 2, OUTER},
        {"tagged and untagged", false, 0, TAGGED}, {"source MAC", false, 0, MAC},
        {"ipv4 source address", false, 0, HOST},   {"ipv6 source address", true, 0, HOST},
        {"source port", false, 1, SPORT},          {"destination port", true, 0, DPORT},
        {"ipv6 flow label", true, 0, LABEL},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = cases[c].ipv6 ? flow6(1000) : flow4(1000), b;
        uint32_t mss = cases[c].ipv6 ? MSS6 : MSS;

        fresh(cases[c].name);
        a.vlans = cases[c].vlans;
        a.vlan = 10;
        a.outer = 300;
        b = a;
        switch (cases[c].field) {
        case VLAN:
            b.vlan = 20;
            break;
        case OUTER:
            b.outer = 301;
            break;
        case TAGGED:
            b.vlans = 1;
            break;
        case MAC:
            b.mac = 3;
            break;
        case HOST:
            b.host = 3;
            break;
        case SPORT:
            b.sport = 1001;
            break;
        case DPORT:
            b.dport = 5202;
            break;
        case LABEL:
            b.label = 0x54321;
            break;
        }
        for (int i = 0; i < 3; i++) {
            CHECK(feed(&rx, &a, mss));
            CHECK(feed(&rx, &b, mss));
        }
        rsc_flush(&tbl);
        EXPECT(AGG(0, 3), AGG(1, 3));
        check_stats(&st,
                    STATS(.segments_in = 6, .aggregates_out = 2, .flushes[RSC_FLUSH_POLL_END] = 2));
        finish();
    }
}

/* The same 5-tuple from two ingress ports: two flows. */
static void test_ingress_port_keeps_flows_apart(void **state)
{
    struct flow a = flow4(1000), b = a;
    struct rsc_target from2;

    (void)state;
    fresh("ingress port");
    from2 = rx;
    from2.in_port = 2;
    for (int i = 0; i < 3; i++) {
        feed(&rx, &a, MSS);
        feed(&from2, &b, MSS);
    }
    rsc_flush(&tbl);
    EXPECT(AGG(0, 3), AGG(1, 3));
    check_stats(&st,
                STATS(.segments_in = 6, .aggregates_out = 2, .flushes[RSC_FLUSH_POLL_END] = 2));
    finish();
}

/* The same 5-tuple toward two receivers (a flood turned unicast twice): two flows, each emitted
 * to its own port and counted on its own receiver. */
static void test_receiver_keeps_flows_apart(void **state)
{
    struct flow a = flow4(1000), b = a;

    (void)state;
    fresh("receiver port");
    for (int i = 0; i < 3; i++) {
        feed(&rx, &a, MSS);
        feed(&rx2, &b, MSS);
    }
    rsc_flush(&tbl);
    EXPECT(AGG(0, 3), AGG(1, 3));
    CHECK(outs[0].port == &port_a && outs[1].port == &port_b);
    check_stats(&st,
                STATS(.segments_in = 3, .aggregates_out = 1, .flushes[RSC_FLUSH_POLL_END] = 1));
    check_stats(&st2,
                STATS(.segments_in = 3, .aggregates_out = 1, .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();
}

/* --- sizes -------------------------------------------------------------------------------- */

/* MTU 9000: seven 8948-byte segments fill the IPv4 total length (62688), the seventh closes the
 * aggregate (size), the eighth starts the next. Each segment in one big buffer. */
static void test_jumbo_65535_limit(void **state)
{
    (void)state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct flow a = v6 ? flow6(1000) : flow4(1000);
        struct odd big = {.mp = big_pool};
        uint32_t mss = v6 ? JUMBO6 : JUMBO;

        fresh(v6 ? "jumbo ipv6" : "jumbo ipv4");
        for (int i = 0; i < 8; i++) {
            CHECK(feed_odd(&rx, &a, mss, &big));
            CHECK(n_out == (i >= 6));
        }
        rsc_flush(&tbl);
        EXPECT(AGG(0, 7), AGG(7, 1));
        CHECK(outs[0].m->pkt_len == 14 + (v6 ? 40 : 20) + 32 + 7 * mss);
        check_stats(&st, STATS(.segments_in = 8, .aggregates_out = 2, .flushes[RSC_FLUSH_SIZE] = 1,
                               .flushes[RSC_FLUSH_POLL_END] = 1));
        finish();
    }
}

/* The IP length limit to the byte: eleven 5953-byte segments make an IPv4 total length of
 * 65535 exactly and all join; eleven 5457-byte ones make 60079, and a twelfth would make 65536. */
static void test_ip_length_limit_exact(void **state)
{
    static const uint32_t mss[] = {5953, 5457};

    (void)state;
    for (size_t c = 0; c < RTE_DIM(mss); c++) {
        struct flow a = flow4(1000);
        struct odd big = {.mp = big_pool};

        fresh(c ? "65536 does not fit" : "65535 fits");
        for (int i = 0; i < 12; i++)
            CHECK(feed_odd(&rx, &a, mss[c], &big));
        rsc_flush(&tbl);
        EXPECT(AGG(0, 11), AGG(11, 1));
        CHECK(outs[0].m->pkt_len == 14 + 20 + 32 + 11 * mss[c]);
        check_stats(&st, STATS(.segments_in = 12, .aggregates_out = 2, .flushes[RSC_FLUSH_SIZE] = 1,
                               .flushes[RSC_FLUSH_POLL_END] = 1));
        finish();
    }
}

/* The same with each 9014-byte segment a chain: the first buffer holding the headers alone
 * (left out of the aggregate), or cut at odd offsets, or single and chained segments mixed. */
static void test_jumbo_chains(void **state)
{
    static const struct {
        const char *name;
        struct odd odd, even;
    } cases[] = {
        {"headers alone in the first buffer",
         {.first = 66, .chunk = 2048},
         {.first = 66, .chunk = 2048}},
        {"odd cuts", {.first = 66 + 333, .chunk = 1001}, {.first = 66 + 333, .chunk = 1001}},
        {"single and chained", {.first = 66, .chunk = 1500}, {.mp = NULL, .first = 0}},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = flow4(1000);

        fresh(cases[c].name);
        for (int i = 0; i < 8; i++) {
            struct odd o = i % 2 ? cases[c].odd : cases[c].even;
            if (!o.first)
                o.mp = big_pool;
            CHECK(feed_odd(&rx, &a, JUMBO, &o));
        }
        rsc_flush(&tbl);
        EXPECT(AGG(0, 7), AGG(7, 1));
        check_stats(&st, STATS(.segments_in = 8, .aggregates_out = 2, .flushes[RSC_FLUSH_SIZE] = 1,
                               .flushes[RSC_FLUSH_POLL_END] = 1));
        finish();
    }
}

/* --- many flows --------------------------------------------------------------------------- */

/* RSC_MAX_FLOWS flows, one segment each in turn: all held, emitted oldest first. */
static void test_interleaved_flows(void **state)
{
    static struct flow f[RSC_MAX_FLOWS];

    (void)state;
    fresh("interleaved flows");
    for (int k = 0; k < RSC_MAX_FLOWS; k++) {
        f[k] = k % 2 ? flow6((uint16_t)(1000 + k)) : flow4((uint16_t)(1000 + k));
        f[k].seq = 1000u * (uint32_t)k;
    }
    for (int round = 0; round < 4; round++)
        for (int k = 0; k < RSC_MAX_FLOWS; k++)
            CHECK(feed(&rx, &f[k], f[k].ipv6 ? MSS6 : MSS));
    CHECK(n_out == 0);
    rsc_flush(&tbl);
    CHECK(n_out == RSC_MAX_FLOWS);
    for (int k = 0; k < RSC_MAX_FLOWS && k < n_out; k++) {
        snprintf(ctx, sizeof ctx, "%s: flow %d", test_name, k);
        check_aggregate(k, k, 4);
    }
    check_stats(&st, STATS(.segments_in = 4 * RSC_MAX_FLOWS, .aggregates_out = RSC_MAX_FLOWS,
                           .flushes[RSC_FLUSH_POLL_END] = RSC_MAX_FLOWS));
    finish();
}

/* RSC_MAX_FLOWS + 4 flows, two segments each in turn, twice: each new flow beyond the table's
 * size evicts the oldest (table_full); every segment arrives once, each flow's in order. */
static void test_full_flow_table(void **state)
{
    enum { N = RSC_MAX_FLOWS + 4 };
    static struct flow f[N];

    (void)state;
    fresh("full flow table");
    for (int k = 0; k < N; k++)
        f[k] = flow4((uint16_t)(1000 + k));
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < N; k++) {
            CHECK(feed(&rx, &f[k], MSS));
            CHECK(feed(&rx, &f[k], MSS));
        }
    rsc_flush(&tbl);
    CHECK(n_out == 2 * N);
    for (int k = 0; k < 4 && k < n_out; k++)
        CHECK(outs[k].m == ins[2 * k].m); /* flows 0-3 made room for flows 16-19 */
    check_all_delivered();
    check_stats(&st, STATS(.segments_in = 4 * N, .aggregates_out = 2 * N,
                           .flushes[RSC_FLUSH_TABLE_FULL] = 2 * N - RSC_MAX_FLOWS,
                           .flushes[RSC_FLUSH_POLL_END] = RSC_MAX_FLOWS));
    finish();
}

/* --- receivers ---------------------------------------------------------------------------- */

/* A receiver without TSO4 (TSO6) gets its IPv4 (IPv6) segments as they came, and the other
 * version merged. */
static void test_receiver_without_tso4_or_tso6(void **state)
{
    (void)state;
    for (int no6 = 0; no6 < 2; no6++) {
        struct flow a = flow4(1000), b = flow6(1000);

        fresh(no6 ? "no tso6" : "no tso4");
        rx.tso4 = no6;
        rx.tso6 = !no6;
        for (int i = 0; i < 3; i++) {
            CHECK(feed(&rx, &a, MSS) == (bool)no6);
            CHECK(feed(&rx, &b, MSS6) == !no6);
        }
        rsc_flush(&tbl);
        if (no6)
            EXPECT(PASS(1), PASS(3), PASS(5), AGG(0, 3));
        else
            EXPECT(PASS(0), PASS(2), PASS(4), AGG(1, 3));
        check_stats(&st,
                    STATS(.segments_in = 3, .aggregates_out = 1, .flushes[RSC_FLUSH_POLL_END] = 1,
                          .bypasses[RSC_BYPASS_RECEIVER] = 3));
        finish();
    }
}

/* A receiver posting 2 KiB buffers (no mergeable buffers) cannot hold two full segments:
 * those pass as they came. Smaller segments merge, as far as the buffer goes. */
static void test_receiver_small_buffers(void **state)
{
    struct flow a = flow4(1000), b = flow6(1000);

    (void)state;
    fresh("max_frame 2000");
    rx.max_frame = 2000;
    for (int i = 0; i < 3; i++) {
        CHECK(!feed(&rx, &a, MSS));
        CHECK(!feed(&rx, &b, MSS6));
    }
    for (int i = 0; i < 5; i++)
        CHECK(feed(&rx, &a, 400)); /* 66 + 4 * 400 fit in 2000 bytes, 5 * 400 do not */
    rsc_flush(&tbl);
    EXPECT(PASS(0), PASS(1), PASS(2), PASS(3), PASS(4), PASS(5), AGG(6, 4), AGG(10, 1));
    check_stats(&st, STATS(.segments_in = 5, .aggregates_out = 2, .flushes[RSC_FLUSH_SIZE] = 1,
                           .flushes[RSC_FLUSH_POLL_END] = 1, .bypasses[RSC_BYPASS_RECEIVER] = 6));
    finish();
}

/* A receiver taking frames of up to max_frame bytes: aggregates as long as fit, to the byte;
 * one that cannot take two 1448-byte segments in a frame gets them as they came. */
static void test_receiver_max_frame(void **state)
{
    static const struct {
        const char *name;
        uint32_t max_frame;
        int groups[5]; /* aggregates the five segments make, 0-terminated; none: all passed */
    } cases[] = {
        {"max_frame 4000", 4000, {2, 2, 1}},
        {"max_frame 2962: two segments exactly", 1514 + MSS, {2, 2, 1}},
        {"max_frame 2961: two do not fit", 1514 + MSS - 1, {0}},
        {"max_frame 4410: three segments exactly", 1514 + 2 * MSS, {3, 2}},
    };

    (void)state;
    for (size_t c = 0; c < RTE_DIM(cases); c++) {
        struct flow a = flow4(1000);
        struct want w[5];
        int n = 0, first = 0, closed = 0;

        fresh(cases[c].name);
        rx.max_frame = cases[c].max_frame;
        for (int i = 0; i < 5; i++)
            CHECK(feed(&rx, &a, MSS) == (cases[c].groups[0] != 0));
        rsc_flush(&tbl);
        for (; n < 5 && cases[c].groups[n]; first += cases[c].groups[n++]) {
            w[n] = (struct want)AGG(first, cases[c].groups[n]);
            closed += first + cases[c].groups[n] < 5; /* the last goes at the poll's end */
        }
        if (n) {
            check_outputs(w, n);
            check_stats(&st, STATS(.segments_in = 5, .aggregates_out = (uint64_t)n,
                                   .flushes[RSC_FLUSH_SIZE] = (uint64_t)closed,
                                   .flushes[RSC_FLUSH_POLL_END] = 1));
        } else {
            EXPECT(PASS(0), PASS(1), PASS(2), PASS(3), PASS(4));
            check_stats(&st, STATS(.bypasses[RSC_BYPASS_RECEIVER] = 5));
        }
        finish();
    }
}

/* A receiver taking few buffers per frame: no aggregate spans more (check_aggregate checks
 * nb_segs <= max_segs); one that cannot take two segments' buffers gets none merged. */
static void test_receiver_max_segs(void **state)
{
    struct flow a = flow4(1000), b = flow4(2000), c = flow4(3000);
    struct odd two = {.first = 66 + 100, .chunk = 2048}; /* two buffers per segment */

    (void)state;
    fresh("max_segs 3, single buffers");
    rx.max_segs = 3;
    for (int i = 0; i < 7; i++) {
        CHECK(feed(&rx, &a, MSS));
        CHECK(n_out == (i >= 2) + (i >= 5)); /* the third segment closes an aggregate */
    }
    rsc_flush(&tbl);
    EXPECT(AGG(0, 3), AGG(3, 3), AGG(6, 1));
    check_stats(&st, STATS(.segments_in = 7, .aggregates_out = 3, .flushes[RSC_FLUSH_SIZE] = 2,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();

    fresh("max_segs 5, chains of two");
    rx.max_segs = 5;
    for (int i = 0; i < 5; i++)
        CHECK(feed_odd(&rx, &b, MSS, &two));
    rsc_flush(&tbl);
    EXPECT(AGG(0, 2), AGG(2, 2), AGG(4, 1));
    check_stats(&st, STATS(.segments_in = 5, .aggregates_out = 3, .flushes[RSC_FLUSH_SIZE] = 2,
                           .flushes[RSC_FLUSH_POLL_END] = 1));
    finish();

    fresh("max_segs 3, chains of two");
    rx.max_segs = 3;
    for (int i = 0; i < 3; i++)
        CHECK(!feed_odd(&rx, &c, MSS, &two));
    EXPECT(PASS(0), PASS(1), PASS(2));
    check_stats(&st, STATS(.bypasses[RSC_BYPASS_RECEIVER] = 3));
    finish();
}

/* DPDK comes up before cmocka runs: a failure here must fail the program, not skip tests. */
static int start_eal(void)
{
    if (unit_eal_start("test_rsc", "256") < 0)
        return -1;
    pool = rte_pktmbuf_pool_create("rsc", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    big_pool =
        rte_pktmbuf_pool_create("rsc_big", BIG_POOL_SIZE, 0, 0, RTE_PKTMBUF_HEADROOM + BIG_ROOM, 0);
    return pool && big_pool ? 0 : -1;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lone_segment_unchanged),
        T(test_in_order_trains),
        T(test_out_of_order_gap),
        T(test_retransmission_and_overlap),
        T(test_psh_mid_train),
        T(test_fin_with_data_ends_aggregate),
        T(test_bare_fin_passes_behind_aggregate),
        T(test_timestamp_advance),
        T(test_sack_block_added),
        T(test_header_changes_flush),
        T(test_ipv4_id_rules),
        T(test_cwr_starts_next_aggregate),
        T(test_short_segment_joins_and_closes),
        T(test_segment_longer_than_mss),
        T(test_ipv4_fragments_bypass),
        T(test_ipv4_options_bypass),
        T(test_ipv6_extension_headers),
        T(test_bad_checksums_pass_unmerged),
        T(test_vouched_checksums_merge),
        T(test_pure_acks_and_window_updates),
        T(test_syn_rst_urg_bypass),
        T(test_tso_frame_bypass),
        T(test_not_tcp_bypass),
        T(test_ethernet_padding_bypass),
        T(test_shared_buffer_bypass),
        T(test_tcp_header_beyond_first_buffer),
        T(test_ip_header_beyond_first_buffer),
        T(test_reserved_tcp_bits_mismatch),
        T(test_identity_keeps_flows_apart),
        T(test_ingress_port_keeps_flows_apart),
        T(test_receiver_keeps_flows_apart),
        T(test_jumbo_65535_limit),
        T(test_ip_length_limit_exact),
        T(test_jumbo_chains),
        T(test_interleaved_flows),
        T(test_full_flow_table),
        T(test_receiver_without_tso4_or_tso6),
        T(test_receiver_small_buffers),
        T(test_receiver_max_frame),
        T(test_receiver_max_segs),
    };
    int failed;

    if (start_eal() < 0) {
        fprintf(stderr, "test_rsc: DPDK did not start (run as root)\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    rte_mempool_free(big_pool);
    rte_mempool_free(pool);
    unit_eal_stop();
    return failed;
}
