/**
 * What can be read off an RE2 pattern, matched as a full-string match, without running it: the
 * literal text every match must start with, and the finite set of strings it matches when it is
 * only literal alternatives (`GET|PUT`, `/healthz`). The L7 rule index uses these to look rules up
 * by the request instead of trying each one. Both answers are conservative: a shorter prefix or
 * "not a literal set" is always safe (the candidate rule is still matched in full), a wrong one
 * would skip a rule that matches, so anything unusual gives up.
 */

/** RE2 syntax characters: outside an escape each one starts something that is not a literal. */
const META = new Set(['.', '[', ']', '(', ')', '*', '+', '?', '{', '}', '|', '^', '$', '\\']);
/** Quantifiers: they make the literal before them optional or repeated, so it cannot join a prefix. */
const QUANTIFIERS = new Set(['*', '+', '?', '{']);

interface LiteralRun {
  /** The literal characters from the start. */
  readonly text: string;
  /** The pattern is exactly this literal (nothing follows). */
  readonly whole: boolean;
}

/** The literal characters at the start of `pattern` (escaped punctuation included). */
function leadingLiteral(pattern: string): LiteralRun {
  let text = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      // `\.` or `\/` is that character; `\d`, `\Q`, `\pL`, `\x41`… are classes or forms not worth reading.
      if (next === undefined || /[0-9A-Za-z]/.test(next)) return { text, whole: false };
      if (QUANTIFIERS.has(pattern[i + 2] ?? '')) return { text, whole: false };
      text += next;
      i += 2;
      continue;
    }
    if (META.has(c)) return { text, whole: false };
    if (QUANTIFIERS.has(pattern[i + 1] ?? '')) return { text, whole: false };
    text += c;
    i += 1;
  }
  return { text, whole: true };
}

/** The pattern split on its top-level `|` (outside groups, classes and escapes). */
export function topLevelAlternatives(pattern: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      // `[]a]` and `[^]a]`: a `]` right after the opening is a member, not the end.
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  out.push(pattern.slice(start));
  return out;
}

/** The literal every full match of `pattern` starts with ('' when there is none, or with a top-level `|`). */
export function requiredPrefix(pattern: string): string {
  if (topLevelAlternatives(pattern).length > 1) return '';
  return leadingLiteral(pattern).text;
}

/** Every string the pattern matches in full, when it is literal alternatives only (`GET|HEAD`); else undefined. */
export function literalAlternatives(pattern: string): string[] | undefined {
  const out: string[] = [];
  for (const alternative of topLevelAlternatives(pattern)) {
    const run = leadingLiteral(alternative);
    if (!run.whole) return undefined;
    out.push(run.text);
  }
  return out;
}
