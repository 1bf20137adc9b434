/**
 * Generates libs/api-gateway/src/generated/ from the Gateway API CRD manifests.
 *
 *   npx tsx tools/generate-gateway-api.ts [CRD_DIR] [OUT_DIR]
 *
 * CRD_DIR defaults to ../shared/gateway-api/config/crd (relative to the repo root). When CRD_DIR has an
 * `experimental` channel directory that one is used: it is a superset of `standard`, so every field exists in
 * the types and schemas. Output is deterministic (same input, same bytes) and is committed, so the
 * workspace builds without the CRD checkout. OUT_DIR (default libs/api-gateway/src/generated) lets a test
 * regenerate elsewhere and compare with the committed files.
 *
 * Outputs:
 *   schemas.json  openAPIV3Schema of every served version of every CRD, with `description` stripped
 *                 (defaults, enums, patterns, bounds, x-kubernetes-* including CEL rules are kept)
 *   types.ts      TypeScript interfaces for each kind's preferred version (spec + status)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

type JsonSchema = { [keyword: string]: unknown };

interface CrdVersionSchema {
  group: string;
  version: string;
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  storage: boolean;
  schema: JsonSchema;
}

interface SchemaBundle {
  bundleVersion: string;
  channel: string;
  resources: CrdVersionSchema[];
}

const repoRoot = path.resolve(__dirname, '..');
const defaultOutDir = path.join(repoRoot, 'libs/api-gateway/src/generated');

/** Kinds in the order their types are emitted; earlier kinds give their names to shared structures. */
const kindOrder = [
  'GatewayClass',
  'Gateway',
  'HTTPRoute',
  'GRPCRoute',
  'TLSRoute',
  'TCPRoute',
  'UDPRoute',
  'ReferenceGrant',
  'BackendTLSPolicy',
  'ListenerSet',
  'XListenerSet',
  'XBackendTrafficPolicy',
  'BackendTrafficPolicy',
  'XBackend',
  'XMesh',
];

/**
 * Hand-picked names for the structures users and the translator talk about, keyed by schema path
 * (`Kind.field[].field`). Everything else is named from its path: parent type name + singular field name.
 * Structurally identical schemas share one interface, so a name given here also covers its twins elsewhere.
 */
const namingTable: Record<string, string> = {
  'GatewayClass.spec.parametersRef': 'ParametersReference',
  'GatewayClass.status.conditions[]': 'Condition',
  'GatewayClass.status.supportedFeatures[]': 'SupportedFeature',

  'Gateway.spec.listeners[]': 'Listener',
  'Gateway.spec.listeners[].tls': 'ListenerTLSConfig',
  'Gateway.spec.listeners[].tls.certificateRefs[]': 'SecretObjectReference',
  'Gateway.spec.listeners[].allowedRoutes': 'AllowedRoutes',
  'Gateway.spec.listeners[].allowedRoutes.kinds[]': 'RouteGroupKind',
  'Gateway.spec.listeners[].allowedRoutes.namespaces': 'RouteNamespaces',
  'Gateway.spec.listeners[].allowedRoutes.namespaces.selector': 'LabelSelector',
  'Gateway.spec.listeners[].allowedRoutes.namespaces.selector.matchExpressions[]': 'LabelSelectorRequirement',
  'Gateway.spec.addresses[]': 'GatewaySpecAddress',
  'Gateway.spec.infrastructure': 'GatewayInfrastructure',
  'Gateway.spec.infrastructure.parametersRef': 'LocalObjectReference',
  'Gateway.spec.allowedListeners': 'AllowedListeners',
  'Gateway.spec.allowedListeners.namespaces': 'ListenerNamespaces',
  'Gateway.spec.tls': 'GatewayTLSConfig',
  'Gateway.spec.tls.backend': 'GatewayBackendTLS',
  'Gateway.spec.tls.frontend': 'FrontendTLSConfig',
  'Gateway.spec.tls.frontend.default': 'TLSConfig',
  'Gateway.spec.tls.frontend.default.validation': 'FrontendTLSValidation',
  'Gateway.spec.tls.frontend.default.validation.caCertificateRefs[]': 'ObjectReference',
  'Gateway.spec.tls.frontend.perPort[]': 'TLSPortConfig',
  'Gateway.status.addresses[]': 'GatewayStatusAddress',
  'Gateway.status.listeners[]': 'ListenerStatus',

  'HTTPRoute.spec.parentRefs[]': 'ParentReference',
  'HTTPRoute.spec.rules[]': 'HTTPRouteRule',
  'HTTPRoute.spec.rules[].matches[]': 'HTTPRouteMatch',
  'HTTPRoute.spec.rules[].matches[].path': 'HTTPPathMatch',
  'HTTPRoute.spec.rules[].matches[].headers[]': 'HTTPHeaderMatch',
  'HTTPRoute.spec.rules[].matches[].queryParams[]': 'HTTPQueryParamMatch',
  'HTTPRoute.spec.rules[].filters[]': 'HTTPRouteFilter',
  'HTTPRoute.spec.rules[].filters[].requestHeaderModifier': 'HTTPHeaderFilter',
  'HTTPRoute.spec.rules[].filters[].requestHeaderModifier.set[]': 'HTTPHeader',
  'HTTPRoute.spec.rules[].filters[].requestRedirect': 'HTTPRequestRedirectFilter',
  'HTTPRoute.spec.rules[].filters[].requestRedirect.path': 'HTTPPathModifier',
  'HTTPRoute.spec.rules[].filters[].urlRewrite': 'HTTPURLRewriteFilter',
  'HTTPRoute.spec.rules[].filters[].requestMirror': 'HTTPRequestMirrorFilter',
  'HTTPRoute.spec.rules[].filters[].requestMirror.backendRef': 'BackendObjectReference',
  'HTTPRoute.spec.rules[].filters[].requestMirror.fraction': 'Fraction',
  'HTTPRoute.spec.rules[].filters[].cors': 'HTTPCORSFilter',
  'HTTPRoute.spec.rules[].filters[].externalAuth': 'HTTPExternalAuthFilter',
  'HTTPRoute.spec.rules[].filters[].extensionRef': 'LocalObjectReference',
  'HTTPRoute.spec.rules[].backendRefs[]': 'HTTPBackendRef',
  'HTTPRoute.spec.rules[].timeouts': 'HTTPRouteTimeouts',
  'HTTPRoute.spec.rules[].retry': 'HTTPRouteRetry',
  'HTTPRoute.spec.rules[].sessionPersistence': 'SessionPersistence',
  'HTTPRoute.status.parents[]': 'RouteParentStatus',
  'HTTPRoute.status.parents[].conditions[]': 'Condition',

  'GRPCRoute.spec.rules[]': 'GRPCRouteRule',
  'GRPCRoute.spec.rules[].matches[]': 'GRPCRouteMatch',
  'GRPCRoute.spec.rules[].matches[].method': 'GRPCMethodMatch',
  'GRPCRoute.spec.rules[].matches[].headers[]': 'GRPCHeaderMatch',
  'GRPCRoute.spec.rules[].filters[]': 'GRPCRouteFilter',
  'GRPCRoute.spec.rules[].backendRefs[]': 'GRPCBackendRef',

  'TLSRoute.spec.rules[]': 'TLSRouteRule',
  'TLSRoute.spec.rules[].backendRefs[]': 'BackendRef',
  'TCPRoute.spec.rules[]': 'TCPRouteRule',
  'UDPRoute.spec.rules[]': 'UDPRouteRule',

  'ReferenceGrant.spec.from[]': 'ReferenceGrantFrom',
  'ReferenceGrant.spec.to[]': 'ReferenceGrantTo',

  'BackendTLSPolicy.spec.targetRefs[]': 'LocalPolicyTargetReferenceWithSectionName',
  'BackendTLSPolicy.spec.validation': 'BackendTLSPolicyValidation',
  'BackendTLSPolicy.spec.validation.subjectAltNames[]': 'SubjectAltName',
  'BackendTLSPolicy.status.ancestors[]': 'PolicyAncestorStatus',

  'ListenerSet.spec.listeners[]': 'ListenerEntry',
  'ListenerSet.spec.parentRef': 'ParentGatewayReference',
  'ListenerSet.status.listeners[]': 'ListenerEntryStatus',

  'XBackendTrafficPolicy.spec.targetRefs[]': 'LocalPolicyTargetReference',
  'XBackendTrafficPolicy.spec.retryConstraint': 'RetryConstraint',
  'XBackendTrafficPolicy.spec.retryConstraint.budget': 'BudgetDetails',
  'XBackendTrafficPolicy.spec.retryConstraint.minRetryRate': 'RequestRate',
};

function main(): void {
  const crdDir = resolveCrdDir(process.argv[2]);
  const bundle = readBundle(crdDir);
  const outDir = process.argv[3] ? path.resolve(process.argv[3]) : defaultOutDir;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'schemas.json'), JSON.stringify(bundle, null, 1) + '\n');
  fs.writeFileSync(path.join(outDir, 'types.ts'), renderTypes(bundle));
  const kinds = [...new Set(bundle.resources.map((r) => r.kind))];
  console.log(
    `wrote ${outDir}: ${bundle.resources.length} schemas for ${kinds.length} kinds ` +
      `(bundle ${bundle.bundleVersion}, channel ${bundle.channel})`,
  );
}

function resolveCrdDir(arg: string | undefined): string {
  const base = arg ? path.resolve(arg) : path.resolve(repoRoot, '../shared/gateway-api/config/crd');
  if (!fs.existsSync(base)) {
    throw new Error(`CRD directory ${base} does not exist (pass the gateway-api config/crd directory as argument)`);
  }
  const experimental = path.join(base, 'experimental');
  return fs.existsSync(experimental) ? experimental : base;
}

function readBundle(crdDir: string): SchemaBundle {
  const bundleVersions = new Set<string>();
  const channels = new Set<string>();
  const resources: CrdVersionSchema[] = [];
  const files = fs.readdirSync(crdDir).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const file of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(crdDir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      const crd = doc.toJS() as Crd | null;
      if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
      const annotations = crd.metadata?.annotations ?? {};
      if (annotations['gateway.networking.k8s.io/bundle-version']) {
        bundleVersions.add(annotations['gateway.networking.k8s.io/bundle-version']);
      }
      if (annotations['gateway.networking.k8s.io/channel']) channels.add(annotations['gateway.networking.k8s.io/channel']);
      for (const version of crd.spec.versions) {
        if (!version.served) continue;
        resources.push({
          group: crd.spec.group,
          version: version.name,
          kind: crd.spec.names.kind,
          plural: crd.spec.names.plural,
          scope: crd.spec.scope,
          storage: version.storage,
          schema: stripDescriptions(version.schema.openAPIV3Schema) as JsonSchema,
        });
      }
    }
  }
  if (resources.length === 0) throw new Error(`no CustomResourceDefinitions found in ${crdDir}`);
  resources.sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.kind.localeCompare(b.kind) || a.version.localeCompare(b.version));
  return { bundleVersion: [...bundleVersions].sort().join(','), channel: [...channels].sort().join(','), resources };
}

interface Crd {
  kind: string;
  metadata?: { annotations?: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; plural: string };
    versions: { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: JsonSchema } }[];
  };
}

function kindRank(kind: string): number {
  const i = kindOrder.indexOf(kind);
  return i === -1 ? kindOrder.length : i;
}

/** Removes `description` keywords from a schema tree, leaving properties that happen to be named "description". */
function stripDescriptions(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripDescriptions);
  if (!schema || typeof schema !== 'object') return schema;
  const out: JsonSchema = {};
  for (const [keyword, value] of Object.entries(schema as JsonSchema)) {
    if (keyword === 'description') continue;
    if (keyword === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, sub]) => [name, stripDescriptions(sub)]),
      );
    } else if (['items', 'additionalProperties', 'not'].includes(keyword) || ['allOf', 'anyOf', 'oneOf'].includes(keyword)) {
      out[keyword] = stripDescriptions(value);
    } else {
      out[keyword] = value;
    }
  }
  return out;
}

/** The version whose types are generated: v1 when served, else the storage version. */
function preferredVersions(bundle: SchemaBundle): CrdVersionSchema[] {
  const byKind = new Map<string, CrdVersionSchema[]>();
  for (const r of bundle.resources) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
  return [...byKind.values()].map((versions) => versions.find((v) => v.version === 'v1') ?? versions.find((v) => v.storage) ?? versions[0]);
}

class TypeEmitter {
  private readonly nameByShape = new Map<string, string>();
  private readonly declarations: string[] = [];
  private readonly usedNames = new Set<string>();
  private readonly pickedNameByShape = new Map<string, string>();

  constructor(reservedNames: string[]) {
    for (const n of reservedNames) this.usedNames.add(n);
  }

  render(): string {
    return this.declarations.join('\n');
  }

  /** Returns the TypeScript type expression for a schema, declaring interfaces for nested objects. */
  typeOf(schema: JsonSchema, suggestedName: string, schemaPath: string): string {
    if (schema['x-kubernetes-int-or-string']) return 'number | string';
    if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
    switch (schema.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        const item = this.typeOf((schema.items ?? {}) as JsonSchema, suggestedName, `${schemaPath}[]`);
        return /[ |]/.test(item) ? `Array<${item}>` : `${item}[]`;
      }
      case 'object':
        if (schema.properties) return this.declareObject(schema, suggestedName, schemaPath);
        if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
          return `Record<string, ${this.typeOf(schema.additionalProperties as JsonSchema, suggestedName + 'Value', `${schemaPath}{}`)}>`;
        }
        return 'Record<string, unknown>';
      default:
        return 'unknown';
    }
  }

  /**
   * Records the hand-picked name of every object schema reachable from `schema`, so that a structure
   * reached first through an unnamed path (e.g. backendRefs[].filters[]) still gets the name its
   * named twin (rules[].filters[]) was given.
   */
  collectPickedNames(schema: JsonSchema, schemaPath: string): void {
    const picked = namingTable[schemaPath];
    if (picked && schema.properties) {
      const shape = stableStringify(schema);
      if (!this.pickedNameByShape.has(shape)) this.pickedNameByShape.set(shape, picked);
    }
    for (const [field, sub] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
      this.collectPickedNames(sub, `${schemaPath}.${field}`);
    }
    if (schema.items) this.collectPickedNames(schema.items as JsonSchema, `${schemaPath}[]`);
  }

  declareObject(schema: JsonSchema, suggestedName: string, schemaPath: string, fixedName?: string): string {
    const shape = stableStringify(schema);
    const existing = this.nameByShape.get(shape);
    if (existing && !fixedName) {
      // A twin of an already declared structure: share it, under an alias when this path has its own name.
      const picked = namingTable[schemaPath];
      if (!picked || picked === existing || this.usedNames.has(picked)) return existing;
      this.usedNames.add(picked);
      this.declarations.push(`/** Schema path: ${schemaPath} (same structure as ${existing}) */\nexport type ${picked} = ${existing};\n`);
      return picked;
    }
    const name = fixedName ?? this.uniqueName(namingTable[schemaPath] ?? this.pickedNameByShape.get(shape) ?? suggestedName);
    this.usedNames.add(name);
    this.nameByShape.set(shape, name);
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const lines: string[] = [];
    for (const [field, sub] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
      const fieldType = this.typeOf(sub, name + pascal(singular(field)), `${schemaPath}.${field}`);
      const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : JSON.stringify(field);
      lines.push(`  ${key}${required.has(field) ? '' : '?'}: ${fieldType};`);
    }
    this.declarations.push(`/** Schema path: ${schemaPath} */\nexport interface ${name} {\n${lines.join('\n')}\n}\n`);
    return name;
  }

  private uniqueName(base: string): string {
    let name = base;
    for (let n = 2; this.usedNames.has(name); n++) name = `${base}${n}`;
    this.usedNames.add(name);
    return name;
  }
}

function renderTypes(bundle: SchemaBundle): string {
  const preferred = preferredVersions(bundle);
  const emitter = new TypeEmitter(['ObjectMeta', ...preferred.map((r) => r.kind)]);
  for (const r of preferred) emitter.collectPickedNames(r.schema, r.kind);
  const kindDecls: string[] = [];
  for (const r of preferred) {
    const props = (r.schema.properties ?? {}) as Record<string, JsonSchema>;
    const fields = [`  apiVersion: string;`, `  kind: ${JSON.stringify(r.kind)};`, `  metadata: ObjectMeta;`];
    const required = new Set((r.schema.required as string[] | undefined) ?? []);
    for (const part of ['spec', 'status']) {
      if (!props[part]) continue;
      const typeName = props[part].properties
        ? emitter.declareObject(props[part], `${r.kind}${pascal(part)}`, `${r.kind}.${part}`, `${r.kind}${pascal(part)}`)
        : emitter.typeOf(props[part], `${r.kind}${pascal(part)}`, `${r.kind}.${part}`);
      fields.push(`  ${part}${required.has(part) ? '' : '?'}: ${typeName};`);
    }
    kindDecls.push(
      `/** ${r.group}/${r.version} ${r.kind} (${r.scope === 'Namespaced' ? 'namespaced' : 'cluster-scoped'}) */\n` +
        `export interface ${r.kind} {\n${fields.join('\n')}\n}\n`,
    );
  }
  const kinds = preferred.map((r) => r.kind);
  return [
    '// Code generated by tools/generate-gateway-api.ts from the Gateway API CRDs. DO NOT EDIT.',
    `// Bundle version ${bundle.bundleVersion}, channel ${bundle.channel}.`,
    "import type { ObjectMeta } from '@tendril/api-k8s';",
    '',
    `export const gatewayApiBundleVersion = ${JSON.stringify(bundle.bundleVersion)};`,
    `export const gatewayApiChannel = ${JSON.stringify(bundle.channel)};`,
    '',
    '/** Every Gateway API kind with generated types, at the version the types describe. */',
    `export const gatewayApiKinds = ${JSON.stringify(
      Object.fromEntries(preferred.map((r) => [r.kind, { group: r.group, version: r.version, plural: r.plural, namespaced: r.scope === 'Namespaced' }])),
      null,
      2,
    )} as const;`,
    '',
    `export type GatewayApiKind = ${kinds.map((k) => JSON.stringify(k)).join(' | ')};`,
    '',
    `export type GatewayApiResource = ${kinds.join(' | ')};`,
    '',
    ...kindDecls,
    emitter.render(),
  ].join('\n');
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Field names that end in "s" without being plurals. */
const notPlural = new Set(['cors', 'tls', 'status', 'options', 'https', 'address']);

function singular(s: string): string {
  if (notPlural.has(s)) return s;
  if (s.endsWith('ies')) return s.slice(0, -3) + 'y';
  if (s.endsWith('sses') || s.endsWith('xes')) return s.slice(0, -2);
  if (s.endsWith('s') && !s.endsWith('ss')) return s.slice(0, -1);
  return s;
}

/** JSON with object keys sorted, so structurally identical schemas compare equal. */
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

try {
  main();
} catch (error) {
  console.error(`generate-gateway-api: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
