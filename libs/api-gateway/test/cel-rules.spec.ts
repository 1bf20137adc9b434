/**
 * Each CEL rule the conformance suite relies on: a resource that breaks the rule is rejected at the
 * rule's field with the CRD's message, and its good twin (the same fixture without the breakage, or a
 * near-miss that the rule allows) is accepted.
 */
import { validateGatewayResource, unimplementedCelRules, type FieldError } from '../src';
import { fixture, type Manifest } from './fixtures';

interface RuleCase {
  name: string;
  fixture: string;
  /** Breaks the rule. */
  bad: (m: Manifest) => void;
  /** A change the rule allows (defaults to leaving the fixture alone). */
  good?: (m: Manifest) => void;
  path: string;
  /** JSON type of the value at `path`, which the API server names in the error ("object" unless stated). */
  on?: 'array' | 'object';
  message: string;
}

function validate(name: string, change: (m: Manifest) => void): FieldError[] {
  const manifest = fixture(name);
  change(manifest);
  return validateGatewayResource(manifest).errors;
}

const celError = (path: string, message: string, on = 'object'): FieldError => ({ path, message: `Invalid value: "${on}": ${message}` });

const cases: RuleCase[] = [
  // ---- HTTP path values
  ...(
    [
      ['api', "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"],
      ['/api//v1', "must not contain '//' when type one of ['Exact', 'PathPrefix']"],
      ['/api/./v1', "must not contain '/./' when type one of ['Exact', 'PathPrefix']"],
      ['/api/../v1', "must not contain '/../' when type one of ['Exact', 'PathPrefix']"],
      ['/api%2fv1', "must not contain '%2f' when type one of ['Exact', 'PathPrefix']"],
      ['/api%2Fv1', "must not contain '%2F' when type one of ['Exact', 'PathPrefix']"],
      ['/api#top', "must not contain '#' when type one of ['Exact', 'PathPrefix']"],
      ['/api/..', "must not end with '/..' when type one of ['Exact', 'PathPrefix']"],
      ['/api/.', "must not end with '/.' when type one of ['Exact', 'PathPrefix']"],
      ['/api v1', "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"],
    ] as const
  ).map(
    ([value, message]): RuleCase => ({
      name: `path ${JSON.stringify(value)}`,
      fixture: 'httproute',
      bad: (m) => (m.spec.rules[1].matches[0].path.value = value),
      // The same text is fine as a RegularExpression: the rule only applies to Exact and PathPrefix.
      good: (m) => (m.spec.rules[1].matches[0].path = { type: 'RegularExpression', value: `^${value}` }),
      path: 'spec.rules[1].matches[0].path',
      message,
    }),
  ),

  // ---- filters
  {
    name: 'filter field that does not match the filter type',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[0].filters[0].type = 'ResponseHeaderModifier'),
    good: (m) => {
      m.spec.rules[0].filters[0].type = 'ResponseHeaderModifier';
      m.spec.rules[0].filters[0].responseHeaderModifier = m.spec.rules[0].filters[0].requestHeaderModifier;
      delete m.spec.rules[0].filters[0].requestHeaderModifier;
    },
    path: 'spec.rules[0].filters[0]',
    message: 'filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier',
  },
  {
    name: 'filter type without its field',
    fixture: 'httproute',
    bad: (m) => delete m.spec.rules[0].filters[0].requestHeaderModifier,
    path: 'spec.rules[0].filters[0]',
    message: 'filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type',
  },
  {
    name: 'backendRef filter field that does not match the filter type',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[1].backendRefs[0].filters[0].type = 'RequestHeaderModifier'),
    path: 'spec.rules[1].backendRefs[0].filters[0]',
    message: 'filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier',
  },
  {
    name: 'repeated filter type',
    fixture: 'httproute',
    bad: (m) => m.spec.rules[0].filters.push({ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: ['x-debug'] } }),
    good: (m) => m.spec.rules[0].filters.push({ type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['x-debug'] } }),
    path: 'spec.rules[0].filters',
    on: 'array',
    message: 'RequestHeaderModifier filter cannot be repeated',
  },
  {
    name: 'RequestRedirect together with URLRewrite',
    fixture: 'httproute',
    bad: (m) => m.spec.rules[2].filters.push({ type: 'URLRewrite', urlRewrite: { hostname: 'new.example.com' } }),
    good: (m) => m.spec.rules[2].filters.push({ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: ['x-debug'] } }),
    path: 'spec.rules[2].filters',
    on: 'array',
    message: 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both',
  },
  {
    name: 'RequestRedirect together with backendRefs',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[2].backendRefs = [{ name: 'old', port: 80 }]),
    path: 'spec.rules[2]',
    message: 'RequestRedirect filter must not be used together with backendRefs',
  },
  {
    name: 'URLRewrite ReplacePrefixMatch with an Exact match',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[0].matches[0].path.type = 'Exact'),
    good: (m) => (m.spec.rules[0].filters[1].urlRewrite.path = { type: 'ReplaceFullPath', replaceFullPath: '/v2' }),
    path: 'spec.rules[0]',
    message: 'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
  },
  {
    name: 'RequestRedirect ReplacePrefixMatch with two matches',
    fixture: 'httproute',
    bad: (m) => m.spec.rules[2].matches.push({ path: { type: 'PathPrefix', value: '/older' } }),
    path: 'spec.rules[2]',
    message: 'When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
  },
  {
    name: 'backendRef URLRewrite ReplacePrefixMatch in a rule with two matches',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[1].backendRefs[0].filters = [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/x' } } }]),
    good: (m) => (m.spec.rules[1].backendRefs[0].filters = [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/x' } } }]),
    path: 'spec.rules[1]',
    message: 'Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
  },
  {
    name: 'path modifier type without its field',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[0].filters[1].urlRewrite.path = { type: 'ReplaceFullPath', replacePrefixMatch: '/v2' }),
    path: 'spec.rules[0].filters[1].urlRewrite.path',
    message: "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
  },
  {
    name: 'path modifier field without its type',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[0].filters[1].urlRewrite.path = { type: 'ReplaceFullPath', replaceFullPath: '/v2', replacePrefixMatch: '/v2' }),
    path: 'spec.rules[0].filters[1].urlRewrite.path',
    message: "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set",
  },
  {
    name: 'mirror with percent and fraction',
    fixture: 'httproute',
    bad: (m) => m.spec.rules[0].filters.push({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, percent: 10, fraction: { numerator: 1 } } }),
    good: (m) => m.spec.rules[0].filters.push({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, percent: 10 } }),
    path: 'spec.rules[0].filters[2].requestMirror',
    message: 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter',
  },
  {
    name: 'mirror fraction above one',
    fixture: 'httproute',
    bad: (m) => m.spec.rules[0].filters.push({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 3, denominator: 2 } } }),
    good: (m) => m.spec.rules[0].filters.push({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 }, fraction: { numerator: 2, denominator: 2 } } }),
    path: 'spec.rules[0].filters[2].requestMirror.fraction',
    message: 'numerator must be less than or equal to denominator',
  },
  {
    name: "CORS '*' alongside other origins",
    fixture: 'httproute',
    bad: (m) => m.spec.rules[0].filters.push({ type: 'CORS', cors: { allowOrigins: ['*', 'https://a.example.com'] } }),
    good: (m) => m.spec.rules[0].filters.push({ type: 'CORS', cors: { allowOrigins: ['*'] } }),
    path: 'spec.rules[0].filters[2].cors.allowOrigins',
    on: 'array',
    message: "AllowOrigins cannot contain '*' alongside other origins",
  },

  // ---- rules, references, timeouts
  {
    name: 'backendRequest timeout longer than request timeout',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[0].timeouts.backendRequest = '20s'),
    // A request timeout of 0s disables it, so any backendRequest timeout is allowed.
    good: (m) => Object.assign(m.spec.rules[0].timeouts, { request: '0s', backendRequest: '20s' }),
    path: 'spec.rules[0].timeouts',
    message: 'backendRequest timeout cannot be longer than request timeout',
  },
  {
    name: 'Service backend without a port',
    fixture: 'httproute',
    bad: (m) => delete m.spec.rules[0].backendRefs[0].port,
    good: (m) => {
      delete m.spec.rules[0].backendRefs[0].port;
      Object.assign(m.spec.rules[0].backendRefs[0], { group: 'example.com', kind: 'Bucket' });
    },
    path: 'spec.rules[0].backendRefs[0]',
    message: 'Must have port for Service reference',
  },
  {
    name: 'two references to the same parent, one without sectionName',
    fixture: 'httproute',
    bad: (m) => m.spec.parentRefs.push({ name: 'public' }),
    good: (m) => m.spec.parentRefs.push({ name: 'public', sectionName: 'https' }),
    path: 'spec.parentRefs',
    on: 'array',
    message: 'sectionName or port must be specified when parentRefs includes 2 or more references to the same parent',
  },
  {
    name: 'two identical parent references',
    fixture: 'httproute',
    bad: (m) => m.spec.parentRefs.push({ name: 'public', sectionName: 'http' }),
    good: (m) => m.spec.parentRefs.push({ name: 'public', namespace: 'other', sectionName: 'http' }),
    path: 'spec.parentRefs',
    on: 'array',
    message: 'sectionName or port must be unique when parentRefs includes 2 or more references to the same parent',
  },
  {
    name: 'duplicate rule names',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[1].name = 'api'),
    good: (m) => delete m.spec.rules[1].name,
    path: 'spec.rules',
    on: 'array',
    message: 'Rule name must be unique within the route',
  },
  {
    name: 'more than 128 matches across rules',
    fixture: 'httproute',
    bad: (m) => {
      for (let r = 0; r < 3; r++) {
        m.spec.rules.push({ matches: Array.from({ length: 64 }, (_, i) => ({ path: { type: 'Exact', value: `/r${r}/m${i}` } })), backendRefs: [{ name: 'many', port: 80 }] });
      }
    },
    good: (m) => m.spec.rules.push({ matches: Array.from({ length: 64 }, (_, i) => ({ path: { type: 'Exact', value: `/m${i}` } })), backendRefs: [{ name: 'many', port: 80 }] }),
    path: 'spec.rules',
    on: 'array',
    message: 'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128',
  },
  {
    name: 'Header session persistence without header',
    fixture: 'httproute',
    bad: (m) => (m.spec.rules[0].sessionPersistence = { type: 'Header' }),
    good: (m) => (m.spec.rules[0].sessionPersistence = { type: 'Header', header: { name: 'x-session' } }),
    path: 'spec.rules[0].sessionPersistence',
    message: 'header must be specified for Header type',
  },

  // ---- GRPCRoute
  {
    name: 'typed gRPC method match without service or method',
    fixture: 'grpcroute',
    bad: (m) => (m.spec.rules[0].matches[0].method = { type: 'Exact' }),
    good: (m) => (m.spec.rules[0].matches[0].method = { type: 'Exact', service: 'helloworld.Greeter' }),
    path: 'spec.rules[0].matches[0].method',
    message: "One or both of 'service' or 'method' must be specified",
  },
  {
    name: 'exact gRPC service with invalid characters',
    fixture: 'grpcroute',
    bad: (m) => (m.spec.rules[0].matches[0].method.service = 'hello-world.Greeter'),
    // Regular expressions are allowed in RegularExpression matches only.
    good: (m) => Object.assign(m.spec.rules[0].matches[0].method, { type: 'RegularExpression', service: 'hello-.*' }),
    path: 'spec.rules[0].matches[0].method',
    message: 'service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)',
  },
  {
    name: 'exact gRPC method with invalid characters',
    fixture: 'grpcroute',
    bad: (m) => (m.spec.rules[0].matches[0].method.method = 'Say.Hello'),
    good: (m) => Object.assign(m.spec.rules[0].matches[0].method, { type: 'RegularExpression', method: 'Say.*' }),
    path: 'spec.rules[0].matches[0].method',
    message: 'method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)',
  },
  {
    name: 'gRPC filter field that does not match the filter type',
    fixture: 'grpcroute',
    bad: (m) => (m.spec.rules[0].filters[0].type = 'ResponseHeaderModifier'),
    path: 'spec.rules[0].filters[0]',
    message: 'filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier',
  },

  // ---- Gateway listeners and addresses
  {
    name: 'duplicate listener names',
    fixture: 'gateway',
    bad: (m) => (m.spec.listeners[1].name = 'http'),
    good: (m) => (m.spec.listeners[1].name = 'https-shop'),
    path: 'spec.listeners',
    on: 'array',
    message: 'Listener name must be unique within the Gateway',
  },

  {
    name: 'hostname on a TCP listener',
    fixture: 'gateway',
    bad: (m) => (m.spec.listeners[3].hostname = 'db.example.com'),
    good: (m) => (m.spec.listeners[3].protocol = 'HTTP'),
    path: 'spec.listeners',
    on: 'array',
    message: "hostname must not be specified for protocols ['TCP', 'UDP']",
  },
  {
    name: 'hostname on a UDP listener',
    fixture: 'gateway',
    bad: (m) => (m.spec.listeners[4].hostname = 'dns.example.com'),
    path: 'spec.listeners',
    on: 'array',
    message: "hostname must not be specified for protocols ['TCP', 'UDP']",
  },
  {
    name: 'tls on an HTTP listener',
    fixture: 'gateway',
    bad: (m) => (m.spec.listeners[0].tls = { certificateRefs: [{ name: 'shop-cert' }] }),
    path: 'spec.listeners',
    on: 'array',
    message: "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
  },
  {
    name: 'HTTPS listener passing TLS through',
    fixture: 'gateway',
    bad: (m) => (m.spec.listeners[1].tls.mode = 'Passthrough'),
    path: 'spec.listeners',
    on: 'array',
    message: 'tls mode must be Terminate for protocol HTTPS',
  },
  {
    name: 'terminating HTTPS listener without certificateRefs',
    fixture: 'gateway',
    bad: (m) => delete m.spec.listeners[1].tls.certificateRefs,
    good: (m) => {
      delete m.spec.listeners[1].tls.certificateRefs;
      m.spec.listeners[1].tls.options = { 'example.com/cert-source': 'vault' };
    },
    path: 'spec.listeners[1].tls',
    message: 'certificateRefs or options must be specified when mode is Terminate',
  },
  {
    name: 'TLS listener without a tls mode',
    fixture: 'gateway',
    bad: (m) => delete m.spec.listeners[2].tls,
    path: 'spec.listeners',
    on: 'array',
    message: 'tls mode must be set for protocol TLS',
  },
  {
    name: 'two listeners on the same port, protocol and hostname',
    fixture: 'gateway',
    bad: (m) => m.spec.listeners.push({ name: 'http-again', protocol: 'HTTP', port: 80, hostname: '*.example.com' }),
    good: (m) => m.spec.listeners.push({ name: 'http-again', protocol: 'HTTP', port: 80, hostname: 'other.example.com' }),
    path: 'spec.listeners',
    on: 'array',
    message: 'Combination of port, protocol and hostname must be unique for each listener',
  },
  {
    name: 'duplicate IP addresses',
    fixture: 'gateway',
    bad: (m) => m.spec.addresses.push({ type: 'IPAddress', value: '10.0.0.10' }),
    good: (m) => m.spec.addresses.push({ type: 'IPAddress', value: '10.0.0.11' }),
    path: 'spec.addresses',
    on: 'array',
    message: 'IPAddress values must be unique',
  },
  {
    name: 'infrastructure label key that is not a qualified name',
    fixture: 'gateway',
    bad: (m) => (m.spec.infrastructure = { labels: { 'team/-bad-': 'x' } }),
    good: (m) => (m.spec.infrastructure = { labels: { 'example.com/team': 'x' } }),
    path: 'spec.infrastructure.labels',
    on: 'object',
    message: 'Label keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.',
  },

  // ---- TLSRoute and BackendTLSPolicy
  {
    name: 'TLSRoute hostname that is an IP',
    fixture: 'tlsroute',
    bad: (m) => (m.spec.hostnames = ['10.0.0.1']),
    path: 'spec.hostnames',
    on: 'array',
    message: 'Hostnames cannot contain an IP',
  },
  {
    name: 'BackendTLSPolicy with both CA sources',
    fixture: 'backendtlspolicy',
    bad: (m) => (m.spec.validation.wellKnownCACertificates = 'System'),
    good: (m) => {
      delete m.spec.validation.caCertificateRefs;
      m.spec.validation.wellKnownCACertificates = 'System';
    },
    path: 'spec.validation',
    message: 'must not contain both CACertificateRefs and WellKnownCACertificates',
  },
  {
    name: 'Hostname subjectAltName without hostname',
    fixture: 'backendtlspolicy',
    bad: (m) => (m.spec.validation.subjectAltNames = [{ type: 'Hostname', uri: 'spiffe://shop/api' }]),
    good: (m) => (m.spec.validation.subjectAltNames = [{ type: 'URI', uri: 'spiffe://shop/api' }]),
    path: 'spec.validation.subjectAltNames[0]',
    message: 'SubjectAltName element must contain Hostname, if Type is set to Hostname',
  },
];

describe('CEL rules (x-kubernetes-validations) translated to TypeScript', () => {
  test.each(['httproute', 'grpcroute', 'gateway', 'tlsroute', 'backendtlspolicy', 'referencegrant'])('fixture %s is valid as written', (name) => {
    expect(validate(name, () => undefined)).toEqual([]);
  });

  test.each(cases)('rejects $name', ({ fixture: name, bad, path, message, on }) => {
    expect(validate(name, bad)).toContainEqual(celError(path, message, on));
  });

  test.each(cases.filter((c) => c.good))('accepts the good twin of $name', ({ fixture: name, good }) => {
    expect(validate(name, good as (m: Manifest) => void)).toEqual([]);
  });

  it('evaluates every CEL rule in the bundled CRDs except transition rules (self == oldSelf)', () => {
    const missing = unimplementedCelRules();
    expect(missing.map((r) => r.rule.replace(/\s+/g, ''))).toEqual(missing.map(() => 'self==oldSelf'));
    expect(missing.map((r) => r.kind).sort()).toEqual(['GatewayClass', 'GatewayClass', 'XMesh']);
  });

  it('reports a rule that cannot be evaluated (a malformed duration) as failed', () => {
    const errors = validate('httproute', (m) => (m.spec.rules[0].timeouts = { request: '10s', backendRequest: '2 seconds' }));
    expect(errors).toContainEqual(expect.objectContaining({ path: 'spec.rules[0].timeouts.backendRequest' }));
    expect(errors).toContainEqual(celError('spec.rules[0].timeouts', 'backendRequest timeout cannot be longer than request timeout'));
  });
});
