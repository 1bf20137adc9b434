import type { envoy } from '@tendril/api-envoy';
import { compileFullMatchRegex } from './regex';

export type StringMatcher = envoy.type.matcher.v3.StringMatcher;
export type StringPredicate = (value: string) => boolean;

/** Compiles an Envoy StringMatcher once per config. Throws with a readable reason when it cannot be served. */
export function compileStringMatcher(matcher: StringMatcher): StringPredicate {
  const ignoreCase = matcher.ignore_case === true;
  const fold = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  if (matcher.exact !== undefined) {
    const expected = fold(matcher.exact);
    return ignoreCase ? (v) => v.toLowerCase() === expected : (v) => v === expected;
  }
  if (matcher.prefix !== undefined) {
    const prefix = fold(matcher.prefix);
    return ignoreCase ? (v) => v.toLowerCase().startsWith(prefix) : (v) => v.startsWith(prefix);
  }
  if (matcher.suffix !== undefined) {
    const suffix = fold(matcher.suffix);
    return ignoreCase ? (v) => v.toLowerCase().endsWith(suffix) : (v) => v.endsWith(suffix);
  }
  if (matcher.contains !== undefined) {
    const part = fold(matcher.contains);
    return ignoreCase ? (v) => v.toLowerCase().includes(part) : (v) => v.includes(part);
  }
  if (matcher.safe_regex !== undefined) {
    // Envoy ignores ignore_case for safe_regex: case folding is the regex's own business.
    const regex = compileFullMatchRegex(matcher.safe_regex.regex ?? '');
    return (v) => regex.test(v);
  }
  if (matcher.custom !== undefined) throw new Error('custom string matchers are not supported');
  throw new Error('string matcher has none of exact, prefix, suffix, contains, safe_regex');
}
