import type { Pod, Service } from '@tendril/api-k8s';
import { endpointSlicesFor } from '../src';

const pod = (name: string, labels: Record<string, string>, ns = 'infra'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 3000 }] }] },
});

const service = (name: string, selector: Record<string, string>, targetPort: number | string, ns = 'infra'): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns },
  spec: { selector, ports: [{ name: 'web', port: 8080, targetPort, protocol: 'TCP' }] },
});

describe('endpointSlicesFor', () => {
  it('leaves out pods that have no IP yet (their network namespace is still being wired)', () => {
    const slices = endpointSlicesFor(
      [service('backend', { app: 'backend' }, 'http')],
      [
        { pod: pod('backend-a', { app: 'backend' }), ip: '10.244.0.2', ready: true },
        { pod: pod('backend-b', { app: 'backend' }), ip: '', ready: false },
      ],
    );
    expect(slices[0].endpoints.map((e) => e.targetRef?.name)).toEqual(['backend-a']);
  });

  it('lists the selected pods of the namespace with readiness and the resolved named port', () => {
    const slices = endpointSlicesFor(
      [service('backend', { app: 'backend' }, 'http')],
      [
        { pod: pod('backend-b', { app: 'backend' }), ip: '127.11.0.2', ready: true },
        { pod: pod('backend-a', { app: 'backend' }), ip: '127.11.0.1', ready: false },
        { pod: pod('other', { app: 'other' }), ip: '127.11.0.3', ready: true },
        { pod: pod('backend-elsewhere', { app: 'backend' }, 'default'), ip: '127.11.0.4', ready: true },
      ],
    );
    expect(slices).toHaveLength(1);
    expect(slices[0].metadata.labels?.['kubernetes.io/service-name']).toBe('backend');
    expect(slices[0].ports).toEqual([{ name: 'web', port: 3000, protocol: 'TCP' }]);
    expect(slices[0].endpoints.map((e) => [e.addresses[0], e.conditions?.ready])).toEqual([
      ['127.11.0.1', false],
      ['127.11.0.2', true],
    ]);
  });

  it('skips Services without a selector: their EndpointSlices are written by the user', () => {
    const svc = service('manual', {}, 3000);
    delete svc.spec!.selector;
    expect(endpointSlicesFor([svc], [{ pod: pod('p', { app: 'x' }), ip: '127.11.0.9', ready: true }])).toEqual([]);
  });

  it('uses a numeric targetPort as is', () => {
    const slices = endpointSlicesFor([service('num', { app: 'n' }, 9090)], [{ pod: pod('p', { app: 'n' }), ip: '127.11.0.5', ready: true }]);
    expect(slices[0].ports?.[0].port).toBe(9090);
  });
});
