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

/**
 * RE2 substitutions use \0..\9 for groups; JS replace() uses $&, $1..$9 and treats a literal "$"
 * specially, so it is escaped.
 */
export function toJsSubstitution(substitution: string): string {
  let out = '';
  for (let i = 0; i < substitution.length; i++) {
    const ch = substitution[i];
    if (ch === '$') {
      out += '$$';
    } else if (ch === '\\' && i + 1 < substitution.length) {
      const next = substitution[++i];
      if (next === '0') out += '$&';
      else if (next >= '1' && next <= '9') out += `$${next}`;
      else out += next;
    } else {
      out += ch;
    }
  }
  return out;
}
