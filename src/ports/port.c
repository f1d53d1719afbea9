#include "port.h"

#include <string.h>

#include <rte_ether.h>

extern const struct port_class vhost_port_class;

const char *const port_drop_names[PORT_DROP_N] = {
#define X(id, name, doc) [PORT_DROP_##id] = name,
    PORT_DROP_REASONS(X)
#undef X
};

const struct port_class *port_class_find(enum port_type type)
{
    switch (type) {
    case PORT_TYPE_VHOST_USER:
        return &vhost_port_class;
    case PORT_TYPE_NONE:
        break;
    }
    return NULL;
}

void port_init(struct port *port, const struct port_class *class, const struct port_config *cfg)
{
    memset(port, 0, sizeof *port);
    port->class = class;
    strcpy(port->name, cfg->name);
    port->mtu = cfg->mtu;
    port->max_frame = cfg->mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;
}
