import type { KubeObject } from '@tendril/api-k8s';
import { TranslationMemo, translate, type TranslateResult } from '../src';
import { CONTROLLER_NAME, NOW } from './golden';

const GROUP = 'gateway.networking.k8s.io';
const gatewayClass = { apiVersion: `${GROUP}/v1`, kind: 'GatewayClass', metadata: { name: 'tendril', generation: 1 }, spec: { controllerName: CONTROLLER_NAME } };

function gateway(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: `${GROUP}/v1`,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'infra', generation: 1 },
    spec: { gatewayClassName: 'tendril', allowedListeners: { namespaces: { from: 'All' } }, listeners: [{ name: 'http', port: 80, protocol: 'HTTP', hostname: 'gw.example' }], ...spec },
  } as KubeObject;
}

function listenerSet(name: string, listeners: unknown[], namespace = 'infra', creationTimestamp?: string): KubeObject {
  return { apiVersion: `${GROUP}/v1`, kind: 'ListenerSet', metadata: { name, namespace, generation: 1, ...(creationTimestamp ? { creationTimestamp } : {}) }, spec: { parentRef: { name: 'gw', namespace: 'infra' }, listeners } } as KubeObject;
}

function run(resources: unknown[], memo?: TranslationMemo): TranslateResult {
  return translate({ resources: [gatewayClass, ...resources] as KubeObject[], controllerName: CONTROLLER_NAME, now: NOW, options: { defaultAddress: '127.0.0.1' } }, memo);
}

type Status = { conditions: Array<{ type: string; status: string; reason: string }>; listeners: Array<{ name: string; conditions: Array<{ type: string; status: string; reason: string }> }> };
const statusOf = (result: TranslateResult, kind: string, name: string): Status => result.statuses.find((s) => s.kind === kind && s.name === name)?.status as unknown as Status;
const conditions = (list: Status['conditions']): string[] => list.map((c) => `${c.type}=${c.status}/${c.reason}`);

describe('ListenerSets', () => {
  it('settles a conflict between two listeners of one ListenerSet in listener order: the first keeps the port', () => {
    const result = run([gateway(), listenerSet('ls', [{ name: 'http', port: 8080, protocol: 'HTTP' }, { name: 'tcp', port: 8080, protocol: 'TCP' }])]);
    const ls = statusOf(result, 'ListenerSet', 'ls');
    expect(ls.listeners.map((l) => [l.name, l.conditions.find((c) => c.type === 'Accepted')?.reason])).toEqual([
      ['http', 'Accepted'],
      ['tcp', 'ProtocolConflict'],
    ]);
    expect(result.envoy.listeners.map((l) => l.name)).toContain('infra/gw/8080');
  });

  it('orders ListenerSets by creation time before name: the older one keeps a shared hostname', () => {
    const result = run([gateway(), listenerSet('a-newer', [{ name: 'l', port: 80, protocol: 'HTTP', hostname: 'shared.example' }], 'infra', '2026-01-02T00:00:00Z'), listenerSet('z-older', [{ name: 'l', port: 80, protocol: 'HTTP', hostname: 'shared.example' }], 'infra', '2026-01-01T00:00:00Z')]);
    expect(conditions(statusOf(result, 'ListenerSet', 'z-older').conditions)).toEqual(['Accepted=True/Accepted', 'Programmed=True/Programmed']);
    expect(conditions(statusOf(result, 'ListenerSet', 'a-newer').conditions)).toEqual(['Accepted=False/ListenersNotValid', 'Programmed=False/ListenersNotValid']);
  });

  it('takes ListenerSets from namespaces the selector matches only, and none under a Gateway that is not accepted', () => {
    const namespaces = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { team: 'yes' } } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } },
    ];
    const selecting = gateway({ allowedListeners: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'yes' } } } } });
    const listeners = [{ name: 'l', port: 80, protocol: 'HTTP', hostname: 'team.example' }];
    const result = run([...namespaces, selecting, listenerSet('a', listeners, 'team-a'), listenerSet('b', listeners, 'team-b')]);
    expect(statusOf(result, 'ListenerSet', 'a').conditions[0]).toMatchObject({ status: 'True' });
    expect(statusOf(result, 'ListenerSet', 'b').conditions[0]).toMatchObject({ status: 'False', reason: 'NotAllowed' });
    const rejected = run([gateway({ infrastructure: { parametersRef: { group: 'example.com', kind: 'Params', name: 'x' } } }), listenerSet('a', listeners)]);
    expect(conditions(statusOf(rejected, 'ListenerSet', 'a').conditions)).toEqual(['Accepted=False/ParentNotAccepted', 'Programmed=False/ParentNotAccepted']);
  });

  it('resolves a ListenerSet listener certificate in another namespace only with a ReferenceGrant from ListenerSets', () => {
    const https = [{ name: 'https', port: 443, protocol: 'HTTPS', hostname: 'secure.example', tls: { certificateRefs: [{ name: 'cert', namespace: 'certs' }] } }];
    const grant = (fromKind: string) => ({ apiVersion: `${GROUP}/v1beta1`, kind: 'ReferenceGrant', metadata: { name: 'g', namespace: 'certs' }, spec: { from: [{ group: GROUP, kind: fromKind, namespace: 'infra' }], to: [{ group: '', kind: 'Secret' }] } });
    const reason = (r: TranslateResult) => statusOf(r, 'ListenerSet', 'ls').listeners[0].conditions.find((c) => c.type === 'ResolvedRefs')?.reason;
    expect(reason(run([gateway(), listenerSet('ls', https), grant('Gateway')]))).toBe('RefNotPermitted');
    // The grant lets the reference through; the Secret does not exist, which is the next problem reported.
    expect(reason(run([gateway(), listenerSet('ls', https), grant('ListenerSet')]))).toBe('InvalidCertificateRef');
  });

  it('a status write on a ListenerSet does not re-evaluate the Gateways (the memo keeps its environment)', () => {
    const memo = new TranslationMemo();
    const gw = gateway();
    const ls = listenerSet('ls', [{ name: 'l', port: 80, protocol: 'HTTP', hostname: 'ls.example' }]);
    const first = run([gw, ls], memo);
    const written = { ...ls, status: statusOf(first, 'ListenerSet', 'ls') } as KubeObject;
    const second = run([gw, written], memo);
    expect(second.ir.listeners[0]).toBe(first.ir.listeners[0]);
    expect(statusOf(second, 'ListenerSet', 'ls')).toEqual(statusOf(first, 'ListenerSet', 'ls'));
  });
});
