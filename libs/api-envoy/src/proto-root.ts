import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

/**
 * The .proto files Tendril loads; their imports come along. Only what the control plane emits
 * and the node proxy understands is listed, because parsing every Envoy proto (~500 files)
 * would multiply agent and proxy start-up time. Add a file here when a new resource or
 * typed_config type is needed (an unknown '@type' is an encode/decode error).
 */
export const ENVOY_ROOT_PROTO_FILES: readonly string[] = [
  'envoy/config/core/v3/address.proto',
  'envoy/config/core/v3/backoff.proto',
  'envoy/config/core/v3/base.proto',
  'envoy/config/core/v3/config_source.proto',
  'envoy/config/core/v3/event_service_config.proto',
  'envoy/config/core/v3/extension.proto',
  'envoy/config/core/v3/grpc_method_list.proto',
  'envoy/config/core/v3/grpc_service.proto',
  'envoy/config/core/v3/health_check.proto',
  'envoy/config/core/v3/http_service.proto',
  'envoy/config/core/v3/http_uri.proto',
  'envoy/config/core/v3/protocol.proto',
  'envoy/config/core/v3/proxy_protocol.proto',
  'envoy/config/core/v3/resolver.proto',
  'envoy/config/core/v3/socket_option.proto',
  'envoy/config/core/v3/substitution_format_string.proto',
  'envoy/config/core/v3/udp_socket_config.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.proto',
  'envoy/extensions/filters/udp/udp_proxy/v3/route.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/service/discovery/v3/ads.proto',
  'xds/type/v3/typed_struct.proto',
  'udpa/type/v1/typed_struct.proto',
  'tendril/proxy/v1/bpf_metadata.proto',
  'tendril/policy/v1/npds.proto',
  'tendril/policy/v1/nphds.proto',
];

/** Tendril's own xDS extension protos (envoy/api in the repository), found from this file's location. */
export const TENDRIL_PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'envoy', 'api');

/**
 * Where imports are looked up, in order: the proto trees that @grpc/grpc-js-xds ships, Tendril's
 * own protos, then protobufjs's own copy of google/protobuf/descriptor.proto (the other
 * google/protobuf well-known types are built into protobufjs).
 */
export function envoyProtoIncludeDirs(): string[] {
  const xdsPackageDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    path.join(xdsPackageDir, 'deps', 'envoy-api'),
    path.join(xdsPackageDir, 'deps', 'xds'),
    path.join(xdsPackageDir, 'deps', 'protoc-gen-validate'),
    path.join(xdsPackageDir, 'deps', 'googleapis'),
    TENDRIL_PROTO_DIR,
    protobufjsDir,
  ];
}

/** The version of @grpc/grpc-js-xds whose protos are loaded (recorded in generated output). */
export function envoyProtoSourceVersion(): string {
  const pkgJson = require.resolve('@grpc/grpc-js-xds/package.json');
  return (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;
}

export interface LoadEnvoyProtoRootOptions {
  /** Keep the proto comments on reflection objects (the type generator wants them; costs load time). */
  keepComments?: boolean;
  /** Extra .proto files (relative to the include dirs) to load besides ENVOY_ROOT_PROTO_FILES. */
  extraFiles?: readonly string[];
}

/**
 * Parses the Envoy protos into a fresh protobufjs Root. Field names are kept in snake_case
 * (keepCase), which is what Envoy's JSON/YAML form uses. The validate.proto shipped with
 * @grpc/grpc-js-xds is older than the Envoy protos expect (no StringRules.ignore_empty, ...);
 * protobufjs records custom options without checking them against their declaration, so the
 * mismatch does not matter here.
 */
export function loadEnvoyProtoRoot(options: LoadEnvoyProtoRootOptions = {}): protobuf.Root {
  const includeDirs = envoyProtoIncludeDirs();
  const root = new protobuf.Root();
  const missing: string[] = [];
  root.resolvePath = (origin: string, target: string): string | null => {
    if (path.isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    missing.push(`${target} (imported from ${origin || 'the root file list'})`);
    return null;
  };
  const files = [...ENVOY_ROOT_PROTO_FILES, ...(options.extraFiles ?? [])];
  root.loadSync(files, { keepCase: true, alternateCommentMode: options.keepComments === true });
  if (missing.length > 0) {
    throw new Error(`Envoy protos: cannot find ${missing.join(', ')} under ${includeDirs.join(', ')}`);
  }
  root.resolveAll();
  return root;
}

let cachedRoot: protobuf.Root | undefined;
let cachedRootLoadMillis: number | undefined;

/**
 * The shared Root every codec in this library uses, parsed on first use (about 0.3 s on the
 * development machine) and kept for the life of the process.
 */
export function envoyProtoRoot(): protobuf.Root {
  if (!cachedRoot) {
    const started = process.hrtime.bigint();
    cachedRoot = loadEnvoyProtoRoot();
    cachedRootLoadMillis = Number(process.hrtime.bigint() - started) / 1e6;
  }
  return cachedRoot;
}

/** How long the first envoyProtoRoot() call took, in milliseconds; undefined before it ran. */
export function envoyProtoRootLoadMillis(): number | undefined {
  return cachedRootLoadMillis;
}

/**
 * Message types found so far, per root and by the name as asked for. root.lookup walks the
 * namespace tree on every call, and the codec asks once per Any it encodes or decodes (tens of
 * thousands per snapshot). A root's types do not change once it is resolved; unknown names are
 * not cached, so they keep failing with the same error.
 */
const typesByRoot = new WeakMap<protobuf.Root, Map<string, protobuf.Type>>();

/** Looks up a message type by its full proto name (with or without a leading dot). */
export function lookupMessageType(typeName: string, root: protobuf.Root = envoyProtoRoot()): protobuf.Type {
  let types = typesByRoot.get(root);
  if (!types) typesByRoot.set(root, (types = new Map()));
  const cached = types.get(typeName);
  if (cached) return cached;
  const name = typeName.startsWith('.') ? typeName.slice(1) : typeName;
  let found: protobuf.ReflectionObject | null = null;
  try {
    found = root.lookup(name);
  } catch {
    found = null;
  }
  if (!(found instanceof protobuf.Type)) {
    throw new Error(`unknown message type ${name} (not among the loaded Envoy protos)`);
  }
  types.set(typeName, found);
  return found;
}

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/**
 * obj.fullName (with the leading dot), cached: protobufjs recomputes it by walking the parents
 * on every access, which dominated encode/decode time.
 */
export function fullNameOf(obj: protobuf.ReflectionObject): string {
  let name = fullNames.get(obj);
  if (name === undefined) {
    name = obj.fullName;
    fullNames.set(obj, name);
  }
  return name;
}
