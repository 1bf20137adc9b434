/* UDP redirect to a proxy socket (the DNS proxy, policy-semantics.md §6.3), kept apart from
 * tendril_lxc.c's TCP path. A UDP proxy socket is unconnected and bound to 127.0.0.1:proxy_port
 * (or 0.0.0.0) with IP_TRANSPARENT and IP_RECVORIGDSTADDR, so one socket takes every pod's
 * datagrams and learns each one's original destination from the ancillary data; there is no
 * per-flow socket to look for first, as there is for TCP. DNS over TCP needs nothing of its own: a
 * TCP port-53 redirect takes tendril_lxc.c's TCP path to the DNS proxy's transparent listener on
 * the same port number. */
#ifndef TENDRIL_PROXY_UDP_H
#define TENDRIL_PROXY_UDP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Assigns the packet (saddr:sport as the pod sent it, network order) to the UDP socket on
 * 127.0.0.1:proxy_port. Returns 0 when assigned, < 0 when there is no such socket or the
 * assignment failed; the caller drops the packet then and marks it for local delivery otherwise. */
static __always_inline long assign_udp_proxy_socket(struct __sk_buff *skb, __u32 saddr, __u16 sport, __u16 proxy_port)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;
	long err;

	tuple.ipv4.saddr = saddr;
	tuple.ipv4.sport = sport;
	tuple.ipv4.daddr = bpf_htonl(0x7f000001);
	tuple.ipv4.dport = bpf_htons(proxy_port);
	sk = bpf_sk_lookup_udp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return -1;
	err = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	return err;
}

#endif
