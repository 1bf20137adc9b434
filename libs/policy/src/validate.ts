/**
 * Validation with Cilium's own error messages (pkg/policy/api/rule_validation.go, cnp_types.go;
 * wording of the classic releases, lower-cased as current ones print it) and, for NetworkPolicy,
 * the API server's. The first problem found is reported, as Cilium does; an object that fails is
 * rejected whole, so an invalid policy can never widen access. Input is untrusted: any shape of
 * JSON gives an error message, never an exception.
 */
import { RE2JS } from 're2js';
import { formatFieldError, labelValueErrors, portNameErrors, qualifiedNameErrors } from '@tendril/api-k8s';
import { type IpPrefix, parseIpAddress, parseIpPrefix, prefixContains } from '@tendril/identity';
import type { NetworkPolicyPeer, NetworkPolicyPort } from './api-types';
import { icmpType, invalidProtocolMessage, isServiceName, l4Protocols, parsePortNumber } from './ports';
import { splitSelectorKey } from './selector';

export interface ValidationOptions {
  /** Cilium's --enable-l7-proxy (default true). */
  readonly enableL7Proxy?: boolean;
  /** Cilium's --enable-icmp-rules (default true). */
  readonly enableICMPRules?: boolean;
}

export const ENTITIES = [
  'all',
  'world',
  'world-ipv4',
  'world-ipv6',
  'cluster',
  'host',
  'remote-node',
  'kube-apiserver',
  'ingress',
  'health',
  'init',
  'unmanaged',
  'none',
] as const;

const MAX_PORTS = 40;
const MAX_ICMP_FIELDS = 40;

/** A problem found while walking the input; `message` is the text the user sees. */
class Invalid extends Error {}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The API server's schema error: `path: Invalid value: "string": path in body must be of type array: "string"`. */
function typeError(path: string, value: unknown, expected: string): Invalid {
  const got = JSON.stringify(typeName(value));
  return new Invalid(`${path}: Invalid value: ${got}: ${path} in body must be of type ${expected}: ${got}`);
}

function objectAt(parent: Json, key: string, path: string): Json | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw typeError(`${path}.${key}`, value, 'object');
  return value;
}

function arrayAt(parent: Json, key: string, path: string): unknown[] | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw typeError(`${path}.${key}`, value, 'array');
  return value;
}

function objectsAt(parent: Json, key: string, path: string): Json[] {
  const list = arrayAt(parent, key, path) ?? [];
  return list.map((item, i) => {
    if (!isObject(item)) throw typeError(`${path}.${key}[${i}]`, item, 'object');
    return item;
  });
}

function stringsAt(parent: Json, key: string, path: string): string[] {
  const list = arrayAt(parent, key, path) ?? [];
  return list.map((item, i) => {
    if (typeof item !== 'string') throw typeError(`${path}.${key}[${i}]`, item, 'string');
    return item;
  });
}

function stringAt(parent: Json, key: string, path: string): string | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw typeError(`${path}.${key}`, value, 'string');
  return value;
}

function count(parent: Json, key: string): number {
  const value = parent[key];
  return Array.isArray(value) ? value.length : 0;
}

// ---- label selectors (k8s.io/apimachinery ValidateLabelSelector) ----

function selectorErrors(selector: Json, path: string, withSources: boolean): string[] {
  const errors: string[] = [];
  const at = (field: string) => (path ? `${path}.${field}` : field);
  const matchLabels = objectAt(selector, 'matchLabels', path || 'selector');
  for (const [rawKey, value] of Object.entries(matchLabels ?? {})) {
    const key = withSources ? splitSelectorKey(rawKey).key : rawKey;
    for (const e of qualifiedNameErrors(key)) errors.push(formatFieldError({ path: at('matchLabels'), message: `Invalid value: ${JSON.stringify(rawKey)}: ${e}` }));
    if (typeof value !== 'string') {
      errors.push(`${at(`matchLabels.${rawKey}`)}: Invalid value: ${JSON.stringify(typeName(value))}: must be of type string`);
      continue;
    }
    for (const e of labelValueErrors(value)) errors.push(`${at('matchLabels')}: Invalid value: ${JSON.stringify(value)}: ${e}`);
  }
  const expressions = objectsAt(selector, 'matchExpressions', path || 'selector');
  expressions.forEach((expr, i) => {
    const base = at(`matchExpressions[${i}]`);
    const rawKey = typeof expr.key === 'string' ? expr.key : '';
    const key = withSources ? splitSelectorKey(rawKey).key : rawKey;
    for (const e of qualifiedNameErrors(key)) errors.push(`${base}.key: Invalid value: ${JSON.stringify(rawKey)}: ${e}`);
    const values = expr.values === undefined || expr.values === null ? [] : expr.values;
    if (!Array.isArray(values)) {
      errors.push(`${base}.values: Invalid value: ${JSON.stringify(typeName(values))}: must be of type array`);
      return;
    }
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errors.push(`${base}.values: Required value: must be specified when \`operator\` is 'In' or 'NotIn'`);
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errors.push(`${base}.values: Forbidden: may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`);
        break;
      default:
        errors.push(`${base}.operator: Invalid value: ${JSON.stringify(expr.operator ?? '')}: not a valid selector operator`);
    }
    values.forEach((v, j) => {
      if (typeof v !== 'string') errors.push(`${base}.values[${j}]: Invalid value: ${JSON.stringify(typeName(v))}: must be of type string`);
      else for (const e of labelValueErrors(v)) errors.push(`${base}.values[${j}]: Invalid value: ${JSON.stringify(v)}: ${e}`);
    });
  });
  return errors;
}

/** ToAggregate's text: one error alone, several in brackets. */
function aggregate(errors: string[]): string {
  return errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
}

function checkEndpointSelector(value: unknown, path: string): void {
  if (!isObject(value)) throw typeError(path, value, 'object');
  const errors = selectorErrors(value, '', true);
  if (errors.length > 0) throw new Invalid(`invalid label selector: ${aggregate(errors)}`);
}

// ---- CIDRs ----

function checkCIDR(value: string): void {
  if (value === '') throw new Invalid('IP must be specified');
  try {
    parseIpPrefix(value);
    return;
  } catch {
    // not a prefix: a bare address is accepted too
  }
  try {
    parseIpAddress(value);
  } catch (err) {
    throw new Invalid(`unable to parse CIDR: ${(err as Error).message}`);
  }
}

function checkCIDRRule(rule: Json, path: string): void {
  const sources = ['cidr', 'cidrGroupRef', 'cidrGroupSelector'].filter((k) => rule[k] !== undefined && rule[k] !== null && rule[k] !== '');
  if (sources.length === 0) throw new Invalid('one of cidr, cidrGroupRef, or cidrGroupSelector is required');
  if (sources.length > 1) throw new Invalid('more than one of cidr, cidrGroupRef, or cidrGroupSelector may not be set');
  if (sources[0] !== 'cidr') throw new Invalid(`${sources[0]} is not supported by tendril yet (it needs CiliumCIDRGroup resources)`);
  const cidr = stringAt(rule, 'cidr', path) ?? '';
  let prefix: IpPrefix;
  try {
    prefix = parseIpPrefix(cidr);
  } catch (err) {
    throw new Invalid(`unable to parse CIDRRule ${JSON.stringify(cidr)}: ${(err as Error).message}`);
  }
  for (const except of stringsAt(rule, 'except', path)) {
    let excluded: IpPrefix;
    try {
      excluded = parseIpPrefix(except);
    } catch (err) {
      throw new Invalid((err as Error).message);
    }
    if (!prefixContains(prefix, excluded)) throw new Invalid(`allow CIDR prefix ${cidr} does not contain exclude CIDR prefix ${except}`);
  }
}

// ---- ports and L7 ----

function l7Types(rules: Json | undefined): string[] {
  if (!rules) return [];
  const types: string[] = [];
  if (rules.http !== undefined && rules.http !== null) types.push('HTTP');
  if (rules.kafka !== undefined && rules.kafka !== null) types.push('Kafka');
  if (rules.dns !== undefined && rules.dns !== null) types.push('DNS');
  if (rules.l7proto || (rules.l7 !== undefined && rules.l7 !== null)) types.push('L7');
  return types;
}

function hasL7(portRules: Json[]): boolean {
  return portRules.some((pr) => isObject(pr.rules) && l7Types(pr.rules).length > 0);
}

function dnsRuleCount(portRules: Json[]): number {
  return portRules.reduce((n, pr) => n + (isObject(pr.rules) ? count(pr.rules, 'dns') : 0), 0);
}

function checkPortProtocol(pp: Json, hasDNSRules: boolean): { isZero: boolean } {
  const raw = pp.port;
  if (raw !== undefined && raw !== null && typeof raw !== 'string' && typeof raw !== 'number') throw new Invalid('port must be specified');
  const port = raw === undefined || raw === null ? '' : String(raw);
  if (port === '') throw new Invalid('port must be specified');
  let isZero = false;
  if (!isServiceName(port)) {
    const n = parsePortNumber(port);
    if (typeof n !== 'number') throw new Invalid(`unable to parse port: ${n.error}`);
    isZero = n === 0;
    if (pp.endPort !== undefined && pp.endPort !== null && typeof pp.endPort !== 'number') throw new Invalid(`unable to parse endPort: ${JSON.stringify(pp.endPort)} is not a number`);
    if (hasDNSRules && typeof pp.endPort === 'number' && pp.endPort > n) throw new Invalid('DNS rules do not support port ranges');
  }
  const protocol = pp.protocol;
  if (protocol !== undefined && protocol !== null && (typeof protocol !== 'string' || !l4Protocols(protocol))) {
    throw new Invalid(invalidProtocolMessage(String(protocol)));
  }
  return { isZero };
}

const httpHeaderActions = ['', 'LOG', 'ADD', 'DELETE', 'REPLACE'];
const kafkaRoles = ['produce', 'consume'];
const kafkaApiKeys = [
  'produce', 'fetch', 'offsets', 'metadata', 'leaderandisr', 'stopreplica', 'updatemetadata', 'controlledshutdown',
  'offsetcommit', 'offsetfetch', 'findcoordinator', 'joingroup', 'heartbeat', 'leavegroup', 'syncgroup',
  'describegroups', 'listgroups', 'saslhandshake', 'apiversions', 'createtopics', 'deletetopics', 'deleterecords',
  'initproducerid', 'offsetforleaderepoch', 'addpartitionstotxn', 'addoffsetstotxn', 'endtxn', 'writetxnmarkers',
  'txnoffsetcommit', 'describeacls', 'createacls', 'deleteacls', 'describeconfigs', 'alterconfigs',
];

/** Cilium compiles L7 regexes with Go's RE2 and Envoy evaluates them with RE2; re2js reports Go's messages ("error parsing regexp: …"). */
function checkRegex(value: string | undefined): void {
  if (value === undefined) return;
  try {
    RE2JS.compile(value);
  } catch (err) {
    const message = (err as Error).message;
    throw new Invalid(message.startsWith('error parsing regexp') ? message : `error parsing regexp: ${message}`);
  }
}

function checkHTTPRule(rule: Json, path: string): void {
  checkRegex(stringAt(rule, 'path', path));
  checkRegex(stringAt(rule, 'method', path));
  checkRegex(stringAt(rule, 'host', path));
  stringsAt(rule, 'headers', path);
  objectsAt(rule, 'headerMatches', path).forEach((hm, i) => {
    const at = `${path}.headerMatches[${i}]`;
    if (!stringAt(hm, 'name', at)) throw new Invalid('Header name missing');
    const action = stringAt(hm, 'mismatch', at) ?? '';
    if (!httpHeaderActions.includes(action)) throw new Invalid(`Invalid header action: ${action}`);
    const secret = objectAt(hm, 'secret', at);
    if (secret && !stringAt(secret, 'name', `${at}.secret`)) throw new Invalid('Secret name missing');
  });
}

function checkKafkaRule(rule: Json, path: string): void {
  const role = stringAt(rule, 'role', path) ?? '';
  const apiKey = stringAt(rule, 'apiKey', path) ?? '';
  if (role && apiKey) throw new Invalid(`cannot set both Role ${JSON.stringify(role)} and APIKey ${JSON.stringify(apiKey)} together`);
  if (role && !kafkaRoles.includes(role.toLowerCase())) throw new Invalid(`invalid Kafka Role ${JSON.stringify(role)}`);
  if (apiKey && !kafkaApiKeys.includes(apiKey.toLowerCase())) throw new Invalid(`invalid Kafka APIKey ${JSON.stringify(apiKey)}`);
  const apiVersion = rule.apiVersion;
  if (apiVersion !== undefined && apiVersion !== null && apiVersion !== '') {
    const text = String(apiVersion);
    if (!/^[0-9]+$/.test(text) || Number(text) > 32767) throw new Invalid(`invalid Kafka APIVersion ${JSON.stringify(text)}`);
  }
  const topic = stringAt(rule, 'topic', path) ?? '';
  if (topic.length > 255) throw new Invalid('kafka topic exceeds maximum len of 255');
  if (topic && !/^[a-zA-Z0-9._-]+$/.test(topic)) throw new Invalid(`invalid Kafka Topic name ${JSON.stringify(topic)}`);
}

export function fqdnSelectorError(selector: { matchName?: unknown; matchPattern?: unknown }): string | undefined {
  const name = typeof selector.matchName === 'string' ? selector.matchName : '';
  const pattern = typeof selector.matchPattern === 'string' ? selector.matchPattern : '';
  if (name && pattern) return 'only one of MatchName or MatchPattern is allowed in an FQDNSelector';
  if (name && !/^[-a-zA-Z0-9.]+$/.test(name)) {
    return `Invalid characters in MatchName: ${JSON.stringify(name)}. Only 0-9, a-z, A-Z and . and - characters are allowed`;
  }
  if (pattern && !/^[-a-zA-Z0-9.*]+$/.test(pattern)) {
    return `Invalid characters in MatchPattern: ${JSON.stringify(pattern)}. Only 0-9, a-z, A-Z and ., - and * characters are allowed`;
  }
  if (name.length > 255 || pattern.length > 255) return 'FQDN selector exceeds the maximum DNS name length of 255';
  return undefined;
}

function checkL7Rules(rules: Json, ports: Json[], path: string): void {
  let types = 0;
  if (rules.http !== undefined && rules.http !== null) {
    types++;
    objectsAt(rules, 'http', path).forEach((r, i) => checkHTTPRule(r, `${path}.http[${i}]`));
  }
  if (rules.kafka !== undefined && rules.kafka !== null) {
    types++;
    objectsAt(rules, 'kafka', path).forEach((r, i) => checkKafkaRule(r, `${path}.kafka[${i}]`));
  }
  if (rules.dns !== undefined && rules.dns !== null) {
    if (ports.length === 0) throw new Invalid('port 53 must be specified for DNS rules');
    types++;
    for (const r of objectsAt(rules, 'dns', path)) {
      const error = fqdnSelectorError(r);
      if (error) throw new Invalid(error);
    }
  }
  if (rules.l7 !== undefined && rules.l7 !== null && !rules.l7proto) throw new Invalid(`'l7' may only be specified when a 'l7proto' is also specified`);
  if (rules.l7proto) types++;
  if (types > 1) throw new Invalid('multiple L7 protocol rule types specified in single rule');
  if (rules.l7proto) {
    throw new Invalid(`L7 protocol ${JSON.stringify(rules.l7proto)} is not supported by tendril (generic l7proto parsers were removed from Cilium)`);
  }
}

function checkPortRule(pr: Json, path: string, ingress: boolean): void {
  const rules = objectAt(pr, 'rules', path);
  const hasRules = l7Types(rules).length > 0;
  const hasDNSRules = !!rules && count(rules, 'dns') > 0;
  if (ingress && hasDNSRules) throw new Invalid('DNS rules are not allowed on ingress');
  const serverNames = stringsAt(pr, 'serverNames', path);
  if (serverNames.length > 0 && hasRules && !pr.terminatingTLS) throw new Invalid('ServerNames are not allowed with L7 rules without TLS termination');
  if (serverNames.some((sn) => sn === '')) throw new Invalid('empty server name is not allowed');
  const ports = objectsAt(pr, 'ports', path);
  if (ports.length > MAX_PORTS) throw new Invalid(`too many ports, the max is ${MAX_PORTS}`);
  let haveZeroPort = false;
  for (const pp of ports) {
    if (checkPortProtocol(pp, hasDNSRules).isZero) haveZeroPort = true;
    if (hasRules && !hasDNSRules && String(pp.protocol ?? '').toUpperCase() !== 'TCP') {
      throw new Invalid(`L7 rules can only apply to TCP (not ${String(pp.protocol ?? '').toUpperCase()}) except for DNS rules`);
    }
  }
  const listener = objectAt(pr, 'listener', path);
  if (listener) {
    const name = typeof listener.name === 'string' ? listener.name : '';
    if (ingress) throw new Invalid(`Listener is not allowed on ingress (${name})`);
    if (hasRules) throw new Invalid(`Listener is not allowed with L7 rules (${name})`);
    throw new Invalid(`Listener (${name}) is not supported by tendril yet (it needs CiliumEnvoyConfig)`);
  }
  if (pr.terminatingTLS || pr.originatingTLS) throw new Invalid('terminatingTLS/originatingTLS are not supported by tendril yet');
  if (rules && hasRules) {
    if (haveZeroPort) throw new Invalid('L7 rules can not be used when a port is 0');
    checkL7Rules(rules, ports, `${path}.rules`);
  }
}

function checkICMPRule(rule: Json, path: string): void {
  const fields = objectsAt(rule, 'fields', path);
  if (fields.length > MAX_ICMP_FIELDS) throw new Invalid(`too many types, the max is ${MAX_ICMP_FIELDS}`);
  for (const f of fields) {
    if (f.family !== undefined && f.family !== 'IPv4' && f.family !== 'IPv6' && f.family !== '') throw new Invalid(`wrong family: ${String(f.family)}`);
    const type = icmpType(f);
    if (typeof type !== 'number') throw new Invalid(type.error);
  }
}

// ---- rule items ----

interface Direction {
  readonly ingress: boolean;
  readonly deny: boolean;
}

const ingressPeerFields = [
  ['fromEndpoints', 'FromEndpoints'],
  ['fromCIDR', 'FromCIDR'],
  ['fromCIDRSet', 'FromCIDRSet'],
  ['fromEntities', 'FromEntities'],
  ['fromNodes', 'FromNodes'],
  ['fromGroups', 'FromGroups'],
] as const;

const egressPeerFields = [
  ['toCIDR', 'ToCIDR'],
  ['toCIDRSet', 'ToCIDRSet'],
  ['toEndpoints', 'ToEndpoints'],
  ['toEntities', 'ToEntities'],
  ['toServices', 'ToServices'],
  ['toFQDNs', 'ToFQDNs'],
  ['toGroups', 'ToGroups'],
  ['toNodes', 'ToNodes'],
] as const;

function checkItem(item: Json, path: string, dir: Direction, options: ValidationOptions): void {
  const peerFields = dir.ingress ? ingressPeerFields : egressPeerFields;
  const present = peerFields.filter(([field]) => count(item, field) > 0);
  if (present.length > 1) throw new Invalid(`combining ${present[0][1]} and ${present[1][1]} is not supported yet`);
  const f = (ingressName: string, egressName: string) => (dir.ingress ? ingressName : egressName);

  const portRules = objectsAt(item, 'toPorts', path);
  if (!dir.deny && hasL7(portRules) && options.enableL7Proxy === false) throw new Invalid('L7 policy is not supported since L7 proxy is not enabled');
  if (!dir.deny && dir.ingress && dnsRuleCount(portRules) > 0) throw new Invalid('L7 protocol DNS is not supported on ingress yet');
  const icmps = objectsAt(item, 'icmps', path);
  if (icmps.length > 0 && options.enableICMPRules === false) throw new Invalid('ICMP rules can only be applied when the "enable-icmp-rules" flag is set');
  if (icmps.length > 0 && portRules.length > 0) throw new Invalid('the ICMPs block may only be present without ToPorts. Define a separate rule to use ToPorts.');

  const endpoints = f('fromEndpoints', 'toEndpoints');
  (arrayAt(item, endpoints, path) ?? []).forEach((s, i) => checkEndpointSelector(s, `${path}.${endpoints}[${i}]`));
  const requires = f('fromRequires', 'toRequires');
  (arrayAt(item, requires, path) ?? []).forEach((s, i) => checkEndpointSelector(s, `${path}.${requires}[${i}]`));

  portRules.forEach((pr, i) => {
    if (dir.deny) {
      const ports = objectsAt(pr, 'ports', `${path}.toPorts[${i}]`);
      if (ports.length > MAX_PORTS) throw new Invalid(`too many ports, the max is ${MAX_PORTS}`);
      for (const pp of ports) checkPortProtocol(pp, false);
    } else {
      checkPortRule(pr, `${path}.toPorts[${i}]`, dir.ingress);
    }
  });
  icmps.forEach((r, i) => checkICMPRule(r, `${path}.icmps[${i}]`));

  const nodes = f('fromNodes', 'toNodes');
  if (count(item, nodes) > 0) throw new Invalid('FromNodes/ToNodes rules can only be applied when the "enable-node-selector-labels" flag is set');

  for (const cidr of stringsAt(item, f('fromCIDR', 'toCIDR'), path)) checkCIDR(cidr);
  const cidrSet = f('fromCIDRSet', 'toCIDRSet');
  objectsAt(item, cidrSet, path).forEach((r, i) => checkCIDRRule(r, `${path}.${cidrSet}[${i}]`));
  for (const entity of stringsAt(item, f('fromEntities', 'toEntities'), path)) {
    if (!(ENTITIES as readonly string[]).includes(entity)) throw new Invalid(`unsupported entity: ${entity}`);
  }
  if (!dir.ingress) {
    objectsAt(item, 'toFQDNs', path).forEach((s) => {
      const error = fqdnSelectorError(s);
      if (error) throw new Invalid(error);
    });
    if (dir.deny && count(item, 'toFQDNs') > 0) throw new Invalid('toFQDNs is not allowed in egressDeny rules');
  }

  // Cilium features tendril does not implement: refuse them rather than silently ignore them.
  const unsupported: [string, string][] = [
    [f('fromGroups', 'toGroups'), 'needs a cloud provider integration'],
    [requires, 'deprecated in Cilium 1.17 and removed in 1.19'],
    ['toServices', 'not implemented yet; select the backends with toEndpoints'],
  ];
  for (const [field, why] of unsupported) {
    if (count(item, field) > 0) throw new Invalid(`${field} is not supported by tendril (${why})`);
  }
  if (item.authentication !== undefined && item.authentication !== null) throw new Invalid('authentication (mutual auth) is not supported by tendril yet');
}

// ---- rules and objects ----

/** Rule.Sanitize: the text Cilium would wrap as "Invalid CiliumNetworkPolicy spec: <text>". */
export function ruleError(rule: unknown, options: ValidationOptions = {}, path = 'spec'): string | undefined {
  try {
    checkRule(rule, path, options);
    return undefined;
  } catch (err) {
    if (err instanceof Invalid) return err.message;
    throw err;
  }
}

function checkRule(rule: unknown, path: string, options: ValidationOptions): void {
  if (!isObject(rule)) throw typeError(path, rule, 'object');
  const hasEndpointSelector = rule.endpointSelector !== undefined && rule.endpointSelector !== null;
  const hasNodeSelector = rule.nodeSelector !== undefined && rule.nodeSelector !== null;
  if (!hasEndpointSelector && !hasNodeSelector) throw new Invalid('rule must have one of EndpointSelector or NodeSelector');
  if (hasEndpointSelector && hasNodeSelector) throw new Invalid('rule cannot have both EndpointSelector and NodeSelector');
  if (hasEndpointSelector) checkEndpointSelector(rule.endpointSelector, `${path}.endpointSelector`);
  if (hasNodeSelector) checkEndpointSelector(rule.nodeSelector, `${path}.nodeSelector`);
  const sections: [string, Direction][] = [
    ['ingress', { ingress: true, deny: false }],
    ['egress', { ingress: false, deny: false }],
    ['ingressDeny', { ingress: true, deny: true }],
    ['egressDeny', { ingress: false, deny: true }],
  ];
  for (const [section, dir] of sections) {
    objectsAt(rule, section, path).forEach((item, i) => {
      checkItem(item, `${path}.${section}[${i}]`, dir, options);
      if (hasNodeSelector && !dir.deny && hasL7(objectsAt(item, 'toPorts', path))) throw new Invalid('host policies do not support L7 rules yet');
    });
  }
  const enableDefaultDeny = objectAt(rule, 'enableDefaultDeny', path);
  for (const dir of ['ingress', 'egress']) {
    const v = enableDefaultDeny?.[dir];
    if (v !== undefined && v !== null && typeof v !== 'boolean') throw typeError(`${path}.enableDefaultDeny.${dir}`, v, 'boolean');
  }
}

function checkCiliumPolicy(obj: Json, kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy', options: ValidationOptions): void {
  const metadata = isObject(obj.metadata) ? obj.metadata : {};
  if (typeof metadata.name !== 'string' || metadata.name === '') throw new Invalid(`${kind} must have name`);
  const spec = obj.spec;
  const specs = obj.specs;
  if ((spec === undefined || spec === null) && (specs === undefined || specs === null)) throw new Invalid(`Invalid ${kind} spec(s): empty policy`);
  if (spec !== undefined && spec !== null) {
    const error = ruleError(spec, options, 'spec');
    if (error) throw new Invalid(`Invalid ${kind} spec: ${error}`);
    if (kind === 'CiliumNetworkPolicy' && isObject(spec) && spec.nodeSelector) throw new Invalid(`Invalid ${kind} spec: rule cannot have NodeSelector`);
  }
  if (specs !== undefined && specs !== null) {
    if (!Array.isArray(specs)) throw typeError('specs', specs, 'array');
    specs.forEach((rule, i) => {
      const error = ruleError(rule, options, `specs[${i}]`);
      if (error) throw new Invalid(`Invalid ${kind} specs: ${error}`);
      if (kind === 'CiliumNetworkPolicy' && isObject(rule) && rule.nodeSelector) throw new Invalid(`Invalid ${kind} specs: rule cannot have NodeSelector`);
    });
  }
}

// ---- NetworkPolicy (the API server's ValidateNetworkPolicy) ----

function knpPortErrors(port: NetworkPolicyPort, path: string): string[] {
  const errors: string[] = [];
  if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) {
    errors.push(`${path}.protocol: Unsupported value: ${JSON.stringify(port.protocol)}: supported values: "SCTP", "TCP", "UDP"`);
  }
  let numeric: number | undefined;
  if (port.port !== undefined && port.port !== null) {
    if (typeof port.port === 'number') {
      if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535) {
        errors.push(`${path}.port: Invalid value: ${port.port}: must be between 1 and 65535, inclusive`);
      } else numeric = port.port;
    } else if (typeof port.port === 'string') {
      for (const e of portNameErrors(port.port)) errors.push(`${path}.port: Invalid value: ${JSON.stringify(port.port)}: ${e}`);
    } else {
      errors.push(`${path}.port: Invalid value: ${JSON.stringify(typeName(port.port))}: must be an integer or a string`);
    }
  }
  if (port.endPort !== undefined && port.endPort !== null) {
    if (typeof port.endPort !== 'number' || !Number.isInteger(port.endPort)) {
      errors.push(`${path}.endPort: Invalid value: ${JSON.stringify(port.endPort)}: must be an integer`);
    } else if (port.port === undefined || port.port === null) {
      errors.push(`${path}.endPort: Required value: must specify a port when endPort is specified`);
    } else if (numeric === undefined) {
      errors.push(`${path}.endPort: Invalid value: ${port.endPort}: may not be specified when port is non-numeric`);
    } else if (port.endPort < numeric) {
      errors.push(`${path}.endPort: Invalid value: ${port.endPort}: must be greater than or equal to port`);
    } else if (port.endPort > 65535) {
      errors.push(`${path}.endPort: Invalid value: ${port.endPort}: must be between 1 and 65535, inclusive`);
    }
  }
  return errors;
}

function knpPeerErrors(peer: NetworkPolicyPeer, path: string): string[] {
  const errors: string[] = [];
  const kinds = [peer.podSelector, peer.namespaceSelector, peer.ipBlock].filter((x) => x !== undefined && x !== null).length;
  if (kinds === 0) errors.push(`${path}: Required value: must specify a peer`);
  if (peer.ipBlock && kinds > 1) errors.push(`${path}: Forbidden: may not specify more than 1 peer type`);
  for (const field of ['podSelector', 'namespaceSelector'] as const) {
    const selector = peer[field];
    if (selector === undefined || selector === null) continue;
    if (!isObject(selector)) errors.push(`${path}.${field}: Invalid value: ${JSON.stringify(typeName(selector))}: must be an object`);
    else errors.push(...selectorErrors(selector as Json, `${path}.${field}`, false));
  }
  if (peer.ipBlock !== undefined && peer.ipBlock !== null) {
    if (!isObject(peer.ipBlock)) return [...errors, `${path}.ipBlock: Invalid value: ${JSON.stringify(typeName(peer.ipBlock))}: must be an object`];
    if (peer.ipBlock.except !== undefined && peer.ipBlock.except !== null && !Array.isArray(peer.ipBlock.except)) {
      errors.push(`${path}.ipBlock.except: Invalid value: ${JSON.stringify(typeName(peer.ipBlock.except))}: must be a list of CIDRs`);
    }
    const cidr = peer.ipBlock.cidr;
    let prefix: IpPrefix | undefined;
    try {
      prefix = parseIpPrefix(cidr);
    } catch {
      errors.push(`${path}.ipBlock.cidr: Invalid value: ${JSON.stringify(cidr ?? '')}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`);
    }
    (Array.isArray(peer.ipBlock.except) ? peer.ipBlock.except : []).forEach((except, i) => {
      const at = `${path}.ipBlock.except[${i}]`;
      let excluded: IpPrefix;
      try {
        excluded = parseIpPrefix(except);
      } catch {
        errors.push(`${at}: Invalid value: ${JSON.stringify(except)}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`);
        return;
      }
      if (prefix && (!prefixContains(prefix, excluded) || excluded.length === prefix.length)) {
        errors.push(`${at}: Invalid value: ${JSON.stringify(except)}: must be a strict subset of \`cidr\``);
      }
    });
  }
  return errors;
}

function checkNetworkPolicy(obj: Json): void {
  const metadata = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const errors: string[] = [];
  if (!name) errors.push('metadata.name: Required value: name or generateName is required');
  const spec = obj.spec === undefined || obj.spec === null ? {} : obj.spec;
  if (!isObject(spec)) throw typeError('spec', spec, 'object');
  if (spec.podSelector !== undefined && spec.podSelector !== null) {
    if (!isObject(spec.podSelector)) throw typeError('spec.podSelector', spec.podSelector, 'object');
    errors.push(...selectorErrors(spec.podSelector, 'spec.podSelector', false));
  }
  for (const [section, peerField] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    objectsAt(spec, section, 'spec').forEach((rule, i) => {
      const at = `spec.${section}[${i}]`;
      objectsAt(rule, 'ports', at).forEach((port, j) => errors.push(...knpPortErrors(port as NetworkPolicyPort, `${at}.ports[${j}]`)));
      objectsAt(rule, peerField, at).forEach((peer, j) => errors.push(...knpPeerErrors(peer as NetworkPolicyPeer, `${at}.${peerField}[${j}]`)));
    });
  }
  const policyTypes = stringsAt(spec, 'policyTypes', 'spec');
  policyTypes.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') errors.push(`spec.policyTypes[${i}]: Unsupported value: ${JSON.stringify(t)}: supported values: "Egress", "Ingress"`);
  });
  if (policyTypes.length > 2) errors.push(`spec.policyTypes: Invalid value: ${JSON.stringify(policyTypes)}: may not have more than 2 items`);
  if (errors.length > 0) throw new Invalid(`NetworkPolicy.networking.k8s.io ${JSON.stringify(name)} is invalid: ${aggregate(errors)}`);
}

/**
 * The error Cilium (or, for NetworkPolicy, the API server) reports for this object, or undefined
 * when it is valid. Works on any JSON value.
 */
export function validatePolicy(obj: unknown, options: ValidationOptions = {}): string | undefined {
  try {
    if (!isObject(obj)) throw new Invalid(`a policy must be an object, not ${typeName(obj)}`);
    switch (obj.kind) {
      case 'CiliumNetworkPolicy':
      case 'CiliumClusterwideNetworkPolicy':
        checkCiliumPolicy(obj, obj.kind, options);
        break;
      case 'NetworkPolicy':
        checkNetworkPolicy(obj);
        break;
      default:
        throw new Invalid(
          `unsupported policy kind ${JSON.stringify(obj.kind ?? '')}: expected CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy`,
        );
    }
    return undefined;
  } catch (err) {
    if (err instanceof Invalid) return err.message;
    throw err;
  }
}

