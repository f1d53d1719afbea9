#include "vnet_hdr.h"

#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "offload/csum.h"
#include "offload/frame.h"

/* The L4 checksum request as an mbuf flag, when the frame's own headers say that csum_start is
 * the TCP or UDP header that follows the IP header (and its IPv6 extension headers) and
 * csum_offset is that protocol's field. Anything else (ICMP, fragments, a start elsewhere...)
 * returns 0: the checksum is then completed at once, which is always correct, only slower. */
static uint64_t csum_flag(const struct frame_headers *f, uint16_t start, uint16_t offset)
{
    /* (an mbuf holds l2_len in 7 bits and l3_len in 9: longer headers cannot be described) */
    if (f->ip_version == 0 || f->fragment || start != f->l2_len + f->l3_len || f->l2_len >= 128 ||
        f->l3_len >= 512)
        return 0;
    if (f->l4_proto == IPPROTO_TCP && offset == TCP_CSUM_OFFSET)
        return RTE_MBUF_F_TX_TCP_CKSUM;
    if (f->l4_proto == IPPROTO_UDP && offset == UDP_CSUM_OFFSET)
        return RTE_MBUF_F_TX_UDP_CKSUM;
    return 0;
}

static enum vnet_verdict set_csum(const struct virtio_net_hdr *h, const struct frame_headers *f,
                                  struct rte_mbuf *m)
{
    uint32_t start = h->csum_start, offset = h->csum_offset;
    uint64_t flag;

    /* the field must be inside the first segment, which holds the headers */
    if (start + offset + sizeof(uint16_t) > rte_pktmbuf_data_len(m))
        return VNET_BAD_CSUM_OFFSET;
    flag = csum_flag(f, (uint16_t)start, (uint16_t)offset);
    if (flag == 0)
        return csum_complete_at(m, start, offset) == 0 ? VNET_OK : VNET_BAD_CSUM_OFFSET;
    m->l2_len = f->l2_len;
    m->l3_len = f->l3_len;
    m->ol_flags |= flag | (f->ip_version == 4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6);
    return VNET_OK;
}

/* TCP segmentation request: the frame must be TCP over the IP version gso_type names, with the
 * partial checksum on the TCP header (the kernel always sends GSO frames that way), a whole TCP
 * header in the first segment and some payload behind it. hdr_len is only a hint (Linux treats
 * it so too), but one beyond the frame means the header is not this frame's. */
static enum vnet_verdict set_gso(const struct virtio_net_hdr *h, const struct frame_headers *f,
                                 struct rte_mbuf *m)
{
    const struct rte_tcp_hdr *tcp;
    uint32_t hdrs, l4_len;
    int version;

    /* The ECN bit marks a frame whose first segment carries CWR (the kernel's GRO sets it on
     * what a packet socket reads). Segmenting keeps CWR on the first segment only, which is
     * what gso.c and the receivers' own GSO do anyway, so the bit needs no state of its own. */
    switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_TCPV4:
        version = 4;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        version = 6;
        break;
    default: /* UDP: never offered to the kernel, so never valid from it */
        return VNET_BAD_GSO;
    }
    if (f->ip_version != version || f->l4_proto != IPPROTO_TCP || f->fragment || h->gso_size == 0 ||
        h->hdr_len > rte_pktmbuf_pkt_len(m))
        return VNET_BAD_GSO;
    if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM))
        return VNET_BAD_CSUM_OFFSET;
    if (m->l2_len + m->l3_len + sizeof *tcp > rte_pktmbuf_data_len(m))
        return VNET_BAD_GSO;
    tcp = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, m->l2_len + m->l3_len);
    l4_len = (uint32_t)(tcp->data_off >> 4) * 4;
    hdrs = m->l2_len + m->l3_len + l4_len;
    if (l4_len < sizeof *tcp || hdrs > rte_pktmbuf_data_len(m) || hdrs >= rte_pktmbuf_pkt_len(m))
        return VNET_BAD_GSO;
    m->l4_len = l4_len;
    m->tso_segsz = h->gso_size;
    m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
    return VNET_OK;
}

/* A GRO frame whose segments a NIC (or the kernel) verified: DATA_VALID without NEEDS_CSUM, and
 * a TCP checksum field that holds nothing useful for the whole frame. It becomes what every other
 * TSO frame is, a partial checksum: the field is seeded with the pseudo-header sum over the TCP
 * length, which whoever completes or segments the frame starts from. Fills *csum with the
 * NEEDS_CSUM header that now describes the frame. */
static enum vnet_verdict seed_valid_gso(const struct frame_headers *f, struct rte_mbuf *m,
                                        struct virtio_net_hdr *csum)
{
    uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, f->l2_len);
    uint32_t l4 = (uint32_t)f->l2_len + f->l3_len, tcp_len, sum;
    bool v4 = f->ip_version == 4;

    if (f->ip_version == 0 || f->fragment || f->l4_proto != IPPROTO_TCP ||
        l4 + TCP_CSUM_OFFSET + sizeof(uint16_t) > rte_pktmbuf_data_len(m))
        return VNET_BAD_GSO;
    tcp_len = rte_pktmbuf_pkt_len(m) - l4;
    if (tcp_len > UINT16_MAX)
        return VNET_BAD_GSO;
    /* addresses (IPv4 at 12, IPv6 at 8), then protocol and length; rte_raw_cksum sums words as
     * they lie in memory, so the other terms join it in network order */
    sum = rte_raw_cksum(ip + (v4 ? 12 : 8), v4 ? 8 : 32) + rte_cpu_to_be_16(IPPROTO_TCP) +
          rte_cpu_to_be_16((uint16_t)tcp_len);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    *(unaligned_uint16_t *)(ip + f->l3_len + TCP_CSUM_OFFSET) = (uint16_t)sum;
    csum->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    csum->csum_start = (uint16_t)l4;
    csum->csum_offset = TCP_CSUM_OFFSET;
    return VNET_OK;
}

enum vnet_verdict vnet_hdr_to_mbuf(const struct virtio_net_hdr *h, struct rte_mbuf *m)
{
    struct frame_headers f;
    struct virtio_net_hdr seeded;
    enum vnet_verdict v;

    m->ol_flags = 0;
    if (h->flags == 0 && h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
        return VNET_OK; /* the common case without offloads: nothing to look at */
    if (h->flags == VIRTIO_NET_HDR_F_DATA_VALID && h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
        m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD; /* coalescing need not check it again */
        return VNET_OK;
    }
    frame_parse(m, &f);
    if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) &&
        h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        seeded = *h;
        if ((v = seed_valid_gso(&f, m, &seeded)) != VNET_OK)
            return v;
        h = &seeded;
    }
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        v = set_csum(h, &f, m);
        if (v != VNET_OK)
            return v;
    } else if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        return VNET_BAD_CSUM_OFFSET;
    }
    if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE)
        return set_gso(h, &f, m);
    return VNET_OK;
}

void vnet_hdr_from_mbuf(const struct rte_mbuf *m, struct virtio_net_hdr *h)
{
    uint64_t l4 = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;

    memset(h, 0, sizeof *h);
    if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) {
        h->gso_type = (m->ol_flags & RTE_MBUF_F_TX_IPV6) ? VIRTIO_NET_HDR_GSO_TCPV6
                                                         : VIRTIO_NET_HDR_GSO_TCPV4;
        h->gso_size = m->tso_segsz;
        h->hdr_len = (uint16_t)(m->l2_len + m->l3_len + m->l4_len);
        l4 = RTE_MBUF_F_TX_TCP_CKSUM; /* TSO implies the TCP checksum (DPDK's convention) */
    }
    if (l4 == RTE_MBUF_F_TX_TCP_CKSUM || l4 == RTE_MBUF_F_TX_UDP_CKSUM) {
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->csum_start = (uint16_t)(m->l2_len + m->l3_len);
        h->csum_offset = l4 == RTE_MBUF_F_TX_TCP_CKSUM ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET;
    }
}
