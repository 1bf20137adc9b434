import type { PortRuleHTTP } from '../api-types';
import { literalAlternatives, requiredPrefix } from './regex-literals';

/**
 * Which of a port's HTTP rules a request can possibly match, found by lookups on its path and
 * method rather than by trying every rule: a port with ten thousand rules costs a request about
 * what a port with one does (the bench's L7 rows). Each rule goes into one bucket, by what its
 * patterns promise about every request they match:
 * - its path is literal alternatives (`/healthz`, `/a|/b`): a map from those paths;
 * - its path starts with a literal (`/api/v1/items/[0-9]+`): a map from that prefix, looked up with
 *   each prefix length in use;
 * - otherwise its method is literal alternatives (`GET|HEAD`): a map from those methods;
 * - otherwise (no path or method, or only patterns like `.*x`): tried for every request.
 * The candidates are then matched in full, in rule order, so the index changes no verdict — the
 * property test compares it with trying every rule.
 */
export class HttpRuleIndex {
  private readonly byPath = new Map<string, number[]>();
  private readonly byPathPrefix = new Map<string, number[]>();
  /** The distinct lengths of the prefixes in byPathPrefix, shortest first. */
  private readonly prefixLengths: number[];
  private readonly byMethod = new Map<string, number[]>();
  private readonly always: number[] = [];

  constructor(rules: readonly PortRuleHTTP[]) {
    const lengths = new Set<number>();
    rules.forEach((rule, index) => {
      const paths = rule.path ? literalAlternatives(rule.path) : undefined;
      if (paths) return add(this.byPath, paths, index);
      const prefix = rule.path ? requiredPrefix(rule.path) : '';
      if (prefix) {
        lengths.add(prefix.length);
        return add(this.byPathPrefix, [prefix], index);
      }
      const methods = rule.method ? literalAlternatives(rule.method) : undefined;
      if (methods) return add(this.byMethod, methods, index);
      this.always.push(index);
    });
    this.prefixLengths = [...lengths].sort((a, b) => a - b);
  }

  /** Indices of the rules that may match a request with this (normalised) path and method, ascending. */
  candidates(path: string, method: string): readonly number[] {
    const found: (readonly number[])[] = [];
    const exact = this.byPath.get(path);
    if (exact) found.push(exact);
    for (const length of this.prefixLengths) {
      if (length > path.length) break;
      const byPrefix = this.byPathPrefix.get(path.slice(0, length));
      if (byPrefix) found.push(byPrefix);
    }
    const byMethod = this.byMethod.get(method);
    if (byMethod) found.push(byMethod);
    if (this.always.length > 0) found.push(this.always);
    if (found.length === 0) return [];
    if (found.length === 1) return found[0];
    // The buckets are disjoint (a rule is in one bucket, and one request hits one key per map).
    return found.flat().sort((a, b) => a - b);
  }
}

function add(map: Map<string, number[]>, keys: readonly string[], index: number): void {
  for (const key of new Set(keys)) {
    const list = map.get(key);
    if (list) list.push(index);
    else map.set(key, [index]);
  }
}
