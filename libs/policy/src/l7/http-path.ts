/**
 * The request path L7 HTTP rules are matched against, normalised the way Cilium's Envoy does it
 * (`http-normalize-path`, on by default; policy-semantics.md §3), so that an encoding or a dot
 * segment cannot walk a request past a `path` rule:
 *
 * 1. percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded, other escapes get
 *    upper-case hex (RFC 3986 §6.2.2) — `%2e%2e` is `..`;
 * 2. escaped slashes (`%2F`, `%5C`) are unescaped, as Envoy's UNESCAPE_AND_REDIRECT does before it
 *    redirects the client to the unescaped form — `/public%2F..%2Fprivate` is `/public/../private`;
 * 3. backslashes become slashes and runs of slashes are merged — `//private` is `/private`;
 * 4. dot segments are removed (RFC 3986 §5.2.4) — `/public/../private` is `/private`.
 *
 * The query is kept as sent (rules see `:path` with its `?query`, §3). A target that is not an
 * origin-form path (`*`, or anything not starting with `/`), one with a NUL, a fragment, a raw
 * control character or a malformed escape is refused: the proxy answers 400 and forwards nothing.
 * So is what upstream servers disagree about, where a path under an allowed prefix could reach
 * another one: a raw character outside printable ASCII (RFC 9112 request targets are ASCII),
 * escapes that do not decode to valid UTF-8 (overlong `%c0%ae` is a dot to some decoders), and a
 * dot segment with path parameters (`/..;/`, which Tomcat-like servers treat as `..`).
 */

export type NormalizedPath = { readonly ok: true; readonly path: string; readonly changed: boolean } | { readonly ok: false; readonly reason: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX = /^[0-9A-Fa-f]{2}$/;

/** Decodes unreserved escapes and escaped (back)slashes; upper-cases every other escape. Undefined for a malformed escape. */
function decodeEscapes(path: string): string | undefined {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charAt(i);
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    const decoded = String.fromCharCode(parseInt(hex, 16));
    if (decoded === '\0') return undefined;
    out += UNRESERVED.test(decoded) || decoded === '/' || decoded === '\\' ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

/** RFC 3986 §5.2.4 remove_dot_segments, on a path that starts with "/". */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  const segments = path.split('/').slice(1);
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '.') {
      if (last) output.push('');
      return;
    }
    if (segment === '..') {
      output.pop();
      if (last) output.push('');
      return;
    }
    output.push(segment);
  });
  return `/${output.join('/')}`;
}

/** Whether every escape of `path` (all of them, decoded to bytes) spells valid UTF-8. */
function escapesAreUtf8(path: string): boolean {
  if (!path.includes('%')) return true;
  const bytes = Buffer.from(path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  try {
    STRICT_UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export function normalizeRequestPath(target: string): NormalizedPath {
  if (!target.startsWith('/')) return { ok: false, reason: `request target ${JSON.stringify(target.slice(0, 64))} is not an origin-form path` };
  // eslint-disable-next-line no-control-regex -- raw control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f#]/.test(target)) return { ok: false, reason: 'request target has a control character or a fragment' };
  if (/[^\u0021-\u007e]/.test(target)) return { ok: false, reason: 'request target has a character outside printable ASCII' };
  const queryStart = target.indexOf('?');
  const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
  const query = queryStart === -1 ? '' : target.slice(queryStart);
  const decoded = decodeEscapes(rawPath);
  if (decoded === undefined) return { ok: false, reason: 'request path has a malformed or NUL percent-escape' };
  if (!escapesAreUtf8(decoded)) return { ok: false, reason: 'request path has percent-escapes that are not valid UTF-8' };
  if (/(^|[/\\])\.{1,2};/.test(decoded)) return { ok: false, reason: 'request path has a dot segment with path parameters' };
  const path = removeDotSegments(decoded.replace(/\\/g, '/').replace(/\/{2,}/g, '/')) + query;
  return { ok: true, path, changed: path !== target };
}
