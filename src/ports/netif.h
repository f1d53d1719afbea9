/*
 * Small settings of kernel network interfaces (in hashi's network namespace) that the TAP and
 * AF_PACKET ports need: bringing one up and setting its MTU.
 */
#ifndef HASHI_NETIF_H
#define HASHI_NETIF_H

#include <stddef.h>
#include <stdint.h>

/* Sets IFF_UP on the interface. Returns 0 or a positive errno. */
int netif_set_up(const char *ifname);

/* Sets the interface's MTU. Returns 0 or a positive errno. */
int netif_set_mtu(const char *ifname, uint32_t mtu);

#endif
