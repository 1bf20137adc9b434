/* Maps shared by the tc programs, pinned by name under the loader's pin directory
 * (default /sys/fs/bpf/tendril). The byte layouts here are mirrored by libs/datapath/src/maps/;
 * change both together. See bpf/README.md for why each map has the shape it has. */
#ifndef TENDRIL_MAPS_H
#define TENDRIL_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* ipcache: IPv4 prefix -> security identity. Longest prefix wins, so a pod /32 beats a CIDR. */
struct ipcache_key {
	__u32 prefixlen; /* 0..32 */
	__u32 addr;      /* network byte order */
};

struct ipcache_value {
	__u32 identity;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_value);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_ipcache SEC(".maps");

/* tendril_lxc, the endpoint map (Cilium's name for it; map names are at most 15 characters):
 * pod IPv4 (network order) -> the local endpoint behind it. */
struct endpoint_info {
	__u32 ifindex;     /* host-side veth; a packet from the pod must arrive on it */
	__u32 identity;    /* the pod's security identity */
	__u32 endpoint_id; /* selects the endpoint's entries in the policy map */
	__u32 flags;       /* reserved, 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct endpoint_info);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lxc SEC(".maps");

/* policy: one LPM trie for all endpoints. endpoint_id, identity and egress (72 bits) are always
 * matched exactly; protocol (8 bits) and dport (16 bits, network order) by prefix. */
#define POLICY_EXACT_PREFIX_BITS 72
#define POLICY_FULL_PREFIX_BITS (POLICY_EXACT_PREFIX_BITS + 24)

struct policy_key {
	__u32 prefixlen;
	__u32 endpoint_id;
	__u32 identity; /* remote identity, 0 = any */
	__u8 egress;    /* 1 = egress, 0 = ingress */
	__u8 protocol;  /* 0 = any */
	__u16 dport;    /* network order; ICMP: type << 8 */
};

struct policy_value {
	__u16 proxy_port; /* host order; 0 = no redirect */
	__u8 deny;
	__u8 prefix_len;  /* 0..24 bits of protocol + port the entry specified */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct policy_key);
	__type(value, struct policy_value);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_policy SEC(".maps");

/* Connection tracking: the 5-tuple of an allowed connection as its first packet carried it. A
 * packet whose reversed tuple is here is a reply and is never policy-checked. */
struct ct_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	__u8 pad[3];
};

#define CT_FLAG_PROXY_REDIRECT 1
#define CT_FLAG_CLOSING 2 /* TCP: a FIN or RST was seen, the connection is ending */

/* last_seen (bpf_ktime_get_ns of its latest packet, either direction) and CT_FLAG_CLOSING tell the
 * agent which connections are still alive: it keeps expired toFQDNs addresses while they are (DNS
 * zombies) and removes entries whose lifetime ran out (libs/datapath/src/maps/conntrack.ts). */
struct ct_entry {
	__u32 src_identity;
	__u32 flags;
	__u64 last_seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_ct_v2 SEC(".maps"); /* v2: the entry grew last_seen; a v1 pin left by an older agent is not reused (libbpf refuses a pin of another shape) */

/* Dropped packets per reason (index = DROP_* below), one counter per CPU. */
#define DROP_POLICY_DENIED 1        /* no policy entry matched */
#define DROP_POLICY_DENY_RULE 2     /* a deny entry matched ("denied by denylist") */
#define DROP_UNKNOWN_SOURCE 3       /* the source IP is not the endpoint of this veth */
#define DROP_UNKNOWN_DESTINATION 4  /* the destination IP is not the endpoint of this veth */
#define DROP_UNSUPPORTED_L3 5       /* not IPv4 or ARP */
#define DROP_MALFORMED 6            /* truncated headers */
#define DROP_FRAGMENT 7             /* IPv4 fragments are not reassembled */
#define DROP_PROXY_UNAVAILABLE 8    /* redirect verdict, but no proxy listener on the port */
#define DROP_REDIRECT_UNSUPPORTED 9 /* redirect verdict where this datapath cannot steer */
#define DROP_REASON_COUNT 16

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, DROP_REASON_COUNT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_drops SEC(".maps");

/* tendril_config: settings the loader writes, one slot (key 0). */
struct datapath_config {
	/* The host end of the hairpin veth pair (tendril_host): to_container sends an L7-redirected
	 * packet out of it, so that it arrives on the other end's tc ingress, where bpf_sk_assign
	 * works. 0 = no hairpin: such packets are dropped as DROP_REDIRECT_UNSUPPORTED. */
	__u32 hairpin_ifindex;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct datapath_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_config SEC(".maps");

#endif
