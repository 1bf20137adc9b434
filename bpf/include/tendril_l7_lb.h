/* L7 load-balanced service frontends (mesh routes, GAMMA), as Cilium's "L7 LB" services.
 *
 * A frontend whose slot 0 in tendril_lb carries a proxy port is load-balanced by the node proxy,
 * not by the socket LB: connect4 leaves a pod's connection to that ClusterIP:port alone, and the
 * pod's from_container program hands its packets to the proxy's mesh listener (bpf_sk_assign), which
 * sees the ClusterIP:port as the local address of the accepted socket, picks the routes by it and
 * opens its own connection to the backend it chose. Sockets of the host's own network namespace are
 * still balanced by the socket LB: no tc program of a pod sees their packets. */
#ifndef TENDRIL_L7_LB_H
#define TENDRIL_L7_LB_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tendril_lb_maps.h"

/* The mesh listener port (host order) for a TCP connection to vip:port (both network order), or 0
 * when that destination is not an L7 load-balanced frontend. */
static __always_inline __u16 l7_lb_proxy_port(__u32 vip, __u16 port, __u8 protocol)
{
	struct lb_key key = { .vip = vip, .port = port, .protocol = protocol };
	struct lb_value *frontend;

	if (protocol != IPPROTO_TCP)
		return 0;
	frontend = bpf_map_lookup_elem(&tendril_lb, &key);
	return frontend ? bpf_ntohs(frontend->port) : 0;
}

#endif
