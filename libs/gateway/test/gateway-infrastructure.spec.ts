import type { KubeObject } from '@tendril/api-k8s';
import { gatewayInfrastructure, gatewayServiceName, GATEWAY_NAME_LABEL, translate, type TranslateResult } from '../src';
import type { Gateway } from '../src/kube-types';
import { CONTROLLER_NAME, NOW } from './golden';

const gatewayClass = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril', generation: 1 }, spec: { controllerName: CONTROLLER_NAME } };
const otherClass = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'other', generation: 1 }, spec: { controllerName: 'example.com/other' } };

function gateway(name: string, spec: Record<string, unknown>, className = 'tendril'): Gateway {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: 'infra', generation: 1, uid: `uid-${name}` },
    spec: { gatewayClassName: className, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }], ...spec },
  } as Gateway;
}

function servicesFor(gateways: Gateway[]): ReturnType<typeof gatewayInfrastructure> {
  const result: TranslateResult = translate({ resources: [gatewayClass, otherClass, ...gateways] as KubeObject[], controllerName: CONTROLLER_NAME, now: NOW, options: { defaultAddress: '127.0.0.1' } });
  return gatewayInfrastructure(gateways, result.statuses);
}

describe('the Service tendril creates for each Gateway it programs', () => {
  it('carries the gateway-name label and spec.infrastructure labels and annotations, the listener ports, headless', () => {
    const [service] = servicesFor([
      gateway('web', {
        infrastructure: { labels: { team: 'a', [GATEWAY_NAME_LABEL]: 'spoofed' }, annotations: { 'example.com/owner': 'ops' } },
        listeners: [
          { name: 'http', port: 80, protocol: 'HTTP' },
          { name: 'other-http', port: 80, protocol: 'HTTP', hostname: 'a.example' },
          { name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'missing' }] } },
        ],
      }),
    ]);
    expect(service).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'tendril-gateway-web',
        namespace: 'infra',
        labels: { team: 'a', [GATEWAY_NAME_LABEL]: 'web' },
        annotations: { 'example.com/owner': 'ops' },
        ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'web', uid: 'uid-web', controller: true }],
      },
      spec: { type: 'ClusterIP', clusterIP: 'None', ports: [{ name: 'tcp-80', port: 80, protocol: 'TCP' }, { name: 'tcp-443', port: 443, protocol: 'TCP' }] },
    });
  });

  it('creates nothing for Gateways of another controller', () => {
    expect(servicesFor([gateway('theirs', {}, 'other'), gateway('ours', {})]).map((s) => s.metadata.name)).toEqual(['tendril-gateway-ours']);
  });

  it('keeps Service names within 63 characters and distinct for long Gateway names', () => {
    const a = gatewayServiceName('a'.repeat(200));
    const b = gatewayServiceName(`${'a'.repeat(199)}b`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^tendril-gateway-a+-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(gatewayServiceName('short')).toBe('tendril-gateway-short');
  });
});
