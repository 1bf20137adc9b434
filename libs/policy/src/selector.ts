/**
 * Selectors over identity labels, Cilium style: a key may carry a label source (`k8s:app`,
 * `reserved:host`); a key without one matches that key from any source. Policy selectors are
 * evaluated against identities' label sets, never against IPs (policy-semantics §2.4).
 */
import type { LabelSelector } from '@tendril/api-k8s';
import { type LabelSet, LabelSource, labelsWithKey } from '@tendril/identity';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirement {
  readonly source: string;
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** All requirements must hold; no requirement selects every identity. */
export interface IdentitySelector {
  readonly requirements: readonly SelectorRequirement[];
}

/** `k8s:app` → (k8s, app); `app` → (any, app). */
export function splitSelectorKey(key: string): { source: string; key: string } {
  const colon = key.indexOf(':');
  if (colon < 0) return { source: LabelSource.ANY, key };
  return { source: key.slice(0, colon), key: key.slice(colon + 1) };
}

/** A validated metav1.LabelSelector as an identity selector. */
export function identitySelector(selector: LabelSelector | undefined): IdentitySelector {
  const requirements: SelectorRequirement[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    requirements.push({ ...splitSelectorKey(key), operator: 'In', values: [String(value ?? '')] });
  }
  for (const expr of selector?.matchExpressions ?? []) {
    requirements.push({ ...splitSelectorKey(expr.key), operator: expr.operator, values: (expr.values ?? []).map(String) });
  }
  return { requirements };
}

export function selectorOf(...requirements: SelectorRequirement[]): IdentitySelector {
  return { requirements };
}

export function requirement(source: string, key: string, operator: SelectorOperator, values: readonly string[] = []): SelectorRequirement {
  return { source, key, operator, values };
}

export function matchesIdentity(selector: IdentitySelector, labels: LabelSet): boolean {
  return selector.requirements.every((r) => {
    const candidates = labelsWithKey(labels, r.source, r.key);
    switch (r.operator) {
      case 'In':
        return candidates.some((l) => r.values.includes(l.value));
      case 'NotIn':
        return !candidates.some((l) => r.values.includes(l.value));
      case 'Exists':
        return candidates.length > 0;
      case 'DoesNotExist':
        return candidates.length === 0;
      default:
        return false;
    }
  });
}

export function namesKey(selector: IdentitySelector, key: string): boolean {
  return selector.requirements.some((r) => r.key === key && (r.source === LabelSource.ANY || r.source === LabelSource.K8S));
}

export function usesSource(selector: IdentitySelector, source: string): boolean {
  return selector.requirements.some((r) => r.source === source);
}

export function formatSelector(selector: IdentitySelector): string {
  if (selector.requirements.length === 0) return '{}';
  return selector.requirements
    .map((r) => {
      const key = `${r.source}:${r.key}`;
      switch (r.operator) {
        case 'In':
          return r.values.length === 1 ? `${key}=${r.values[0]}` : `${key} in (${r.values.join(',')})`;
        case 'NotIn':
          return `${key} notin (${r.values.join(',')})`;
        case 'Exists':
          return key;
        case 'DoesNotExist':
          return `!${key}`;
        default:
          return `${key} ?`;
      }
    })
    .join(',');
}
