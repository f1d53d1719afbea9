#include "port.h"

#include <string.h>

#include <rte_ether.h>

#include "offload/flow_hash.h"

const char *const port_drop_names[PORT_DROP_N] = {
#define X(id, name) [PORT_DROP_##id] = name,
    PORT_DROP_REASONS(X)
#undef X
};

void port_init(struct port *port, const struct port_class *class, const struct port_config *cfg)
{
    memset(port, 0, sizeof *port);
    port->class = class;
    strcpy(port->name, cfg->name);
    port->mtu = cfg->mtu;
    port->max_frame = cfg->mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;
    if (cfg->type == PORT_TYPE_AFXDP)
        port->rsc_refusal = "AF_XDP ports take no frame larger than the MTU";
    else if (!cfg->offload)
        port->rsc_refusal = "it was added with offload off (delete it and add it with offload on)";
    port->rsc = !port->rsc_refusal && config_port_rsc(cfg);
    port->n_rxq = 1;
    atomic_init(&port->numa, -1);
    port->steering = cfg->steer_mac ? PORT_STEER_MAC : PORT_STEER_RSS;
}

void port_split_by_flow(struct port_flow_split *split, struct rte_mbuf **pkts, uint16_t n,
                        uint16_t n_queues)
{
    memset(split->count, 0, sizeof split->count);
    for (uint16_t i = 0; i < n; i++) {
        uint16_t q = flow_hash_queue(flow_hash(pkts[i]), n_queues);
        split->pkts[q][split->count[q]++] = pkts[i];
    }
}
