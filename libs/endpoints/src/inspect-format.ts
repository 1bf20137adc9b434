/**
 * Tables for the `tendril` inspection commands, as the cilium client prints them: `get identities`
 * (cilium identity list), `bpf policy get` (cilium bpf policy get), `bpf ipcache list`,
 * `bpf lb list` and `bpf metrics list`. Multi-label cells take one line per label, as cilium does.
 */
import { Protocol } from '@tendril/policy';
import type { DropMetricView, EndpointPolicyView, IdentityView, IpcacheView, PolicyEntryView, ServiceView } from './endpoint-manager';

/** Rows of cells, where a cell may hold several lines; columns three spaces apart, the last one unpadded. */
function renderTable(rows: (string | readonly string[])[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'string' ? [c] : c.length === 0 ? [''] : [...c])));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => Math.max(...r[i].map((l) => l.length)))));
  const lines: string[] = [];
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.length));
    for (let line = 0; line < height; line++) {
      lines.push(row.map((c, i) => (i === row.length - 1 ? (c[line] ?? '') : (c[line] ?? '').padEnd(widths[i] + 3))).join('').trimEnd());
    }
  }
  return lines.join('\n') + '\n';
}

const PROTOCOL_NAMES: Record<number, string> = { [Protocol.TCP]: 'TCP', [Protocol.UDP]: 'UDP', [Protocol.SCTP]: 'SCTP', [Protocol.ICMP]: 'ICMP', [Protocol.ICMPV6]: 'ICMPv6' };

function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? String(protocol);
}

/** The entry's protocol/port prefix as a port or port range: `ANY`, `ANY/TCP`, `8080/TCP`, `8080-8087/TCP`, `type 8/ICMP`. */
export function formatPortProtocol(entry: Pick<PolicyEntryView, 'protocol' | 'port' | 'prefixLength'>): string {
  if (entry.prefixLength === 0) return 'ANY';
  const protocol = protocolName(entry.protocol);
  const portBits = entry.prefixLength - 8;
  if (portBits <= 0) return `ANY/${protocol}`;
  const first = entry.port;
  const last = entry.port | (0xffff >> portBits);
  if (entry.protocol === Protocol.ICMP || entry.protocol === Protocol.ICMPV6) {
    // ICMP rules carry the type in the high byte of the port field.
    const firstType = first >> 8;
    const lastType = last >> 8;
    return firstType === lastType ? `type ${firstType}/${protocol}` : `types ${firstType}-${lastType}/${protocol}`;
  }
  return first === last ? `${first}/${protocol}` : `${first}-${last}/${protocol}`;
}

const capitalized = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export function formatIdentities(identities: readonly IdentityView[]): string {
  return renderTable([['ID', 'ENDPOINTS', 'LABELS'], ...identities.map((i) => [String(i.id), String(i.endpoints), i.labels])]);
}

/** One endpoint's policy map: a summary line, then one row per entry (identity 0 is any peer). */
export function formatEndpointPolicy(view: EndpointPolicyView): string {
  const { endpoint } = view;
  const enforcement = endpoint.enforcement
    ? `ingress ${endpoint.enforcement.ingress ? 'default-deny' : 'allow-all'}, egress ${endpoint.enforcement.egress ? 'default-deny' : 'allow-all'}`
    : 'policy not compiled yet';
  const header = `Endpoint ${endpoint.endpointId} (${endpoint.namespace}/${endpoint.name}, ${endpoint.ip}), identity ${endpoint.identity}: ${enforcement}, state ${endpoint.state}${endpoint.error ? ` (${endpoint.error})` : ''}`;
  if (view.entries.length === 0) return `${header}\nNo policy map entries: all traffic of this endpoint is dropped.\n`;
  return (
    `${header}\n` +
    renderTable([
      ['POLICY', 'DIRECTION', 'IDENTITY', 'LABELS (source:key[=value])', 'PORT/PROTO', 'PROXY PORT', 'PREFIX'],
      ...view.entries.map((e) => [
        e.deny ? 'Deny' : e.proxyPort !== 0 ? 'Redirect' : 'Allow',
        capitalized(e.direction),
        e.identity === 0 ? 'ANY' : String(e.identity),
        e.identity === 0 ? ['ANY'] : e.labels.length > 0 ? e.labels : ['<unknown identity>'],
        formatPortProtocol(e),
        e.proxyPort === 0 ? 'NONE' : String(e.proxyPort),
        String(e.prefixLength),
      ]),
    ])
  );
}

export function formatIpcache(entries: readonly IpcacheView[]): string {
  if (entries.length === 0) return 'No ipcache entries.\n';
  return renderTable([['IP PREFIX/ADDRESS', 'IDENTITY', 'LABELS'], ...entries.map((e) => [e.cidr, String(e.identity), e.labels.length > 0 ? e.labels : ['<unknown identity>']])]);
}

export function formatServices(services: readonly ServiceView[]): string {
  if (services.length === 0) return 'No services.\n';
  return renderTable([
    ['SERVICE ADDRESS', 'BACKEND ADDRESS', 'SERVICE'],
    ...services.map((s) => [
      `${s.frontend.vip}:${s.frontend.port}/${s.frontend.protocol}`,
      s.backends.length > 0 ? s.backends.map((b) => `${b.ip}:${b.port}`) : ['<none> (connections are refused)'],
      s.service ? `${s.service}${s.portName ? ` (${s.portName})` : ''}` : '<unknown>',
    ]),
  ]);
}

/** `tendril bpf metrics list`: packets dropped by the datapath, per reason (reasons with drops first). */
export function formatDropMetrics(metrics: readonly DropMetricView[]): string {
  const rows = [...metrics].sort((a, b) => b.packets - a.packets || a.reason.localeCompare(b.reason));
  return renderTable([['REASON', 'PACKETS'], ...rows.map((m) => [m.description, String(m.packets)])]);
}
