import { stringify } from 'yaml';

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
  HTTPRoute: [['HOSTNAMES', (o) => JSON.stringify(o.spec?.['hostnames'] ?? [])]],
  GRPCRoute: [['HOSTNAMES', (o) => JSON.stringify(o.spec?.['hostnames'] ?? [])]],
};

function routeParentsColumn(o: ListedObject): string {
  const parents = (o.status?.['parents'] as Array<{ conditions?: Condition[] }> | undefined) ?? [];
  if (parents.length === 0) return '<none>';
  return parents.map((p) => `Accepted=${conditionStatus(p.conditions, 'Accepted')}`).join(',');
}

/** Renders objects the way `kubectl get` does: a table, or -o yaml / -o json. */
export function formatObjects(objects: ListedObject[], output: 'table' | 'yaml' | 'json', opts: { allNamespaces: boolean; now: Date }): string {
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
  ];
  const rows = [columns.map(([h]) => h), ...objects.map((o) => columns.map(([, v]) => v(o)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] + 3))).join('').trimEnd()).join('\n') + '\n';
}
