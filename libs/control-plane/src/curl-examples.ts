import type { ListedObject } from './kubectl-format';

interface RouteMatch {
  path?: { type?: string; value?: string };
  headers?: Array<{ name: string; value: string; type?: string }>;
  method?: string;
}

interface ParentRef {
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * curl commands that exercise each HTTPRoute match through the Gateways it is attached to, so
 * `tendril up` can show a user what to try. Only accepted parents with an address are used.
 */
export function curlExamples(gateways: ListedObject[], routes: ListedObject[]): string[] {
  const commands: string[] = [];
  for (const route of routes) {
    const spec = route.spec as { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: Array<{ matches?: RouteMatch[]; backendRefs?: unknown[] }> };
    for (const parent of spec.parentRefs ?? []) {
      const gw = gateways.find((g) => g.metadata.name === parent.name && g.metadata.namespace === (parent.namespace ?? route.metadata.namespace));
      if (!gw) continue;
      const address = (gw.status?.['addresses'] as Array<{ value: string }> | undefined)?.[0]?.value;
      const listeners = (gw.spec?.['listeners'] as Array<{ name: string; port: number; protocol: string }> | undefined) ?? [];
      const listener = listeners.find((l) => (parent.sectionName ? l.name === parent.sectionName : parent.port ? l.port === parent.port : l.protocol === 'HTTP'));
      if (!address || !listener) continue;
      const host = spec.hostnames?.[0]?.replace(/^\*\./, 'www.');
      for (const rule of spec.rules ?? []) {
        for (const match of rule.matches?.length ? rule.matches : [{}]) {
          const parts = ['curl', '-s'];
          if (match.method && match.method !== 'GET') parts.push('-X', match.method);
          if (host) parts.push('-H', quote(`Host: ${host}`));
          for (const h of match.headers ?? []) if ((h.type ?? 'Exact') === 'Exact') parts.push('-H', quote(`${h.name}: ${h.value}`));
          const path = match.path?.type === 'RegularExpression' ? '/' : (match.path?.value ?? '/');
          parts.push(quote(`http://${address}:${listener.port}${path}`));
          const note = (rule.backendRefs?.length ?? 0) > 1 ? '   # repeat to see the weighted split' : '';
          commands.push(`${parts.join(' ')}${note}   # ${route.metadata.namespace}/${route.metadata.name}`);
        }
      }
    }
  }
  return commands;
}
