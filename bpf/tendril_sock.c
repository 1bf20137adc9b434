/* Socket-level load balancing for ClusterIP services (cgroup v2 sock_addr hooks).
 *
 * connect4 and sendmsg4 rewrite a socket's destination from a service frontend (VIP:port) to one
 * of its backends before any packet exists, so the tc programs, policy included, only ever see
 * the backend address and port (policy applies to the post-translation port, policy-semantics.md
 * §1.9), and no per-packet NAT or conntrack is needed. recvmsg4 shows replies on unconnected UDP
 * sockets as coming from the frontend again. A socket keeps one backend (chosen by its cookie).
 * Destinations that are not frontends pass untouched; a frontend with no backends refuses the
 * connect/send (EPERM), as nothing could answer it. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "tendril_lb_maps.h"
#include "tendril_l7_lb.h"

#define SOCK_ALLOW 1
#define SOCK_REJECT 0

/* Returns SOCK_ALLOW with *backend set (or NULL when dst is not a frontend), or SOCK_REJECT. */
static __always_inline int pick_backend(struct bpf_sock_addr *ctx, struct lb_value **backend)
{
	struct lb_key key = {
		.vip = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
		.protocol = (__u8)ctx->protocol,
	};
	struct lb_value *service = bpf_map_lookup_elem(&tendril_lb, &key);

	*backend = NULL;
	if (!service)
		return SOCK_ALLOW;
	/* A pod's connection to an L7 load-balanced frontend keeps its ClusterIP: the pod's tc program
	 * steers it to the node proxy (tendril_l7_lb.h). A socket of the host namespace is balanced here. */
	if (service->port && ctx->protocol == IPPROTO_TCP && bpf_get_netns_cookie(ctx) != bpf_get_netns_cookie(NULL))
		return SOCK_ALLOW;
	if (service->count == 0)
		return SOCK_REJECT;
	key.slot = (__u32)(bpf_get_socket_cookie(ctx) % service->count) + 1;
	*backend = bpf_map_lookup_elem(&tendril_lb, &key);
	return *backend ? SOCK_ALLOW : SOCK_REJECT;
}

static __always_inline int translate(struct bpf_sock_addr *ctx, int remember_for_replies)
{
	struct lb_value *backend;
	__u32 vip = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;

	if (pick_backend(ctx, &backend) == SOCK_REJECT)
		return SOCK_REJECT;
	if (!backend)
		return SOCK_ALLOW;
	if (remember_for_replies) {
		struct lb_revnat_key rkey = {
			.cookie = bpf_get_socket_cookie(ctx),
			.backend_addr = backend->addr,
			.backend_port = backend->port,
		};
		struct lb_revnat_value rvalue = { .vip = vip, .port = port };

		bpf_map_update_elem(&tendril_lb_rev, &rkey, &rvalue, BPF_ANY);
	}
	ctx->user_ip4 = backend->addr;
	ctx->user_port = backend->port;
	return SOCK_ALLOW;
}

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return SOCK_ALLOW;
	return translate(ctx, 0);
}

SEC("cgroup/sendmsg4")
int sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return translate(ctx, 1);
}

SEC("cgroup/recvmsg4")
int sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct lb_revnat_key rkey = {
		.cookie = bpf_get_socket_cookie(ctx),
		.backend_addr = ctx->user_ip4,
		.backend_port = (__u16)ctx->user_port,
	};
	struct lb_revnat_value *frontend = bpf_map_lookup_elem(&tendril_lb_rev, &rkey);

	if (frontend) {
		ctx->user_ip4 = frontend->vip;
		ctx->user_port = frontend->port;
	}
	return SOCK_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
