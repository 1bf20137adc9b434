import { RE2JS } from 're2js';
import type { PortRuleHTTP } from '../api-types';
import { HttpRuleIndex } from './http-rule-index';

/**
 * L7 HTTP rules as the node proxy evaluates them (policy-semantics.md §3): `path`, `method` and
 * `host` are full-string, case-sensitive RE2 matches (re2js: linear time, so no pattern can stall
 * the proxy), `headers` are presence or exact-value tests, `headerMatches` exact tests with
 * Cilium's mismatch actions. A rule matches when all its conditions do (`{}` matches everything);
 * a request is allowed when any rule matches.
 */

/** What rules look at; `path` already normalised (normalizeRequestPath), header names lower-case. */
export interface HttpRequestFacts {
  readonly method: string;
  readonly path: string;
  /** `:authority`, or the HTTP/1 Host header, as sent (with its port, if any). */
  readonly authority: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export type HeaderMismatchAction = 'LOG' | 'ADD' | 'DELETE' | 'REPLACE';

/** A header change a matching rule's `headerMatches` asks for (ADD, DELETE, REPLACE), to apply before forwarding. */
export interface HeaderEdit {
  readonly action: 'ADD' | 'DELETE' | 'REPLACE';
  readonly name: string;
  /** The expected value (for ADD and REPLACE); never logged, it may be a secret. */
  readonly value: string;
}

export interface HttpVerdict {
  readonly allowed: boolean;
  /** Index of the first rule that matched. */
  readonly rule?: number;
  readonly edits: readonly HeaderEdit[];
  /** Header names whose value did not match a LOG (or editing) header match, for the access log. */
  readonly mismatches: readonly string[];
}

/** A rule the proxy cannot evaluate (an invalid regex); the port then allows nothing (never wider). */
export class HttpRuleError extends Error {}

/** Looks up a Secret's value for `headerMatches[].secret`; undefined when it does not exist. */
export type SecretLookup = (namespace: string, name: string) => string | undefined;

interface HeaderTest {
  readonly name: string;
  /** Undefined: presence only. */
  readonly value?: string;
}

interface HeaderMatchTest extends HeaderTest {
  /** The secret was named but cannot be read, and there is no inline value: never matches. */
  readonly unresolvable: boolean;
  readonly mismatch?: HeaderMismatchAction;
}

interface CompiledRule {
  readonly path?: RE2JS;
  readonly method?: RE2JS;
  readonly host?: RE2JS;
  readonly headers: readonly HeaderTest[];
  readonly headerMatches: readonly HeaderMatchTest[];
}

function compileRegex(field: string, pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    throw new HttpRuleError(`invalid ${field} regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/** `"Name"` → presence; `"Name: value"` or `"Name value"` → exact value (split on the first space, trailing ':' trimmed). */
function parseHeaderRule(text: string): HeaderTest {
  const space = text.indexOf(' ');
  if (space === -1) return { name: text.replace(/:$/, '').toLowerCase() };
  return { name: text.slice(0, space).replace(/:$/, '').toLowerCase(), value: text.slice(space + 1).trim() };
}

const MISMATCH_ACTIONS = new Set<HeaderMismatchAction>(['LOG', 'ADD', 'DELETE', 'REPLACE']);

function compileRule(rule: PortRuleHTTP, secrets: SecretLookup): CompiledRule {
  return {
    ...(rule.path ? { path: compileRegex('path', rule.path) } : {}),
    ...(rule.method ? { method: compileRegex('method', rule.method) } : {}),
    ...(rule.host ? { host: compileRegex('host', rule.host) } : {}),
    headers: (rule.headers ?? []).map(parseHeaderRule),
    headerMatches: (rule.headerMatches ?? []).map((m): HeaderMatchTest => {
      if (!m.name) throw new HttpRuleError('headerMatches entry without a name');
      const mismatch = m.mismatch ? (m.mismatch.toUpperCase() as HeaderMismatchAction) : undefined;
      if (mismatch && !MISMATCH_ACTIONS.has(mismatch)) throw new HttpRuleError(`headerMatches mismatch action ${JSON.stringify(m.mismatch)} is not one of LOG, ADD, DELETE, REPLACE`);
      const secret = m.secret?.name ? secrets(m.secret.namespace ?? '', m.secret.name) : undefined;
      const value = secret ?? m.value;
      return { name: m.name.toLowerCase(), ...(value ? { value } : {}), unresolvable: m.secret?.name !== undefined && secret === undefined && !m.value, ...(mismatch ? { mismatch } : {}) };
    }),
  };
}

/** A header's value as rules compare it: repeated headers comma-joined. */
function headerValue(headers: HttpRequestFacts['headers'], name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : typeof value === 'string' ? value : value.join(',');
}

/** Constant-time string comparison, so a secret's value cannot be guessed byte by byte from timing. */
function sameValue(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

function headerTestHolds(test: HeaderTest, headers: HttpRequestFacts['headers']): boolean {
  const actual = headerValue(headers, test.name);
  if (actual === undefined) return false;
  return test.value === undefined || sameValue(actual, test.value);
}

export class HttpRules {
  private readonly rules: readonly CompiledRule[];
  /** With header actions every rule is evaluated (each matching rule's edits apply), else the first match decides. */
  private readonly hasActions: boolean;
  /** Which rules a request can match at all, by its path and method: a lookup, not a scan of every rule. */
  private readonly index: HttpRuleIndex | undefined;
  private readonly everyRule: readonly number[];

  /**
   * Throws HttpRuleError for a rule that cannot be evaluated. `options.index: false` tries every
   * rule for every request instead of looking candidates up: the baseline the index is checked and
   * benchmarked against.
   */
  constructor(rules: readonly PortRuleHTTP[], secrets: SecretLookup = () => undefined, options: { readonly index?: boolean } = {}) {
    this.rules = rules.map((r) => compileRule(r, secrets));
    this.hasActions = this.rules.some((r) => r.headerMatches.some((m) => m.mismatch !== undefined));
    this.index = options.index === false ? undefined : new HttpRuleIndex(rules);
    this.everyRule = this.rules.map((_, i) => i);
  }

  get size(): number {
    return this.rules.length;
  }

  evaluate(request: HttpRequestFacts): HttpVerdict {
    let first: number | undefined;
    const edits: HeaderEdit[] = [];
    const mismatches: string[] = [];
    // Candidates come in rule order, so "the first rule that matched" means what it did for a scan.
    for (const index of this.index?.candidates(request.path, request.method) ?? this.everyRule) {
      const rule = this.rules[index];
      const outcome = this.matchRule(rule, request);
      if (!outcome) continue;
      first ??= index;
      edits.push(...outcome.edits);
      mismatches.push(...outcome.mismatches);
      if (!this.hasActions) break;
    }
    return first === undefined ? { allowed: false, edits: [], mismatches: [] } : { allowed: true, rule: first, edits, mismatches };
  }

  private matchRule(rule: CompiledRule, request: HttpRequestFacts): { edits: HeaderEdit[]; mismatches: string[] } | undefined {
    if (rule.path && !rule.path.matches(request.path)) return undefined;
    if (rule.method && !rule.method.matches(request.method)) return undefined;
    if (rule.host && !rule.host.matches(request.authority)) return undefined;
    if (!rule.headers.every((h) => headerTestHolds(h, request.headers))) return undefined;
    const edits: HeaderEdit[] = [];
    const mismatches: string[] = [];
    for (const match of rule.headerMatches) {
      if (match.unresolvable) return undefined;
      if (headerTestHolds(match, request.headers)) continue;
      switch (match.mismatch) {
        case undefined:
          return undefined;
        case 'LOG':
          break;
        case 'DELETE':
          // Only a header that is there with a wrong value goes; a missing one stays missing.
          if (headerValue(request.headers, match.name) !== undefined) edits.push({ action: 'DELETE', name: match.name, value: '' });
          break;
        default:
          edits.push({ action: match.mismatch, name: match.name, value: match.value ?? '' });
      }
      mismatches.push(match.name);
    }
    return { edits, mismatches };
  }
}
