/*
 * Property test of the RSC engine (src/offload/rsc.c) against the invariant the rules build
 * everything on: what the engine delivers, segmented again by GSO at the aggregate's gso_size,
 * is what came in. Random TCP streams (interleaved IPv4 and IPv6 flows, VLAN tags, twin flows
 * that differ only in VLAN tag, ingress port or receiver, MSS 536..9216, timestamps and SACK
 * options, PSH, FIN, SYN, URG, CWR/ECE, the AE bit, pure ACKs and window updates, ack and
 * window changes, loss, reordering, retransmissions, short segments, fixed or incrementing IPv4
 * IDs, TTL/TOS changes, bad checksums) go through the engine in bursts of 1..40 frames with an
 * rsc_flush after each, as single mbufs or as chains cut at random offsets. Then, per run:
 *
 * (a) per flow, the output in order, every TSO frame cut by gso_segment, is the input in order
 *     segment by segment, byte for byte. That covers seq, payload, ack, window, options, TTL,
 *     TOS, every flag (PSH/FIN can only be on the last segment of an aggregate and CWR only on
 *     the first, which is where the engine's closing and starting rules put them in the input
 *     too) and the checksums (the input's are complete and right, GSO computes the same ones).
 *     One documented exception: GSO numbers IPv4 IDs head + i, so a flow with a fixed ID (DF)
 *     comes out with incrementing IDs; for such flows the ID and IP checksum are compared as
 *     head ID + i. Every GSO segment's IP and TCP checksums are also checked with ref_csum.h.
 *     A frame with a bad checksum comes out byte-identical and never inside an aggregate.
 * (b) per flow, the payload bytes of the output frames (before GSO) concatenated in output
 *     order are the input's payload bytes in input order: always true, because the engine
 *     never reorders within a flow, whatever loss, reordering or duplicates did to the stream.
 * (c) an aggregate is no longer than the receiver's max_frame, its IP length is <= 65535, it
 *     spans no more than max_segs mbufs, its gso_size is its first segment's payload, its IP
 *     length, IPv4 header checksum, partial TCP checksum and offload metadata are right, and
 *     only a receiver with TSO for that IP version gets one.
 * (d) counters: segments_in - aggregates_out == input frames - output frames; the flush
 *     reasons add up to aggregates_out and the bypass reasons to the frames given back.
 * (e) both pools are full again once every output is freed.
 *
 * Each stream is fed to a random big receiver, then again to small ones (max_frame 2000 and
 * 4000) and to receivers that take only one IP version.
 *
 * The test prints its seed; RSC_SEED=<n> replays a run.
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
#include <rte_mempool.h>

#include "offload/gso.h"
#include "offload/rsc.h"
#include "ref_csum.h"
#include "unit.h"
#include "wire.h"

#define RUNS       300
#define MAX_INPUTS 400 /* frames offered per run */
#define MAX_FLOWS  20  /* more than RSC_MAX_FLOWS: the table fills up */
#define MSS_MIN    536
#define MSS_MAX    9216
#define HDR_MAX    (14 + 8 + 40 + 60) /* Ethernet, two VLAN tags, IPv6, TCP with 40 option bytes */
#define FRAME_MAX  (HDR_MAX + MSS_MAX)
#define AGG_MAX    (HDR_MAX + 65535)
#define BURST_MAX  40

#define POOL_SIZE  2047 /* FRAME_MAX rooms: a run's outputs, and GSO's segments of one */
#define SMALL_SIZE 16383
#define SMALL_ROOM 1024 /* chains */
#define PRIV_SIZE  8    /* each input's index in the run, to know an output's origin */

#define SEED_DEFAULT 0x2545f4914f6cdd1dULL /* unit_seed without RSC_SEED */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static struct rte_mempool *pool, *small_pool;
static unsigned pool_start, small_start;

/* true once in n */
static bool one_in(uint32_t n)
{
    return unit_rnd() % n == 0;
}

/* --- the streams ---------------------------------------------------------------------------- */

/* A TCP sender: its identity (what the engine keeps flows apart by) and its state. */
struct flow {
    int ipv6, vlans; /* vlans: 0, 1 (0x8100) or 2 (0x88a8 then 0x8100) */
    uint16_t tags[2];
    uint8_t macs[12];
    uint8_t addrs[32]; /* IPv4: the first 8 bytes */
    uint16_t sport, dport;
    uint32_t label; /* IPv6 flow label */
    uint16_t in_port;
    int rx;   /* receiver */
    int twin; /* a copy of the flow before it but for one identity field */

    uint16_t mss;
    int timestamps;
    uint32_t tsval, tsecr;
    uint32_t seq, ack;
    uint16_t win;
    uint16_t ip_id;
    int fixed_id, df; /* fixed_id: every segment has the same ID, with DF */
    uint8_t ttl, tos;
    int ece;
    uint32_t calm; /* 1, or 10 for a flow where events are ten times rarer: long aggregates */
    int to_send;   /* data segments left */
    int fin;       /* the flow ends with a FIN (not sent yet) */
    int started, done;
    int held;      /* a frame sent after the next one (reordering), or -1 */
    int last_data; /* the last data frame, for a retransmission, or -1 */
};

/* What one segment has beyond its flow's state. */
struct seg {
    uint32_t payload;
    uint8_t flags;
    uint16_t urp;
    int sack; /* a SACK block in the options */
    int ae;   /* the AE (formerly NS) bit, the low bit of TCP byte 12 */
    uint8_t tos;
    int bad; /* 1: wrong TCP checksum, 2: wrong IPv4 header checksum */
};

/* A frame built, kept as bytes in the arena. */
struct frame {
    uint32_t off, len;
    uint16_t l2, l3, l4, hdr;
    uint32_t payload;
    int flow;
    int bad;
    uint64_t ol_flags; /* the ingress port's checksum verdict, or 0 */
    uint16_t ip_id;
};

static struct flow flows[MAX_FLOWS];
static int n_flows;
static struct frame frames[MAX_INPUTS];
static int n_frames;
static uint8_t arena[MAX_INPUTS * FRAME_MAX];
static uint32_t arena_used;
static int order[MAX_INPUTS]; /* frames in input order; a retransmitted frame appears twice */
static int n_inputs;
static int flow_inputs[MAX_FLOWS][MAX_INPUTS]; /* per flow, its input indices in order */
static int flow_n[MAX_FLOWS];

static const uint8_t *frame_bytes(const struct frame *fr)
{
    return arena + fr->off;
}

static void append(int frame)
{
    int fl = frames[frame].flow;

    flow_inputs[fl][flow_n[fl]++] = n_inputs;
    order[n_inputs++] = frame;
}

/* Writes the segment of flow f described by s into the arena; returns the frame's index. */
static int build(const struct flow *f, const struct seg *s)
{
    struct frame *fr = &frames[n_frames];
    uint8_t *p = arena + arena_used, *ip, *th, *opt;
    uint32_t n = 12, l4_len;

    memcpy(p, f->macs, 12);
    for (int v = 0; v < f->vlans; v++, n += 4) {
        wr16(p + n, f->vlans == 2 && v == 0 ? 0x88a8 : 0x8100);
        wr16(p + n + 2, f->tags[v]);
    }
    wr16(p + n, f->ipv6 ? 0x86dd : 0x0800);
    fr->l2 = (uint16_t)(n + 2);
    fr->l3 = f->ipv6 ? 40 : 20;
    fr->l4 = (uint16_t)(20 + (f->timestamps ? 12 : 0) + (s->sack ? 12 : 0));
    fr->hdr = (uint16_t)(fr->l2 + fr->l3 + fr->l4);
    fr->payload = s->payload;
    fr->len = fr->hdr + s->payload;
    fr->off = arena_used;
    fr->flow = (int)(f - flows);
    fr->bad = s->bad;
    fr->ip_id = f->ip_id;
    fr->ol_flags = 0;
    l4_len = fr->l4 + s->payload;

    ip = p + fr->l2;
    if (f->ipv6) {
        wr32(ip, 6u << 28 | (uint32_t)s->tos << 20 | f->label);
        wr16(ip + 4, l4_len);
        ip[6] = 6;
        ip[7] = f->ttl;
        memcpy(ip + 8, f->addrs, 32);
    } else {
        ip[0] = 0x45;
        ip[1] = s->tos;
        wr16(ip + 2, 20 + l4_len);
        wr16(ip + 4, f->ip_id);
        wr16(ip + 6, f->df ? 0x4000 : 0);
        ip[8] = f->ttl;
        ip[9] = 6;
        wr16(ip + 10, 0);
        memcpy(ip + 12, f->addrs, 8);
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, 20, 0)));
    }

    th = ip + fr->l3;
    wr16(th, f->sport);
    wr16(th + 2, f->dport);
    wr32(th + 4, f->seq);
    wr32(th + 8, f->ack);
    th[12] = (uint8_t)(fr->l4 / 4 << 4 | (s->ae ? 1 : 0));
    th[13] = s->flags;
    wr16(th + 14, f->win);
    wr16(th + 16, 0);
    wr16(th + 18, s->urp);
    opt = th + 20;
    if (f->timestamps) {
        opt[0] = opt[1] = 1; /* NOP NOP, kind 8 length 10 */
        opt[2] = 8;
        opt[3] = 10;
        wr32(opt + 4, f->tsval);
        wr32(opt + 8, f->tsecr);
        opt += 12;
    }
    if (s->sack) {
        uint32_t left = f->ack + unit_between(1000, 100000);
        opt[0] = opt[1] = 1; /* NOP NOP, kind 5 length 10: one block */
        opt[2] = 5;
        opt[3] = 10;
        wr32(opt + 4, left);
        wr32(opt + 8, left + unit_between(1, 10000));
    }
    unit_fill_random(p + fr->hdr, s->payload);
    wr16(th + 16, (uint16_t)~ref_fold(ref_sum16(th, l4_len, ref_pseudo(ip, f->ipv6, 6, l4_len))));

    if (s->bad == 1)
        wr16(th + 16, rd16(th + 16) ^ unit_between(1, 0xffff));
    else if (s->bad == 2)
        wr16(ip + 10, rd16(ip + 10) ^ unit_between(1, 0xffff));
    else if (one_in(20))
        fr->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD; /* vouched */

    arena_used += fr->len;
    return n_frames++;
}

static uint16_t random_mss(void)
{
    static const uint16_t common[] = {536, 1220, 1440, 1448, 1460, 8948, 8960, 9216};

    if (one_in(3))
        return common[unit_rnd() % RTE_DIM(common)];
    return (uint16_t)unit_between(MSS_MIN, MSS_MAX);
}

/* A new sender. Every 3rd flow or so is the twin of the one before: same addresses, ports,
 * MACs and even the same sequence numbers, on another VLAN, from another ingress port or to
 * the other receiver, so that merging across them would go unnoticed by seq checks alone. */
static void new_flow(int i)
{
    struct flow *f = &flows[i];

    if (i > 0 && !flows[i - 1].twin && one_in(3)) {
        *f = flows[i - 1];
        f->twin = 1;
        switch (unit_rnd() % 3) {
        case 0: /* another VLAN (or a tag where the other had none) */
            f->vlans = f->vlans ? f->vlans : 1;
            f->tags[f->vlans - 1] = (uint16_t)(f->tags[f->vlans - 1] % 4094 + 1);
            break;
        case 1:
            f->in_port = (uint16_t)(100 + i);
            break;
        default:
            f->rx = !f->rx;
        }
        return;
    }
    memset(f, 0, sizeof *f);
    f->ipv6 = (int)(unit_rnd() % 2);
    f->vlans = one_in(3) ? 0 : one_in(4) ? 2 : 1;
    f->tags[0] = (uint16_t)unit_between(1, 4094);
    f->tags[1] = (uint16_t)unit_between(1, 4094);
    unit_fill_random(f->macs, sizeof f->macs);
    f->macs[0] &= 0xfe;
    f->macs[6] &= 0xfe;
    unit_fill_random(f->addrs, sizeof f->addrs);
    f->sport = (uint16_t)(1024 + i);
    f->dport = (uint16_t)unit_rnd();
    f->label = unit_rnd() & 0xfffff;
    f->in_port = (uint16_t)(unit_rnd() % 4);
    f->rx = (int)(unit_rnd() % 2);
    f->mss = random_mss();
    f->timestamps = !one_in(3);
    f->tsval = unit_rnd();
    f->tsecr = unit_rnd();
    f->seq =
        one_in(8) ? 0xffffffff - unit_rnd() % 100000 : unit_rnd(); /* sometimes about to wrap */
    f->ack = unit_rnd();
    f->win = (uint16_t)unit_rnd();
    f->ip_id = (uint16_t)unit_rnd();
    f->fixed_id = one_in(4);
    f->df = f->fixed_id || one_in(2);
    f->ttl = one_in(2) ? 64 : (uint8_t)unit_between(1, 255);
    f->tos = one_in(4) ? (uint8_t)unit_rnd() : 0;
    f->calm = one_in(3) ? 10 : 1;
    f->to_send = (int)unit_between(1, f->calm > 1 ? 120 : 60);
    f->fin = one_in(2);
    f->held = f->last_data = -1;
}

/* Sends a segment without payload: SYN, bare FIN, pure ACK or window update. */
static void send_empty(struct flow *f, uint8_t flags)
{
    struct seg s = {.flags = flags, .tos = f->tos};

    append(build(f, &s));
    if (flags & (TCP_SYN | TCP_FIN))
        f->seq++;
    if (!f->fixed_id)
        f->ip_id++;
}

/* true once in n, or in n * 10 for a calm flow */
static bool event(const struct flow *f, uint32_t n)
{
    return one_in(n * f->calm);
}

/* Sends the next data segment, with whatever the dice say changes on the way. */
static void send_data(struct flow *f)
{
    struct seg s = {.flags = TCP_ACK};
    int frame;

    /* the sender's state changes: each holds for the segments after it */
    if (event(f, 6))
        f->ack += unit_between(1, 100000);
    if (event(f, 20))
        f->win = (uint16_t)unit_rnd();
    if (f->timestamps && event(f, 4))
        f->tsval += unit_between(1, 10);
    if (event(f, 60))
        f->ttl = (uint8_t)unit_between(1, 255);
    if (event(f, 80))
        f->tos = (uint8_t)unit_rnd();
    if (event(f, 40))
        f->ece = !f->ece;
    if (!f->fixed_id && event(f, 40))
        f->ip_id = (uint16_t)(f->ip_id + unit_between(2, 1000)); /* an ID that does not follow */

    /* this segment's own */
    s.payload = event(f, 8) ? unit_between(1, f->mss) : f->mss;
    s.tos = event(f, 40) ? (uint8_t)(f->tos | 3) : f->tos; /* ECN CE on the way */
    if (event(f, 8))
        s.flags |= TCP_PSH;
    if (f->ece)
        s.flags |= TCP_ECE;
    if (event(f, 30))
        s.flags |= TCP_CWR;
    if (event(f, 150)) {
        s.flags |= TCP_URG;
        s.urp = (uint16_t)unit_between(1, s.payload);
    }
    s.sack = event(f, 30);
    s.ae = event(f, 60);
    if (event(f, 40))
        s.bad = !f->ipv6 && one_in(3) ? 2 : 1;
    if (--f->to_send == 0 && f->fin && one_in(2)) {
        s.flags |= TCP_FIN;
        f->fin = 0;
    }

    if (!(s.flags & TCP_FIN) && event(f, 30)) {
        frame = -1; /* lost on the way: sent, never seen */
    } else {
        frame = build(f, &s);
        if (f->held >= 0) { /* the two neighbours arrive swapped */
            append(frame);
            append(f->held);
            f->held = -1;
        } else if (f->to_send > 0 && event(f, 25)) {
            f->held = frame;
        } else {
            append(frame);
        }
        f->last_data = frame;
    }
    f->seq += s.payload + (s.flags & TCP_FIN ? 1 : 0);
    if (!f->fixed_id)
        f->ip_id++;
}

/* One step of a flow's life: its SYN, a segment, a retransmission, or its end. */
static void flow_step(struct flow *f)
{
    if (!f->started) {
        f->started = 1;
        if (one_in(4)) {
            send_empty(f, TCP_SYN | TCP_ACK);
            return;
        }
    }
    if (f->to_send == 0) {
        if (f->held >= 0)
            append(f->held);
        f->held = -1;
        if (f->fin)
            send_empty(f, TCP_FIN | TCP_ACK);
        f->done = 1;
        return;
    }
    switch (unit_rnd() % (100 * f->calm)) {
    case 0 ... 2:
        if (f->last_data >= 0) {
            append(f->last_data); /* retransmitted, byte for byte */
            return;
        }
        break;
    case 3 ... 7:
        if (one_in(2))
            f->win = (uint16_t)unit_rnd(); /* a window update */
        send_empty(f, TCP_ACK);
        return;
    }
    send_data(f);
}

/* A run's stream: flows sending in random interleaving (or in turn, which fills the engine's
 * table when there are more flows than it holds) until about `target` frames. */
static void make_stream(void)
{
    int target = (int)unit_between(20, MAX_INPUTS - 8), active[MAX_FLOWS], turn = 0;
    bool in_turn;

    n_frames = n_inputs = 0;
    arena_used = 0;
    n_flows = one_in(4) ? (int)unit_between(RSC_MAX_FLOWS + 1, MAX_FLOWS) : (int)unit_between(1, 8);
    in_turn = one_in(3);
    for (int i = 0; i < n_flows; i++) {
        new_flow(i);
        flow_n[i] = 0;
    }
    while (n_inputs < target) {
        int n = 0;
        for (int i = 0; i < n_flows; i++)
            if (!flows[i].done)
                active[n++] = i;
        if (n == 0)
            break;
        flow_step(&flows[active[in_turn ? turn++ % n : (int)(unit_rnd() % (uint32_t)n)]]);
    }
    for (int i = 0; i < n_flows; i++)
        if (flows[i].held >= 0)
            append(flows[i].held);
}

/* --- through the engine --------------------------------------------------------------------- */

struct receiver {
    struct rsc_stats stats;
    struct rsc_target target;
};

static struct receiver rx[2];

/* What the engine and the caller delivered, in order: emitted by the engine, or given back by
 * rsc_input and sent at once. */
struct output {
    struct rte_mbuf *m;
    void *port;
    bool emitted;
};

static struct output outs[MAX_INPUTS];
static uint64_t flush_totals[RSC_FLUSH_N]; /* over all runs: does the test reach each reason? */
static int n_outs;
static struct rsc_table table;

static void on_emit(void *ctx_, void *port, struct rte_mbuf *m)
{
    (void)ctx_;
    CHECK(n_outs < MAX_INPUTS);
    outs[n_outs++] = (struct output){m, port, true};
}

/* The input index of a frame, in the private area behind its first mbuf: where an output came
 * from (an aggregate's head is its first segment's mbuf). */
static uint32_t *tag(struct rte_mbuf *m)
{
    return rte_mbuf_to_priv(m);
}

/* Copies a frame into a chain from the small pool: the first cut exactly after the headers,
 * somewhere in them (the engine must pass such a frame unmerged) or a full buffer; then full
 * buffers, short pieces, now and then an empty buffer. */
static struct rte_mbuf *make_chain(const struct frame *fr)
{
    const uint8_t *bytes = frame_bytes(fr);
    struct rte_mbuf *head = NULL, *tail = NULL;
    uint32_t done = 0;

    while (done < fr->len) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(small_pool);
        uint32_t room, take;

        assert_non_null(m);
        room = rte_pktmbuf_tailroom(m);
        if (!head)
            take = one_in(3) ? fr->hdr : one_in(4) ? unit_between(1, fr->hdr + 8) : room;
        else if (one_in(50))
            take = 0;
        else
            take = one_in(4) ? unit_between(1, 64) : room;
        take = RTE_MIN(RTE_MIN(take, room), fr->len - done);
        unit_chain_add(&head, &tail, m, bytes + done, take);
        done += take;
    }
    return head;
}

static struct rte_mbuf *make_mbuf(const struct frame *fr, int chain_pct)
{
    struct rte_mbuf *m;

    if ((int)(unit_rnd() % 100) < chain_pct) {
        m = make_chain(fr);
    } else {
        m = rte_pktmbuf_alloc(pool);
        assert_non_null(m);
        memcpy(rte_pktmbuf_append(m, (uint16_t)fr->len), frame_bytes(fr), fr->len);
    }
    m->ol_flags = fr->ol_flags;
    return m;
}

/* The receivers a stream is fed to. */
struct config {
    const char *name;
    uint32_t max_frame[2];
    uint16_t max_segs[2];
    bool tso4, tso6;
};

static void feed(const struct config *cfg, int chain_pct)
{
    static int rx_port[2];
    int burst = (int)unit_between(1, BURST_MAX);

    for (int r = 0; r < 2; r++) {
        memset(&rx[r], 0, sizeof rx[r]);
        rx[r].target = (struct rsc_target){
            .port = &rx_port[r],
            .stats = &rx[r].stats,
            .max_frame = cfg->max_frame[r],
            .max_segs = cfg->max_segs[r],
            .tso4 = cfg->tso4,
            .tso6 = cfg->tso6,
        };
    }
    rsc_init(&table, on_emit, NULL);
    n_outs = 0;
    for (int i = 0; i < n_inputs; i++) {
        const struct frame *fr = &frames[order[i]];
        const struct flow *f = &flows[fr->flow];
        struct rsc_target to = rx[f->rx].target;
        struct rte_mbuf *m = make_mbuf(fr, chain_pct);

        *tag(m) = (uint32_t)i;
        to.in_port = f->in_port;
        if (!rsc_input(&table, &to, m)) {
            CHECK(n_outs < MAX_INPUTS);
            outs[n_outs++] = (struct output){m, to.port, false};
        }
        if (--burst == 0) {
            rsc_flush(&table);
            CHECK(rsc_idle(&table));
            burst = (int)unit_between(1, BURST_MAX);
        }
    }
    rsc_flush(&table);
    CHECK(rsc_idle(&table));
}

/* --- checking what came out ----------------------------------------------------------------- */

/* Per flow: how many of its inputs the outputs checked so far account for (a), and where the
 * payload byte stream stands (b). */
static int consumed[MAX_FLOWS];
static struct {
    int k;        /* the flow's k-th input */
    uint32_t off; /* payload bytes of it already matched */
} stream[MAX_FLOWS];

/* Per receiver: frames the engine emitted, the segments in them, frames given back. */
static uint64_t emitted_frames[2], emitted_segs[2], given_back[2];

/* Copies a chain into out, checking its bookkeeping; returns the length. */
static uint32_t flatten(const struct rte_mbuf *m, uint8_t *out, uint32_t room)
{
    uint32_t len = 0, n = 0;

    for (const struct rte_mbuf *s = m; s; s = s->next, n++) {
        CHECK(len + s->data_len <= room);
        memcpy(out + len, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
        len += s->data_len;
    }
    CHECK(n == m->nb_segs);
    CHECK(len == m->pkt_len);
    return len;
}

/* (b): the next len payload bytes of flow fl's output are its input's next ones. */
static void match_stream(int fl, const uint8_t *data, uint32_t len)
{
    while (len > 0) {
        const struct frame *fr;
        uint32_t n;

        while (stream[fl].k < flow_n[fl] &&
               stream[fl].off == frames[order[flow_inputs[fl][stream[fl].k]]].payload) {
            stream[fl].k++;
            stream[fl].off = 0;
        }
        CHECK(stream[fl].k < flow_n[fl]);
        fr = &frames[order[flow_inputs[fl][stream[fl].k]]];
        n = RTE_MIN(len, fr->payload - stream[fl].off);
        CHECK(memcmp(data, frame_bytes(fr) + fr->hdr + stream[fl].off, n) == 0);
        stream[fl].off += n;
        data += n;
        len -= n;
    }
}

static bool stream_done(int fl)
{
    while (stream[fl].k < flow_n[fl] &&
           stream[fl].off == frames[order[flow_inputs[fl][stream[fl].k]]].payload) {
        stream[fl].k++;
        stream[fl].off = 0;
    }
    return stream[fl].k == flow_n[fl];
}

/* (c) and the aggregate's own headers, before GSO. */
static void check_aggregate(const struct rte_mbuf *m, const uint8_t *buf, const struct frame *head,
                            int r)
{
    const struct flow *f = &flows[head->flow];
    const uint8_t *ip = buf + head->l2, *th = ip + head->l3;
    uint32_t l4_len = m->pkt_len - head->l2 - head->l3;
    uint64_t ip_flag = f->ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4;

    CHECK(f->ipv6 ? rx[r].target.tso6 : rx[r].target.tso4);
    CHECK(m->pkt_len <= rx[r].target.max_frame);
    CHECK(m->pkt_len - head->l2 <= RSC_MAX_IP_LEN);
    CHECK(m->nb_segs <= rx[r].target.max_segs);
    /* a segment that does not fit twice is never the start of an aggregate */
    CHECK(head->len + head->payload <= rx[r].target.max_frame);
    CHECK(m->tso_segsz == head->payload);
    CHECK((m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) ==
          (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | ip_flag));
    CHECK(m->l2_len == head->l2 && m->l3_len == head->l3 && m->l4_len == head->l4);
    if (f->ipv6) {
        CHECK(rd16(ip + 4) == l4_len);
    } else {
        CHECK(rd16(ip + 2) == m->pkt_len - head->l2);
        CHECK(ref_fold(ref_sum16(ip, 20, 0)) == 0xffff);
    }
    /* the partial checksum: the pseudo-header sum over the new length, not complemented */
    CHECK(rd16(th + 16) == ref_fold(ref_pseudo(ip, f->ipv6, 6, l4_len)));
}

/* Fails naming the first byte where got differs from want, with the frame's header layout. */
static void check_bytes(const uint8_t *got, const uint8_t *want, uint32_t len,
                        const struct frame *fr, const char *what)
{
    uint32_t d = 0;

    if (memcmp(got, want, len) == 0)
        return;
    while (got[d] == want[d])
        d++;
    fail_msg("%s: byte %u is %#04x, input has %#04x (l2 %u, l3 %u, l4 %u bytes) [%s]", what, d,
             got[d], want[d], fr->l2, fr->l3, fr->l4, ctx);
}

/* (a) for one segment GSO made of an aggregate: the input frame, byte for byte, but for the
 * IPv4 ID of a fixed-ID flow, which GSO numbers head ID + i (gso.h), and its header checksum. */
static void check_segment(const struct rte_mbuf *g, const struct frame *fr, uint16_t head_id,
                          uint32_t i)
{
    static uint8_t seg[FRAME_MAX], exp[FRAME_MAX];
    const struct flow *f = &flows[fr->flow];
    uint8_t *ip = exp + fr->l2;
    uint32_t len = flatten(g, seg, sizeof seg), l4_len = fr->l4 + fr->payload;

    CHECK(!fr->bad); /* a bad checksum must never be hidden in an aggregate */
    CHECK(g->ol_flags == 0);
    CHECK(len == fr->len);
    memcpy(exp, frame_bytes(fr), fr->len);
    if (!f->ipv6 && f->fixed_id) {
        CHECK(fr->ip_id == head_id);
        wr16(ip + 4, (uint16_t)(head_id + i));
        wr16(ip + 10, 0);
        wr16(ip + 10, (uint16_t)~ref_fold(ref_sum16(ip, 20, 0)));
    }
    check_bytes(seg, exp, len, fr, "GSO segment");
    ip = seg + fr->l2;
    if (!f->ipv6)
        CHECK(ref_fold(ref_sum16(ip, 20, 0)) == 0xffff);
    CHECK(ref_fold(ref_sum16(ip + fr->l3, l4_len, ref_pseudo(ip, f->ipv6, 6, l4_len))) == 0xffff);
}

/* Checks one output against the inputs of its flow, in order. */
static void check_output(const struct output *o)
{
    static uint8_t buf[AGG_MAX];
    struct rte_mbuf *m = o->m, *segs[GSO_MAX_SEGS];
    uint32_t idx = *tag(m), len;
    const struct frame *head;
    int fl, r, n;

    CHECK(idx < (uint32_t)n_inputs);
    head = &frames[order[idx]];
    fl = head->flow;
    r = flows[fl].rx;
    CHECK(o->port == rx[r].target.port);
    CHECK(consumed[fl] < flow_n[fl]);
    if (flow_inputs[fl][consumed[fl]] != (int)idx) /* not the next of its flow */
        fail_msg("output %d (%s) starts with input %u, but flow %d's next input is %d [%s]",
                 (int)(o - outs), o->emitted ? "emitted" : "given back", idx, fl,
                 flow_inputs[fl][consumed[fl]], ctx);
    len = flatten(m, buf, sizeof buf);
    CHECK(len >= head->hdr);
    match_stream(fl, buf + head->hdr, len - head->hdr);
    if (o->emitted)
        emitted_frames[r]++;
    else
        given_back[r]++;

    if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)) {
        /* a frame on its own: as it came in */
        CHECK(len == head->len);
        check_bytes(buf, frame_bytes(head), len, head, "frame on its own");
        CHECK(m->ol_flags == head->ol_flags);
        CHECK(!head->bad || !o->emitted);
        consumed[fl]++;
        emitted_segs[r] += o->emitted;
        return;
    }
    CHECK(o->emitted);
    check_aggregate(m, buf, head, r);
    n = gso_segment(m, pool, segs, GSO_MAX_SEGS);
    CHECK(n >= 2);
    CHECK(consumed[fl] + n <= flow_n[fl]);
    for (int i = 0; i < n; i++)
        check_segment(segs[i], &frames[order[flow_inputs[fl][consumed[fl] + i]]], head->ip_id,
                      (uint32_t)i);
    rte_pktmbuf_free_bulk(segs, (unsigned)n);
    consumed[fl] += n;
    emitted_segs[r] += (uint64_t)n;
}

static uint64_t sum(const uint64_t *v, int n)
{
    uint64_t s = 0;

    for (int i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* Checks every output of a run, (a) to (d), frees them all and checks the pools (e). Returns
 * the number of aggregates. */
static int check_run(void)
{
    uint64_t seg_in = 0, agg_out = 0;
    int aggregates = 0;

    memset(consumed, 0, sizeof consumed);
    memset(stream, 0, sizeof stream);
    memset(emitted_frames, 0, sizeof emitted_frames);
    memset(emitted_segs, 0, sizeof emitted_segs);
    memset(given_back, 0, sizeof given_back);
    for (int i = 0; i < n_outs; i++) {
        check_output(&outs[i]);
        aggregates += (outs[i].m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
    }
    for (int fl = 0; fl < n_flows; fl++) {
        CHECK(consumed[fl] == flow_n[fl]);
        CHECK(stream_done(fl));
    }
    for (int r = 0; r < 2; r++) {
        const struct rsc_stats *st = &rx[r].stats;
        CHECK(sum(st->flushes, RSC_FLUSH_N) == st->aggregates_out);
        CHECK(sum(st->bypasses, RSC_BYPASS_N) == given_back[r]);
        CHECK(st->aggregates_out == emitted_frames[r]);
        CHECK(st->segments_in == emitted_segs[r]);
        seg_in += st->segments_in;
        agg_out += st->aggregates_out;
        for (int i = 0; i < RSC_FLUSH_N; i++)
            flush_totals[i] += st->flushes[i];
    }
    CHECK(seg_in - agg_out == (uint64_t)(n_inputs - n_outs));

    for (int i = 0; i < n_outs; i++)
        rte_pktmbuf_free(outs[i].m);
    n_outs = 0;
    CHECK(rte_mempool_avail_count(pool) == pool_start);
    CHECK(rte_mempool_avail_count(small_pool) == small_start);
    return aggregates;
}

/* --- the tests ------------------------------------------------------------------------------ */

static uint32_t random_max_frame(void)
{
    switch (unit_rnd() % 4) {
    case 0:
        return 14 + 8 + 65535; /* just the 64 KiB IP limit */
    case 1:
        return 1u << 20; /* no limit of its own */
    default:
        return unit_between(9300, 70000);
    }
}

static uint16_t random_max_segs(void)
{
    static const uint16_t choice[] = {UINT16_MAX, UINT16_MAX, 255, 64, 17, 8};

    return choice[unit_rnd() % RTE_DIM(choice)];
}

static void run_config(const struct config *cfg, int run, int chain_pct, uint64_t *aggregates)
{
    snprintf(ctx, sizeof ctx, "RSC_SEED=%#llx run %d %s: %d flows, %d inputs, chains %d%%",
             (unsigned long long)unit_seed, run, cfg->name, n_flows, n_inputs, chain_pct);
    feed(cfg, chain_pct);
    *aggregates += (uint64_t)check_run();
}

static void test_random_streams(void **state)
{
    static const int chain_pct[] = {0, 0, 25, 100};
    uint64_t agg_big = 0, agg_small = 0, inputs = 0;

    (void)state;
    print_message("test_rsc_property: RSC_SEED=%#llx\n", (unsigned long long)unit_seed);
    for (int run = 0; run < RUNS; run++) {
        int chains = chain_pct[unit_rnd() % RTE_DIM(chain_pct)];
        struct config big = {"big",
                             {random_max_frame(), random_max_frame()},
                             {random_max_segs(), random_max_segs()},
                             true,
                             true};
        struct config small = {
            "max_frame 2000", {2000, 2000}, {UINT16_MAX, UINT16_MAX}, true, true};
        struct config one_version = {"tso4 only", {1u << 20, 65535}, {UINT16_MAX, 64}, true, false};

        make_stream();
        inputs += (uint64_t)n_inputs;
        run_config(&big, run, chains, &agg_big);
        if (run % 2) {
            small.name = "max_frame 4000";
            small.max_frame[0] = small.max_frame[1] = 4000;
        }
        run_config(&small, run, chains, &agg_small);
        if (run % 3 == 0) {
            if (run % 2) {
                one_version.name = "tso6 only";
                one_version.tso4 = false;
                one_version.tso6 = true;
            }
            run_config(&one_version, run, chains, &agg_big);
        }
    }
    print_message("test_rsc_property: %d runs, %llu input frames, %llu aggregates to big "
                  "receivers, %llu to small ones; flushes:",
                  RUNS, (unsigned long long)inputs, (unsigned long long)agg_big,
                  (unsigned long long)agg_small);
    for (int i = 0; i < RSC_FLUSH_N; i++)
        print_message(" %s %llu", rsc_flush_names[i], (unsigned long long)flush_totals[i]);
    print_message("\n");
    /* the streams reach every reason to let an aggregate go */
    for (int i = 0; i < RSC_FLUSH_N; i++)
        CHECK(flush_totals[i] > 0);
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
    if (unit_eal_start("test_rsc_property", "256") < 0)
        return -1;
    pool = rte_pktmbuf_pool_create("rscp", POOL_SIZE, 0, PRIV_SIZE,
                                   RTE_PKTMBUF_HEADROOM + FRAME_MAX, 0);
    small_pool = rte_pktmbuf_pool_create("rscp_small", SMALL_SIZE, 0, PRIV_SIZE,
                                         RTE_PKTMBUF_HEADROOM + SMALL_ROOM, 0);
    return pool && small_pool ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_random_streams, reseed),
    };
    int failed;

    unit_seed_from_env("RSC_SEED", SEED_DEFAULT);
    if (start_eal() < 0) {
        fprintf(stderr, "test_rsc_property: DPDK did not start (run as root)\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    rte_mempool_free(small_pool);
    rte_mempool_free(pool);
    unit_eal_stop();
    return failed;
}
