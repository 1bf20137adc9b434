import { curlExamples, formatAge, formatObjects, formatStatus, resolveKind, type ListedObject } from '../src';

const now = new Date('2026-11-26T12:00:00Z');
const gateway: ListedObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'default', creationTimestamp: '2026-11-26T11:58:30Z' },
  spec: { gatewayClassName: 'tendril', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] },
  status: { addresses: [{ value: '127.0.0.1' }], conditions: [{ type: 'Programmed', status: 'True' }] },
};
const route: ListedObject = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'r', namespace: 'default', creationTimestamp: '2026-11-24T12:00:00Z' },
  spec: {
    parentRefs: [{ name: 'gw' }],
    hostnames: ['*.example.com'],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/a' }, headers: [{ name: 'x-v', value: "it's" }], method: 'POST' }], backendRefs: [{}, {}] }],
  },
  status: { parents: [{ conditions: [{ type: 'Accepted', status: 'False' }] }] },
};

describe('kubectl-style output', () => {
  it('prints ages as kubectl does', () => {
    expect(formatAge('2026-11-26T11:59:15Z', now)).toBe('45s');
    expect(formatAge('2026-11-26T11:48:00Z', now)).toBe('12m');
    expect(formatAge('2026-11-26T09:00:00Z', now)).toBe('3h');
    expect(formatAge('2026-11-21T12:00:00Z', now)).toBe('5d');
  });

  it('prints a Gateway table with class, address and Programmed, and routes with their parents', () => {
    expect(formatObjects([gateway], 'table', { allNamespaces: false, now })).toBe('NAME   CLASS     ADDRESS     PROGRAMMED   AGE\ngw     tendril   127.0.0.1   True         90s\n');
    expect(formatObjects([route], 'table', { allNamespaces: true, now })).toBe(
      'NAMESPACE   NAME   HOSTNAMES           PARENTS          AGE\ndefault     r      ["*.example.com"]   Accepted=False   2d\n',
    );
    const listenerSet: ListedObject = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'ListenerSet',
      metadata: { name: 'team-a', namespace: 'default', creationTimestamp: '2026-11-26T11:58:30Z' },
      spec: { parentRef: { name: 'gw' }, listeners: [] },
      status: { conditions: [{ type: 'Accepted', status: 'False', reason: 'NotAllowed' }, { type: 'Programmed', status: 'False', reason: 'NotAllowed' }] },
    };
    expect(formatObjects([listenerSet], 'table', { allNamespaces: false, now })).toBe('NAME     ACCEPTED   PROGRAMMED   AGE\nteam-a   False      False        90s\n');
    expect(formatObjects([], 'table', { allNamespaces: false, now })).toBe('No resources found.\n');
  });

  it('prints one object as itself and several as a List in yaml and json', () => {
    expect(JSON.parse(formatObjects([gateway], 'json', { allNamespaces: false, now }))).toEqual(gateway);
    expect(formatObjects([gateway, gateway], 'yaml', { allNamespaces: false, now })).toMatch(/^apiVersion: v1\nkind: List\nitems:\n/);
  });

  it('resolves kinds by plural, singular, short name and case', () => {
    expect(['httproutes', 'HTTPRoute', 'httproute'].map(resolveKind)).toEqual(['HTTPRoute', 'HTTPRoute', 'HTTPRoute']);
    expect(resolveKind('gtw')).toBe('Gateway');
    expect(['listenersets', 'lset', 'ListenerSet'].map(resolveKind)).toEqual(['ListenerSet', 'ListenerSet', 'ListenerSet']);
    expect(resolveKind('widgets')).toBeUndefined();
  });
});

describe('curl examples', () => {
  it('builds a quoted curl command per match through the attached Gateway listener', () => {
    expect(curlExamples([gateway], [route])).toEqual([
      `curl -s -X POST -H 'Host: www.example.com' -H 'x-v: it'\\''s' 'http://127.0.0.1:8080/a'   # repeat to see the weighted split   # default/r`,
    ]);
  });
});

describe('tendril status', () => {
  it('shows per-type sent/acked versions and the last NACK with its error', () => {
    const out = formatStatus({
      agent: { startedAt: '', configDir: '/cfg', xdsAddress: '127.0.0.1:18000', resources: 3, snapshot: '7', sourceErrors: [{ file: 'a.yaml', documentIndex: 2, message: 'a.yaml: document 2: bad' }] },
      nodes: [
        {
          nodeId: 'n1',
          protocol: 'delta',
          connected: true,
          connectedAt: 't0',
          types: {
            'type.googleapis.com/envoy.config.listener.v3.Listener': { sentVersion: 'v2', ackedVersion: 'v1', lastNack: { version: 'v2', message: 'cannot bind 127.0.0.1:80', at: 't1' } },
            'type.googleapis.com/envoy.config.cluster.v3.Cluster': { sentVersion: 'c1', ackedVersion: 'c1', lastAckAt: 't2' },
          },
        },
      ],
    });
    expect(out).toContain('Config errors:  1\n  a.yaml: document 2: bad\n');
    expect(out).toContain('Proxies:        1/1 connected');
    const lines = out.split('\n');
    expect(lines.findIndex((l) => l.includes('Cluster'))).toBeLessThan(lines.findIndex((l) => l.includes('Listener')));
    expect(out).toMatch(/Listener\s+v2\s+v1\s+-\s+t1 version v2: cannot bind 127\.0\.0\.1:80/);
  });
});
