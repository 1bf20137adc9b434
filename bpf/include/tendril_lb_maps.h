/* Maps of the socket-level load balancer (tendril_sock.c), pinned next to the tc programs' maps.
 * The byte layouts are mirrored by libs/datapath/src/maps/services.ts; change both together. */
#ifndef TENDRIL_LB_MAPS_H
#define TENDRIL_LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* One service frontend (ClusterIP, port, protocol) owns slots 0..count of this map: slot 0 holds
 * the number of backends, slots 1..count one backend each. */
struct lb_key {
	__u32 vip;      /* network order */
	__u16 port;     /* network order */
	__u8 protocol;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
	__u32 slot;
};

struct lb_value {
	__u32 addr;    /* backend IPv4, network order (slots >= 1) */
	/* Slots >= 1: backend port, network order. Slot 0: the node proxy's mesh listener port (network
	 * order) when the frontend is L7 load-balanced (it has mesh routes, see tendril_l7_lb.h), else 0. */
	__u16 port;
	__u16 count;   /* number of backends (slot 0) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb_key);
	__type(value, struct lb_value);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb SEC(".maps");

/* Reverse translation for unconnected UDP sockets: which frontend a socket sent a datagram to
 * through which backend, so the reply's source can be shown as the frontend again. */
struct lb_revnat_key {
	__u64 cookie;
	__u32 backend_addr;
	__u16 backend_port;
	__u16 pad;
};

struct lb_revnat_value {
	__u32 vip;
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_revnat_key);
	__type(value, struct lb_revnat_value);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb_rev SEC(".maps");

#endif
