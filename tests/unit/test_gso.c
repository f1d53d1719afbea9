/*
 * Software GSO over real mbufs (DPDK mempools, EAL in --no-huge mode): TSO frames built
 * here byte by byte, handed over as chains cut at random (often odd) offsets, and every segment
 * checked against what the rules say it must be. The checks are independent of gso.c: their own
 * RFC 1071 sum (not csum.c or DPDK's), their own header rewrite. Every test ends with both
 * pools holding what they held when it began, so a leaked mbuf fails the test that leaked it.
 *
 * The random test prints its seed; GSO_SEED=<n> replays a run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "offload/gso.h"
#include "ref_csum.h"
#include "unit.h"
#include "wire.h"

#define POOL_SIZE   8191
#define SMALL_ROOM  100 /* bytes after the headroom: headers straddle the output mbufs */
#define FRAME_MAX   (70 * 1024)
#define CHAIN_MAX   POOL_SIZE
#define RANDOM_RUNS 500

/* unit_seed without GSO_SEED; every test starts the generator (unit.h) from the seed, the fixed
 * ones too (filler bytes and chain cuts) */
#define SEED_DEFAULT 0x9e3779b97f4a7c15ULL

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_URG 0x20
#define TCP_ACK 0x10
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static struct rte_mempool *pool;       /* RTE_MBUF_DEFAULT_BUF_SIZE data rooms */
static struct rte_mempool *small_pool; /* SMALL_ROOM: every segment is a chain */

/* A TSO frame to build. */
struct spec {
    int ipv6;
    int vlans; /* 0, 1 (0x8100) or 2 (0x88a8 then 0x8100) */
    int ext; /* IPv6: 0 none, 1 hop-by-hop (8 bytes), 2 hop-by-hop + routing or dest options (24) */
    int ip_opt_len;  /* IPv4 options, a multiple of 4 up to 40 */
    int tcp_opt_len; /* a multiple of 4 up to 40 */
    uint8_t flags;
    uint32_t seq;
    uint16_t ip_id;
    uint32_t payload;
    uint16_t mss;
};

struct layout {
    uint32_t l2, l3, l4, hdr, len;
};

static uint32_t spec_l3(const struct spec *s)
{
    if (s->ipv6)
        return 40 + (s->ext >= 1 ? 8 : 0) + (s->ext >= 2 ? 16 : 0);
    return 20 + (uint32_t)s->ip_opt_len;
}

static uint32_t spec_l4(const struct spec *s)
{
    return 20 + (uint32_t)s->tcp_opt_len;
}

/* Writes the frame into buf: correct lengths as a sender leaves them, garbage in both checksum
 * fields (GSO must not read them), random bytes wherever GSO must copy without looking. */
static void build_frame(const struct spec *s, uint8_t *buf, struct layout *lay)
{
    uint8_t *p = buf, *ip, *th;

    lay->l3 = spec_l3(s);
    lay->l4 = spec_l4(s);
    unit_fill_random(p, 12);
    p += 12;
    for (int v = 0; v < s->vlans; v++) {
        wr16(p, s->vlans == 2 && v == 0 ? 0x88a8 : 0x8100);
        wr16(p + 2, unit_rnd());
        p += 4;
    }
    wr16(p, s->ipv6 ? 0x86dd : 0x0800);
    p += 2;
    lay->l2 = (uint32_t)(p - buf);
    lay->hdr = lay->l2 + lay->l3 + lay->l4;
    lay->len = lay->hdr + s->payload;

    ip = p;
    if (s->ipv6) {
        unit_fill_random(ip, 4); /* traffic class, flow label */
        ip[0] = (uint8_t)(0x60 | (ip[0] & 0x0f));
        wr16(ip + 4, lay->l3 - 40 + lay->l4 + s->payload);
        ip[6] = s->ext ? 0 : 6;
        ip[7] = (uint8_t)unit_rnd();
        unit_fill_random(ip + 8, 32);
        if (s->ext >= 1) {
            uint8_t next = s->ext == 1 ? 6 : unit_rnd() % 2 ? 43 : 60;
            uint8_t hbh[8] = {next, 0, 1, 4, 0, 0, 0, 0}; /* PadN */
            memcpy(ip + 40, hbh, sizeof hbh);
            /* a routing header with no segments left: the destination field is final, so the
             * pseudo-header is the same as without it */
            uint8_t rh[16] = {6, 1, 4, 0}, dst[16] = {6, 1, 1, 12}; /* dst: PadN */
            if (s->ext == 2)
                memcpy(ip + 48, next == 43 ? rh : dst, 16);
        }
    } else {
        ip[0] = (uint8_t)(0x40 | lay->l3 / 4);
        ip[1] = (uint8_t)unit_rnd();
        wr16(ip + 2, lay->l3 + lay->l4 + s->payload);
        wr16(ip + 4, s->ip_id);
        wr16(ip + 6, unit_rnd() & 1 ? 0x4000 : 0); /* DF or not, never a fragment */
        ip[8] = (uint8_t)unit_rnd();
        ip[9] = 6;
        wr16(ip + 10, unit_rnd());
        unit_fill_random(ip + 12, 8 + (size_t)s->ip_opt_len);
    }

    th = ip + lay->l3;
    unit_fill_random(th, 20 + (size_t)s->tcp_opt_len); /* ports, ack, window, urgent, options */
    wr32(th + 4, s->seq);
    /* data offset, and random reserved and AE bits that must come through untouched */
    th[12] = (uint8_t)(lay->l4 / 4 << 4 | (unit_rnd() & 0x0f));
    th[13] = s->flags;
    unit_fill_random(buf + lay->hdr, s->payload);
}

/* Copies buf into a chain from pool, cut at random offsets: often odd, sometimes within the
 * first bytes so that the headers straddle mbufs, now and then an empty mbuf in between. */
static struct rte_mbuf *make_chain(const uint8_t *buf, uint32_t len, const struct layout *lay)
{
    struct rte_mbuf *head = NULL, *tail = NULL;
    uint32_t done = 0;

    while (done < len) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
        uint32_t room, take;

        assert_non_null(m);
        room = rte_pktmbuf_tailroom(m);
        if (!head && unit_rnd() % 2)
            take = unit_between(1, lay->hdr + 8);
        else if (head && unit_rnd() % 50 == 0)
            take = 0;
        else if (unit_rnd() % 4 == 0)
            take = unit_between(1, 64);
        else
            take = unit_between(1, room);
        take = RTE_MIN(RTE_MIN(take, room), len - done);
        if (take > 1 && take % 2 == 0 && unit_rnd() % 2)
            take--;
        unit_chain_add(&head, &tail, m, buf + done, take);
        done += take;
    }
    return head;
}

static void set_tso(struct rte_mbuf *m, const struct spec *s, const struct layout *lay)
{
    m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | (s->ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
    if (unit_rnd() % 2)
        m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
    if (!s->ipv6 && unit_rnd() % 2)
        m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
    m->l2_len = lay->l2;
    m->l3_len = lay->l3;
    m->l4_len = lay->l4;
    m->tso_segsz = s->mss;
}

/* Copies the data of a chain into out, whatever its pkt_len says; returns the length. */
static uint32_t copy_chain(const struct rte_mbuf *m, uint8_t *out)
{
    uint32_t len = 0;

    for (const struct rte_mbuf *s = m; s; s = s->next) {
        CHECK((uint32_t)s->data_off + s->data_len <= s->buf_len);
        CHECK(len + s->data_len <= FRAME_MAX);
        memcpy(out + len, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
        len += s->data_len;
    }
    return len;
}

/* Copies a chain into out, checking its bookkeeping: nb_segs counts the mbufs, pkt_len is the
 * sum of data_len. Returns the length. */
static uint32_t flatten(const struct rte_mbuf *m, uint8_t *out)
{
    uint32_t len = copy_chain(m, out), n = 0;

    for (const struct rte_mbuf *s = m; s; s = s->next)
        n++;
    CHECK(n == m->nb_segs);
    CHECK(len == m->pkt_len);
    return len;
}

/* Everything about a source chain that GSO must leave as it was. */
struct snapshot {
    uint64_t ol_flags;
    uint64_t tx_offload;
    uint32_t pkt_len;
    uint16_t nb_segs, n;
    uint16_t data_off[CHAIN_MAX], data_len[CHAIN_MAX], refcnt[CHAIN_MAX];
    uint32_t len;
    uint8_t bytes[FRAME_MAX];
};

static void snap(const struct rte_mbuf *m, struct snapshot *s)
{
    s->ol_flags = m->ol_flags;
    s->tx_offload = m->tx_offload;
    s->pkt_len = m->pkt_len;
    s->nb_segs = m->nb_segs;
    s->n = 0;
    for (const struct rte_mbuf *g = m; g && s->n < CHAIN_MAX; g = g->next, s->n++) {
        s->data_off[s->n] = g->data_off;
        s->data_len[s->n] = g->data_len;
        s->refcnt[s->n] = rte_mbuf_refcnt_read(g);
    }
    s->len = copy_chain(m, s->bytes);
}

static void check_unchanged(const struct rte_mbuf *m, const struct snapshot *before)
{
    static struct snapshot after;

    snap(m, &after);
    CHECK(after.ol_flags == before->ol_flags);
    CHECK(after.tx_offload == before->tx_offload);
    CHECK(after.pkt_len == before->pkt_len && after.nb_segs == before->nb_segs);
    CHECK(after.n == before->n);
    CHECK(memcmp(after.data_off, before->data_off, before->n * sizeof after.data_off[0]) == 0);
    CHECK(memcmp(after.data_len, before->data_len, before->n * sizeof after.data_len[0]) == 0);
    CHECK(memcmp(after.refcnt, before->refcnt, before->n * sizeof after.refcnt[0]) == 0);
    CHECK(after.len == before->len && memcmp(after.bytes, before->bytes, after.len) == 0);
}

/* The header segment i must carry, built from the original by the rules, checksum fields left
 * as in the original (the caller blanks them on both sides). */
static void expected_header(const struct spec *s, const struct layout *lay, const uint8_t *frame,
                            uint32_t i, uint32_t n, uint32_t len, uint8_t *exp)
{
    uint8_t *ip = exp + lay->l2, *th = ip + lay->l3;
    uint8_t flags = s->flags;

    memcpy(exp, frame, lay->hdr);
    if (s->ipv6) {
        wr16(ip + 4, lay->l3 - 40 + lay->l4 + len);
    } else {
        wr16(ip + 2, lay->l3 + lay->l4 + len);
        wr16(ip + 4, (uint32_t)s->ip_id + i); /* wr16 keeps the low 16 bits: the wrap */
    }
    wr32(th + 4, s->seq + i * s->mss);
    if (i > 0)
        flags &= (uint8_t)~TCP_CWR;
    if (i + 1 < n)
        flags &= (uint8_t) ~(TCP_PSH | TCP_FIN);
    th[13] = flags;
}

static void blank_checksums(const struct spec *s, const struct layout *lay, uint8_t *hdr)
{
    if (!s->ipv6)
        wr16(hdr + lay->l2 + 10, 0);
    wr16(hdr + lay->l2 + lay->l3 + 16, 0);
}

/* Checks the n segments GSO made of frame against the rules. */
static void verify(const struct spec *s, const struct layout *lay, const uint8_t *frame,
                   struct rte_mbuf **segs, int n)
{
    static uint8_t seg[FRAME_MAX];
    uint8_t exp[1024];
    uint32_t want = (s->payload + s->mss - 1) / s->mss, total = 0;

    CHECK(n == (int)want);
    for (uint32_t i = 0; i < want; i++) {
        struct rte_mbuf *g = segs[i];
        uint32_t off = i * s->mss, len = RTE_MIN((uint32_t)s->mss, s->payload - off);
        const uint8_t *ip = seg + lay->l2, *th = ip + lay->l3;

        CHECK(g->ol_flags == 0);
        CHECK(g->l2_len == lay->l2 && g->l3_len == lay->l3 && g->l4_len == lay->l4);
        CHECK(flatten(g, seg) == lay->hdr + len);
        CHECK(i + 1 == want || len == s->mss);
        CHECK(memcmp(seg + lay->hdr, frame + lay->hdr + off, len) == 0);
        total += len;

        if (!s->ipv6)
            CHECK(ref_fold(ref_sum16(ip, lay->l3, 0)) == 0xffff);
        CHECK(ref_fold(ref_sum16(th, lay->l4 + len, ref_pseudo(ip, s->ipv6, 6, lay->l4 + len))) ==
              0xffff);

        expected_header(s, lay, frame, i, want, len, exp);
        blank_checksums(s, lay, exp);
        blank_checksums(s, lay, seg);
        CHECK(memcmp(seg, exp, lay->hdr) == 0);
    }
    CHECK(total == s->payload);
}

/* What the pools held when the test began: a test that fails half-way leaves mbufs behind,
 * and that must not fail the tests after it too. */
static unsigned pool_start, small_start;

static void check_pools_full(void)
{
    assert_int_equal(rte_mempool_avail_count(pool), pool_start);
    assert_int_equal(rte_mempool_avail_count(small_pool), small_start);
}

/* Builds s, segments it into out_pool, checks everything, frees everything. shared makes every
 * mbuf of the source chain referenced twice, as a flood to several ports leaves it. */
static void run_case(const struct spec *s, struct rte_mempool *out_pool, int shared)
{
    static uint8_t frame[FRAME_MAX];
    static struct snapshot before;
    struct rte_mbuf *segs[GSO_MAX_SEGS];
    struct layout lay;
    struct rte_mbuf *m;
    int n;

    build_frame(s, frame, &lay);
    m = make_chain(frame, lay.len, &lay);
    set_tso(m, s, &lay);
    if (shared)
        for (struct rte_mbuf *g = m; g; g = g->next)
            rte_mbuf_refcnt_update(g, 1);
    snap(m, &before);

    n = gso_segment(m, out_pool, segs, GSO_MAX_SEGS);
    CHECK(n > 0);
    verify(s, &lay, frame, segs, n);
    check_unchanged(m, &before);

    rte_pktmbuf_free_bulk(segs, (unsigned)n);
    if (shared)
        rte_pktmbuf_free(m); /* drops the second reference of every mbuf, frees none */
    rte_pktmbuf_free(m);
}

static void describe(const struct spec *s, const char *what)
{
    snprintf(ctx, sizeof ctx,
             "%s: ipv%d vlans %d ext %d ipopt %d tcpopt %d flags %#x seq %#x id %#x payload %u "
             "mss %u",
             what, s->ipv6 ? 6 : 4, s->vlans, s->ext, s->ip_opt_len, s->tcp_opt_len, s->flags,
             s->seq, s->ip_id, s->payload, s->mss);
}

static struct spec base_spec(int ipv6, uint32_t payload, uint16_t mss)
{
    struct spec s = {.ipv6 = ipv6, .payload = payload, .mss = mss};

    s.flags = TCP_ACK;
    s.seq = 1000;
    s.ip_id = 77;
    s.tcp_opt_len = 12; /* a timestamp option, as Linux senders have */
    return s;
}

/* Three segments: CWR stays on the first, PSH and FIN move to the last, the others stay on all;
 * the IP ID wraps from 0xffff to 0 and the sequence number from 2^32 - 1 to 0. */
static void test_flags_ids_and_wraps(void **state)
{
    struct spec s = base_spec(0, 2500, 1000);
    static uint8_t frame[FRAME_MAX], seg[FRAME_MAX];
    struct rte_mbuf *segs[GSO_MAX_SEGS], *m;
    const uint8_t all = TCP_CWR | TCP_ECE | TCP_URG | TCP_ACK | TCP_PSH | TCP_FIN;
    const uint8_t want_flags[3] = {TCP_CWR | TCP_ECE | TCP_URG | TCP_ACK,
                                   TCP_ECE | TCP_URG | TCP_ACK,
                                   TCP_ECE | TCP_URG | TCP_ACK | TCP_PSH | TCP_FIN};
    const uint16_t want_id[3] = {0xfffe, 0xffff, 0x0000};
    const uint32_t want_seq[3] = {0xfffffc18, 0x00000000, 0x000003e8};
    struct layout lay;

    (void)state;
    s.flags = all;
    s.ip_id = 0xfffe;
    s.seq = 0xfffffc18; /* 1000 before the wrap */
    describe(&s, "flags");
    build_frame(&s, frame, &lay);
    m = make_chain(frame, lay.len, &lay);
    set_tso(m, &s, &lay);
    assert_int_equal(gso_segment(m, pool, segs, GSO_MAX_SEGS), 3);
    verify(&s, &lay, frame, segs, 3);
    for (int i = 0; i < 3; i++) {
        const uint8_t *ip = seg + lay.l2, *th = ip + lay.l3;
        flatten(segs[i], seg);
        assert_int_equal(th[13], want_flags[i]);
        assert_int_equal(rd16(ip + 4), want_id[i]);
        assert_int_equal(rd32(th + 4), want_seq[i]);
        assert_int_equal(rd16(ip + 2), lay.l3 + lay.l4 + (i < 2 ? 1000 : 500));
    }
    rte_pktmbuf_free_bulk(segs, 3);
    rte_pktmbuf_free(m);
    check_pools_full();
}

/* IPv6 with hop-by-hop and destination options behind a QinQ pair of tags: the payload length
 * counts the 24 bytes of extension headers, the tags are copied. */
static void test_ipv6_extension_headers_and_qinq(void **state)
{
    struct spec s = base_spec(1, 4000, 1440);

    (void)state;
    s.vlans = 2;
    s.ext = 2;
    s.flags = TCP_ACK | TCP_PSH;
    describe(&s, "ipv6 ext");
    run_case(&s, pool, 0);
    s.ext = 1;
    s.vlans = 1;
    run_case(&s, small_pool, 0);
    check_pools_full();
}

/* A jumbo MSS does not fit a 2 KiB mbuf: each segment becomes a chain. */
static void test_jumbo_mss_chains(void **state)
{
    struct spec s = base_spec(0, 30000, 8948);
    static uint8_t frame[FRAME_MAX];
    struct rte_mbuf *segs[GSO_MAX_SEGS], *m;
    struct layout lay;
    int n;

    (void)state;
    describe(&s, "jumbo");
    build_frame(&s, frame, &lay);
    m = make_chain(frame, lay.len, &lay);
    set_tso(m, &s, &lay);
    n = gso_segment(m, pool, segs, GSO_MAX_SEGS);
    assert_int_equal(n, 4);
    verify(&s, &lay, frame, segs, n);
    for (int i = 0; i < n; i++)
        assert_true(segs[i]->nb_segs >= 2);
    assert_true(segs[0]->nb_segs >= 5);
    rte_pktmbuf_free_bulk(segs, (unsigned)n);
    rte_pktmbuf_free(m);
    check_pools_full();
}

/* Payload no longer than the MSS: one segment that keeps every flag, CWR, PSH and FIN alike. */
static void test_single_segment_keeps_all_flags(void **state)
{
    struct spec s = base_spec(0, 1448, 1448);

    (void)state;
    s.flags = TCP_CWR | TCP_ACK | TCP_PSH | TCP_FIN;
    describe(&s, "single");
    run_case(&s, pool, 0);
    s.payload = 1;
    run_case(&s, pool, 1);
    check_pools_full();
}

/* Random frames of every shape the rules name, each into one of the two pools, some shared. */
static void test_random_frames(void **state)
{
    (void)state;
    print_message("test_gso: GSO_SEED=%#llx\n", (unsigned long long)unit_seed);
    for (int run = 0; run < RANDOM_RUNS; run++) {
        struct spec s = {0};
        uint32_t max_payload, min_mss;

        s.ipv6 = unit_rnd() % 2;
        s.vlans = (int)(unit_rnd() % 3);
        s.ext = s.ipv6 ? (int)(unit_rnd() % 3) : 0;
        s.ip_opt_len = !s.ipv6 && unit_rnd() % 4 == 0 ? (int)(4 * (unit_rnd() % 11)) : 0;
        s.tcp_opt_len = (int)(4 * (unit_rnd() % 11));
        s.flags = (uint8_t)unit_rnd();
        s.seq = unit_rnd() % 8 == 0 ? 0xffffffff - unit_rnd() % 100000 : unit_rnd();
        s.ip_id = (uint16_t)(unit_rnd() % 8 == 0 ? 0xffff - unit_rnd() % 64 : unit_rnd());
        max_payload = 65535 - spec_l3(&s) - spec_l4(&s);
        s.payload = unit_rnd() % 4 == 0 ? unit_between(1, 3000) : unit_between(1, max_payload);
        switch (unit_rnd() % 6) {
        case 0:
            s.mss = 536;
            break;
        case 1:
            s.mss = 1448;
            break;
        case 2:
            s.mss = 8948;
            break;
        default:
            s.mss = (uint16_t)unit_between(1, 9216);
        }
        min_mss = (s.payload + GSO_MAX_SEGS - 1) / GSO_MAX_SEGS;
        if (s.mss < min_mss)
            s.mss = (uint16_t)min_mss;
        if (unit_rnd() % 5 == 0 && s.payload >= s.mss)
            s.payload -= s.payload % s.mss; /* the last segment a full one */

        char label[32];
        snprintf(label, sizeof label, "run %d", run);
        describe(&s, label);
        run_case(&s, unit_rnd() % 4 == 0 ? small_pool : pool, unit_rnd() % 4 == 0);
        check_pools_full();
    }
}

enum shape { IPV4, IPV6, IPV6_HBH };

/* Builds a good frame (3000 bytes of payload, MSS 1000) with its metadata, for the refusal
 * tests to spoil one thing at a time. */
static struct rte_mbuf *good_frame(enum shape shape, uint8_t *frame, struct layout *lay)
{
    struct spec s = base_spec(shape != IPV4, 3000, 1000);
    struct rte_mbuf *m;

    s.ext = shape == IPV6_HBH;
    build_frame(&s, frame, lay);
    m = make_chain(frame, lay->len, lay);
    set_tso(m, &s, lay);
    return m;
}

/* gso_segment(m) must refuse with BAD, leaving m and the pools as they were. */
static void expect_bad(struct rte_mbuf *m, uint16_t max, const char *what)
{
    static struct snapshot before;
    struct rte_mbuf *segs[GSO_MAX_SEGS];
    unsigned avail = rte_mempool_avail_count(pool);

    snprintf(ctx, sizeof ctx, "%s", what);
    snap(m, &before);
    CHECK(gso_segment(m, pool, segs, max) == GSO_ERR_BAD);
    check_unchanged(m, &before);
    CHECK(rte_mempool_avail_count(pool) == avail);
    rte_pktmbuf_free(m);
}

/* The same frame with one header byte changed before it is chained. */
static void expect_bad_byte(enum shape shape, uint32_t at_l3, uint8_t value, const char *what)
{
    static uint8_t frame[FRAME_MAX];
    struct layout lay;
    struct rte_mbuf *m = good_frame(shape, frame, &lay);
    struct rte_mbuf *fresh;

    frame[lay.l2 + at_l3] = value;
    fresh = make_chain(frame, lay.len, &lay);
    fresh->ol_flags = m->ol_flags;
    fresh->tx_offload = m->tx_offload;
    rte_pktmbuf_free(m);
    expect_bad(fresh, GSO_MAX_SEGS, what);
}

static void test_refuses_bad_metadata(void **state)
{
    static uint8_t frame[FRAME_MAX];
    /* l3_len and ol_flags that do not describe the frame: the flags cleared, then set, and
     * l3_len (0: left as it was) */
    static const struct {
        enum shape shape;
        uint64_t clear, set;
        uint16_t l3_len;
        const char *what;
    } spoiled[] = {
        {IPV4, 0, 0, 24, "l3_len beyond ihl"},
        {IPV6, 0, 0, 48, "ipv6 l3_len past TCP"},
        {IPV4, RTE_MBUF_F_TX_IPV4, RTE_MBUF_F_TX_IPV6, 40, "IPV6 flag on IPv4 header"},
        {IPV6, RTE_MBUF_F_TX_IPV6, RTE_MBUF_F_TX_IPV4, 20, "IPV4 flag on IPv6 header"},
        {IPV4, 0, RTE_MBUF_F_TX_IPV6, 0, "both IP flags"},
        {IPV6, 0, RTE_MBUF_F_TX_IPV4, 0, "both IP flags on IPv6"},
        {IPV4, RTE_MBUF_F_TX_IPV4, 0, 0, "no IP flag"},
        {IPV4, RTE_MBUF_F_TX_TCP_SEG, 0, 0, "no TCP_SEG"},
        {IPV4, 0, RTE_MBUF_F_TX_TUNNEL_VXLAN, 0, "tunnel request"},
        {IPV4, 0, RTE_MBUF_F_TX_VLAN, 0, "vlan insertion request"},
        {IPV4, RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_UDP_CKSUM, 0, "udp checksum request"},
    };
    struct rte_mbuf *segs[GSO_MAX_SEGS], *m;
    struct layout lay;

    (void)state;
    /* the frames spoiled below are good to begin with */
    for (enum shape shape = IPV4; shape <= IPV6_HBH; shape++) {
        m = good_frame(shape, frame, &lay);
        assert_int_equal(gso_segment(m, pool, segs, GSO_MAX_SEGS), 3);
        rte_pktmbuf_free_bulk(segs, 3);
        rte_pktmbuf_free(m);
    }
    m = good_frame(IPV4, frame, &lay);
    m->tso_segsz = 0;
    expect_bad(m, GSO_MAX_SEGS, "tso_segsz 0");

    m = good_frame(IPV4, frame, &lay);
    m->l4_len = (uint64_t)lay.l4 + 4;
    expect_bad(m, GSO_MAX_SEGS, "l4_len beyond the data offset");
    m = good_frame(IPV4, frame, &lay);
    m->l4_len = 20;
    expect_bad(m, GSO_MAX_SEGS, "l4_len short of the data offset");

    m = good_frame(IPV4, frame, &lay);
    m->tso_segsz = 23; /* 3000 / 23 needs 131 segments */
    expect_bad(m, GSO_MAX_SEGS, "more than GSO_MAX_SEGS");
    m = good_frame(IPV4, frame, &lay);
    expect_bad(m, 2, "more than max");
    m = good_frame(IPV4, frame, &lay);
    expect_bad(m, 0, "max 0");
    m = good_frame(IPV4, frame, &lay);
    assert_int_equal(gso_segment(m, pool, segs, 3), 3); /* exactly max is fine */
    rte_pktmbuf_free_bulk(segs, 3);
    rte_pktmbuf_free(m);
    m = good_frame(IPV4, frame, &lay);
    m->tso_segsz = 24; /* 125 segments: under the cap */
    assert_int_equal(gso_segment(m, pool, segs, GSO_MAX_SEGS), 125);
    rte_pktmbuf_free_bulk(segs, 125);
    rte_pktmbuf_free(m);

    {
        struct spec s = base_spec(0, 8, 1000);
        build_frame(&s, frame, &lay);
        m = make_chain(frame, lay.len, &lay);
        set_tso(m, &s, &lay);
        m->l4_len = (uint64_t)lay.l4 + 12;
        expect_bad(m, GSO_MAX_SEGS, "headers beyond the frame");
    }
    m = good_frame(IPV4, frame, &lay);
    m->pkt_len += 1;
    expect_bad(m, GSO_MAX_SEGS, "pkt_len beyond the chain");
    m = good_frame(IPV4, frame, &lay);
    m->pkt_len -= 1;
    expect_bad(m, GSO_MAX_SEGS, "pkt_len short of the chain");
    for (size_t i = 0; i < RTE_DIM(spoiled); i++) {
        m = good_frame(spoiled[i].shape, frame, &lay);
        m->ol_flags = (m->ol_flags & ~spoiled[i].clear) | spoiled[i].set;
        if (spoiled[i].l3_len)
            m->l3_len = spoiled[i].l3_len;
        expect_bad(m, GSO_MAX_SEGS, spoiled[i].what);
    }

    expect_bad_byte(IPV4, 9, 17, "ipv4 protocol udp");
    expect_bad_byte(IPV4, 6, 0x20, "ipv4 more fragments");
    expect_bad_byte(IPV4, 7, 0x10, "ipv4 fragment offset");
    expect_bad_byte(IPV4, 0, 0x46, "ihl 6 for l3_len 20");
    expect_bad_byte(IPV4, 0, 0x55, "version 5 with a right ihl");
    expect_bad_byte(IPV4, 20 + 12, 0x60, "data offset 24 for l4_len 32");
    expect_bad_byte(IPV6, 6, 17, "ipv6 next header udp");
    expect_bad_byte(IPV6, 6, 44, "ipv6 fragment header");
    expect_bad_byte(IPV6_HBH, 40, 44, "fragment header after hop-by-hop");
    expect_bad_byte(IPV6_HBH, 40, 51, "AH after hop-by-hop");
    expect_bad_byte(IPV6_HBH, 40, 17, "udp after hop-by-hop");
    expect_bad_byte(IPV6_HBH, 41, 1, "hop-by-hop longer than l3_len");
    expect_bad_byte(IPV6_HBH, 0, 0x40, "version 4 with IPV6 flag");

    /* an l2_len shorter than Ethernet, though what follows is a good IPv4 header */
    {
        struct spec s = base_spec(0, 3000, 1000);
        s.vlans = 1;
        build_frame(&s, frame, &lay);
        m = make_chain(frame + 8, lay.len - 8, &lay);
        set_tso(m, &s, &lay);
        m->l2_len = lay.l2 - 8;
        expect_bad(m, GSO_MAX_SEGS, "l2_len 10");
    }

    /* IP length fields are 16 bits: 65500 bytes behind 52 bytes of headers do not fit */
    {
        struct spec s = base_spec(0, 65500, 65500);
        build_frame(&s, frame, &lay);
        m = make_chain(frame, lay.len, &lay);
        set_tso(m, &s, &lay);
        expect_bad(m, GSO_MAX_SEGS, "ip length overflow");
    }
    /* nothing after the headers */
    {
        struct spec s = base_spec(0, 0, 1000);
        build_frame(&s, frame, &lay);
        m = make_chain(frame, lay.len, &lay);
        set_tso(m, &s, &lay);
        expect_bad(m, GSO_MAX_SEGS, "no payload");
    }
    check_pools_full();
}

/* A pool that runs dry at every possible point: NOMEM each time, and every mbuf taken so far
 * back in the pool. */
static void check_nomem(struct spec s)
{
    static uint8_t frame[FRAME_MAX];
    static struct rte_mbuf *hold[POOL_SIZE];
    struct rte_mbuf *segs[GSO_MAX_SEGS], *m;
    struct layout lay;
    unsigned needed = 0;
    int n;

    describe(&s, "nomem");
    build_frame(&s, frame, &lay);
    m = make_chain(frame, lay.len, &lay);
    set_tso(m, &s, &lay);

    unsigned avail = rte_mempool_avail_count(pool);
    n = gso_segment(m, pool, segs, GSO_MAX_SEGS);
    assert_true(n > 1);
    needed = avail - rte_mempool_avail_count(pool);
    rte_pktmbuf_free_bulk(segs, (unsigned)n);

    for (unsigned left = 0; left < needed; left++) {
        unsigned take = rte_mempool_avail_count(pool) - left;
        assert_int_equal(rte_pktmbuf_alloc_bulk(pool, hold, take), 0);
        assert_int_equal(gso_segment(m, pool, segs, GSO_MAX_SEGS), GSO_ERR_NOMEM);
        assert_int_equal(rte_mempool_avail_count(pool), left);
        rte_pktmbuf_free_bulk(hold, take);
    }
    rte_pktmbuf_free(m);
    check_pools_full();
}

static void test_pool_exhausted(void **state)
{
    (void)state;
    check_nomem(base_spec(0, 5000, 1460));  /* one mbuf per segment */
    check_nomem(base_spec(1, 20000, 8948)); /* chained segments */
}

static int reseed(void **state)
{
    (void)state;
    unit_rng = unit_seed;
    pool_start = rte_mempool_avail_count(pool);
    small_start = rte_mempool_avail_count(small_pool);
    return 0;
}

/* DPDK comes up before cmocka runs: a failure here must fail the program, not skip tests. */
static int start_eal(void)
{
    if (unit_eal_start("test_gso", "256") < 0)
        return -1;
    pool = rte_pktmbuf_pool_create("gso", POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    small_pool =
        rte_pktmbuf_pool_create("gso_small", POOL_SIZE, 0, 0, RTE_PKTMBUF_HEADROOM + SMALL_ROOM, 0);
    return pool && small_pool ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flags_ids_and_wraps, reseed),
        cmocka_unit_test_setup(test_ipv6_extension_headers_and_qinq, reseed),
        cmocka_unit_test_setup(test_jumbo_mss_chains, reseed),
        cmocka_unit_test_setup(test_single_segment_keeps_all_flags, reseed),
        cmocka_unit_test_setup(test_random_frames, reseed),
        cmocka_unit_test_setup(test_refuses_bad_metadata, reseed),
        cmocka_unit_test_setup(test_pool_exhausted, reseed),
    };
    int failed;

    unit_seed_from_env("GSO_SEED", SEED_DEFAULT);
    if (start_eal() < 0) {
        fprintf(stderr, "test_gso: DPDK did not start (run as root)\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    rte_mempool_free(small_pool);
    rte_mempool_free(pool);
    unit_eal_stop();
    return failed;
}
