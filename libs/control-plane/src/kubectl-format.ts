import { stringify } from 'yaml';
import type { PodRuntimeInfo } from '@tendril/workloads';

/** A Kubernetes-shaped object as the admin API returns it. */
export interface ListedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
}

/** kubectl's age format: 45s, 12m, 3h, 5d. */
export function formatAge(from: string | undefined, now: Date): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(from)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function conditionStatus(conditions: unknown, type: string): string {
  const c = (Array.isArray(conditions) ? (conditions as Condition[]) : []).find((x) => x.type === type);
  return c ? c.status : 'Unknown';
}

type Column = [header: string, value: (o: ListedObject) => string];

interface PodStatusView {
  phase?: string;
  podIP?: string;
  conditions?: Condition[];
  containerStatuses?: Array<{ ready: boolean; restartCount: number }>;
}

const podStatus = (o: ListedObject): PodStatusView => (o.status ?? {}) as PodStatusView;

/** READY as kubectl prints it: ready containers / containers. */
function podReady(o: ListedObject): string {
  const containers = (o.spec?.['containers'] as unknown[] | undefined)?.length ?? 0;
  const statuses = podStatus(o).containerStatuses;
  const ready = statuses ? statuses.filter((c) => c.ready).length : conditionStatus(podStatus(o).conditions, 'Ready') === 'True' ? containers : 0;
  return `${ready}/${containers}`;
}

/** STATUS as kubectl prints it: the phase, or ContainerCreating while the pod's sandbox is set up. */
function podPhase(o: ListedObject): string {
  const phase = podStatus(o).phase;
  if (phase === 'Pending') return 'ContainerCreating';
  return phase ?? 'Unknown';
}

/** Columns as kubectl prints them for each kind (its additionalPrinterColumns). */
const COLUMNS: Record<string, Column[]> = {
  GatewayClass: [
    ['CONTROLLER', (o) => String(o.spec?.['controllerName'] ?? '')],
    ['ACCEPTED', (o) => conditionStatus(o.status?.['conditions'], 'Accepted')],
  ],
  Gateway: [
    ['CLASS', (o) => String(o.spec?.['gatewayClassName'] ?? '')],
    ['ADDRESS', (o) => ((o.status?.['addresses'] as Array<{ value: string }> | undefined) ?? []).map((a) => a.value).join(',')],
    ['PROGRAMMED', (o) => conditionStatus(o.status?.['conditions'], 'Programmed')],
  ],
  ListenerSet: [
    ['ACCEPTED', (o) => conditionStatus(o.status?.['conditions'], 'Accepted')],
    ['PROGRAMMED', (o) => conditionStatus(o.status?.['conditions'], 'Programmed')],
  ],
  HTTPRoute: [['HOSTNAMES', (o) => JSON.stringify(o.spec?.['hostnames'] ?? [])]],
  GRPCRoute: [['HOSTNAMES', (o) => JSON.stringify(o.spec?.['hostnames'] ?? [])]],
  Pod: [
    ['READY', podReady],
    ['STATUS', podPhase],
    ['RESTARTS', (o) => String((podStatus(o).containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0))],
  ],
};

/** Cilium's printer columns for its policies (VALID, from the Valid condition the agent writes), shared by NetworkPolicy here. */
for (const kind of ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy']) {
  COLUMNS[kind] = [['VALID', (o) => conditionStatus(o.status?.['conditions'], 'Valid')]];
}

/** Extra columns of `-o wide`, after AGE as kubectl puts them. */
const WIDE_COLUMNS: Record<string, Column[]> = {
  Pod: [
    ['IP', (o) => podStatus(o).podIP ?? '<none>'],
    ['NODE', (o) => String(o.spec?.['nodeName'] ?? '<none>')],
    ['NOMINATED NODE', () => '<none>'],
    ['READINESS GATES', () => '<none>'],
  ],
};

function routeParentsColumn(o: ListedObject): string {
  const parents = (o.status?.['parents'] as Array<{ conditions?: Condition[] }> | undefined) ?? [];
  if (parents.length === 0) return '<none>';
  return parents.map((p) => `Accepted=${conditionStatus(p.conditions, 'Accepted')}`).join(',');
}

/** Aligns rows in columns three spaces apart, as kubectl and cilium print tables. */
function renderTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** Renders objects the way `kubectl get` does: a table (-o wide adds columns), or -o yaml / -o json. */
export function formatObjects(objects: ListedObject[], output: 'table' | 'wide' | 'yaml' | 'json', opts: { allNamespaces: boolean; now: Date }): string {
  if (output === 'json') {
    return JSON.stringify(objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }, null, 2) + '\n';
  }
  if (output === 'yaml') {
    return stringify(objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects });
  }
  if (objects.length === 0) return 'No resources found.\n';
  const kind = objects[0].kind;
  const columns: Column[] = [
    ...(opts.allNamespaces ? ([['NAMESPACE', (o) => o.metadata.namespace ?? '']] as Column[]) : []),
    ['NAME', (o) => o.metadata.name],
    ...(COLUMNS[kind] ?? []),
    ...(kind.endsWith('Route') ? ([['PARENTS', routeParentsColumn]] as Column[]) : []),
    ['AGE', (o) => formatAge(o.metadata.creationTimestamp, opts.now)],
    ...(output === 'wide' ? (WIDE_COLUMNS[kind] ?? []) : []),
  ];
  return renderTable([columns.map(([h]) => h), ...objects.map((o) => columns.map(([, v]) => v(o)))]);
}

/** A pod as an endpoint of the node, with the security identity and policy state once the endpoint manager has it. */
export type EndpointView = PodRuntimeInfo & {
  identity?: number;
  policy?: { state: string; enforcement?: { ingress: boolean; egress: boolean }; policyWrites: number; error?: string };
};

/** Cilium's endpoint states, from the pod's: the sandbox is being created, the pod serves, or it does not (yet); then the policy's. */
function endpointState(p: EndpointView): string {
  if (p.phase === 'Pending') return 'creating';
  if (p.phase === 'Failed') return 'invalid';
  if (p.policy?.state === 'failed') return 'policy-failed';
  if (p.policy?.state === 'regenerating') return 'regenerating';
  return p.ready ? 'ready' : 'not-ready';
}

const enforcementColumn = (enforced: boolean | undefined): string => (enforced === undefined ? '' : enforced ? 'Enabled' : 'Disabled');

/**
 * The node's endpoints as `cilium endpoint list` prints them: endpoint ID, identity, the pod,
 * its IPv4 address, the host side of its veth and network namespace, and the endpoint state; when
 * policy is enforced, whether each direction is default-deny (Cilium's POLICY ENFORCEMENT columns).
 */
export function formatEndpoints(endpoints: EndpointView[], output: 'table' | 'yaml' | 'json'): string {
  const sorted = [...endpoints].sort((a, b) => a.endpointId - b.endpointId);
  if (output === 'json') return JSON.stringify(sorted, null, 2) + '\n';
  if (output === 'yaml') return stringify(sorted);
  if (sorted.length === 0) return 'No endpoints found.\n';
  const withPolicy = sorted.some((p) => p.policy !== undefined);
  return renderTable([
    ['ENDPOINT', ...(withPolicy ? ['POLICY (ingress)', 'POLICY (egress)'] : []), 'IDENTITY', 'POD', 'IPv4', 'INTERFACE', 'NETNS', 'STATUS'],
    ...sorted.map((p) => [
      String(p.endpointId),
      ...(withPolicy ? [enforcementColumn(p.policy?.enforcement?.ingress), enforcementColumn(p.policy?.enforcement?.egress)] : []),
      p.identity === undefined ? '' : String(p.identity),
      `${p.namespace}/${p.name}`,
      p.ip || '<none>',
      p.hostInterface ?? (p.network === 'loopback' ? 'lo' : '<none>'),
      p.netns ?? (p.network === 'loopback' ? '<host>' : '<none>'),
      endpointState(p),
    ]),
  ]);
}
