import type { PodRuntimeInfo } from '@tendril/workloads';
import { formatEndpoints, formatObjects, type ListedObject } from '../src';

const now = new Date('2026-11-26T12:00:00Z');

function pod(name: string, status: Record<string, unknown>, namespace = 'default'): ListedObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, creationTimestamp: '2026-11-26T11:59:00Z' },
    spec: { containers: [{ name: 'echo' }], nodeName: 'tendril-node' },
    status,
  };
}

const running = pod('web-1', {
  phase: 'Running',
  podIP: '10.244.0.2',
  conditions: [{ type: 'Ready', status: 'True' }],
  containerStatuses: [{ name: 'echo', ready: true, started: true, restartCount: 2 }],
});
const creating = pod('web-2', { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'echo', ready: false, started: false, restartCount: 0 }] }, 'shop');

describe('tendril get pods', () => {
  it('prints READY, STATUS and RESTARTS as kubectl does, ContainerCreating while the namespace is wired', () => {
    expect(formatObjects([running, creating], 'table', { allNamespaces: true, now })).toBe(
      [
        'NAMESPACE   NAME    READY   STATUS              RESTARTS   AGE',
        'default     web-1   1/1     Running             2          60s',
        'shop        web-2   0/1     ContainerCreating   0          60s',
        '',
      ].join('\n'),
    );
  });

  it('adds IP and NODE with -o wide, <none> for a pod without an IP yet', () => {
    expect(formatObjects([running, creating], 'wide', { allNamespaces: false, now })).toBe(
      [
        'NAME    READY   STATUS              RESTARTS   AGE   IP           NODE           NOMINATED NODE   READINESS GATES',
        'web-1   1/1     Running             2          60s   10.244.0.2   tendril-node   <none>           <none>',
        'web-2   0/1     ContainerCreating   0          60s   <none>       tendril-node   <none>           <none>',
        '',
      ].join('\n'),
    );
  });

  it('reads READY from the Ready condition for a Pod without container statuses (from a config file, not run)', () => {
    expect(formatObjects([pod('static', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })], 'table', { allNamespaces: false, now })).toContain('static   1/1     Running   0          60s');
  });

  it('keeps yaml and json as the objects themselves', () => {
    expect(JSON.parse(formatObjects([running], 'json', { allNamespaces: false, now }))).toEqual(running);
  });
});

describe('tendril get endpoints', () => {
  const base = { namespace: 'default', restarts: 0, pids: [42], env: {} };
  const endpoints: PodRuntimeInfo[] = [
    { ...base, name: 'web-2', endpointId: 2, network: 'netns', ip: '', phase: 'Pending', ready: false },
    { ...base, name: 'web-1', endpointId: 1, network: 'netns', ip: '10.244.0.2', netns: 'tdl-1-web-1', hostInterface: 'tdr0123456789ab', phase: 'Running', ready: true },
    { ...base, name: 'loop', endpointId: 3, network: 'loopback', ip: '127.11.0.1', phase: 'Running', ready: false },
    { ...base, name: 'broken', endpointId: 4, network: 'netns', ip: '', phase: 'Failed', ready: false, message: 'cannot create the pod network' },
  ];

  it('lists endpoints by ID as cilium does, with the identity column blank until identities are allocated', () => {
    expect(formatEndpoints(endpoints, 'table')).toBe(
      [
        'ENDPOINT   IDENTITY   POD              IPv4         INTERFACE         NETNS         STATUS',
        '1                     default/web-1    10.244.0.2   tdr0123456789ab   tdl-1-web-1   ready',
        '2                     default/web-2    <none>       <none>            <none>        creating',
        '3                     default/loop     127.11.0.1   lo                <host>        not-ready',
        '4                     default/broken   <none>       <none>            <none>        invalid',
        '',
      ].join('\n'),
    );
    expect(formatEndpoints([{ ...endpoints[1]!, identity: 48312 }], 'table').split('\n')[1]).toMatch(/^1\s+48312\s+default\/web-1/);
    expect(formatEndpoints([], 'table')).toBe('No endpoints found.\n');
    expect(JSON.parse(formatEndpoints(endpoints, 'json')).map((e: PodRuntimeInfo) => e.endpointId)).toEqual([1, 2, 3, 4]);
  });
});
