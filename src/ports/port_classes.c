/* The one place that knows every port type: maps a configured type to its port_class. */
#include "port.h"

extern const struct port_class vhost_port_class;
extern const struct port_class tap_port_class;
extern const struct port_class afpacket_port_class;
extern const struct port_class afxdp_port_class;

const struct port_class *port_class_find(enum port_type type)
{
    switch (type) {
    case PORT_TYPE_VHOST_USER:
        return &vhost_port_class;
    case PORT_TYPE_TAP:
        return &tap_port_class;
    case PORT_TYPE_AFPACKET:
        return &afpacket_port_class;
    case PORT_TYPE_AFXDP:
        return &afxdp_port_class;
    case PORT_TYPE_NONE:
        break;
    }
    return NULL;
}
