import { EnvoyCodecError, packAny, unpackAny } from './codec';
import { validateResource } from './validate';

/** What a resource is called in an error report: its name field, else its position. */
function label(resource: Record<string, unknown>, index: number, typeUrl: string | undefined): string {
  const kind = typeUrl ? typeUrl.slice(typeUrl.lastIndexOf('.') + 1) : 'resource';
  const name = resource['name'] ?? resource['cluster_name'];
  return typeof name === 'string' ? `${kind} ${JSON.stringify(name)}` : `${kind} #${index}`;
}

/**
 * For other libraries' tests: checks that each Envoy JSON resource encodes (by its '@type', or
 * the typeUrl given for all of them), decodes again, and passes the protoc-gen-validate rules
 * Envoy applies — i.e. that a stock Envoy would not NACK it for its shape. Throws one Error
 * listing every problem found, one per line.
 */
export function assertValidEnvoyResources(resources: Iterable<object>, typeUrl?: string): void {
  const problems: string[] = [];
  let index = 0;
  for (const resource of resources as Iterable<Record<string, unknown>>) {
    const url = typeof resource['@type'] === 'string' ? (resource['@type'] as string) : typeUrl;
    const name = label(resource, index++, url);
    if (!url) {
      problems.push(`${name}: no '@type' and no type URL given`);
      continue;
    }
    let decoded: Record<string, unknown>;
    try {
      decoded = unpackAny(packAny(resource, url));
    } catch (err) {
      problems.push(`${name}: ${err instanceof EnvoyCodecError ? err.message : String(err)}`);
      continue;
    }
    for (const error of validateResource(decoded, url)) problems.push(`${name}: ${error.path}: ${error.message} [${error.rule}]`);
  }
  if (problems.length > 0) {
    throw new Error(`invalid Envoy resources (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`);
  }
}
