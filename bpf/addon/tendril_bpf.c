/* tendril_bpf: the datapath's native addon (N-API, built by bpf/build.sh with node-gyp).
 *
 * Node has no API for the bpf() syscall or for the socket options the transparent proxy needs
 * (IP_TRANSPARENT, SO_MARK), so this file wraps exactly those and nothing else:
 *  - loading an object file with libbpf (map pinning/reuse under a pin directory, program pins);
 *  - map lookup/update/delete/next-key on a pinned map's fd;
 *  - a listening TCP socket with IP_TRANSPARENT, and a not-yet-connected TCP socket with SO_MARK;
 *  - UDP sockets for the DNS proxy (Node's dgram can set neither option nor report a datagram's
 *    original destination): bound, optionally IP_TRANSPARENT + IP_RECVORIGDSTADDR, optionally
 *    SO_MARK, read on Node's own event loop (uv_poll), and a send from a foreign address.
 * Every failure becomes a JavaScript Error naming the operation and the errno text. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <node_api.h>

static void throw_errno(napi_env env, const char *what, int err)
{
	char message[1400];

	snprintf(message, sizeof(message), "%s: %s", what, strerror(err));
	napi_throw_error(env, err == ENOENT ? "ENOENT" : NULL, message);
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
		napi_throw_type_error(env, NULL, "wrong number of arguments");
		return -1;
	}
	return 0;
}

static int get_int(napi_env env, napi_value value, const char *name, int64_t *out)
{
	if (napi_get_value_int64(env, value, out) != napi_ok) {
		char message[128];

		snprintf(message, sizeof(message), "%s must be a number", name);
		napi_throw_type_error(env, NULL, message);
		return -1;
	}
	return 0;
}

static int get_buffer(napi_env env, napi_value value, const char *name, void **data, size_t *length)
{
	bool is_buffer = false;

	napi_is_buffer(env, value, &is_buffer);
	if (!is_buffer || napi_get_buffer_info(env, value, data, length) != napi_ok) {
		char message[128];

		snprintf(message, sizeof(message), "%s must be a Buffer", name);
		napi_throw_type_error(env, NULL, message);
		return -1;
	}
	return 0;
}

static int get_string(napi_env env, napi_value value, const char *name, char *out, size_t size)
{
	size_t length = 0;

	if (napi_get_value_string_utf8(env, value, out, size, &length) != napi_ok || length + 1 >= size) {
		char message[128];

		snprintf(message, sizeof(message), "%s must be a string shorter than %zu bytes", name, size);
		napi_throw_type_error(env, NULL, message);
		return -1;
	}
	return 0;
}

static napi_value make_int(napi_env env, int64_t value)
{
	napi_value result;

	napi_create_int64(env, value, &result);
	return result;
}

static napi_value make_undefined(napi_env env)
{
	napi_value result;

	napi_get_undefined(env, &result);
	return result;
}

static napi_value make_null(napi_env env)
{
	napi_value result;

	napi_get_null(env, &result);
	return result;
}

/* objGet(path): fd of a pinned map or program. */
static napi_value obj_get(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	char path[1024];
	int fd;

	if (get_args(env, info, 1, argv) || get_string(env, argv[0], "path", path, sizeof(path)))
		return NULL;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		char what[1100];

		snprintf(what, sizeof(what), "open pinned BPF object %s", path);
		throw_errno(env, what, errno);
		return NULL;
	}
	return make_int(env, fd);
}

/* closeFd(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int64_t fd;

	if (get_args(env, info, 1, argv) || get_int(env, argv[0], "fd", &fd))
		return NULL;
	close((int)fd);
	return make_undefined(env);
}

/* mapUpdate(fd, key, value, flags) */
static napi_value map_update(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	int64_t fd, flags;
	void *key, *value;
	size_t key_length, value_length;

	if (get_args(env, info, 4, argv) || get_int(env, argv[0], "fd", &fd) ||
	    get_buffer(env, argv[1], "key", &key, &key_length) ||
	    get_buffer(env, argv[2], "value", &value, &value_length) || get_int(env, argv[3], "flags", &flags))
		return NULL;
	if (bpf_map_update_elem((int)fd, key, value, (__u64)flags) < 0) {
		throw_errno(env, "BPF map update", errno);
		return NULL;
	}
	return make_undefined(env);
}

/* mapDelete(fd, key): false when the key was not there. */
static napi_value map_delete(napi_env env, napi_callback_info info)
{
	napi_value argv[2], result;
	int64_t fd;
	void *key;
	size_t key_length;

	if (get_args(env, info, 2, argv) || get_int(env, argv[0], "fd", &fd) ||
	    get_buffer(env, argv[1], "key", &key, &key_length))
		return NULL;
	if (bpf_map_delete_elem((int)fd, key) < 0) {
		if (errno != ENOENT) {
			throw_errno(env, "BPF map delete", errno);
			return NULL;
		}
		napi_get_boolean(env, false, &result);
		return result;
	}
	napi_get_boolean(env, true, &result);
	return result;
}

/* mapLookup(fd, key, valueSize): the value, or null when the key is not there. */
static napi_value map_lookup(napi_env env, napi_callback_info info)
{
	napi_value argv[3], result;
	int64_t fd, value_size;
	void *key, *value;
	size_t key_length;

	if (get_args(env, info, 3, argv) || get_int(env, argv[0], "fd", &fd) ||
	    get_buffer(env, argv[1], "key", &key, &key_length) || get_int(env, argv[2], "valueSize", &value_size))
		return NULL;
	if (napi_create_buffer(env, (size_t)value_size, &value, &result) != napi_ok)
		return NULL;
	if (bpf_map_lookup_elem((int)fd, key, value) < 0) {
		if (errno == ENOENT)
			return make_null(env);
		throw_errno(env, "BPF map lookup", errno);
		return NULL;
	}
	return result;
}

/* mapNextKey(fd, key | null, keySize): the key after `key` (the first key for null), or null at the end. */
static napi_value map_next_key(napi_env env, napi_callback_info info)
{
	napi_value argv[3], result;
	napi_valuetype type;
	int64_t fd, key_size;
	void *key = NULL, *next;
	size_t key_length;

	if (get_args(env, info, 3, argv) || get_int(env, argv[0], "fd", &fd) ||
	    get_int(env, argv[2], "keySize", &key_size))
		return NULL;
	napi_typeof(env, argv[1], &type);
	if (type != napi_null && get_buffer(env, argv[1], "key", &key, &key_length))
		return NULL;
	if (napi_create_buffer(env, (size_t)key_size, &next, &result) != napi_ok)
		return NULL;
	if (bpf_map_get_next_key((int)fd, key, next) < 0) {
		if (errno == ENOENT)
			return make_null(env);
		throw_errno(env, "BPF map next key", errno);
		return NULL;
	}
	return result;
}

/* numPossibleCpus(): how many values a per-CPU map lookup returns. */
static napi_value num_possible_cpus(napi_env env, napi_callback_info info)
{
	int n = libbpf_num_possible_cpus();

	(void)info;
	if (n < 0) {
		throw_errno(env, "count possible CPUs", -n);
		return NULL;
	}
	return make_int(env, n);
}

/* libbpf's messages (the verifier log among them) are kept so a failed load can report them. */
static char libbpf_log[16384];
static size_t libbpf_log_length;

static int capture_libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
	int written;

	if (level == LIBBPF_DEBUG)
		return 0;
	if (libbpf_log_length >= sizeof(libbpf_log) - 1)
		libbpf_log_length = 0; /* keep the most recent messages */
	written = vsnprintf(libbpf_log + libbpf_log_length, sizeof(libbpf_log) - libbpf_log_length, format, args);
	if (written > 0)
		libbpf_log_length += (size_t)written < sizeof(libbpf_log) - libbpf_log_length
					     ? (size_t)written
					     : sizeof(libbpf_log) - libbpf_log_length - 1;
	return written;
}

/* loadObject(objectPath, mapPinDir, programPinDir): loads every program of the object, reusing
 * maps already pinned in mapPinDir (creating and pinning the missing ones), and pins each
 * program as programPinDir/<name>, replacing an older pin. Returns the program names. */
static napi_value load_object(napi_env env, napi_callback_info info)
{
	napi_value argv[3], names;
	char object_path[1024], map_dir[1024], program_dir[1024], pin[1100], what[20000];
	struct bpf_object *obj;
	struct bpf_program *prog;
	uint32_t index = 0;
	int err;

	if (get_args(env, info, 3, argv) || get_string(env, argv[0], "objectPath", object_path, sizeof(object_path)) ||
	    get_string(env, argv[1], "mapPinDir", map_dir, sizeof(map_dir)) ||
	    get_string(env, argv[2], "programPinDir", program_dir, sizeof(program_dir)))
		return NULL;

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = map_dir);
	libbpf_log_length = 0;
	libbpf_log[0] = 0;
	libbpf_set_print(capture_libbpf_print);
	obj = bpf_object__open_file(object_path, &opts);
	err = libbpf_get_error(obj);
	if (err) {
		snprintf(what, sizeof(what), "open BPF object %s: %s\n%s", object_path, strerror(-err), libbpf_log);
		napi_throw_error(env, NULL, what);
		return NULL;
	}
	err = bpf_object__load(obj);
	if (err) {
		snprintf(what, sizeof(what), "load BPF object %s: %s\n%s", object_path, strerror(-err), libbpf_log);
		bpf_object__close(obj);
		napi_throw_error(env, NULL, what);
		return NULL;
	}
	napi_create_array(env, &names);
	bpf_object__for_each_program(prog, obj) {
		napi_value name;

		snprintf(pin, sizeof(pin), "%s/%s", program_dir, bpf_program__name(prog));
		unlink(pin);
		err = bpf_program__pin(prog, pin);
		if (err) {
			char pin_what[1200];

			snprintf(pin_what, sizeof(pin_what), "pin BPF program at %s", pin);
			bpf_object__close(obj);
			throw_errno(env, pin_what, -err);
			return NULL;
		}
		napi_create_string_utf8(env, bpf_program__name(prog), NAPI_AUTO_LENGTH, &name);
		napi_set_element(env, names, index++, name);
	}
	bpf_object__close(obj);
	return names;
}

static int parse_ipv4(napi_env env, napi_value value, struct in_addr *out)
{
	char text[64];

	if (get_string(env, value, "address", text, sizeof(text)))
		return -1;
	if (inet_pton(AF_INET, text, out) != 1) {
		char message[128];

		snprintf(message, sizeof(message), "not an IPv4 address: %s", text);
		napi_throw_type_error(env, NULL, message);
		return -1;
	}
	return 0;
}

/* createTransparentListener(address, port, backlog): a listening TCP socket with IP_TRANSPARENT,
 * so it accepts connections steered to it whose destination is not a local address. */
static napi_value create_transparent_listener(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int64_t port, backlog;
	int fd, one = 1;

	if (get_args(env, info, 3, argv) || parse_ipv4(env, argv[0], &addr.sin_addr) ||
	    get_int(env, argv[1], "port", &port) || get_int(env, argv[2], "backlog", &backlog))
		return NULL;
	if (port < 0 || port > 65535) {
		napi_throw_range_error(env, NULL, "port must be 0..65535");
		return NULL;
	}
	addr.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		throw_errno(env, "create socket", errno);
		return NULL;
	}
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0) {
		int err = errno;

		close(fd);
		throw_errno(env, "set IP_TRANSPARENT (needs CAP_NET_ADMIN)", err);
		return NULL;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, (int)backlog) < 0) {
		int err = errno;

		close(fd);
		throw_errno(env, "bind and listen", err);
		return NULL;
	}
	return make_int(env, fd);
}

/* createMarkedSocket(mark): an unconnected TCP socket whose packets carry SO_MARK from the first SYN. */
static napi_value create_marked_socket(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int64_t mark;
	uint32_t value;
	int fd;

	if (get_args(env, info, 1, argv) || get_int(env, argv[0], "mark", &mark))
		return NULL;
	value = (uint32_t)mark;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		throw_errno(env, "create socket", errno);
		return NULL;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &value, sizeof(value)) < 0) {
		int err = errno;

		close(fd);
		throw_errno(env, "set SO_MARK (needs CAP_NET_ADMIN)", err);
		return NULL;
	}
	return make_int(env, fd);
}


/* ---- UDP sockets for the DNS proxy -------------------------------------------------------- */

/* One open UDP socket. The uv_poll handle runs on Node's loop, so the JS callback is called on the
 * main thread without a thread of our own. Freed once both the poll handle is closed and the JS
 * external is finalized (whichever comes last). */
struct udp_socket {
	int fd;
	int closed;
	int poll_closed;
	int finalized;
	uv_poll_t poll;
	napi_env env;
	napi_ref callback;
	napi_async_context async_context;
};

#define UDP_MAX_DATAGRAM 65535

static void udp_maybe_free(struct udp_socket *sock)
{
	if (sock->poll_closed && sock->finalized)
		free(sock);
}

static void udp_on_poll_closed(uv_handle_t *handle)
{
	struct udp_socket *sock = handle->data;

	sock->poll_closed = 1;
	udp_maybe_free(sock);
}

static void udp_shutdown(struct udp_socket *sock)
{
	if (sock->closed)
		return;
	sock->closed = 1;
	uv_poll_stop(&sock->poll);
	uv_close((uv_handle_t *)&sock->poll, udp_on_poll_closed);
	close(sock->fd);
	sock->fd = -1;
	napi_delete_reference(sock->env, sock->callback);
	napi_async_destroy(sock->env, sock->async_context);
}

static napi_value make_address(napi_env env, const struct sockaddr_in *addr)
{
	char text[INET_ADDRSTRLEN];
	napi_value result, address, port;

	inet_ntop(AF_INET, &addr->sin_addr, text, sizeof(text));
	napi_create_object(env, &result);
	napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
	napi_create_uint32(env, ntohs(addr->sin_port), &port);
	napi_set_named_property(env, result, "address", address);
	napi_set_named_property(env, result, "port", port);
	return result;
}

/* Reads every queued datagram and calls back (payload, source, originalDestination | null). */
static void udp_on_readable(uv_poll_t *handle, int status, int events)
{
	struct udp_socket *sock = handle->data;
	static unsigned char payload[UDP_MAX_DATAGRAM];
	napi_env env = sock->env;

	(void)events;
	if (status < 0)
		return;
	while (!sock->closed) {
		struct sockaddr_in source = { 0 };
		char control[CMSG_SPACE(sizeof(struct sockaddr_in))];
		struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
		struct msghdr msg = {
			.msg_name = &source, .msg_namelen = sizeof(source),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control, .msg_controllen = sizeof(control),
		};
		const struct sockaddr_in *original = NULL;
		napi_handle_scope scope;
		napi_value argv[3], fn, recv, buffer;
		void *data;
		ssize_t n = recvmsg(sock->fd, &msg, MSG_DONTWAIT);

		if (n < 0)
			return; /* EAGAIN: drained; other errors (ICMP errors queued on the socket) are not ours to report */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR)
				original = (const struct sockaddr_in *)CMSG_DATA(c);
		napi_open_handle_scope(env, &scope);
		napi_create_buffer_copy(env, (size_t)n, payload, &data, &buffer);
		argv[0] = buffer;
		argv[1] = make_address(env, &source);
		argv[2] = original ? make_address(env, original) : make_null(env);
		napi_get_reference_value(env, sock->callback, &fn);
		napi_get_global(env, &recv); /* napi_make_callback wants an object as receiver */
		/* The JS side catches its own errors; an exception here would surface as uncaught. */
		napi_make_callback(env, sock->async_context, recv, fn, 3, argv, NULL);
		napi_close_handle_scope(env, scope);
	}
}

static void udp_finalize(napi_env env, void *data, void *hint)
{
	struct udp_socket *sock = data;

	(void)hint;
	(void)env;
	if (!sock->closed) {
		/* Dropped without close(): stop reading; the reference and context go with the env. */
		sock->closed = 1;
		uv_poll_stop(&sock->poll);
		uv_close((uv_handle_t *)&sock->poll, udp_on_poll_closed);
		close(sock->fd);
	}
	sock->finalized = 1;
	udp_maybe_free(sock);
}

static int get_udp_socket(napi_env env, napi_value value, struct udp_socket **out)
{
	if (napi_get_value_external(env, value, (void **)out) != napi_ok || !*out) {
		napi_throw_type_error(env, NULL, "not a UDP socket handle");
		return -1;
	}
	if ((*out)->closed) {
		napi_throw_error(env, "ERR_SOCKET_CLOSED", "the UDP socket is closed");
		return -1;
	}
	return 0;
}

static int parse_endpoint(napi_env env, napi_value address, napi_value port, struct sockaddr_in *out)
{
	int64_t number;

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	if (parse_ipv4(env, address, &out->sin_addr) || get_int(env, port, "port", &number))
		return -1;
	if (number < 0 || number > 65535) {
		napi_throw_range_error(env, NULL, "port must be 0..65535");
		return -1;
	}
	out->sin_port = htons((uint16_t)number);
	return 0;
}

/* udpOpen(address, port, transparent, mark, onMessage): a bound UDP socket read on Node's loop.
 * transparent: IP_TRANSPARENT + IP_RECVORIGDSTADDR (receives datagrams the datapath assigned to
 * it, with their original destination). mark != 0: SO_MARK on everything it sends. */
static napi_value udp_open(napi_env env, napi_callback_info info)
{
	napi_value argv[5], external, name;
	struct sockaddr_in addr;
	struct udp_socket *sock;
	bool transparent;
	int64_t mark;
	napi_valuetype type;
	uv_loop_t *loop;
	int fd, one = 1, err;
	const char *what;

	if (get_args(env, info, 5, argv) || parse_endpoint(env, argv[0], argv[1], &addr) ||
	    napi_get_value_bool(env, argv[2], &transparent) != napi_ok || get_int(env, argv[3], "mark", &mark))
		return NULL;
	napi_typeof(env, argv[4], &type);
	if (type != napi_function) {
		napi_throw_type_error(env, NULL, "onMessage must be a function");
		return NULL;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		throw_errno(env, "create UDP socket", errno);
		return NULL;
	}
	what = "set IP_TRANSPARENT / IP_RECVORIGDSTADDR (needs CAP_NET_ADMIN)";
	if (transparent && (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
			    setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) < 0))
		goto fail;
	what = "set SO_MARK (needs CAP_NET_ADMIN)";
	if (mark != 0) {
		uint32_t value = (uint32_t)mark;

		if (setsockopt(fd, SOL_SOCKET, SO_MARK, &value, sizeof(value)) < 0)
			goto fail;
	}
	what = "bind UDP socket";
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
		close(fd);
		napi_throw_error(env, NULL, "no event loop");
		return NULL;
	}
	sock = calloc(1, sizeof(*sock));
	if (!sock) {
		close(fd);
		throw_errno(env, "allocate UDP socket", ENOMEM);
		return NULL;
	}
	sock->fd = fd;
	sock->env = env;
	err = uv_poll_init(loop, &sock->poll, fd);
	if (err) {
		close(fd);
		free(sock);
		throw_errno(env, "watch UDP socket", -err);
		return NULL;
	}
	sock->poll.data = sock;
	napi_create_reference(env, argv[4], 1, &sock->callback);
	napi_create_string_utf8(env, "tendril:udp", NAPI_AUTO_LENGTH, &name);
	napi_async_init(env, NULL, name, &sock->async_context);
	uv_poll_start(&sock->poll, UV_READABLE, udp_on_readable);
	napi_create_external(env, sock, udp_finalize, NULL, &external);
	return external;
fail:
	err = errno;
	close(fd);
	throw_errno(env, what, err);
	return NULL;
}

/* udpLocalPort(handle): the port the socket is bound to (for a socket bound to port 0). */
static napi_value udp_local_port(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct udp_socket *sock;
	struct sockaddr_in addr;
	socklen_t length = sizeof(addr);

	if (get_args(env, info, 1, argv) || get_udp_socket(env, argv[0], &sock))
		return NULL;
	if (getsockname(sock->fd, (struct sockaddr *)&addr, &length) < 0) {
		throw_errno(env, "getsockname", errno);
		return NULL;
	}
	return make_int(env, ntohs(addr.sin_port));
}

/* udpSend(handle, payload, address, port) */
static napi_value udp_send(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	struct udp_socket *sock;
	struct sockaddr_in to;
	void *payload;
	size_t length;

	if (get_args(env, info, 4, argv) || get_udp_socket(env, argv[0], &sock) ||
	    get_buffer(env, argv[1], "payload", &payload, &length) || parse_endpoint(env, argv[2], argv[3], &to))
		return NULL;
	if (sendto(sock->fd, payload, length, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		throw_errno(env, "UDP send", errno);
		return NULL;
	}
	return make_undefined(env);
}

/* udpClose(handle): stops reading and closes the socket; a second close is a no-op. */
static napi_value udp_close(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct udp_socket *sock;

	if (get_args(env, info, 1, argv))
		return NULL;
	if (napi_get_value_external(env, argv[0], (void **)&sock) != napi_ok || !sock) {
		napi_throw_type_error(env, NULL, "not a UDP socket handle");
		return NULL;
	}
	udp_shutdown(sock);
	return make_undefined(env);
}

/* udpSendFrom(payload, fromAddress, fromPort, toAddress, toPort): one datagram whose source is
 * an address that need not be local (IP_TRANSPARENT bind), as a DNS proxy answers a pod from the
 * server it asked. A socket per answer: bound to the server's address and port, it can only be
 * told apart from others answering for the same server by SO_REUSEADDR, and it lives for one send. */
static napi_value udp_send_from(napi_env env, napi_callback_info info)
{
	napi_value argv[5];
	struct sockaddr_in from, to;
	void *payload;
	size_t length;
	int fd, one = 1, err;

	if (get_args(env, info, 5, argv) || get_buffer(env, argv[0], "payload", &payload, &length) ||
	    parse_endpoint(env, argv[1], argv[2], &from) || parse_endpoint(env, argv[3], argv[4], &to))
		return NULL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		throw_errno(env, "create UDP socket", errno);
		return NULL;
	}
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    sendto(fd, payload, length, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		err = errno;
		close(fd);
		throw_errno(env, "UDP send from a transparent address", err);
		return NULL;
	}
	close(fd);
	return make_undefined(env);
}

static napi_value init(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback fn;
	} functions[] = {
		{ "objGet", obj_get },
		{ "closeFd", close_fd },
		{ "mapUpdate", map_update },
		{ "mapDelete", map_delete },
		{ "mapLookup", map_lookup },
		{ "mapNextKey", map_next_key },
		{ "numPossibleCpus", num_possible_cpus },
		{ "loadObject", load_object },
		{ "createTransparentListener", create_transparent_listener },
		{ "createMarkedSocket", create_marked_socket },
		{ "udpOpen", udp_open },
		{ "udpLocalPort", udp_local_port },
		{ "udpSend", udp_send },
		{ "udpClose", udp_close },
		{ "udpSendFrom", udp_send_from },
	};

	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		napi_value fn;

		napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn);
		napi_set_named_property(env, exports, functions[i].name, fn);
	}
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
