#include "frame.h"

#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>

/* Walks IPv6 extension headers that may precede TCP in a TSO frame (hop-by-hop, routing,
 * destination options), so that l3_len ends at the L4 header. A fragment header, or one that
 * does not fit, leaves the frame marked as having no usable L4 header. */
static void skip_ipv6_extensions(const uint8_t *ip, uint32_t len, struct frame_headers *f)
{
    for (int i = 0; i < 8; i++) {
        const uint8_t *ext = ip + f->l3_len;
        switch (f->l4_proto) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
            if (len < f->l3_len + 8u)
                break;
            f->l4_proto = ext[0];
            f->l3_len += (uint16_t)((ext[1] + 1) * 8);
            continue;
        case IPPROTO_FRAGMENT:
            f->fragment = true;
            return;
        default:
            if (len < f->l3_len)
                f->fragment = true;
            return;
        }
        break;
    }
    f->fragment = true;
}

void frame_parse(const struct rte_mbuf *m, struct frame_headers *f)
{
    const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    uint16_t type;

    memset(f, 0, sizeof *f);
    if (len < RTE_ETHER_HDR_LEN) {
        f->cut_short = true;
        return;
    }
    f->l2_len = RTE_ETHER_HDR_LEN;
    type = rte_be_to_cpu_16(((const struct rte_ether_hdr *)p)->ether_type);
    for (int tags = 0;
         tags < FRAME_MAX_VLAN_TAGS && (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ);
         tags++) {
        if (len < f->l2_len + sizeof(struct rte_vlan_hdr)) {
            f->cut_short = true;
            return;
        }
        type = rte_be_to_cpu_16(((const struct rte_vlan_hdr *)(p + f->l2_len))->eth_proto);
        f->l2_len += sizeof(struct rte_vlan_hdr);
    }
    p += f->l2_len;
    len -= f->l2_len;
    if (type == RTE_ETHER_TYPE_IPV4 && len >= sizeof(struct rte_ipv4_hdr)) {
        const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;
        if ((ip->version_ihl >> 4) != 4 || rte_ipv4_hdr_len(ip) < sizeof *ip)
            return;
        f->ip_version = 4;
        f->l3_len = rte_ipv4_hdr_len(ip);
        f->l4_proto = ip->next_proto_id;
        f->fragment = (ip->fragment_offset &
                       rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
    } else if (type == RTE_ETHER_TYPE_IPV6 && len >= sizeof(struct rte_ipv6_hdr)) {
        const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)p;
        if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6)
            return;
        f->ip_version = 6;
        f->l3_len = sizeof *ip;
        f->l4_proto = ip->proto;
        skip_ipv6_extensions(p, len, f);
    } else if (type == RTE_ETHER_TYPE_IPV4 || type == RTE_ETHER_TYPE_IPV6) {
        f->cut_short = true;
    }
}
