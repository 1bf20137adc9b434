import type { LabelSelector } from '@tendril/api-k8s';

/**
 * Whether `labels` satisfy a metav1.LabelSelector: every matchLabels pair and every expression
 * must hold (an empty selector matches everything). Same rules as the API server's
 * LabelSelectorAsSelector: NotIn and DoesNotExist hold for objects without the key.
 */
export function matchesLabelSelector(labels: Readonly<Record<string, string>> | undefined, selector: LabelSelector): boolean {
  const own = labels ?? {};
  const has = (key: string) => Object.prototype.hasOwnProperty.call(own, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(key) || own[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    switch (operator) {
      case 'In':
        if (!has(key) || !values.includes(own[key])) return false;
        break;
      case 'NotIn':
        if (has(key) && values.includes(own[key])) return false;
        break;
      case 'Exists':
        if (!has(key)) return false;
        break;
      case 'DoesNotExist':
        if (has(key)) return false;
        break;
      default:
        // An operator the API server would have rejected: match nothing rather than everything.
        return false;
    }
  }
  return true;
}

/** A label pair every match must carry, when the selector has one; lets a lookup start from the label index. */
export function requiredLabel(selector: LabelSelector): [string, string] | undefined {
  const first = Object.entries(selector.matchLabels ?? {})[0];
  if (first) return first;
  const single = (selector.matchExpressions ?? []).find((e) => e.operator === 'In' && e.values?.length === 1);
  return single?.values ? [single.key, single.values[0]] : undefined;
}
