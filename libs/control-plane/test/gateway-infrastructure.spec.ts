import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KubeObject, Service } from '@tendril/api-k8s';
import { eventually } from '@tendril/testing';
import { silentLogger } from '@tendril/xds';
import { Agent } from '../src';

jest.setTimeout(30_000);

const gateways = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: tendril }
spec: { controllerName: tendril.io/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: default }
spec:
  gatewayClassName: tendril
  infrastructure: { labels: { team: a }, annotations: { example.com/owner: ops } }
  listeners: [{ name: http, port: 18080, protocol: HTTP }]
`;

const userService = `apiVersion: v1
kind: Service
metadata: { name: tendril-gateway-web, namespace: default, labels: { mine: "yes" } }
spec: { ports: [{ port: 1 }] }
`;

describe('the Service the agent creates for each Gateway it programs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-gw-infra-'));
  const agent = new Agent({ configDir: dir, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', logger: silentLogger });
  const service = (): Service | undefined => agent.store.get<Service>({ group: '', kind: 'Service', namespace: 'default', name: 'tendril-gateway-web' });

  afterAll(async () => {
    await agent.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('follows the Gateway: infrastructure labels and annotations, listener ports; a user Service of that name wins; gone with the Gateway', async () => {
    fs.writeFileSync(path.join(dir, 'gateways.yaml'), gateways);
    await agent.start();
    await eventually(() => {
      expect(service()?.metadata).toMatchObject({ labels: { team: 'a', 'gateway.networking.k8s.io/gateway-name': 'web' }, annotations: { 'example.com/owner': 'ops' } });
      expect(service()?.spec?.ports).toEqual([{ name: 'tcp-18080', port: 18080, protocol: 'TCP' }]);
    }, 10_000, 50);

    fs.writeFileSync(path.join(dir, 'user.yaml'), userService);
    await eventually(() => expect(service()?.metadata.labels).toEqual({ mine: 'yes' }), 10_000, 50);
    // The user's Service stays theirs across later translations: once the edited Gateway's status
    // shows it was translated, the Service is still the user's.
    fs.writeFileSync(path.join(dir, 'gateways.yaml'), gateways.replace('team: a', 'team: b'));
    await eventually(() => {
      const gw = agent.store.get<KubeObject<unknown, { conditions?: Array<{ observedGeneration?: number }> }>>({ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'default', name: 'web' });
      expect(gw?.metadata.generation).toBe(2);
      expect(gw?.status?.conditions?.[0]?.observedGeneration).toBe(2);
    }, 10_000, 50);
    expect(service()?.metadata.labels).toEqual({ mine: 'yes' });

    fs.rmSync(path.join(dir, 'user.yaml'));
    await eventually(() => expect(service()?.metadata.labels).toMatchObject({ team: 'b' }), 10_000, 50);
    fs.rmSync(path.join(dir, 'gateways.yaml'));
    await eventually(() => expect(service()).toBeUndefined(), 10_000, 50);
  });
});
