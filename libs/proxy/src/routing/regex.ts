/**
 * Envoy's safe_regex is RE2. JS RegExp is close enough for the patterns route translators emit,
 * but the differences that would silently change behaviour are rejected or translated here:
 * RE2 has no backreferences or lookaround (a config using them would be invalid for Envoy), and
 * spells named groups `(?P<name>...)`, absolute anchors `\A` / `\z`.
 */
function translateRe2(pattern: string): { source: string; flags: string } {
  let flags = '';
  let body = pattern;
  const leadingFlags = /^\(\?([a-zA-Z]+)\)/.exec(body);
  if (leadingFlags) {
    for (const flag of leadingFlags[1]) {
      if (flag === 'i' || flag === 's' || flag === 'm') {
        if (!flags.includes(flag)) flags += flag;
      } else {
        throw new Error(`unsupported regex flag "${flag}"`);
      }
    }
    body = body.slice(leadingFlags[0].length);
  }
  let source = '';
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\') {
      const next = body[i + 1];
      if (next === undefined) throw new Error('trailing backslash');
      i++;
      if (!inClass && next >= '1' && next <= '9') throw new Error('backreferences are not supported by RE2');
      if (!inClass && next === 'A') source += '^';
      else if (!inClass && next === 'z') source += '(?![\\s\\S])';
      else source += ch + next;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      source += ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      source += ch;
      if (body[i + 1] === '^') source += body[++i];
      if (body[i + 1] === ']') {
        source += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(' && body[i + 1] === '?') {
      const after = body.slice(i + 2, i + 4);
      if (after.startsWith('P<')) {
        source += '(?<';
        i += 3;
        continue;
      }
      if (after[0] === '=' || after[0] === '!' || after === '<=' || after === '<!') {
        throw new Error('lookaround assertions are not supported by RE2');
      }
    }
    source += ch;
  }
  if (inClass) throw new Error('missing closing ]');
  return { source, flags };
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // V8 prefixes "Invalid regular expression: /<source>/<flags>: "; the caller already names the pattern.
  return message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
}

/** A regex that must match the whole input, as Envoy's safe_regex matchers do. Throws with a readable reason. */
export function compileFullMatchRegex(pattern: string): RegExp {
  try {
    const { source, flags } = translateRe2(pattern);
    return new RegExp(`^(?:${source})$`, flags);
  } catch (err) {
    throw new Error(`invalid regex ${JSON.stringify(pattern)}: ${describe(err)}`);
  }
}

/** A regex that finds every match in the input, for regex_rewrite (RE2::GlobalReplace). */
export function compileGlobalRegex(pattern: string): RegExp {
  try {
    const { source, flags } = translateRe2(pattern);
    return new RegExp(source, `${flags}g`);
  } catch (err) {
    throw new Error(`invalid regex ${JSON.stringify(pattern)}: ${describe(err)}`);
  }
}

/** A parsed RE2 rewrite string: literal text and capture group numbers (\\0 is the whole match). */
export type Substitution = readonly (string | number)[];

/** Parses an RE2 rewrite string; `\\N` refers to group N, `\\\\` is a backslash. */
export function parseSubstitution(substitution: string, regex: RegExp): Substitution {
  const groups = new RegExp(`${regex.source}|`).exec('')?.length ?? 1; // capture groups + 1
  const parts: (string | number)[] = [];
  let literal = '';
  for (let i = 0; i < substitution.length; i++) {
    const ch = substitution[i];
    if (ch !== '\\') {
      literal += ch;
      continue;
    }
    const next = substitution[++i];
    if (next === '\\') {
      literal += '\\';
    } else if (next !== undefined && next >= '0' && next <= '9') {
      const group = Number(next);
      if (group >= groups) throw new Error(`substitution ${JSON.stringify(substitution)} refers to group ${group}, but the regex has ${groups - 1}`);
      if (literal) parts.push(literal);
      literal = '';
      parts.push(group);
    } else {
      throw new Error(`substitution ${JSON.stringify(substitution)} has an invalid escape "\\${next ?? ''}"`);
    }
  }
  if (literal) parts.push(literal);
  return parts;
}

/**
 * Replaces every non-overlapping match like RE2::GlobalReplace, which (unlike JS replace) skips an
 * empty match right where the previous match ended: ".*" rewrites "abc" once, not twice.
 */
export function globalReplace(input: string, regex: RegExp, substitution: Substitution): string {
  regex.lastIndex = 0;
  let out = '';
  let copiedUpTo = 0;
  let previousEnd = -1;
  for (let match = regex.exec(input); match !== null; match = regex.exec(input)) {
    const start = match.index;
    const end = start + match[0].length;
    if (start === end) {
      regex.lastIndex = start + 1; // step past an empty match
      if (start === previousEnd) continue;
    }
    out += input.slice(copiedUpTo, start);
    for (const part of substitution) out += typeof part === 'number' ? (match[part] ?? '') : part;
    copiedUpTo = end;
    previousEnd = end;
    if (start >= input.length) break;
  }
  return copiedUpTo === 0 && previousEnd === -1 ? input : out + input.slice(copiedUpTo);
}
