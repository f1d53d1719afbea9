#include "netif.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"

/* The interface ioctls need some socket to go through; any datagram socket does. */
static int ifreq_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = 0;

    if (fd < 0)
        return errno;
    util_strlcpy(ifr->ifr_name, ifname, sizeof ifr->ifr_name);
    if (ioctl(fd, request, ifr) < 0)
        rc = errno;
    close(fd);
    return rc;
}

int netif_set_up(const char *ifname)
{
    struct ifreq ifr;
    int rc;

    memset(&ifr, 0, sizeof ifr);
    if ((rc = ifreq_ioctl(ifname, SIOCGIFFLAGS, &ifr)) != 0)
        return rc;
    if (ifr.ifr_flags & IFF_UP)
        return 0;
    ifr.ifr_flags |= IFF_UP;
    return ifreq_ioctl(ifname, SIOCSIFFLAGS, &ifr);
}

int netif_set_mtu(const char *ifname, uint32_t mtu)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = (int)mtu;
    return ifreq_ioctl(ifname, SIOCSIFMTU, &ifr);
}
