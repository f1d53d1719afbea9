/*
 * libFuzzer target for the RSC engine (src/offload/rsc.c): an input is a program of operations
 * on one engine, each an op byte and its operands (missing operand bytes read as 0):
 *
 *   FLUSH                      rsc_flush, the end of a poll
 *   TARGET  b0 b1 b2 b3        the receiver of the frames after it: b0 bit 0 which of two
 *                              receivers, bits 1/2 no TSO4/TSO6, bits 3-7 in_port; b1 low bits
 *                              a max_frame class, high bits a max_segs class; b2 b3 raw values
 *   RAW     len16 shape bytes  a frame of the bytes as they are
 *   TCP     8 bytes            a well-formed Ethernet/[VLAN]/IPv4|IPv6/TCP segment with right
 *                              checksums: flow (one of 8 that differ only in IP version and
 *                              VLAN tag), options, TCP flags, seq relative to the flow's next,
 *                              payload length, IP header variations, bad checksums, layout
 *   FLIP    off16 xor fix      the last frame with a byte changed (checksums fixed up if asked)
 *   REPEAT                     the last frame again
 *
 * Frames go in as one mbuf or as chains cut at fuzzer-chosen offsets, with the checksum verdicts
 * or offload requests of an ingress port. Every buffer carries the index of its input frame in
 * its private area, and the first bytes of every input frame are kept, so that what comes out
 * can be traced back. Every frame the engine emits or gives back is checked and freed at once
 * (abort() when a check fails):
 * - a frame on its own comes out as it went in;
 * - an aggregate fits its receivers' limits and 64 KiB of IP; its IP lengths, IPv4 checksum and
 *   partial TCP checksum are right; gso_segment takes it (never GSO_ERR_BAD) and its segments
 *   have right checksums and are the input frames they came from, in input order: same
 *   length, same header bytes but for the checksums and (fixed-ID flows: GSO numbers them) the
 *   IPv4 ID, same payload for OP_TCP frames;
 * - per OP_TCP flow (flow, receiver, ingress port), frames come out in the order they went in.
 * After the input, rsc_flush, then: the engine is idle; each segment taken came out as exactly
 * one segment again (segments_in == segments after GSO); segments_in - aggregates_out == frames
 * in - frames out; the flush and bypass reasons add up; every pool is full again.
 *
 * fuzz_rsc_generate() writes inputs of the same format that merge a lot, for fuzz_driver.c
 * (and as seeds to look at: they show what a mergeable input looks like).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "offload/gso.h"
#include "offload/rsc.h"
#include "../unit/ref_csum.h"
#include "../unit/unit.h"
#include "../unit/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_rsc_generate(uint8_t *buf, size_t cap, uint64_t seed);
const char *fuzz_rsc_summary(void);

enum op { OP_FLUSH, OP_TARGET, OP_RAW, OP_TCP, OP_FLIP, OP_REPEAT, OP_N };

#define MSS_MAX      9216
#define HDR_MAX      (14 + 8 + 40 + 60)
#define FRAME_MAX    (HDR_MAX + MSS_MAX)
#define AGG_MAX      (HDR_MAX + 65535)
#define SMALL_ROOM   256
#define TCP_FLOWS    8
#define IN_PORTS     32
#define INPUT_FRAMES 8192 /* frames one input may offer; later ones are left out */
#define PRIV_SIZE    8    /* the input frame's index, in every buffer of it */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_rsc: %s:%d: ", __FILE__, __LINE__);                                  \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        abort();                                                                                   \
    } while (0)
#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL("%s", #cond);                                                                     \
    } while (0)

static struct rte_mempool *pool;       /* FRAME_MAX rooms: single-buffer frames */
static struct rte_mempool *small_pool; /* chains */
static struct rte_mempool *gso_pool;   /* GSO's segments of one aggregate at a time */
static unsigned pool_start, small_start, gso_start;

/* --- DPDK, once per process ----------------------------------------------------------------- */

static void fuzz_stop(void)
{
    rte_mempool_free(gso_pool);
    rte_mempool_free(small_pool);
    rte_mempool_free(pool);
    unit_eal_stop();
}

static void fuzz_start(void)
{
    static bool started;

    if (started)
        return;
    started = true;
    if (unit_eal_start("fuzz_rsc", "256") < 0)
        FAIL("DPDK did not start (run as root)");
    pool = rte_pktmbuf_pool_create("fz", 2047, 0, PRIV_SIZE, RTE_PKTMBUF_HEADROOM + FRAME_MAX, 0);
    small_pool = rte_pktmbuf_pool_create("fz_small", 32767, 0, PRIV_SIZE,
                                         RTE_PKTMBUF_HEADROOM + SMALL_ROOM, 0);
    gso_pool = rte_pktmbuf_pool_create("fz_gso", 511, 0, 0, RTE_PKTMBUF_HEADROOM + FRAME_MAX, 0);
    if (!pool || !small_pool || !gso_pool)
        FAIL("no mbuf pools");
    pool_start = rte_mempool_avail_count(pool);
    small_start = rte_mempool_avail_count(small_pool);
    gso_start = rte_mempool_avail_count(gso_pool);
    atexit(fuzz_stop);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_start();
    return 0;
}

/* --- byte helpers --------------------------------------------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t get8(struct reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static uint16_t get16(struct reader *r)
{
    uint16_t hi = get8(r);
    return (uint16_t)(hi << 8 | get8(r));
}

/* The payload OP_TCP writes: a function of the sequence number, so any segment can be checked. */
static uint8_t payload_byte(uint32_t seq)
{
    return (uint8_t)(seq * 0x9d + (seq >> 8));
}

/* --- the state of one input ----------------------------------------------------------------- */

static int ports[2]; /* the receivers' opaque port handles */

/* What is kept of each input frame. */
struct record {
    uint8_t hdr[HDR_MAX]; /* its first bytes */
    uint32_t len;
    int key;  /* an OP_TCP frame's flow: flow + TCP_FLOWS * (receiver + 2 * in_port); else -1 */
    bool tcp; /* an OP_TCP frame (or a repeat of one): its payload is payload_byte(seq + i) */
};

static struct record rec[INPUT_FRAMES];

static struct {
    struct rsc_table table;
    struct rsc_stats stats[2];
    struct rsc_target target;
    uint32_t max_frame[2]; /* the largest max_frame each receiver had during the input */
    uint16_t max_segs[2];  /* likewise */
    bool tso[2][2];        /* [receiver][ipv6]: ever on during the input */
    uint32_t in, out;      /* frames offered, frames delivered */
    uint64_t emitted[2], segs[2], given_back[2];
    uint32_t delivered[TCP_FLOWS * 2 * IN_PORTS]; /* per key, 1 + the last frame out, or 0 */
    struct {
        uint32_t seq;
        uint16_t ip_id;
        uint32_t ack, tsval;
        uint8_t ttl;
    } flow[TCP_FLOWS];
    uint8_t last[FRAME_MAX]; /* the last frame built, for FLIP and REPEAT */
    uint32_t last_len;
    uint16_t last_l2, last_l3; /* its TCP layout, or last_l3 == 0 when it is a RAW frame */
    bool last_ipv6;
    int last_key;
    bool last_tcp;
} st;

/* Totals over all inputs, for the summary line. */
static uint64_t total_inputs, total_frames, total_aggregates, total_merged;

static void set_target(uint8_t rx, uint8_t flags, uint16_t in_port, uint32_t max_frame,
                       uint16_t max_segs)
{
    st.target = (struct rsc_target){
        .port = &ports[rx],
        .stats = &st.stats[rx],
        .max_frame = max_frame,
        .max_segs = max_segs,
        .in_port = in_port,
        .tso4 = !(flags & 1),
        .tso6 = !(flags & 2),
    };
    if (max_frame > st.max_frame[rx])
        st.max_frame[rx] = max_frame;
    if (max_segs > st.max_segs[rx])
        st.max_segs[rx] = max_segs;
    st.tso[rx][0] |= st.target.tso4;
    st.tso[rx][1] |= st.target.tso6;
}

static void op_target(struct reader *r)
{
    static const uint32_t frames[7] = {14 + 8 + 65535, 1u << 20, 2000, 4000, 9018, 1518, 64};
    static const uint16_t segs[7] = {UINT16_MAX, 255, 64, 17, 8, 2, 1};
    uint8_t b0 = get8(r), b1 = get8(r), b2 = get8(r), b3 = get8(r);
    uint32_t max_frame = (b1 & 7) < 7 ? frames[b1 & 7] : (uint32_t)(b2 << 8 | b3) * 4;
    uint16_t max_segs = (b1 >> 3 & 7) < 7 ? segs[b1 >> 3 & 7] : b3;

    set_target(b0 & 1, (uint8_t)(b0 >> 1 & 3), b0 >> 3, max_frame, max_segs);
}

static int receiver(const void *port)
{
    return port == &ports[0] ? 0 : 1;
}

/* --- checking and freeing what comes out ---------------------------------------------------- */

static uint32_t *tag(const struct rte_mbuf *m)
{
    return rte_mbuf_to_priv((struct rte_mbuf *)(uintptr_t)m);
}

static uint32_t flatten(const struct rte_mbuf *m, uint8_t *out, uint32_t room)
{
    uint32_t len = 0, n = 0;

    for (const struct rte_mbuf *s = m; s; s = s->next, n++) {
        ASSERT(len + s->data_len <= room);
        memcpy(out + len, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
        len += s->data_len;
    }
    ASSERT(n == m->nb_segs);
    ASSERT(len == m->pkt_len);
    return len;
}

/* Frame t of the input is out now: after every earlier frame of its OP_TCP flow. */
static void check_order(uint32_t t)
{
    int key = rec[t].key;

    if (key < 0)
        return;
    if (st.delivered[key] > t)
        FAIL("frame %u out after frame %u of its flow (key %d)", t, st.delivered[key] - 1, key);
    st.delivered[key] = t + 1;
}

/* The payload of an OP_TCP frame whose TCP header is th. */
static void check_payload(const uint8_t *th, const uint8_t *payload, uint32_t len)
{
    uint32_t seq = rd32(th + 4);

    for (uint32_t i = 0; i < len; i++)
        if (payload[i] != payload_byte(seq + i))
            FAIL("payload byte %u of seq %u differs", i, seq);
}

/* Segment i of an aggregate of `ipv6`, headers hdr bytes long: right lengths and checksums, and
 * the input frame t it came from, but for the checksums and the IPv4 ID, which is t's own or,
 * in a fixed-ID flow, the head's plus i (gso.h). */
static void check_segment(const struct rte_mbuf *g, bool ipv6, uint32_t t, uint32_t head_t,
                          uint32_t i)
{
    static uint8_t buf[AGG_MAX], want[HDR_MAX];
    uint32_t len = flatten(g, buf, sizeof buf), l2 = g->l2_len, l3 = g->l3_len;
    uint32_t hdr = l2 + l3 + g->l4_len, l4_len = len - l2 - l3;
    uint8_t *ip = buf + l2;

    ASSERT(len > hdr && len == rec[t].len);
    if (ipv6) {
        ASSERT(rd16(ip + 4) == l4_len);
    } else {
        uint16_t id = rd16(ip + 4), own = rd16(rec[t].hdr + l2 + 4);
        uint16_t head = rd16(rec[head_t].hdr + l2 + 4);
        ASSERT(rd16(ip + 2) == len - l2);
        ASSERT(ref_fold(ref_sum16(ip, l3, 0)) == 0xffff);
        ASSERT(id == own || (own == head && id == (uint16_t)(head + i)));
    }
    ASSERT(ref_fold(ref_sum16(ip + l3, l4_len, ref_pseudo(ip, ipv6, 6, l4_len))) == 0xffff);

    memcpy(want, rec[t].hdr, hdr);
    memcpy(want + l2 + l3 + 16, ip + l3 + 16, 2); /* checksums and ID: checked above */
    if (!ipv6) {
        memcpy(want + l2 + 4, ip + 4, 2);
        memcpy(want + l2 + 10, ip + 10, 2);
    }
    for (uint32_t b = 0; b < hdr; b++)
        if (buf[b] != want[b])
            FAIL("segment %u of an aggregate: header byte %u is %#04x, frame %u had %#04x", i, b,
                 buf[b], t, want[b]);
    if (rec[t].tcp)
        check_payload(ip + l3, buf + hdr, len - hdr);
}

/* The input frames the n segments of aggregate m came from, in tags: the frame of the buffer
 * that holds each segment's first payload byte (each buffer carries its frame's index). */
static void member_frames(const struct rte_mbuf *m, uint32_t hdr, int n, uint32_t *tags)
{
    const struct rte_mbuf *g = m;
    uint32_t start = 0; /* offset of g's data in the frame */

    for (int i = 0; i < n; i++) {
        uint32_t at = hdr + (uint32_t)i * m->tso_segsz;
        while (g && (g->data_len == 0 || start + g->data_len <= at)) {
            start += g->data_len;
            g = g->next;
        }
        ASSERT(g != NULL);
        tags[i] = *tag(g);
        ASSERT(tags[i] < st.in);
        ASSERT(i == 0 ? tags[i] == *tag(m) : tags[i] > tags[i - 1]); /* in input order */
    }
}

/* An aggregate: within its receivers' limits, headers rewritten right, and GSO gives back the
 * frames it was made of. Returns the number of segments. */
static int check_aggregate(const struct rte_mbuf *m, int rx)
{
    static uint8_t buf[AGG_MAX];
    struct rte_mbuf *segs[GSO_MAX_SEGS];
    uint32_t tags[GSO_MAX_SEGS];
    bool ipv6 = (m->ol_flags & RTE_MBUF_F_TX_IPV6) != 0;
    uint32_t len = flatten(m, buf, sizeof buf);
    uint32_t hdr = (uint32_t)(m->l2_len + m->l3_len + m->l4_len),
             l4_len = len - m->l2_len - m->l3_len;
    const uint8_t *ip = buf + m->l2_len;
    int n;

    ASSERT(st.tso[rx][ipv6]);
    ASSERT(len <= st.max_frame[rx]);
    ASSERT(len - m->l2_len <= RSC_MAX_IP_LEN);
    ASSERT(m->nb_segs <= st.max_segs[rx]);
    ASSERT(m->tso_segsz > 0 && hdr < len);
    if (ipv6) {
        ASSERT(rd16(ip + 4) == l4_len);
    } else {
        ASSERT(rd16(ip + 2) == len - m->l2_len);
        ASSERT(ref_fold(ref_sum16(ip, m->l3_len, 0)) == 0xffff);
    }
    ASSERT(rd16(ip + m->l3_len + 16) == ref_fold(ref_pseudo(ip, ipv6, 6, l4_len)));

    n = gso_segment(m, gso_pool, segs, GSO_MAX_SEGS);
    if (n == GSO_ERR_BAD)
        FAIL("GSO refuses an aggregate: pkt_len %u l2 %u l3 %u l4 %u tso_segsz %u ol_flags %#llx",
             m->pkt_len, m->l2_len, m->l3_len, m->l4_len, m->tso_segsz,
             (unsigned long long)m->ol_flags);
    ASSERT(n >= 2);
    member_frames(m, hdr, n, tags);
    for (int i = 0; i < n; i++) {
        check_segment(segs[i], ipv6, tags[i], tags[0], (uint32_t)i);
        check_order(tags[i]);
    }
    rte_pktmbuf_free_bulk(segs, (unsigned)n);
    return n;
}

/* A frame out on its own, emitted or given back: as it went in. */
static void check_single(const struct rte_mbuf *m)
{
    static uint8_t buf[AGG_MAX];
    uint32_t len = flatten(m, buf, sizeof buf), t = *tag(m);
    const struct record *r = &rec[t];

    ASSERT(t < st.in && len == r->len);
    if (memcmp(buf, r->hdr, RTE_MIN(len, (uint32_t)HDR_MAX)) != 0)
        FAIL("frame %u changed on its own", t);
    check_order(t);
}

/* Every frame delivered, emitted by the engine or given back by rsc_input. */
static void deliver(void *port, struct rte_mbuf *m, bool emitted)
{
    int rx = receiver(port);

    ASSERT(port == &ports[0] || port == &ports[1]);
    st.out++;
    if (!emitted) {
        st.given_back[rx]++;
        check_single(m);
    } else if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) {
        int n = check_aggregate(m, rx);
        st.emitted[rx]++;
        st.segs[rx] += (uint64_t)n;
        total_aggregates++;
        total_merged += (uint64_t)n;
    } else {
        st.emitted[rx]++;
        st.segs[rx]++;
        check_single(m);
    }
    rte_pktmbuf_free(m);
}

static void on_emit(void *ctx_, void *port, struct rte_mbuf *m)
{
    (void)ctx_;
    deliver(port, m, true);
}

/* --- frames in ------------------------------------------------------------------------------ */

/* Makes an mbuf of bytes: shape bits 0-1 the layout (one buffer; a chain cut at pseudo-random
 * offsets seeded by the shape; the same with the first cut at `cut`), bits 2-4 the ingress
 * port's offload state. NULL when a pool is dry (the frame is not offered). */
static struct rte_mbuf *make_mbuf(const uint8_t *bytes, uint32_t len, uint8_t shape, uint32_t cut)
{
    struct rte_mbuf *head = NULL, *tail = NULL;
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)shape << 32 | len);
    uint32_t done = 0;

    if ((shape & 3) == 0 || len == 0) {
        head = rte_pktmbuf_alloc(pool);
        if (!head)
            return NULL;
        memcpy(rte_pktmbuf_append(head, (uint16_t)len), bytes, len);
    } else {
        while (done < len) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(small_pool);
            uint32_t take, room;

            if (!m) {
                rte_pktmbuf_free(head);
                return NULL;
            }
            room = rte_pktmbuf_tailroom(m);
            if (!head && (shape & 3) == 2 && cut > 0)
                take = cut;
            else if (head && unit_xorshift(&s) % 32 == 0)
                take = 0;
            else if (unit_xorshift(&s) % 4 == 0)
                take = 1 + unit_xorshift(&s) % 64;
            else
                take = room;
            take = RTE_MIN(RTE_MIN(take, room), len - done);
            unit_chain_add(&head, &tail, m, bytes + done, take);
            done += take;
        }
    }
    switch (shape >> 2 & 7) {
    case 1:
        head->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        break;
    case 2:
        head->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD;
        break;
    case 3: /* a local sender's partial checksum */
        head->ol_flags = RTE_MBUF_F_TX_TCP_CKSUM;
        break;
    case 4: /* a local sender's TSO frame */
        head->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4;
        head->tso_segsz = 1448;
        break;
    default:
        break;
    }
    return head;
}

/* Offers st.last to the engine, as input frame st.in. */
static void offer(uint8_t shape, uint32_t cut)
{
    struct record *r = &rec[st.in];
    struct rte_mbuf *m;

    if (st.in == INPUT_FRAMES)
        return;
    m = make_mbuf(st.last, st.last_len, shape, cut);
    if (!m)
        return;
    for (struct rte_mbuf *g = m; g; g = g->next)
        *tag(g) = st.in;
    memcpy(r->hdr, st.last, RTE_MIN(st.last_len, (uint32_t)HDR_MAX));
    r->len = st.last_len;
    r->key = st.last_key;
    r->tcp = st.last_tcp;
    st.in++;
    if (!rsc_input(&st.table, &st.target, m))
        deliver(st.target.port, m, false);
}

static void op_raw(struct reader *r)
{
    uint32_t len = get16(r) % (FRAME_MAX + 1);
    uint8_t shape = get8(r);

    len = (uint32_t)RTE_MIN((size_t)len, r->n);
    memcpy(st.last, r->p, len);
    r->p += len;
    r->n -= len;
    st.last_len = len;
    st.last_l3 = 0;
    st.last_key = -1;
    st.last_tcp = false;
    offer(shape, 14);
}

/* Fixes the IPv4 header checksum and the TCP checksum of st.last, when it is a TCP frame whose
 * lengths still make sense. */
static void fix_checksums(void)
{
    uint8_t *ip = st.last + st.last_l2;
    uint32_t l4_len;

    if (st.last_l3 == 0 || st.last_len < (uint32_t)st.last_l2 + st.last_l3 + 20)
        return;
    l4_len = st.last_len - st.last_l2 - st.last_l3;
    if (!st.last_ipv6) {
        wr16(ip + 10, 0);
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, 20, 0)));
    }
    wr16(ip + st.last_l3 + 16, 0);
    wr16(ip + st.last_l3 + 16,
         (uint16_t)~ref_fold(
             ref_sum16(ip + st.last_l3, l4_len, ref_pseudo(ip, st.last_ipv6, 6, l4_len))));
}

/*
 * TCP: b0 bits 0-2 the flow (bit 0 IPv6, bit 1 a VLAN tag, bit 2 which tag), bit 3 timestamps,
 * bit 4 timestamp advances, bit 5 a SACK block, bit 6 the AE bit, bit 7 ack advances;
 * b1 TCP flags XOR ACK; b2 seq offset from the flow's next (signed); b3 b4 payload length;
 * b5 bit 0 bad TCP checksum, 1 bad IPv4 checksum, 2 TTL change, 3 ECN CE, 4 fixed IPv4 ID with
 * DF, 5 an ID jump, 6 no DF; b6 the mbuf shape (make_mbuf), its first cut after the headers.
 */
static void op_tcp(struct reader *r)
{
    static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
    uint8_t b0 = get8(r), flags = get8(r) ^ TCP_ACK, seq_off = get8(r);
    uint32_t payload = get16(r) % (MSS_MAX + 1);
    uint8_t ipb = get8(r), shape = get8(r);
    int fl = b0 & 7;
    bool ipv6 = fl & 1, ts = b0 & 8, sack = b0 & 32;
    uint8_t *p = st.last, *ip, *th, *opt;
    uint32_t n, l3 = ipv6 ? 40 : 20, l4 = 20 + (ts ? 12 : 0) + (sack ? 12 : 0), seq;

    if (b0 & 16)
        st.flow[fl].tsval++;
    if (b0 & 128)
        st.flow[fl].ack += 1000;
    if (ipb & 4)
        st.flow[fl].ttl++;
    if (ipb & 32)
        st.flow[fl].ip_id = (uint16_t)(st.flow[fl].ip_id + 7);
    seq = st.flow[fl].seq + (uint32_t)(int32_t)(int8_t)seq_off;

    memcpy(p, macs, 12);
    n = 12;
    if (fl & 2) {
        wr16(p + n, 0x8100);
        wr16(p + n + 2, fl & 4 ? 200 : 100);
        n += 4;
    }
    wr16(p + n, ipv6 ? 0x86dd : 0x0800);
    n += 2;
    ip = p + n;
    if (ipv6) {
        wr32(ip, 6u << 28 | (ipb & 8 ? 3u : 0u) << 20 | 0x12345);
        wr16(ip + 4, l4 + payload);
        ip[6] = 6;
        ip[7] = st.flow[fl].ttl;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0x20 + (i < 16 ? 0 : 1) + i);
    } else {
        ip[0] = 0x45;
        ip[1] = ipb & 8 ? 3 : 0;
        wr16(ip + 2, l3 + l4 + payload);
        wr16(ip + 4, st.flow[fl].ip_id);
        wr16(ip + 6, ipb & 64 ? 0 : 0x4000);
        ip[8] = st.flow[fl].ttl;
        ip[9] = 6;
        wr32(ip + 12, 0x0a000001);
        wr32(ip + 16, 0x0a000002);
    }
    th = ip + l3;
    wr16(th, 40000);
    wr16(th + 2, 80);
    wr32(th + 4, seq);
    wr32(th + 8, st.flow[fl].ack);
    th[12] = (uint8_t)(l4 / 4 << 4 | (b0 & 64 ? 1 : 0));
    th[13] = flags;
    wr16(th + 14, 512);
    wr16(th + 18, 0);
    opt = th + 20;
    if (ts) {
        static const uint8_t kind[4] = {1, 1, 8, 10};
        memcpy(opt, kind, 4);
        wr32(opt + 4, st.flow[fl].tsval);
        wr32(opt + 8, 77);
        opt += 12;
    }
    if (sack) {
        static const uint8_t kind[4] = {1, 1, 5, 10};
        memcpy(opt, kind, 4);
        wr32(opt + 4, st.flow[fl].ack + 5000);
        wr32(opt + 8, st.flow[fl].ack + 6000);
    }
    for (uint32_t i = 0; i < payload; i++)
        th[l4 + i] = payload_byte(seq + i);

    st.last_len = n + l3 + l4 + payload;
    st.last_l2 = (uint16_t)n;
    st.last_l3 = (uint16_t)l3;
    st.last_ipv6 = ipv6;
    st.last_key = fl + TCP_FLOWS * (receiver(st.target.port) + 2 * st.target.in_port);
    st.last_tcp = true;
    fix_checksums();
    if (ipb & 1)
        th[16] ^= 0x5a;
    if ((ipb & 2) && !ipv6)
        ip[10] ^= 0xa5;

    st.flow[fl].seq = seq + payload + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    if (!(ipb & 16))
        st.flow[fl].ip_id++;
    offer(shape, n + l3 + l4);
}

static void op_flip(struct reader *r)
{
    uint16_t off = get16(r);
    uint8_t x = get8(r), fix = get8(r);

    if (st.last_len == 0)
        return;
    st.last[off % st.last_len] ^= x ? x : 0xff;
    st.last_key = -1; /* it may now be of another flow, or of none */
    st.last_tcp = false;
    if (fix & 1)
        fix_checksums();
    offer((uint8_t)(fix >> 1), (uint32_t)st.last_l2 + st.last_l3 + 20);
}

static void op_repeat(void)
{
    /* the same frame from the receiver now current: another flow, maybe */
    if (st.last_key >= 0)
        st.last_key = st.last_key % TCP_FLOWS +
                      TCP_FLOWS * (receiver(st.target.port) + 2 * st.target.in_port);
    offer(0, 0);
}

/* --- one input ------------------------------------------------------------------------------ */

static uint64_t sum(const uint64_t *v, int n)
{
    uint64_t s = 0;

    for (int i = 0; i < n; i++)
        s += v[i];
    return s;
}

static void check_end(void)
{
    uint64_t seg_in = 0, agg_out = 0;

    ASSERT(rsc_idle(&st.table));
    for (int rx = 0; rx < 2; rx++) {
        const struct rsc_stats *s = &st.stats[rx];
        ASSERT(sum(s->flushes, RSC_FLUSH_N) == s->aggregates_out);
        ASSERT(sum(s->bypasses, RSC_BYPASS_N) == st.given_back[rx]);
        ASSERT(s->aggregates_out == st.emitted[rx]);
        ASSERT(s->segments_in == st.segs[rx]); /* each segment taken comes out as one again */
        seg_in += s->segments_in;
        agg_out += s->aggregates_out;
    }
    ASSERT(st.out <= st.in);
    ASSERT(seg_in - agg_out == st.in - st.out);
    ASSERT(rte_mempool_avail_count(pool) == pool_start);
    ASSERT(rte_mempool_avail_count(small_pool) == small_start);
    ASSERT(rte_mempool_avail_count(gso_pool) == gso_start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};

    fuzz_start();
    memset(&st, 0, sizeof st);
    st.last_key = -1;
    for (int fl = 0; fl < TCP_FLOWS; fl++) {
        st.flow[fl].seq = 1000u * (uint32_t)fl;
        st.flow[fl].ttl = 64;
    }
    rsc_init(&st.table, on_emit, NULL);
    set_target(0, 0, 0, 14 + 8 + 65535, UINT16_MAX);
    while (r.n > 0) {
        switch (get8(&r) % OP_N) {
        case OP_FLUSH:
            rsc_flush(&st.table);
            break;
        case OP_TARGET:
            op_target(&r);
            break;
        case OP_RAW:
            op_raw(&r);
            break;
        case OP_TCP:
            op_tcp(&r);
            break;
        case OP_FLIP:
            op_flip(&r);
            break;
        case OP_REPEAT:
            op_repeat();
            break;
        }
    }
    rsc_flush(&st.table);
    check_end();
    total_inputs++;
    total_frames += st.in;
    return 0;
}

/* --- inputs that merge, for the driver ------------------------------------------------------ */

struct writer {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct writer *w, uint8_t b)
{
    if (w->n < w->cap)
        w->p[w->n++] = b;
}

/* A program of mostly in-order segments of a few flows at a steady MSS, with the events the
 * engine must handle in between: PSH, FIN, short segments, CWR, option and IP changes, bad
 * checksums, gaps and retransmissions, flips of a byte, receiver changes, flushes. One in five
 * is random bytes instead. Returns its length. */
size_t fuzz_rsc_generate(uint8_t *buf, size_t cap, uint64_t seed)
{
    struct writer w = {buf, 0, cap};
    uint64_t s = seed ? seed : 1;
    uint16_t mss[TCP_FLOWS];
    uint8_t opts[TCP_FLOWS], ipbits[TCP_FLOWS];

    if (unit_xorshift(&s) % 5 == 0) {
        size_t len = unit_xorshift(&s) % (cap + 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)unit_xorshift(&s);
        return len;
    }
    for (int fl = 0; fl < TCP_FLOWS; fl++) {
        mss[fl] = (uint16_t)(unit_xorshift(&s) % 8 == 0 ? 1 + unit_xorshift(&s) % MSS_MAX
                                                        : 536 + unit_xorshift(&s) % 1000);
        opts[fl] = unit_xorshift(&s) % 2 ? 8 : 0;         /* timestamps */
        ipbits[fl] = unit_xorshift(&s) % 4 == 0 ? 16 : 0; /* fixed ID */
    }
    while (w.n + 10 < cap) {
        uint32_t r = unit_xorshift(&s) % 100, few = unit_xorshift(&s) % 2 ? 2 : TCP_FLOWS;
        uint32_t fl = unit_xorshift(&s) % few; /* often two flows only: long runs of merges */
        uint8_t flags = 0, seq_off = 0, ipb = ipbits[fl], shape = 0, b0 = (uint8_t)(fl | opts[fl]);
        uint16_t len = mss[fl];

        if (r < 3) {
            put(&w, OP_FLUSH);
            continue;
        }
        if (r < 5) {
            put(&w, OP_TARGET);
            for (int i = 0; i < 4; i++)
                put(&w, (uint8_t)(unit_xorshift(&s) % 3 ? unit_xorshift(&s) & 0xc1
                                                        : unit_xorshift(&s)));
            continue;
        }
        if (r < 7) {
            put(&w, OP_FLIP);
            for (int i = 0; i < 4; i++)
                put(&w, (uint8_t)unit_xorshift(&s));
            continue;
        }
        if (r < 8) {
            put(&w, OP_REPEAT);
            continue;
        }
        if (r < 9) {
            uint8_t n = (uint8_t)(unit_xorshift(&s) % 80);
            put(&w, OP_RAW);
            put(&w, 0);
            put(&w, n);
            put(&w, (uint8_t)unit_xorshift(&s));
            for (int i = 0; i < n; i++)
                put(&w, (uint8_t)unit_xorshift(&s));
            continue;
        }
        switch (unit_xorshift(&s) % 40) {
        case 0:
            flags = TCP_PSH;
            break;
        case 1:
            flags = TCP_FIN;
            break;
        case 2:
            flags = TCP_CWR;
            break;
        case 3:
            flags = (uint8_t)unit_xorshift(&s);
            break;
        case 4:
            len = (uint16_t)(unit_xorshift(&s) % (len + 1u)); /* short, maybe empty */
            break;
        case 5:
            seq_off = (uint8_t)unit_xorshift(&s); /* a gap or an overlap */
            break;
        case 6:
            ipb = (uint8_t)(ipb ^ (1u << (unit_xorshift(&s) % 8)));
            break;
        case 7:
            b0 = (uint8_t)(b0 ^ (16u << (unit_xorshift(&s) % 4)));
            break;
        case 8:
            shape = (uint8_t)unit_xorshift(&s);
            break;
        case 9:
            opts[fl] ^= 8;
            break;
        }
        put(&w, OP_TCP);
        put(&w, b0);
        put(&w, flags);
        put(&w, seq_off);
        put(&w, (uint8_t)(len >> 8));
        put(&w, (uint8_t)len);
        put(&w, ipb);
        put(&w, shape);
    }
    return w.n;
}

const char *fuzz_rsc_summary(void)
{
    static char line[160];

    snprintf(line, sizeof line, "%llu inputs, %llu frames, %llu aggregates of %llu segments",
             (unsigned long long)total_inputs, (unsigned long long)total_frames,
             (unsigned long long)total_aggregates, (unsigned long long)total_merged);
    return line;
}
