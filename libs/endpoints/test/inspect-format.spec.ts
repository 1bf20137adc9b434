import type { KubeObject } from '@tendril/api-k8s';
import { formatDropMetrics, formatEndpointPolicy, formatIdentities, formatIpcache, formatPortProtocol, formatServices, validateEndpointResource, ClusterIpAllocator } from '../src';

describe('inspection tables', () => {
  it('prints port prefixes as ports, ranges and ICMP types', () => {
    expect(formatPortProtocol({ protocol: 0, port: 0, prefixLength: 0 })).toBe('ANY');
    expect(formatPortProtocol({ protocol: 6, port: 0, prefixLength: 8 })).toBe('ANY/TCP');
    expect(formatPortProtocol({ protocol: 6, port: 8080, prefixLength: 24 })).toBe('8080/TCP');
    expect(formatPortProtocol({ protocol: 17, port: 8080, prefixLength: 21 })).toBe('8080-8087/UDP');
    expect(formatPortProtocol({ protocol: 1, port: 8 << 8, prefixLength: 16 })).toBe('type 8/ICMP');
  });

  it('prints identities with one label per line, as cilium identity list', () => {
    expect(
      formatIdentities([
        { id: 1, labels: ['reserved:host'], endpoints: 0 },
        { id: 256, labels: ['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=default'], endpoints: 2 },
      ]),
    ).toBe(['ID    ENDPOINTS   LABELS', '1     0           reserved:host', '256   2           k8s:app=web', '                  k8s:io.kubernetes.pod.namespace=default', ''].join('\n'));
  });

  it('prints an endpoint policy map with verdicts, peers and proxy ports', () => {
    const text = formatEndpointPolicy({
      endpoint: { namespace: 'default', name: 'web-1', endpointId: 3, ip: '10.244.0.3', hostInterface: 'veth3', identity: 256, labels: [], state: 'ready', enforcement: { ingress: true, egress: false }, policyEntries: 3, policyWrites: 3 },
      entries: [
        { identity: 1, direction: 'ingress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0, labels: ['reserved:host'] },
        { identity: 300, direction: 'ingress', protocol: 6, port: 8080, prefixLength: 24, deny: false, proxyPort: 15001, labels: ['k8s:app=client'] },
        { identity: 0, direction: 'egress', protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0, labels: [] },
      ],
    });
    expect(text.split('\n')).toEqual([
      'Endpoint 3 (default/web-1, 10.244.0.3), identity 256: ingress default-deny, egress allow-all, state ready',
      'POLICY     DIRECTION   IDENTITY   LABELS (source:key[=value])   PORT/PROTO   PROXY PORT   PREFIX',
      'Allow      Ingress     1          reserved:host                 ANY          NONE         0',
      'Redirect   Ingress     300        k8s:app=client                8080/TCP     15001        24',
      'Allow      Egress      ANY        ANY                           ANY          NONE         0',
      '',
    ]);
  });

  it('says when an endpoint has no entries (its traffic is dropped)', () => {
    const text = formatEndpointPolicy({
      endpoint: { namespace: 'default', name: 'web-1', endpointId: 3, ip: '10.244.0.3', hostInterface: 'veth3', identity: 256, labels: [], state: 'failed', policyEntries: 0, policyWrites: 0, error: 'map full' },
      entries: [],
    });
    expect(text).toContain('state failed (map full)');
    expect(text).toContain('No policy map entries: all traffic of this endpoint is dropped.');
  });

  it('prints the drop counters with the reasons that dropped first', () => {
    expect(
      formatDropMetrics([
        { reason: 'policyDenied', description: 'Policy denied', packets: 3 },
        { reason: 'malformed', description: 'Invalid packet', packets: 0 },
        { reason: 'policyDeniedByDenylist', description: 'Policy denied by denylist', packets: 12 },
      ]),
    ).toBe('REASON                      PACKETS\nPolicy denied by denylist   12\nPolicy denied               3\nInvalid packet              0\n');
  });

  it('prints the ipcache and the load balancer', () => {
    expect(formatIpcache([{ cidr: '10.244.0.3/32', identity: 256, labels: ['k8s:app=web'] }])).toBe('IP PREFIX/ADDRESS   IDENTITY   LABELS\n10.244.0.3/32       256        k8s:app=web\n');
    expect(
      formatServices([
        { service: 'default/web', portName: 'http', frontend: { vip: '10.96.0.80', port: 80, protocol: 'TCP' }, backends: [{ ip: '10.244.0.3', port: 8080 }, { ip: '10.244.0.4', port: 8080 }] },
        { service: 'default/api', portName: '', frontend: { vip: '10.96.0.81', port: 53, protocol: 'UDP' }, backends: [] },
      ]),
    ).toBe(
      [
        'SERVICE ADDRESS     BACKEND ADDRESS                    SERVICE',
        '10.96.0.80:80/TCP   10.244.0.3:8080                    default/web (http)',
        '                    10.244.0.4:8080',
        '10.96.0.81:53/UDP   <none> (connections are refused)   default/api',
        '',
      ].join('\n'),
    );
  });
});

describe('validateEndpointResource', () => {
  it('gives a bad policy Cilium’s error and leaves other kinds to the caller', () => {
    const bad = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'default' }, spec: { endpointSelector: {}, ingress: [{ fromEntities: ['galaxy'] }] } } as KubeObject;
    expect(validateEndpointResource(bad)).toEqual([{ path: '', message: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' }]);
    expect(validateEndpointResource({ ...bad, spec: { endpointSelector: {}, ingress: [{ fromEntities: ['world'] }] } } as KubeObject)).toEqual([]);
    expect(validateEndpointResource({ ...bad, metadata: { name: 'Bad_Name', namespace: 'default' } } as KubeObject)?.[0]?.path).toBe('metadata.name');
    expect(validateEndpointResource({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: 'default' } } as KubeObject)).toEqual([]);
    expect(validateEndpointResource({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } } as KubeObject)).toBeUndefined();
    // A policy kind under another API version is not ours: the caller reports it as unknown.
    expect(validateEndpointResource({ ...bad, apiVersion: 'cilium.io/v1' } as KubeObject)).toBeUndefined();
  });
});

describe('ClusterIpAllocator', () => {
  it('keeps an address with its Service, skips addresses Services name, and rejects a bad range', () => {
    const allocator = new ClusterIpAllocator('10.96.0.0/29');
    const first = allocator.assign(new Map([['default/a', undefined], ['default/b', '10.96.0.2']]));
    expect(first).toEqual(new Map([['default/a', '10.96.0.1'], ['default/b', '10.96.0.2']]));
    const second = allocator.assign(new Map([['default/c', undefined], ['default/a', undefined]]));
    expect(second.get('default/a')).toBe('10.96.0.1');
    expect(second.get('default/c')).toBe('10.96.0.2');
    expect(() => new ClusterIpAllocator('10.96.0.0/31')).toThrow('service CIDR 10.96.0.0/31 must be an IPv4 prefix of at most /30');
    expect(() => new ClusterIpAllocator('nope')).toThrow('service CIDR nope: netip.ParsePrefix("nope"): no \'/\'');
  });
});
