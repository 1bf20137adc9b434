/**
 * Generates libs/api-envoy/src/generated/envoy-types.ts: TypeScript interfaces for Envoy
 * resources in Tendril's "Envoy JSON" form (field names as in the protos, Any as an object with
 * '@type', Duration as "1.5s", wrappers as plain values, enums as names, 64-bit ints as numbers).
 *
 * Run: npx tsx tools/generate-envoy-types.ts [--check]
 * The output depends only on the protos shipped in @grpc/grpc-js-xds, and is sorted, so
 * running it twice gives the same file. --check exits 1 when the committed file is stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { envoyProtoSourceVersion, loadEnvoyProtoRoot } from '../libs/api-envoy/src/proto-root';

/** The messages whose field closure gets interfaces (Any payloads are not followed). */
const ROOT_MESSAGES = [
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.extensions.transport_sockets.tls.v3.Secret',
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.extensions.filters.http.cors.v3.CorsPolicy',
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig',
  'envoy.extensions.filters.udp.udp_proxy.v3.Route',
  'tendril.proxy.v1.BpfMetadata',
  'tendril.policy.v1.NetworkPolicy',
  'tendril.policy.v1.NetworkPolicyHosts',
  'tendril.policy.v1.L7Policy',
  'tendril.policy.v1.KafkaPolicy',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
  'envoy.service.discovery.v3.DiscoveryRequest',
  'envoy.service.discovery.v3.DiscoveryResponse',
  'envoy.service.discovery.v3.DeltaDiscoveryRequest',
  'envoy.service.discovery.v3.DeltaDiscoveryResponse',
  'xds.type.v3.TypedStruct',
  'udpa.type.v1.TypedStruct',
];

/** Well-known types with a special JSON form: mapped to TS types instead of generated. */
const WELL_KNOWN_TS: Record<string, string> = {
  'google.protobuf.Any': 'google.protobuf.Any',
  'google.protobuf.Struct': 'google.protobuf.Struct',
  'google.protobuf.Value': 'unknown',
  'google.protobuf.ListValue': 'unknown[]',
  'google.protobuf.Duration': 'string',
  'google.protobuf.Timestamp': 'string',
  'google.protobuf.FieldMask': 'string',
  'google.protobuf.Empty': 'google.protobuf.Empty',
  'google.protobuf.DoubleValue': 'number',
  'google.protobuf.FloatValue': 'number',
  'google.protobuf.Int64Value': 'number',
  'google.protobuf.UInt64Value': 'number',
  'google.protobuf.Int32Value': 'number',
  'google.protobuf.UInt32Value': 'number',
  'google.protobuf.BoolValue': 'boolean',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'string',
};

const SCALAR_TS: Record<string, string> = {
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'number',
  uint64: 'number',
  sint64: 'number',
  fixed64: 'number',
  sfixed64: 'number',
  bool: 'boolean',
  string: 'string',
  bytes: 'string',
};

/** Top-level identifiers the generated namespaces live under; no inner scope may shadow them. */
const TOP_LEVEL_NAMES = new Set(['envoy', 'xds', 'udpa', 'google', 'validate']);

const OUTPUT = path.join(__dirname, '..', 'libs', 'api-envoy', 'src', 'generated', 'envoy-types.ts');

type Declared = protobuf.Type | protobuf.Enum;

function fullName(obj: protobuf.ReflectionObject): string {
  return obj.fullName.replace(/^\./, '');
}

/** Every message and enum reachable through fields from ROOT_MESSAGES, except the well-known types. */
function collectClosure(root: protobuf.Root): Map<string, Declared> {
  const found = new Map<string, Declared>();
  const queue: Declared[] = ROOT_MESSAGES.map((name) => root.lookupType(name));
  while (queue.length > 0) {
    const next = queue.pop() as Declared;
    const name = fullName(next);
    if (found.has(name) || name in WELL_KNOWN_TS) continue;
    found.set(name, next);
    if (next instanceof protobuf.Type) {
      for (const field of next.fieldsArray) {
        const target = field.resolve().resolvedType;
        if (target) queue.push(target as Declared);
      }
    }
  }
  return found;
}

/** The first sentence of a proto comment, without Envoy's [#...] doc directives or RST markup. */
function firstSentence(comment: string | null): string | undefined {
  if (!comment) return undefined;
  const text = comment
    .replace(/\[#[^\]]*\]/g, ' ')
    .replace(/envoy_v3_api_(?:msg|field|enum|enum_value)_([\w.]+)/g, (_m, ref: string) => ref.split('.').pop() ?? ref)
    .replace(/\.\. [a-z-]+::[^\n]*/g, ' ')
    .replace(/:ref:`([^`<]*?)\s*(<[^>]*>)?`/g, '$1')
    .replace(/``([^`]*)``/g, '$1')
    .replace(/`([^`<]*?)\s*(<[^>]*>)?`_*/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  if (!text) return undefined;
  const end = text.search(/[.!?](\s|$)/);
  let sentence = end >= 0 ? text.slice(0, end + 1) : text;
  if (sentence.length > 160) sentence = `${sentence.slice(0, 157).trimEnd()}...`;
  return sentence.replace(/\*\//g, '*\\/');
}

function docComment(indent: string, comment: string | null, deprecated: boolean): string[] {
  const sentence = firstSentence(comment);
  const parts = [sentence, deprecated ? '@deprecated' : undefined].filter((p): p is string => !!p);
  return parts.length === 0 ? [] : [`${indent}/** ${parts.join(' ')} */`];
}

function isDeprecated(obj: protobuf.ReflectionObject): boolean {
  return obj.options?.['deprecated'] === true;
}

function tsTypeOf(field: protobuf.Field): string {
  const target = field.resolvedType;
  if (target) {
    const name = fullName(target);
    return WELL_KNOWN_TS[name] ?? name;
  }
  const scalar = SCALAR_TS[field.type];
  if (!scalar) throw new Error(`${fullName(field)}: no TypeScript type for proto type ${field.type}`);
  return scalar;
}

function fieldLine(field: protobuf.Field): string {
  const valueType = tsTypeOf(field);
  if (field instanceof protobuf.MapField) return `{ [key: string]: ${valueType} }`;
  if (field.repeated) return /^[\w.]+$/.test(valueType) ? `${valueType}[]` : `Array<${valueType}>`;
  return valueType;
}

function propertyName(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name}'`;
}

/** A tree of proto packages and messages, so nested messages land in a namespace named after their parent. */
interface Scope {
  name: string;
  children: Map<string, Scope>;
  declared?: Declared;
}

function newScope(name: string): Scope {
  return { name, children: new Map() };
}

function buildScopes(closure: Map<string, Declared>): Scope {
  const top = newScope('');
  for (const [name, declared] of closure) {
    let scope = top;
    for (const segment of name.split('.')) {
      let child = scope.children.get(segment);
      if (!child) {
        child = newScope(segment);
        scope.children.set(segment, child);
      }
      scope = child;
    }
    scope.declared = declared;
  }
  return top;
}

function checkNoShadowing(scope: Scope, depth: number): void {
  for (const child of scope.children.values()) {
    if (depth > 0 && TOP_LEVEL_NAMES.has(child.name)) {
      throw new Error(`generated name ${child.name} would shadow a top-level namespace inside ${scope.name}`);
    }
    checkNoShadowing(child, depth + 1);
  }
}

function emitDeclared(declared: Declared, indent: string, out: string[]): void {
  const name = declared.name;
  if (declared instanceof protobuf.Enum) {
    out.push(...docComment(indent, declared.comment, isDeprecated(declared)));
    const names = [...new Set(Object.keys(declared.values))];
    out.push(`${indent}export type ${name} = ${names.map((n) => `'${n}'`).join(' | ')};`);
    return;
  }
  out.push(...docComment(indent, declared.comment, isDeprecated(declared)));
  const fields = declared.fieldsArray;
  if (fields.length === 0) {
    out.push(`${indent}export type ${name} = Record<string, never>;`);
    return;
  }
  out.push(`${indent}export interface ${name} {`);
  for (const field of fields) {
    out.push(...docComment(`${indent}  `, field.comment, isDeprecated(field)));
    out.push(`${indent}  ${propertyName(field.name)}?: ${fieldLine(field)};`);
  }
  out.push(`${indent}}`);
}

function emitScopeMembers(scope: Scope, indent: string, out: string[]): void {
  const children = [...scope.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const child of children) {
    if (child.declared) emitDeclared(child.declared, indent, out);
    if (child.children.size > 0) {
      out.push(`${indent}export namespace ${child.name} {`);
      emitScopeMembers(child, `${indent}  `, out);
      out.push(`${indent}}`);
    }
  }
}

/** Emits one `export namespace a.b.c { ... }` block per proto package. */
function emitPackages(scope: Scope, prefix: string[], out: string[]): void {
  const children = [...scope.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const declaredHere = children.filter((c) => c.declared);
  if (declaredHere.length > 0) {
    const block: string[] = [];
    for (const child of declaredHere) {
      emitDeclared(child.declared as Declared, '  ', block);
      if (child.children.size > 0) {
        block.push(`  export namespace ${child.name} {`);
        emitScopeMembers(child, '    ', block);
        block.push('  }');
      }
    }
    out.push('', `export namespace ${prefix.join('.')} {`, ...block, '}');
  }
  for (const child of children) {
    if (!child.declared) emitPackages(child, [...prefix, child.name], out);
  }
}

export function generateEnvoyTypes(): string {
  const root = loadEnvoyProtoRoot({ keepComments: true });
  const closure = collectClosure(root);
  const scopes = buildScopes(closure);
  checkNoShadowing(scopes, 0);
  const out: string[] = [
    '/* eslint-disable */',
    `// Generated by tools/generate-envoy-types.ts from the protos in @grpc/grpc-js-xds@${envoyProtoSourceVersion()} and envoy/api (Tendril's own).`,
    '// Do not edit: run `npx tsx tools/generate-envoy-types.ts` instead.',
    '// Interfaces for the "Envoy JSON" form (see libs/api-envoy/README.md): every field optional.',
    `// ${closure.size} messages and enums, reachable from: ${ROOT_MESSAGES.map((n) => n.split('.').pop()).join(', ')}.`,
    '',
    'export namespace google.protobuf {',
    "  /** An embedded message: '@type' is 'type.googleapis.com/<full message name>', the other keys are its fields. */",
    "  export interface Any { '@type': string; [field: string]: unknown }",
    '  /** google.protobuf.Struct in JSON form: a plain JSON object. */',
    '  export type Struct = { [key: string]: unknown };',
    '  /** google.protobuf.Empty in JSON form: {}. */',
    '  export type Empty = Record<string, never>;',
    '}',
  ];
  emitPackages(scopes, [], out);
  out.push(
    '',
    '/** Full proto name -> TypeScript type, for every message above. */',
    'export interface EnvoyMessageTypes {',
    ...[...closure.entries()]
      .filter(([, declared]) => declared instanceof protobuf.Type)
      .map(([name]) => name)
      .sort()
      .map((name) => `  '${name}': ${name};`),
    '}',
    '',
  );
  return out.join('\n');
}

function main(): void {
  const generated = generateEnvoyTypes();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(OUTPUT) ? fs.readFileSync(OUTPUT, 'utf8') : '';
    if (current !== generated) {
      console.error(`${path.relative(process.cwd(), OUTPUT)} is stale: run npx tsx tools/generate-envoy-types.ts`);
      process.exit(1);
    }
    console.log(`${path.relative(process.cwd(), OUTPUT)} is up to date`);
    return;
  }
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  fs.writeFileSync(OUTPUT, generated);
  console.log(`wrote ${path.relative(process.cwd(), OUTPUT)} (${generated.length} bytes)`);
}

if (require.main === module) main();
