/* tendril_bpf: the datapath's native addon (N-API, built by bpf/build.sh with node-gyp).
 *
 * Node has no API for the bpf() syscall or for the socket options the transparent proxy needs
 * (IP_TRANSPARENT, SO_MARK), so this file wraps exactly those and nothing else:
 *  - loading an object file with libbpf (map pinning/reuse under a pin directory, program pins);
 *  - map lookup/update/delete/next-key on a pinned map's fd;
 *  - a listening TCP socket with IP_TRANSPARENT, and a not-yet-connected TCP socket with SO_MARK.
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
	};

	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		napi_value fn;

		napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn);
		napi_set_named_property(env, exports, functions[i].name, fn);
	}
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
