/* tc programs for a pod's host-side veth.
 *
 * from_container (tc ingress: packets the pod sends) enforces the pod's EGRESS policy and, when the
 * destination is another local endpoint, that endpoint's INGRESS policy too, because only a tc
 * ingress hook can steer a packet to the proxy with bpf_sk_assign. It marks such packets
 * MARK_INGRESS_CHECKED so to_container does not check them again.
 *
 * to_container (tc egress: packets delivered to the pod) enforces the pod's INGRESS policy for
 * everything that was not already checked: traffic from the host, from outside the node, and from
 * the node proxy (whose mark carries the original source identity, policy-semantics.md §6.5).
 * An L7 ingress redirect found there cannot be assigned to the proxy on tc egress; the packet goes
 * around the hairpin veth pair (as Cilium's cilium_host/cilium_net) to from_hairpin, on the other
 * end's tc ingress, which does.
 *
 * Both pass replies of tracked connections without a policy check (§2.1) and drop everything
 * they cannot decide: a missing endpoint or policy entry is a drop, so the datapath fails closed. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tendril_maps.h"
#include "tendril_l7_lb.h"
#include "tendril_proxy_udp.h"

#define IDENTITY_WORLD 2

/* skb->mark values (policy-semantics.md §6.3, §6.5); the 0x0F00 nibble says who marked it. */
#define MARK_MAGIC_MASK 0x0F00
#define MARK_TO_PROXY 0x0200          /* ip rule fwmark 0x200/0xf00 delivers it locally */
#define MARK_INGRESS_CHECKED 0x0300   /* from_container already applied the destination's ingress policy */
#define MARK_FROM_INGRESS_PROXY 0x0A00
#define MARK_FROM_EGRESS_PROXY 0x0B00

#define LOOPBACK_ADDR 0x7f000001

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

enum verdict_kind { VERDICT_ALLOW, VERDICT_REDIRECT, VERDICT_DROP };

struct verdict {
	enum verdict_kind kind;
	__u32 drop_reason;
	__u16 proxy_port;
};

struct packet {
	struct ct_key tuple; /* addresses and ports in network order, as on the wire */
	__u16 policy_port;   /* host order: destination port, or ICMP type << 8 */
	__u8 tcp_flags;      /* TCP only */
};

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
/* Offset of the flags byte in the TCP header. */
#define TCP_FLAGS_OFFSET 13

static __always_inline int drop(__u32 reason)
{
	__u64 *count = bpf_map_lookup_elem(&tendril_drops, &reason);

	if (count)
		*count += 1;
	return TC_ACT_SHOT;
}

/* Returns 0 and fills p for IPv4, 1 for ARP (passed untouched), or a negative DROP_* reason. */
static __always_inline int parse_packet(struct __sk_buff *skb, struct packet *p)
{
	struct ethhdr eth;
	struct iphdr ip;
	__u32 l4_offset;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -DROP_MALFORMED;
	if (eth.h_proto == bpf_htons(ETH_P_ARP))
		return 1;
	if (eth.h_proto != bpf_htons(ETH_P_IP))
		return -DROP_UNSUPPORTED_L3;
	if (bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) < 0 || ip.ihl < 5)
		return -DROP_MALFORMED;
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -DROP_FRAGMENT;

	__builtin_memset(p, 0, sizeof(*p));
	p->tuple.saddr = ip.saddr;
	p->tuple.daddr = ip.daddr;
	p->tuple.protocol = ip.protocol;
	l4_offset = sizeof(eth) + ip.ihl * 4;

	switch (ip.protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__u16 ports[2];

		if (bpf_skb_load_bytes(skb, l4_offset, ports, sizeof(ports)) < 0)
			return -DROP_MALFORMED;
		p->tuple.sport = ports[0];
		p->tuple.dport = ports[1];
		p->policy_port = bpf_ntohs(ports[1]);
		if (ip.protocol == IPPROTO_TCP && bpf_skb_load_bytes(skb, l4_offset + TCP_FLAGS_OFFSET, &p->tcp_flags, 1) < 0)
			return -DROP_MALFORMED;
		break;
	}
	case IPPROTO_ICMP: {
		/* type, code, checksum, echo identifier */
		__u8 header[6];
		__u16 echo_id;

		if (bpf_skb_load_bytes(skb, l4_offset, header, sizeof(header)) < 0)
			return -DROP_MALFORMED;
		echo_id = header[4] | (header[5] << 8);
		/* An echo request and its reply get mirrored tuples, so the reply is found as a reply. */
		if (header[0] == ICMP_ECHO)
			p->tuple.sport = echo_id;
		else if (header[0] == ICMP_ECHOREPLY)
			p->tuple.dport = echo_id;
		p->policy_port = header[0] << 8;
		break;
	}
	default:
		break;
	}
	return 0;
}

/*
 * Only TCP, UDP, SCTP and ICMP echo open connections. Other ICMP messages (unreachable, time
 * exceeded, ...) quote the packet they answer, and keying them by addresses alone would let any
 * later such message between the same two pods pass as a "reply" (Cilium relates them to the quoted
 * connection instead); here they are never replies and always policy-checked, which fails closed.
 */
static __always_inline int icmp_type_of(const struct packet *p)
{
	return p->tuple.protocol == IPPROTO_ICMP ? (p->policy_port >> 8) : -1;
}

static __always_inline __u32 closing_flag(const struct packet *p)
{
	return p->tuple.protocol == IPPROTO_TCP && (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) ? CT_FLAG_CLOSING : 0;
}

/* A reply also refreshes its connection's entry (last_seen, and CT_FLAG_CLOSING on a FIN or RST). */
static __always_inline int is_reply(const struct packet *p)
{
	int icmp_type = icmp_type_of(p);
	struct ct_entry *entry;

	if (icmp_type >= 0 && icmp_type != ICMP_ECHOREPLY)
		return 0;

	struct ct_key reversed = {
		.saddr = p->tuple.daddr,
		.daddr = p->tuple.saddr,
		.sport = p->tuple.dport,
		.dport = p->tuple.sport,
		.protocol = p->tuple.protocol,
	};

	entry = bpf_map_lookup_elem(&tendril_ct_v2, &reversed);
	if (!entry)
		return 0;
	entry->last_seen = bpf_ktime_get_ns();
	entry->flags |= closing_flag(p);
	return 1;
}

static __always_inline void track(const struct packet *p, __u32 src_identity, __u32 flags)
{
	struct ct_entry entry = { .src_identity = src_identity, .flags = flags | closing_flag(p), .last_seen = bpf_ktime_get_ns() };
	struct ct_entry *previous;
	int icmp_type = icmp_type_of(p);

	if (icmp_type >= 0 && icmp_type != ICMP_ECHO)
		return;
	/* A connection that began ending stays ending, until a new SYN reuses its tuple. */
	previous = bpf_map_lookup_elem(&tendril_ct_v2, &p->tuple);
	if (previous && !(p->tcp_flags & TCP_FLAG_SYN && !(p->tcp_flags & TCP_FLAG_ACK)))
		entry.flags |= previous->flags & CT_FLAG_CLOSING;

	bpf_map_update_elem(&tendril_ct_v2, &p->tuple, &entry, BPF_ANY);
}

static __always_inline __u32 identity_of(__u32 addr)
{
	struct ipcache_key key = { .prefixlen = 32, .addr = addr };
	struct ipcache_value *value = bpf_map_lookup_elem(&tendril_ipcache, &key);

	return value ? value->identity : IDENTITY_WORLD;
}

/* The same decision as lookupPolicyMap in libs/policy/src/policy-map.ts: an identity-specific
 * and an any-identity LPM lookup; a deny in either wins; else a redirect beats a plain allow;
 * else the longer protocol/port prefix wins, ties going to the identity-specific entry. */
static __always_inline struct verdict policy_verdict(__u32 endpoint_id, __u32 remote_identity, __u8 egress,
						     const struct packet *p)
{
	struct verdict v = { .kind = VERDICT_DROP, .drop_reason = DROP_POLICY_DENIED };
	struct policy_key key = {
		.prefixlen = POLICY_FULL_PREFIX_BITS,
		.endpoint_id = endpoint_id,
		.identity = remote_identity,
		.egress = egress,
		.protocol = p->tuple.protocol,
		.dport = bpf_htons(p->policy_port),
	};
	struct policy_value *l3 = bpf_map_lookup_elem(&tendril_policy, &key);
	struct policy_value *l4 = NULL;
	struct policy_value *chosen;

	if (remote_identity != 0) {
		key.identity = 0;
		l4 = bpf_map_lookup_elem(&tendril_policy, &key);
	}
	if ((l3 && l3->deny) || (l4 && l4->deny)) {
		v.drop_reason = DROP_POLICY_DENY_RULE;
		return v;
	}
	if (!l3)
		chosen = l4;
	else if (!l4)
		chosen = l3;
	else if ((l4->proxy_port != 0) != (l3->proxy_port != 0))
		chosen = l4->proxy_port ? l4 : l3;
	else
		chosen = l4->prefix_len > l3->prefix_len ? l4 : l3;
	if (!chosen)
		return v;
	v.kind = chosen->proxy_port ? VERDICT_REDIRECT : VERDICT_ALLOW;
	v.proxy_port = chosen->proxy_port;
	return v;
}

/* Hands a TCP packet (or a UDP one, tendril_proxy_udp.h) to the node proxy: to the proxy's socket of this very connection if it
 * exists, else to its listener on 127.0.0.1:proxy_port (which must have IP_TRANSPARENT, so the
 * accepted socket's local address is the destination the pod dialled). */
static __always_inline int redirect_to_proxy(struct __sk_buff *skb, const struct packet *p, __u16 proxy_port)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;
	long err;

	if (p->tuple.protocol == IPPROTO_UDP) {
		if (assign_udp_proxy_socket(skb, p->tuple.saddr, p->tuple.sport, proxy_port))
			return drop(DROP_PROXY_UNAVAILABLE);
		skb->mark = MARK_TO_PROXY;
		return TC_ACT_OK;
	}
	if (p->tuple.protocol != IPPROTO_TCP)
		return drop(DROP_REDIRECT_UNSUPPORTED);
	tuple.ipv4.saddr = p->tuple.saddr;
	tuple.ipv4.daddr = p->tuple.daddr;
	tuple.ipv4.sport = p->tuple.sport;
	tuple.ipv4.dport = p->tuple.dport;
	sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (sk) {
		if (sk->state != BPF_TCP_LISTEN)
			goto assign;
		bpf_sk_release(sk);
	}
	tuple.ipv4.daddr = bpf_htonl(LOOPBACK_ADDR);
	tuple.ipv4.dport = bpf_htons(proxy_port);
	sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return drop(DROP_PROXY_UNAVAILABLE);
assign:
	err = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return drop(DROP_PROXY_UNAVAILABLE);
	skb->mark = MARK_TO_PROXY;
	return TC_ACT_OK;
}

/* tc egress cannot bpf_sk_assign: the packet leaves through the hairpin device (the host end of a
 * veth pair) and comes back in on its peer, whose tc ingress (from_hairpin) assigns it to the
 * proxy. The proxy port rides in the mark's upper half; the mark survives the crossing (same
 * network namespace). */
static __always_inline int hairpin_to_proxy(struct __sk_buff *skb, const struct packet *p, __u32 src_identity, __u16 proxy_port)
{
	__u32 key = 0;
	struct datapath_config *config = bpf_map_lookup_elem(&tendril_config, &key);

	if (p->tuple.protocol != IPPROTO_TCP || !config || !config->hairpin_ifindex)
		return drop(DROP_REDIRECT_UNSUPPORTED);
	track(p, src_identity, CT_FLAG_PROXY_REDIRECT);
	skb->mark = MARK_TO_PROXY | ((__u32)proxy_port << 16);
	return bpf_redirect(config->hairpin_ifindex, 0);
}

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct packet p;
	struct endpoint_info *src, *dst;
	struct verdict egress, ingress = { .kind = VERDICT_ALLOW };
	__u16 proxy_port = 0;
	int parsed = parse_packet(skb, &p);

	if (parsed < 0)
		return drop(-parsed);
	if (parsed > 0)
		return TC_ACT_OK;

	src = bpf_map_lookup_elem(&tendril_lxc, &p.tuple.saddr);
	if (!src || src->ifindex != skb->ifindex)
		return drop(DROP_UNKNOWN_SOURCE);
	if (is_reply(&p))
		return TC_ACT_OK;
	/* A connection to a Service with mesh routes goes to the node proxy's mesh listener. */
	proxy_port = l7_lb_proxy_port(p.tuple.daddr, p.tuple.dport, p.tuple.protocol);
	if (proxy_port) {
		track(&p, src->identity, CT_FLAG_PROXY_REDIRECT);
		return redirect_to_proxy(skb, &p, proxy_port);
	}

	egress = policy_verdict(src->endpoint_id, identity_of(p.tuple.daddr), 1, &p);
	if (egress.kind == VERDICT_DROP)
		return drop(egress.drop_reason);
	dst = bpf_map_lookup_elem(&tendril_lxc, &p.tuple.daddr);
	if (dst) {
		ingress = policy_verdict(dst->endpoint_id, src->identity, 0, &p);
		if (ingress.kind == VERDICT_DROP)
			return drop(ingress.drop_reason);
	}

	/* One proxy pass per connection: the egress listener when the pod's egress rules carry L7,
	 * else the destination's ingress listener. */
	if (egress.kind == VERDICT_REDIRECT)
		proxy_port = egress.proxy_port;
	else if (ingress.kind == VERDICT_REDIRECT)
		proxy_port = ingress.proxy_port;
	track(&p, src->identity, proxy_port ? CT_FLAG_PROXY_REDIRECT : 0);
	if (proxy_port)
		return redirect_to_proxy(skb, &p, proxy_port);
	if (dst)
		skb->mark = MARK_INGRESS_CHECKED;
	return TC_ACT_OK;
}

SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct packet p;
	struct endpoint_info *dst;
	struct verdict ingress;
	__u32 magic = skb->mark & MARK_MAGIC_MASK;
	__u32 src_identity;
	int parsed = parse_packet(skb, &p);

	if (parsed < 0)
		return drop(-parsed);
	if (parsed > 0)
		return TC_ACT_OK;

	dst = bpf_map_lookup_elem(&tendril_lxc, &p.tuple.daddr);
	if (!dst || dst->ifindex != skb->ifindex)
		return drop(DROP_UNKNOWN_DESTINATION);
	if (is_reply(&p) || magic == MARK_INGRESS_CHECKED)
		return TC_ACT_OK;

	if (magic == MARK_FROM_INGRESS_PROXY) {
		/* The proxy applied this endpoint's ingress policy (L3/L4 at redirect time, L7 itself). */
		src_identity = ((skb->mark & 0xFF) << 16) | (skb->mark >> 16);
		track(&p, src_identity, 0);
		return TC_ACT_OK;
	}
	if (magic == MARK_FROM_EGRESS_PROXY)
		src_identity = ((skb->mark & 0xFF) << 16) | (skb->mark >> 16);
	else
		src_identity = identity_of(p.tuple.saddr);

	ingress = policy_verdict(dst->endpoint_id, src_identity, 0, &p);
	if (ingress.kind == VERDICT_DROP)
		return drop(ingress.drop_reason);
	/* Traffic from the host, from outside the node or from the egress proxy, to a port whose ingress
	 * rules carry L7: to the ingress proxy, by way of the hairpin. */
	if (ingress.kind == VERDICT_REDIRECT)
		return hairpin_to_proxy(skb, &p, src_identity, ingress.proxy_port);
	track(&p, src_identity, 0);
	return TC_ACT_OK;
}

/* tc ingress of the hairpin device's peer: only packets to_container sent around arrive here. */
SEC("tc")
int from_hairpin(struct __sk_buff *skb)
{
	struct packet p;
	__u16 proxy_port = skb->mark >> 16;
	int parsed = parse_packet(skb, &p);

	if (parsed < 0)
		return drop(-parsed);
	if (parsed > 0 || (skb->mark & MARK_MAGIC_MASK) != MARK_TO_PROXY || !proxy_port)
		return drop(DROP_REDIRECT_UNSUPPORTED);
	/* The frame still has the pod's MAC as destination; it is for this host now. */
	bpf_skb_change_type(skb, 0 /* PACKET_HOST */);
	return redirect_to_proxy(skb, &p, proxy_port);
}

char LICENSE[] SEC("license") = "GPL";
