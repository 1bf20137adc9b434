/**
 * The policy parts of the admin API and of `tendril status`, without root: enforcement off (and
 * saying why), and the status lines of an enforcing node.
 */
import { request } from 'undici';
import { formatStatus, startAdminServer, type AdminState, type AgentStatus } from '../src';

const agentStatus = (policy: AgentStatus['policy']): AgentStatus => ({
  agent: { startedAt: '', configDir: '/cfg', xdsAddress: '127.0.0.1:18000', resources: 3, snapshot: '7', sourceErrors: [] },
  nodes: [],
  policy,
});

describe('policy enforcement in the admin API and tendril status', () => {
  it('answers the bpf and identity views with 503 and the notice when enforcement is off', async () => {
    const state: AdminState = {
      status: () => ({}),
      resources: () => ({ items: [] }),
      configDump: () => ({}),
      localPods: async () => [
        { namespace: 'default', name: 'web-1', endpointId: 1, network: 'loopback', ip: '127.11.0.1', phase: 'Running', ready: true, restarts: 0, pids: [], env: {} },
      ],
      nodeEnforcement: () => ({ enabled: false, notice: 'network policy is not enforced: loading eBPF programs needs root' }),
    };
    const admin = await startAdminServer(state, '127.0.0.1', 0);
    try {
      for (const path of ['/api/v1/identities', '/api/v1/bpf/ipcache', '/api/v1/bpf/lb', '/api/v1/bpf/policy?name=web-1']) {
        const res = await request(`http://127.0.0.1:${admin.port}${path}`);
        expect(res.statusCode).toBe(503);
        expect(await res.body.json()).toEqual({ error: 'network policy is not enforced: loading eBPF programs needs root' });
      }
      // Endpoints are still listed, without identity.
      const res = await request(`http://127.0.0.1:${admin.port}/api/v1/endpoints`);
      const { items } = (await res.body.json()) as { items: { name: string; identity?: number }[] };
      expect(items.map((i) => [i.name, i.identity])).toEqual([['web-1', undefined]]);
    } finally {
      await admin.close();
    }
  });

  it('prints Policy lines as cilium status does: disabled with the reason, or the endpoints and every problem', () => {
    expect(formatStatus(agentStatus({ enabled: false, notice: 'network policy is not enforced: loading eBPF programs needs root' }))).toContain(
      'Policy:         Disabled   network policy is not enforced: loading eBPF programs needs root\n',
    );
    const text = formatStatus(
      agentStatus({
        enabled: true,
        endpoints: 3,
        identities: 14,
        policies: 2,
        services: 1,
        invalidPolicies: [{ policy: 'CiliumNetworkPolicy default/web', error: 'Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy' }],
        failedEndpoints: [{ endpoint: 'default/web-1', error: 'writing the policy of endpoint 1 failed' }],
        lastReconcile: { at: '2026-11-26T12:00:00Z', durationMs: 3.25, mapWrites: 4, compilations: 2 },
      }),
    );
    expect(text).toContain('Policy:         Degraded   eBPF, 3 endpoints, 14 identities, 2 policies, 1 service frontends\n');
    expect(text).toContain('  last regeneration at 2026-11-26T12:00:00Z: 2 policy compilations, 4 map writes in 3.3 ms\n');
    expect(text).toContain('  invalid policy CiliumNetworkPolicy default/web (not enforced; the last valid version, if any, stays): Invalid CiliumNetworkPolicy spec: unsupported entity: galaxy\n');
    expect(text).toContain('  endpoint default/web-1: writing the policy of endpoint 1 failed\n');
  });
});
