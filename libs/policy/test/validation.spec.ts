/**
 * Validation returns Cilium's own messages (and the API server's for NetworkPolicy), never throws
 * on any input, and a rejected object never changes what is enforced.
 */
import { PolicyRepository, validatePolicy } from '../src';

const cnp = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNetworkPolicy',
  metadata: { name: 'p', namespace: 'shop' },
  spec,
  ...extra,
});
const sel = { matchLabels: { app: 'store' } };
const ingress = (item: unknown) => cnp({ endpointSelector: sel, ingress: [item] });
const egress = (item: unknown) => cnp({ endpointSelector: sel, egress: [item] });
const ports = (...pp: unknown[]) => [{ ports: pp }];

describe('validatePolicy: Cilium messages', () => {
  const cases: [string, unknown, string][] = [
    ['missing name', { ...cnp({ endpointSelector: sel }), metadata: { namespace: 'shop' } }, 'CiliumNetworkPolicy must have name'],
    ['no spec nor specs', { ...cnp(undefined) }, 'Invalid CiliumNetworkPolicy spec(s): empty policy'],
    ['CCNP no spec', { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'x' } }, 'Invalid CiliumClusterwideNetworkPolicy spec(s): empty policy'],
    ['no selector', cnp({ ingress: [{}] }), 'Invalid CiliumNetworkPolicy spec: rule must have one of EndpointSelector or NodeSelector'],
    ['both selectors', cnp({ endpointSelector: sel, nodeSelector: sel }), 'Invalid CiliumNetworkPolicy spec: rule cannot have both EndpointSelector and NodeSelector'],
    ['CNP nodeSelector', cnp({ nodeSelector: sel }), 'Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector'],
    [
      'specs wrap',
      cnp(undefined, { specs: [{ endpointSelector: sel }, { endpointSelector: sel, ingress: [{ fromEntities: ['galaxy'] }] }] }),
      'Invalid CiliumNetworkPolicy specs: unsupported entity: galaxy',
    ],
    // §8 case 25
    ['mixed peers', ingress({ fromEndpoints: [{ matchLabels: { app: 'web' } }], fromCIDR: ['1.2.3.4/32'] }), 'Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromCIDR is not supported yet'],
    ['mixed egress peers', egress({ toEndpoints: [{}], toEntities: ['world'] }), 'Invalid CiliumNetworkPolicy spec: combining ToEndpoints and ToEntities is not supported yet'],
    [
      'kafka role + apiKey',
      ingress({ toPorts: [{ ports: [{ port: '9092', protocol: 'TCP' }], rules: { kafka: [{ role: 'produce', apiKey: 'fetch' }] } }] }),
      'Invalid CiliumNetworkPolicy spec: cannot set both Role "produce" and APIKey "fetch" together',
    ],
    ['kafka role', ingress({ toPorts: [{ ports: [{ port: '9092', protocol: 'TCP' }], rules: { kafka: [{ role: 'admin' }] } }] }), 'Invalid CiliumNetworkPolicy spec: invalid Kafka Role "admin"'],
    [
      'fqdn both',
      egress({ toFQDNs: [{ matchName: 'a.com', matchPattern: '*.a.com' }] }),
      'Invalid CiliumNetworkPolicy spec: only one of MatchName or MatchPattern is allowed in an FQDNSelector',
    ],
    [
      'fqdn chars',
      egress({ toFQDNs: [{ matchName: 'a b.com' }] }),
      'Invalid CiliumNetworkPolicy spec: Invalid characters in MatchName: "a b.com". Only 0-9, a-z, A-Z and . and - characters are allowed',
    ],
    // §8 case 16
    ['http without protocol', ingress({ toPorts: [{ ports: [{ port: '80' }], rules: { http: [{}] } }] }), 'Invalid CiliumNetworkPolicy spec: L7 rules can only apply to TCP (not ) except for DNS rules'],
    ['http on ANY', ingress({ toPorts: [{ ports: [{ port: '80', protocol: 'ANY' }], rules: { http: [{}] } }] }), 'Invalid CiliumNetworkPolicy spec: L7 rules can only apply to TCP (not ANY) except for DNS rules'],
    ['http on port 0', ingress({ toPorts: [{ ports: [{ port: '0', protocol: 'TCP' }], rules: { http: [{}] } }] }), 'Invalid CiliumNetworkPolicy spec: L7 rules can not be used when a port is 0'],
    ['dns on ingress', ingress({ toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { dns: [{ matchName: 'a.com' }] } }] }), 'Invalid CiliumNetworkPolicy spec: L7 protocol DNS is not supported on ingress yet'],
    ['dns without ports', egress({ toPorts: [{ rules: { dns: [{ matchName: 'a.com' }] } }] }), 'Invalid CiliumNetworkPolicy spec: port 53 must be specified for DNS rules'],
    ['dns range', egress({ toPorts: [{ ports: [{ port: '53', endPort: 60 }], rules: { dns: [{ matchName: 'a.com' }] } }] }), 'Invalid CiliumNetworkPolicy spec: DNS rules do not support port ranges'],
    [
      'two L7 types',
      egress({ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}], kafka: [{}] } }] }),
      'Invalid CiliumNetworkPolicy spec: multiple L7 protocol rule types specified in single rule',
    ],
    ['l7 without l7proto', egress({ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { l7: [{ a: 'b' }] } }] }), `Invalid CiliumNetworkPolicy spec: 'l7' may only be specified when a 'l7proto' is also specified`],
    ['empty port', ingress({ toPorts: ports({ protocol: 'TCP' }) }), 'Invalid CiliumNetworkPolicy spec: port must be specified'],
    ['bad port', ingress({ toPorts: ports({ port: '99999' }) }), 'Invalid CiliumNetworkPolicy spec: unable to parse port: strconv.ParseUint: parsing "99999": value out of range'],
    ['bad port syntax', ingress({ toPorts: ports({ port: '-80' }) }), 'Invalid CiliumNetworkPolicy spec: unable to parse port: strconv.ParseUint: parsing "-80": invalid syntax'],
    ['bad protocol', ingress({ toPorts: ports({ port: '80', protocol: 'icmp' }) }), 'Invalid CiliumNetworkPolicy spec: invalid protocol "ICMP", must be { tcp | udp | sctp | any }'],
    ['too many ports', ingress({ toPorts: ports(...Array.from({ length: 41 }, (_, i) => ({ port: String(i + 1) }))) }), 'Invalid CiliumNetworkPolicy spec: too many ports, the max is 40'],
    ['server names without TLS', ingress({ toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }], serverNames: ['a.com'], rules: { http: [{}] } }] }), 'Invalid CiliumNetworkPolicy spec: ServerNames are not allowed with L7 rules without TLS termination'],
    ['empty server name', egress({ toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }], serverNames: [''] }] }), 'Invalid CiliumNetworkPolicy spec: empty server name is not allowed'],
    ['listener on ingress', ingress({ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], listener: { name: 'l1', envoyConfig: { kind: 'CiliumEnvoyConfig', name: 'x' } } }] }), 'Invalid CiliumNetworkPolicy spec: Listener is not allowed on ingress (l1)'],
    ['icmps with toPorts', ingress({ icmps: [{ fields: [{ type: 8 }] }], toPorts: ports({ port: '80' }) }), 'Invalid CiliumNetworkPolicy spec: the ICMPs block may only be present without ToPorts. Define a separate rule to use ToPorts.'],
    ['icmp family', ingress({ icmps: [{ fields: [{ family: 'IPv5', type: 8 }] }] }), 'Invalid CiliumNetworkPolicy spec: wrong family: IPv5'],
    ['icmp name', ingress({ icmps: [{ fields: [{ type: 'Ping' }] }] }), 'Invalid CiliumNetworkPolicy spec: ICMP type "Ping" not found in IPv4 type names'],
    ['fromNodes', ingress({ fromNodes: [{}] }), 'Invalid CiliumNetworkPolicy spec: FromNodes/ToNodes rules can only be applied when the "enable-node-selector-labels" flag is set'],
    ['entity', ingress({ fromEntities: ['galaxy'] }), 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy'],
    ['empty CIDR', ingress({ fromCIDR: [''] }), 'Invalid CiliumNetworkPolicy spec: IP must be specified'],
    ['bad CIDR', ingress({ fromCIDR: ['10.0.0.300/8'] }), 'Invalid CiliumNetworkPolicy spec: unable to parse CIDR: ParseAddr("10.0.0.300/8"): unable to parse IP'],
    ['CIDRRule no slash', ingress({ fromCIDRSet: [{ cidr: '10.0.0.1' }] }), `Invalid CiliumNetworkPolicy spec: unable to parse CIDRRule "10.0.0.1": netip.ParsePrefix("10.0.0.1"): no '/'`],
    ['CIDRRule except outside', ingress({ fromCIDRSet: [{ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }] }), 'Invalid CiliumNetworkPolicy spec: allow CIDR prefix 10.0.0.0/8 does not contain exclude CIDR prefix 11.0.0.0/16'],
    ['CIDRRule no source', ingress({ fromCIDRSet: [{ except: ['10.0.0.0/16'] }] }), 'Invalid CiliumNetworkPolicy spec: one of cidr, cidrGroupRef, or cidrGroupSelector is required'],
    ['CIDRRule two sources', ingress({ fromCIDRSet: [{ cidr: '10.0.0.0/8', cidrGroupRef: 'g' }] }), 'Invalid CiliumNetworkPolicy spec: more than one of cidr, cidrGroupRef, or cidrGroupSelector may not be set'],
    [
      'selector operator',
      cnp({ endpointSelector: { matchExpressions: [{ key: 'app', operator: 'Like', values: ['x'] }] } }),
      'Invalid CiliumNetworkPolicy spec: invalid label selector: matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator',
    ],
    [
      'selector In without values',
      ingress({ fromEndpoints: [{ matchExpressions: [{ key: 'app', operator: 'In' }] }] }),
      "Invalid CiliumNetworkPolicy spec: invalid label selector: matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    ],
    ['http header action', ingress({ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ headerMatches: [{ name: 'X', mismatch: 'DROP' }] }] } }] }), 'Invalid CiliumNetworkPolicy spec: Invalid header action: DROP'],
    ['http header name', ingress({ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ headerMatches: [{ value: 'v' }] }] } }] }), 'Invalid CiliumNetworkPolicy spec: Header name missing'],
  ];
  it.each(cases)('%s', (_name, policy, message) => {
    expect(validatePolicy(policy)).toBe(message);
  });

  it('accepts the policies of the semantics doc, including named ports and ICMP type names', () => {
    expect(validatePolicy(ingress({ fromEndpoints: [{ matchLabels: { app: 'web', 'k8s:io.kubernetes.pod.namespace': 'dev' } }], toPorts: ports({ port: 'http-alt', protocol: 'TCP' }) }))).toBeUndefined();
    expect(validatePolicy(ingress({ icmps: [{ fields: [{ family: 'IPv6', type: 'EchoRequest' }] }] }))).toBeUndefined();
    expect(validatePolicy(egress({ toFQDNs: [{ matchPattern: '*.example.com' }], toPorts: ports({ port: '443', protocol: 'TCP' }) }))).toBeUndefined();
  });

  it('reports options Cilium has as flags', () => {
    expect(validatePolicy(ingress({ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}] } }] }), { enableL7Proxy: false })).toBe(
      'Invalid CiliumNetworkPolicy spec: L7 policy is not supported since L7 proxy is not enabled',
    );
    expect(validatePolicy(ingress({ icmps: [{ fields: [{ type: 8 }] }] }), { enableICMPRules: false })).toBe(
      'Invalid CiliumNetworkPolicy spec: ICMP rules can only be applied when the "enable-icmp-rules" flag is set',
    );
  });

  it('refuses features tendril does not implement instead of ignoring them', () => {
    expect(validatePolicy(egress({ toServices: [{ k8sService: { serviceName: 'a', namespace: 'b' } }] }))).toMatch(/toServices is not supported by tendril/);
    expect(validatePolicy(ingress({ fromEndpoints: [{}], authentication: { mode: 'required' } }))).toMatch(/authentication \(mutual auth\) is not supported/);
    expect(validatePolicy(ingress({ fromRequires: [{ matchLabels: { env: 'prod' } }] }))).toMatch(/fromRequires is not supported by tendril/);
  });
});

describe('validatePolicy: NetworkPolicy (API server messages)', () => {
  const knp = (spec: unknown) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'shop' }, spec });
  it.each([
    [knp({ podSelector: {}, ingress: [{ ports: [{ protocol: 'ICMP', port: 1 }] }] }), 'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'],
    [knp({ podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] }), 'spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive'],
    [knp({ podSelector: {}, egress: [{ ports: [{ port: 'http', endPort: 90 }] }] }), 'spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when port is non-numeric'],
    [knp({ podSelector: {}, egress: [{ ports: [{ port: 100, endPort: 90 }] }] }), 'spec.egress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to port'],
    [knp({ podSelector: {}, ingress: [{ from: [{}] }] }), 'spec.ingress[0].from[0]: Required value: must specify a peer'],
    [
      knp({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }),
      'spec.ingress[0].from[0]: Forbidden: may not specify more than 1 peer type',
    ],
    [
      knp({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/8'] } }] }] }),
      'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "11.0.0.0/8": must be a strict subset of `cidr`',
    ],
    [knp({ podSelector: {}, policyTypes: ['Both'] }), 'spec.policyTypes[0]: Unsupported value: "Both": supported values: "Egress", "Ingress"'],
  ])('%#', (policy, message) => {
    expect(validatePolicy(policy)).toBe(`NetworkPolicy.networking.k8s.io "np" is invalid: ${message}`);
  });
});

describe('bad input never crashes', () => {
  it.each([
    [null, 'a policy must be an object, not null'],
    ['text', 'a policy must be an object, not string'],
    [{ kind: 'Pod' }, 'unsupported policy kind "Pod": expected CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy'],
    [cnp('x'), 'Invalid CiliumNetworkPolicy spec: spec: Invalid value: "string": spec in body must be of type object: "string"'],
    [cnp({ endpointSelector: sel, ingress: {} }), 'Invalid CiliumNetworkPolicy spec: spec.ingress: Invalid value: "object": spec.ingress in body must be of type array: "object"'],
    [ingress({ toPorts: [{ ports: [7] }] }), 'Invalid CiliumNetworkPolicy spec: spec.ingress[0].toPorts[0].ports[0]: Invalid value: "integer": spec.ingress[0].toPorts[0].ports[0] in body must be of type object: "integer"'],
    [ingress({ fromCIDR: [10] }), 'Invalid CiliumNetworkPolicy spec: spec.ingress[0].fromCIDR[0]: Invalid value: "integer": spec.ingress[0].fromCIDR[0] in body must be of type string: "integer"'],
  ])('%#', (policy, message) => {
    expect(validatePolicy(policy)).toBe(message);
  });
});

describe('PolicyRepository', () => {
  const allowWeb = ingress({ fromEndpoints: [{ matchLabels: { app: 'web' } }] });
  it('keeps the last valid version when an update is invalid, and records the error', () => {
    const repo = new PolicyRepository();
    expect(repo.upsert(allowWeb)).toMatchObject({ accepted: true, key: 'CiliumNetworkPolicy/shop/p' });
    const before = repo.rules();
    const result = repo.upsert(ingress({ fromEndpoints: [{}], fromEntities: ['world'] }));
    expect(result).toEqual({
      accepted: false,
      key: 'CiliumNetworkPolicy/shop/p',
      error: 'Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromEntities is not supported yet',
      keptPrevious: true,
    });
    expect(repo.rules()).toEqual(before);
    expect([...repo.errors()]).toEqual([['CiliumNetworkPolicy/shop/p', result.accepted ? '' : result.error]]);
    expect(repo.delete('CiliumNetworkPolicy', 'shop', 'p')).toBe(true);
    expect(repo.rules()).toEqual([]);
    expect(repo.errors().size).toBe(0);
  });
});
