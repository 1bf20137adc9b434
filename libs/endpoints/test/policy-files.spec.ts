/**
 * The three policy kinds read from files, as the agent's file source reads them (with
 * validateEndpointResource in front of its own validator): accepted unchanged, and a bad one
 * reported with file, document and Cilium's error.
 */
import { parseResourceFile } from '@tendril/sources';
import { validateEndpointResource } from '../src';

const validate = (obj: Parameters<typeof validateEndpointResource>[0]) => validateEndpointResource(obj) ?? [{ path: 'kind', message: 'not ours' }];

describe('policy files', () => {
  it('accepts CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy', () => {
    const parsed = parseResourceFile(
      'policies.yaml',
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: web }
spec:
  endpointSelector: { matchLabels: { app: web } }
  ingress: [{ fromEndpoints: [{ matchLabels: { app: client } }] }]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: deny-world }
spec:
  endpointSelector: {}
  egressDeny: [{ toEntities: [world] }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: db, namespace: shop }
spec:
  podSelector: { matchLabels: { app: db } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: api } } }], ports: [{ port: 5432 }] }]
`,
      { validate },
    );
    expect(parsed.errors).toEqual([]);
    expect(parsed.objects.map((o) => o.key)).toEqual([
      'cilium.io/CiliumNetworkPolicy/default/web',
      'cilium.io/CiliumClusterwideNetworkPolicy//deny-world',
      'networking.k8s.io/NetworkPolicy/shop/db',
    ]);
  });

  it('reports an invalid policy with its file, document and Cilium’s message', () => {
    const parsed = parseResourceFile(
      'policies.yaml',
      `apiVersion: v1
kind: ServiceAccount
metadata: { name: web }
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: web }
spec:
  endpointSelector: { matchLabels: { app: web } }
  ingress: [{ fromEndpoints: [{}], fromCIDR: [10.0.0.0/8] }]
`,
      { validate },
    );
    expect(parsed.objects.map((o) => o.key)).toEqual(['/ServiceAccount/default/web']);
    expect(parsed.errors).toEqual([
      {
        file: 'policies.yaml',
        documentIndex: 2,
        path: '',
        object: 'CiliumNetworkPolicy default/web',
        message: 'Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromCIDR is not supported yet',
      },
    ]);
  });
});
