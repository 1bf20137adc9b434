/**
 * The set of policies in force: objects go in by kind/namespace/name; each is validated and
 * translated once. An invalid object is rejected with its error and the previous valid version of
 * the same object (if any) stays in force, so a bad edit never widens (or otherwise changes) what
 * is enforced. Pure bookkeeping: the agent feeds it from its sources.
 */
import { formatIpPrefix, type IpPrefix } from '@tendril/identity';
import type { PolicyObject } from './api-types';
import type { PolicyRule } from './policy-ir';
import { type TranslateOptions, translatePolicy } from './translate';
import { validatePolicy, type ValidationOptions } from './validate';

export type PolicyRepositoryOptions = TranslateOptions & ValidationOptions;

export type UpsertResult =
  | { readonly accepted: true; readonly key: string; readonly rules: readonly PolicyRule[] }
  | { readonly accepted: false; readonly key?: string; readonly error: string; readonly keptPrevious: boolean };

/** kind/namespace/name (no namespace for cluster-wide policies). */
export function policyKey(kind: string, namespace: string | undefined, name: string): string {
  return kind === 'CiliumClusterwideNetworkPolicy' ? `${kind}/${name}` : `${kind}/${namespace || 'default'}/${name}`;
}

function keyOf(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const { kind, metadata } = obj as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof kind !== 'string' || typeof metadata?.name !== 'string' || metadata.name === '') return undefined;
  return policyKey(kind, typeof metadata.namespace === 'string' ? metadata.namespace : undefined, metadata.name);
}

export class PolicyRepository {
  private readonly accepted = new Map<string, readonly PolicyRule[]>();
  private readonly rejected = new Map<string, string>();

  constructor(private readonly options: PolicyRepositoryOptions = {}) {}

  upsert(obj: unknown): UpsertResult {
    const key = keyOf(obj);
    const error = validatePolicy(obj, this.options);
    if (error !== undefined) {
      if (key) this.rejected.set(key, error);
      return { accepted: false, ...(key ? { key } : {}), error, keptPrevious: key !== undefined && this.accepted.has(key) };
    }
    const validKey = key as string;
    const rules = translatePolicy(obj as PolicyObject, this.options);
    this.accepted.set(validKey, rules);
    this.rejected.delete(validKey);
    return { accepted: true, key: validKey, rules };
  }

  /** Removes a policy (and any error recorded for it); returns whether it was in force. */
  delete(kind: string, namespace: string | undefined, name: string): boolean {
    const key = policyKey(kind, namespace, name);
    this.rejected.delete(key);
    return this.accepted.delete(key);
  }

  /** Every rule in force, in a stable order (by policy key). */
  rules(): PolicyRule[] {
    return [...this.accepted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([, rules]) => rules);
  }

  /** The latest validation error per policy key whose latest version was rejected. */
  errors(): ReadonlyMap<string, string> {
    return this.rejected;
  }
}

/**
 * Every CIDR prefix the rules name (allow prefixes and their exceptions): each needs a local CIDR
 * identity and an ipcache entry so that addresses inside it resolve to something policy can select.
 */
export function referencedCidrs(rules: readonly PolicyRule[]): IpPrefix[] {
  const byText = new Map<string, IpPrefix>();
  for (const rule of rules) {
    for (const item of [...rule.ingress, ...rule.egress]) {
      for (const peer of item.peers) {
        if (peer.kind !== 'cidr') continue;
        for (const prefix of [peer.prefix, ...peer.except]) byText.set(formatIpPrefix(prefix), prefix);
      }
    }
  }
  return [...byText.values()];
}
