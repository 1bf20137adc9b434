import type { envoy } from '@tendril/api-envoy';

type HeaderValueOption = envoy.config.core.v3.HeaderValueOption;
type AppendAction = envoy.config.core.v3.HeaderValueOption.HeaderAppendAction;

/** Headers as node and undici take them: lower-case names, repeated headers as arrays. */
export type HeaderBag = Record<string, string | string[] | number | undefined>;

interface HeaderAddition {
  name: string;
  value: string;
  action: AppendAction;
}

/** One level's request_headers_to_add/remove (or response_…), compiled once per config. */
export interface HeaderMutation {
  remove: readonly string[];
  add: readonly HeaderAddition[];
}

const APPEND_ACTIONS: ReadonlySet<string> = new Set(['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS']);

function checkModifiable(name: string): void {
  // Envoy rejects these too: the proxy owns pseudo-headers and Host (host_rewrite_* changes Host).
  if (name.startsWith(':') || name === 'host') throw new Error(`header "${name}" may not be modified`);
  if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw new Error(`invalid header name "${name}"`);
}

/**
 * Envoy header values are format strings: "%%" is a literal "%", and "%COMMAND%" is substituted per
 * request. The proxy supports no substitution commands yet, so they are rejected rather than sent
 * literally.
 */
function unescapeHeaderValue(value: string): string {
  if (!value.includes('%')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '%') {
      out += value[i];
    } else if (value[i + 1] === '%') {
      out += '%';
      i++;
    } else {
      const command = /^%([A-Z_0-9]+(?:\([^)]*\))?(?::[0-9]+)?)%/.exec(value.slice(i));
      if (command) throw new Error(`header value command %${command[1]}% is not supported`);
      throw new Error(`header value ${JSON.stringify(value)} has an unterminated "%" (write "%%" for a literal "%")`);
    }
  }
  return out;
}

/** Returns undefined when the level changes nothing, so the request path skips it. */
export function compileHeaderMutation(toAdd: HeaderValueOption[] | undefined, toRemove: string[] | undefined): HeaderMutation | undefined {
  const remove = (toRemove ?? []).map((name) => {
    const lower = name.toLowerCase();
    checkModifiable(lower);
    return lower;
  });
  const add: HeaderAddition[] = [];
  for (const option of toAdd ?? []) {
    const name = (option.header?.key ?? '').toLowerCase();
    if (name === '') throw new Error('header to add has no key');
    checkModifiable(name);
    const raw = option.header?.value ?? (option.header?.raw_value !== undefined ? Buffer.from(option.header.raw_value, 'base64').toString('latin1') : '');
    const value = unescapeHeaderValue(raw);
    if (/[\r\n\0]/.test(value)) throw new Error(`header "${name}" value contains a control character`);
    // Envoy skips empty values unless keep_empty_value is set.
    if (value === '' && option.keep_empty_value !== true) continue;
    let action: AppendAction;
    if (option.append_action !== undefined) {
      if (!APPEND_ACTIONS.has(option.append_action)) throw new Error(`unknown append_action "${option.append_action}"`);
      action = option.append_action;
    } else if (option.append === false) {
      action = 'OVERWRITE_IF_EXISTS_OR_ADD'; // the deprecated BoolValue, when set, wins as Envoy documents
    } else {
      action = 'APPEND_IF_EXISTS_OR_ADD';
    }
    add.push({ name, value, action });
  }
  if (remove.length === 0 && add.length === 0) return undefined;
  return { remove, add };
}

/** Applies one level: removals first, then additions, as Envoy's HeaderParser does. */
export function applyHeaderMutation(headers: HeaderBag, mutation: HeaderMutation): void {
  for (const name of mutation.remove) delete headers[name];
  for (const { name, value, action } of mutation.add) {
    const existing = headers[name];
    switch (action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        if (existing === undefined) headers[name] = value;
        else if (Array.isArray(existing)) existing.push(value);
        else headers[name] = [String(existing), value];
        break;
      case 'ADD_IF_ABSENT':
        if (existing === undefined) headers[name] = value;
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        headers[name] = value;
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (existing !== undefined) headers[name] = value;
        break;
    }
  }
}

export function applyHeaderMutations(headers: HeaderBag, mutations: readonly HeaderMutation[]): void {
  for (const mutation of mutations) applyHeaderMutation(headers, mutation);
}
