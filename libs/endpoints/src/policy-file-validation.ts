import { formatSourceError, parseResourceFile } from '@tendril/sources';
import { isPolicyKind, validateEndpointResource } from './policy-resources';

/**
 * `tendril policy validate`: the policies in a YAML file checked as the agent would accept them
 * (object metadata, then Cilium's own validation with Cilium's messages), for CI pipelines.
 * Documents of other kinds are left alone; a YAML syntax error is an error of the file.
 */
export interface PolicyFileReport {
  readonly file: string;
  /** "CiliumNetworkPolicy default/web-from-frontend", for each valid policy. */
  readonly valid: readonly string[];
  /** One line per problem: file, document, object, message. */
  readonly errors: readonly string[];
}

export function validatePolicyFile(file: string, text: string): PolicyFileReport {
  const parsed = parseResourceFile(file, text, { validate: (obj) => validateEndpointResource(obj) ?? [] });
  return {
    file,
    valid: parsed.objects.filter((o) => isPolicyKind(o.object.apiVersion, o.object.kind)).map((o) => o.description),
    errors: parsed.errors.map(formatSourceError),
  };
}

/** The report as the CLI prints it; `ok` is false when any file has an error. */
export function formatPolicyFileReports(reports: readonly PolicyFileReport[]): { text: string; ok: boolean } {
  const lines: string[] = [];
  for (const r of reports) {
    for (const error of r.errors) lines.push(`INVALID  ${error}`);
    for (const policy of r.valid) lines.push(`valid    ${r.file}: ${policy}`);
    if (r.errors.length === 0 && r.valid.length === 0) lines.push(`skipped  ${r.file}: no policy in this file`);
  }
  const invalid = reports.reduce((n, r) => n + r.errors.length, 0);
  const valid = reports.reduce((n, r) => n + r.valid.length, 0);
  lines.push(`${valid} valid ${valid === 1 ? 'policy' : 'policies'}, ${invalid} ${invalid === 1 ? 'error' : 'errors'}`);
  return { text: `${lines.join('\n')}\n`, ok: invalid === 0 };
}
