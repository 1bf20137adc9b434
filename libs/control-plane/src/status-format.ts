import type { EnforcementStatus } from '@tendril/endpoints';
import type { NodeStatus } from '@tendril/xds';
import { PUSH_ORDER, shortTypeName } from '@tendril/xds';

/** The agent's /api/v1/status document. */
export interface AgentStatus {
  agent: {
    startedAt: string;
    configDir: string;
    xdsAddress: string;
    resources: number;
    snapshot: string;
    lastTranslation?: { at: string; durationMs: number; error?: string };
    sourceErrors: Array<{ file: string; documentIndex?: number; message: string }>;
  };
  nodes: NodeStatus[];
  /** Network policy enforcement (only when the agent runs workloads): its state, or why it is off. */
  policy?: ({ enabled: true } & EnforcementStatus) | { enabled: false; notice: string };
}

/** The policy part of `tendril status`, as `cilium status` words it. */
function formatPolicy(policy: NonNullable<AgentStatus['policy']>): string[] {
  if (!policy.enabled) return [`Policy:         Disabled   ${policy.notice}`];
  const lines: string[] = [];
  const degraded = policy.invalidPolicies.length > 0 || policy.failedEndpoints.length > 0 || policy.lastReconcile?.error;
  lines.push(`Policy:         ${degraded ? 'Degraded' : 'OK'}   eBPF, ${policy.endpoints} endpoints, ${policy.identities} identities, ${policy.policies} policies, ${policy.services} service frontends`);
  const r = policy.lastReconcile;
  if (r) lines.push(`  last regeneration at ${r.at}: ${r.error ? `failed: ${r.error}` : `${r.compilations} policy compilations, ${r.mapWrites} map writes in ${r.durationMs.toFixed(1)} ms`}`);
  for (const p of policy.invalidPolicies) lines.push(`  invalid policy ${p.policy} (not enforced; the last valid version, if any, stays): ${p.error}`);
  for (const e of policy.failedEndpoints) lines.push(`  endpoint ${e.endpoint}: ${e.error}`);
  return lines;
}

function typeOrder(a: string, b: string): number {
  const ra = PUSH_ORDER.indexOf(a);
  const rb = PUSH_ORDER.indexOf(b);
  return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb);
}

/** Renders `tendril status` in the spirit of `cilium status`. */
export function formatStatus(s: AgentStatus): string {
  const lines: string[] = [];
  const errors = s.agent.sourceErrors.length;
  const t = s.agent.lastTranslation;
  lines.push(`Agent:          ${t?.error ? 'Degraded' : 'OK'}   config ${s.agent.configDir}, ${s.agent.resources} resources, snapshot ${s.agent.snapshot}`);
  lines.push(`xDS server:     ${s.agent.xdsAddress}`);
  if (t) lines.push(`Translation:    ${t.error ? `failed: ${t.error}` : `ok in ${t.durationMs.toFixed(1)} ms`} at ${t.at}`);
  lines.push(`Config errors:  ${errors === 0 ? 'none' : errors}`);
  // The agent's messages already name file and document (formatSourceError); older documents may not.
  for (const e of s.agent.sourceErrors) {
    lines.push(e.message.startsWith(e.file) ? `  ${e.message}` : `  ${e.file}${e.documentIndex !== undefined ? ` document ${e.documentIndex}` : ''}: ${e.message}`);
  }
  if (s.policy) lines.push(...formatPolicy(s.policy));
  const connected = s.nodes.filter((n) => n.connected).length;
  lines.push(`Proxies:        ${connected}/${s.nodes.length} connected`);
  for (const n of s.nodes) {
    lines.push(`  ${n.nodeId} (${n.protocol}) ${n.connected ? `connected since ${n.connectedAt}` : `disconnected at ${n.disconnectedAt}`}, snapshot ${n.snapshotLabel ?? '-'}`);
    const rows = [['TYPE', 'SENT', 'ACKED', 'LAST ACK', 'LAST NACK']];
    for (const typeUrl of Object.keys(n.types).sort(typeOrder)) {
      const ts = n.types[typeUrl];
      rows.push([
        shortTypeName(typeUrl),
        ts.sentVersion ?? '-',
        ts.ackedVersion ?? '-',
        ts.lastAckAt ?? '-',
        ts.lastNack ? `${ts.lastNack.at} version ${ts.lastNack.version}: ${ts.lastNack.message}` : '-',
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) lines.push('    ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 2))).join(''));
  }
  return lines.join('\n') + '\n';
}
