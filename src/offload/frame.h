/*
 * Where the headers of an Ethernet frame are: the Ethernet header and up to two VLAN tags,
 * then IPv4 (with options) or IPv6 (with the extension headers that may precede an L4 header).
 * Read from the frame's first segment only, which is where every port puts the headers.
 * Used by the offload engines that must find the TCP or UDP header before they trust a frame.
 */
#ifndef HASHI_FRAME_H
#define HASHI_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define FRAME_MAX_VLAN_TAGS 2 /* 802.1ad outer + 802.1Q inner */

struct frame_headers {
    uint16_t l2_len;
    uint16_t ip_version; /* 4, 6, or 0 for anything else (or headers cut short) */
    uint16_t l3_len;     /* IPv4 header with options; IPv6 header with extension headers */
    uint8_t l4_proto;    /* IPv4 protocol or IPv6 next header after the extensions */
    bool fragment;       /* an IP fragment, or extension headers that could not be walked: no
                            L4 header to use */
    bool cut_short;      /* the Ethernet header, a VLAN tag or the fixed IP header did not fit
                            the first segment (IPv4 options and IPv6 extension headers are the
                            caller's to check against it) */
};

/* Fills f from m's first segment. Never reads beyond it. */
void frame_parse(const struct rte_mbuf *m, struct frame_headers *f);

#endif
