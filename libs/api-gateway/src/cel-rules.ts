/**
 * TypeScript translations of the CEL rules (x-kubernetes-validations) in the Gateway API CRDs.
 *
 * There is no CEL interpreter here: each rule text found in the CRDs is matched (with all whitespace
 * removed) against the patterns below, and the matching entry supplies the same check written in
 * TypeScript. Families of rules that differ only in a field or enum name (filter type ↔ field, path
 * checks, ...) share one entry whose regular expression captures the varying part. The error message
 * always comes from the CRD, so it reads exactly as the API server's.
 *
 * Rules with no entry are not evaluated; `unimplementedCelRules()` in structural-checks.ts lists them.
 * Transition rules (those that compare with `oldSelf`) only apply to updates and are never evaluated.
 */
import { isIP } from 'node:net';

export type CelCheck = (self: unknown) => boolean;

export interface CelRuleImplementation {
  /** Matches the whitespace-free rule text; capture groups are handed to `build`. */
  rule: RegExp;
  /** What the family of rules checks, for readers and test names. */
  summary: string;
  build(captures: string[]): CelCheck;
}

type Obj = Record<string, unknown>;

function asObject(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** CEL has(): the field is present. */
function has(v: unknown, field: string): boolean {
  const value = asObject(v)[field];
  return value !== undefined && value !== null;
}

/** A string field, "" when unset (how the rules treat optional strings they guard with `== ''`). */
function str(v: unknown, field: string): string {
  const value = asObject(v)[field];
  return typeof value === 'string' ? value : '';
}

function size(v: unknown): number {
  if (Array.isArray(v) || typeof v === 'string') return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return 0;
}

function existsOne<T>(items: T[], predicate: (item: T) => boolean): boolean {
  return items.filter(predicate).length === 1;
}

/** A CEL (RE2) regular expression as a JS RegExp; RE2's leading (?i) becomes the i flag. */
export function celRegExp(pattern: string): RegExp {
  const inlineInsensitive = /^(\^?)\(\?i\)/;
  if (inlineInsensitive.test(pattern)) return new RegExp(pattern.replace(inlineInsensitive, '$1'), 'i');
  return new RegExp(pattern);
}

/** Go's time.ParseDuration, as CEL's duration(), in milliseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 };
  const match = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|ns))+$/.exec(text);
  if (text === '0') return 0;
  if (!match) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/((?:\d+(?:\.\d*)?|\.\d+))(h|ms|m|s|us|µs|ns)/g)) total += Number(amount) * units[unit];
  return match[1] === '-' ? -total : total;
}

/** Unquotes a CEL string literal body: raw r"""...""" bodies stay as they are, '...' bodies lose their escapes. */
function celStringBody(body: string, raw: boolean): string {
  return raw ? body : body.replace(/\\(.)/g, '$1');
}

// ---------------------------------------------------------------------------------------------------------------
// Route parent references and policy target references
// ---------------------------------------------------------------------------------------------------------------

function emptyOrUnset(v: unknown, field: string): boolean {
  const value = asObject(v)[field];
  return value === undefined || value === null || value === '' || value === 0;
}

/** Same optional field on both: both unset/empty, or both set to the same value. */
function sameOptional(a: unknown, b: unknown, field: string): boolean {
  if (emptyOrUnset(a, field) && emptyOrUnset(b, field)) return true;
  return has(a, field) && has(b, field) && asObject(a)[field] === asObject(b)[field];
}

function sameParent(p1: unknown, p2: unknown): boolean {
  return str(p1, 'group') === str(p2, 'group') && str(p1, 'kind') === str(p2, 'kind') && str(p1, 'name') === str(p2, 'name') && sameOptional(p1, p2, 'namespace');
}

function sameTarget(p1: unknown, p2: unknown): boolean {
  return str(p1, 'group') === str(p2, 'group') && str(p1, 'kind') === str(p2, 'kind') && str(p1, 'name') === str(p2, 'name');
}

// ---------------------------------------------------------------------------------------------------------------
// Listeners
// ---------------------------------------------------------------------------------------------------------------

function sameHostname(l1: unknown, l2: unknown): boolean {
  return has(l1, 'hostname') && has(l2, 'hostname') ? str(l1, 'hostname') === str(l2, 'hostname') : !has(l1, 'hostname') && !has(l2, 'hostname');
}

function sameListenerEndpoint(l1: unknown, l2: unknown): boolean {
  const a = asObject(l1);
  const b = asObject(l2);
  return a.port === b.port && a.protocol === b.protocol && sameHostname(l1, l2);
}

// ---------------------------------------------------------------------------------------------------------------
// HTTPRoute rules
// ---------------------------------------------------------------------------------------------------------------

/** A filter of the given kind (requestRedirect / urlRewrite) whose path modifier is ReplacePrefixMatch. */
function replacesPrefix(filter: unknown, field: string): boolean {
  const modifier = asObject(asObject(filter)[field]);
  return has(modifier, 'path') && str(modifier.path, 'type') === 'ReplacePrefixMatch' && has(modifier.path, 'replacePrefixMatch');
}

/** ReplacePrefixMatch needs exactly one match, and that match must be a PathPrefix one. */
function hasSinglePrefixMatch(rule: unknown): boolean {
  const matches = asList(asObject(rule).matches);
  return matches.length === 1 && has(matches[0], 'path') && str(asObject(matches[0]).path, 'type') === 'PathPrefix';
}

function totalMatches(rules: unknown): number {
  return asList(rules).reduce<number>((sum, rule) => sum + size(asObject(rule).matches), 0);
}

/** Every CEL rule family in the Gateway API CRDs that Tendril evaluates. */
export const celRuleImplementations: CelRuleImplementation[] = [
  // ---- filters: type ↔ field consistency, repetition, incompatible pairs
  {
    summary: 'a filter field may only be set when the filter type names it',
    rule: /^!\(has\(self\.(\w+)\)&&self\.type!='(\w+)'\)$/,
    build: ([field, type]) => (self) => !(has(self, field) && str(self, 'type') !== type),
  },
  {
    summary: 'the filter type requires its field',
    rule: /^!\(!has\(self\.(\w+)\)&&self\.type=='(\w+)'\)$/,
    build: ([field, type]) => (self) => !(!has(self, field) && str(self, 'type') === type),
  },
  {
    summary: 'a filter type may appear at most once in a list',
    rule: /^self\.filter\(f,f\.type=='(\w+)'\)\.size\(\)<=1$/,
    build: ([type]) => (self) => asList(self).filter((f) => str(f, 'type') === type).length <= 1,
  },
  {
    summary: 'RequestRedirect and URLRewrite filters are mutually exclusive',
    rule: /^!\(self\.exists\(f,f\.type=='(\w+)'\)&&self\.exists\(f,f\.type=='(\w+)'\)\)$/,
    build: ([a, b]) => (self) => !(asList(self).some((f) => str(f, 'type') === a) && asList(self).some((f) => str(f, 'type') === b)),
  },
  {
    summary: "'*' must be the only entry when present",
    rule: /^!\('\*'inself&&self\.size\(\)>1\)$/,
    build: () => (self) => !(asList(self).includes('*') && asList(self).length > 1),
  },
  {
    summary: 'RequestRedirect filters cannot be combined with backendRefs',
    rule: /^\(has\(self\.backendRefs\)&&size\(self\.backendRefs\)>0\)\?\(!has\(self\.filters\)\|\|self\.filters\.all\(f,!has\(f\.requestRedirect\)\)\):true$/,
    build: () => (self) => !(size(asObject(self).backendRefs) > 0) || asList(asObject(self).filters).every((f) => !has(f, 'requestRedirect')),
  },
  {
    summary: 'ReplacePrefixMatch in a rule filter needs exactly one PathPrefix match',
    rule: /^\(has\(self\.filters\)&&self\.filters\.exists_one\(f,has\(f\.(\w+)\)&&has\(f\.\1\.path\)&&f\.\1\.path\.type=='ReplacePrefixMatch'&&has\(f\.\1\.path\.replacePrefixMatch\)\)\)\?\(\(size\(self\.matches\)!=1\|\|!has\(self\.matches\[0\]\.path\)\|\|self\.matches\[0\]\.path\.type!='PathPrefix'\)\?false:true\):true$/,
    build: ([field]) => (self) => !existsOne(asList(asObject(self).filters), (f) => replacesPrefix(f, field)) || hasSinglePrefixMatch(self),
  },
  {
    summary: 'ReplacePrefixMatch in a backendRef filter needs exactly one PathPrefix match',
    rule: /^\(has\(self\.backendRefs\)&&self\.backendRefs\.exists_one\(b,\(has\(b\.filters\)&&b\.filters\.exists_one\(f,has\(f\.(\w+)\)&&has\(f\.\1\.path\)&&f\.\1\.path\.type=='ReplacePrefixMatch'&&has\(f\.\1\.path\.replacePrefixMatch\)\)\)\)\)\?\(\(size\(self\.matches\)!=1\|\|!has\(self\.matches\[0\]\.path\)\|\|self\.matches\[0\]\.path\.type!='PathPrefix'\)\?false:true\):true$/,
    build: ([field]) => (self) =>
      !existsOne(asList(asObject(self).backendRefs), (b) => existsOne(asList(asObject(b).filters), (f) => replacesPrefix(f, field))) || hasSinglePrefixMatch(self),
  },

  // ---- "if X is A then field F is set" / "if F is set then X is A"
  {
    summary: 'a discriminator value requires its field',
    rule: /^self\.(\w+)=='(\w+)'\?has\(self\.(\w+)\):true$/,
    build: ([discriminator, value, field]) => (self) => str(self, discriminator) !== value || has(self, field),
  },
  {
    summary: 'a field requires its discriminator value',
    rule: /^has\(self\.(\w+)\)\?self\.(\w+)=='(\w+)':true$/,
    build: ([field, discriminator, value]) => (self) => !has(self, field) || str(self, discriminator) === value,
  },
  {
    summary: 'a field is set exactly when the discriminator has a value',
    rule: /^self\.(\w+)=='(\w+)'\?has\(self\.(\w+)\):!has\(self\.\3\)$/,
    build: ([discriminator, value, field]) => (self) => (str(self, discriminator) === value) === has(self, field),
  },
  {
    summary: 'session persistence type requires its field',
    rule: /^self\.type!='(\w+)'\|\|has\(self\.(\w+)\)$/,
    build: ([type, field]) => (self) => str(self, 'type') !== type || has(self, field),
  },
  {
    summary: 'a session persistence field is only allowed with its type',
    rule: /^!has\(self\.(\w+)\)\|\|self\.type=='(\w+)'$/,
    build: ([field, type]) => (self) => !has(self, field) || str(self, 'type') === type,
  },
  {
    summary: 'permanent cookies need an absolute timeout',
    rule: /^!has\(self\.cookie\)\|\|!has\(self\.cookie\.lifetimeType\)\|\|self\.cookie\.lifetimeType!='Permanent'\|\|has\(self\.absoluteTimeout\)$/,
    build: () => (self) => str(asObject(self).cookie, 'lifetimeType') !== 'Permanent' || has(self, 'absoluteTimeout'),
  },
  {
    summary: 'subject alt name of a type needs its value',
    rule: /^!\(self\.type=="(\w+)"&&\(!has\(self\.(\w+)\)\|\|self\.\2==""\)\)$/,
    build: ([type, field]) => (self) => !(str(self, 'type') === type && str(self, field) === ''),
  },
  {
    summary: 'subject alt name value only with its type',
    rule: /^!\(self\.type!="(\w+)"&&has\(self\.(\w+)\)&&self\.\2!=""\)$/,
    build: ([type, field]) => (self) => !(str(self, 'type') !== type && str(self, field) !== ''),
  },

  // ---- HTTP path match
  {
    summary: 'Exact and PathPrefix paths start with "/"',
    rule: /^\(self\.typein\['Exact','PathPrefix'\]\)\?self\.value\.startsWith\('([^']*)'\):true$/,
    build: ([prefix]) => (self) => !['Exact', 'PathPrefix'].includes(str(self, 'type')) || str(self, 'value').startsWith(prefix),
  },
  {
    summary: 'Exact and PathPrefix paths must not contain a sequence',
    rule: /^\(self\.typein\['Exact','PathPrefix'\]\)\?!self\.value\.contains\('([^']*)'\):true$/,
    build: ([infix]) => (self) => !['Exact', 'PathPrefix'].includes(str(self, 'type')) || !str(self, 'value').includes(infix),
  },
  {
    summary: 'Exact and PathPrefix paths must not end with a sequence',
    rule: /^\(self\.typein\['Exact','PathPrefix'\]\)\?!self\.value\.endsWith\('([^']*)'\):true$/,
    build: ([suffix]) => (self) => !['Exact', 'PathPrefix'].includes(str(self, 'type')) || !str(self, 'value').endsWith(suffix),
  },
  {
    summary: 'Exact and PathPrefix paths only contain valid characters',
    rule: /^\(self\.typein\['Exact','PathPrefix'\]\)\?self\.value\.matches\(r"""(.*)"""\):true$/,
    build: ([pattern]) => {
      const re = celRegExp(pattern);
      return (self) => !['Exact', 'PathPrefix'].includes(str(self, 'type')) || re.test(str(self, 'value'));
    },
  },
  {
    summary: 'path match type is Exact, PathPrefix or RegularExpression',
    rule: /^self\.typein\['Exact','PathPrefix'\]\|\|self\.type=='RegularExpression'$/,
    build: () => (self) => ['Exact', 'PathPrefix', 'RegularExpression'].includes(str(self, 'type')),
  },

  // ---- references
  {
    summary: 'a Service backend needs a port',
    rule: /^\(size\(self\.group\)==0&&self\.kind=='Service'\)\?has\(self\.port\):true$/,
    build: () => (self) => !(str(self, 'group') === '' && str(self, 'kind') === 'Service') || has(self, 'port'),
  },
  {
    summary: 'sectionName or port distinguishes several references to the same parent',
    rule: /^self\.all\(p1,self\.all\(p2,p1\.group==p2\.group&&p1\.kind==p2\.kind&&p1\.name==p2\.name&&.*__namespace__.*\?\(\(!has\(p1\.sectionName\).*\(!has\(p1\.port\)\|\|p1\.port==0\)==\(!has\(p2\.port\)\|\|p2\.port==0\)\):true\)\)$/,
    build: () => (self) => {
      const refs = asList(self);
      return refs.every((p1) =>
        refs.every((p2) => !sameParent(p1, p2) || (emptyOrUnset(p1, 'sectionName') === emptyOrUnset(p2, 'sectionName') && emptyOrUnset(p1, 'port') === emptyOrUnset(p2, 'port'))),
      );
    },
  },
  {
    summary: 'references to the same parent differ in sectionName or port',
    rule: /^self\.all\(p1,self\.exists_one\(p2,p1\.group==p2\.group&&p1\.kind==p2\.kind&&p1\.name==p2\.name&&.*__namespace__.*p1\.sectionName==p2\.sectionName.*p1\.port==p2\.port\)\)\)\)$/,
    build: () => (self) => {
      const refs = asList(self);
      return refs.every((p1) => existsOne(refs, (p2) => sameParent(p1, p2) && sameOptional(p1, p2, 'sectionName') && sameOptional(p1, p2, 'port')));
    },
  },
  {
    summary: 'sectionName distinguishes several references to the same target',
    rule: /^self\.all\(p1,self\.all\(p2,p1\.group==p2\.group&&p1\.kind==p2\.kind&&p1\.name==p2\.name\?\(\(!has\(p1\.sectionName\)\|\|p1\.sectionName==''\)==\(!has\(p2\.sectionName\)\|\|p2\.sectionName==''\)\):true\)\)$/,
    build: () => (self) => {
      const refs = asList(self);
      return refs.every((p1) => refs.every((p2) => !sameTarget(p1, p2) || emptyOrUnset(p1, 'sectionName') === emptyOrUnset(p2, 'sectionName')));
    },
  },
  {
    summary: 'references to the same target differ in sectionName',
    rule: /^self\.all\(p1,self\.exists_one\(p2,p1\.group==p2\.group&&p1\.kind==p2\.kind&&p1\.name==p2\.name&&\(\(\(!has\(p1\.sectionName\).*p1\.sectionName==p2\.sectionName\)\)\)\)$/,
    build: () => (self) => {
      const refs = asList(self);
      return refs.every((p1) => existsOne(refs, (p2) => sameTarget(p1, p2) && sameOptional(p1, p2, 'sectionName')));
    },
  },

  // ---- mirror, timeouts, retries
  {
    summary: 'a mirror takes percent or fraction, not both',
    rule: /^!\(has\(self\.percent\)&&has\(self\.fraction\)\)$/,
    build: () => (self) => !(has(self, 'percent') && has(self, 'fraction')),
  },
  {
    summary: 'a fraction is at most 1',
    rule: /^self\.numerator<=self\.denominator$/,
    build: () => (self) => Number(asObject(self).numerator) <= Number(asObject(self).denominator ?? 100),
  },
  {
    summary: 'backendRequest timeout is not longer than the request timeout',
    rule: /^!\(has\(self\.request\)&&has\(self\.backendRequest\)&&duration\(self\.request\)!=duration\('0s'\)&&duration\(self\.backendRequest\)>duration\(self\.request\)\)$/,
    build: () => (self) => {
      if (!has(self, 'request') || !has(self, 'backendRequest')) return true;
      const request = parseDuration(str(self, 'request'));
      return request === 0 || parseDuration(str(self, 'backendRequest')) <= request;
    },
  },
  {
    summary: 'a duration lies within bounds',
    rule: /^!\(duration\(self\)(<|==)duration\('(\w+)'\)\|\|duration\(self\)>duration\('(\w+)'\)\)$/,
    build: ([op, low, high]) => (self) => {
      const d = parseDuration(String(self));
      const tooLow = op === '<' ? d < parseDuration(low) : d === parseDuration(low);
      return !(tooLow || d > parseDuration(high));
    },
  },

  // ---- rules of a route
  {
    summary: 'at most N matches across all rules of a route',
    rule: /^\(self\.size\(\)>0\?.*\)<=(\d+)$/,
    build: ([limit]) => (self) => totalMatches(self) <= Number(limit),
  },
  {
    summary: 'rule names are unique',
    rule: /^self\.all\(l1,!has\(l1\.name\)\|\|self\.exists_one\(l2,has\(l2\.name\)&&l1\.name==l2\.name\)\)$/,
    build: () => (self) => asList(self).every((l1) => !has(l1, 'name') || existsOne(asList(self), (l2) => has(l2, 'name') && str(l1, 'name') === str(l2, 'name'))),
  },
  {
    summary: 'entries are unique by a field',
    rule: /^self\.all\((\w+),self\.exists_one\((\w+),\1\.(\w+)==\2\.\3\)\)$/,
    build: ([, , field]) => (self) => asList(self).every((a) => existsOne(asList(self), (b) => asObject(a)[field] === asObject(b)[field])),
  },

  // ---- GRPC method match
  {
    summary: 'a typed method match names a service or a method',
    rule: /^has\(self\.type\)\?has\(self\.service\)\|\|has\(self\.method\):true$/,
    build: () => (self) => !has(self, 'type') || has(self, 'service') || has(self, 'method'),
  },
  {
    summary: 'exact service and method names only contain valid characters',
    rule: /^\(!has\(self\.type\)\|\|self\.type=='Exact'\)&&has\(self\.(\w+)\)\?self\.\1\.matches\(r"""(.*)"""\):true$/,
    build: ([field, pattern]) => {
      const re = celRegExp(pattern);
      return (self) => !((!has(self, 'type') || str(self, 'type') === 'Exact') && has(self, field)) || re.test(str(self, field));
    },
  },

  // ---- Gateway and ListenerSet
  {
    summary: 'tls is not allowed for HTTP, TCP and UDP listeners',
    rule: /^self\.all\(l,l\.protocolin\['HTTP','TCP','UDP'\]\?!has\(l\.tls\):true\)$/,
    build: () => (self) => asList(self).every((l) => !['HTTP', 'TCP', 'UDP'].includes(str(l, 'protocol')) || !has(l, 'tls')),
  },
  {
    summary: 'HTTPS listeners terminate TLS',
    rule: /^self\.all\(l,\(l\.protocol=='HTTPS'&&has\(l\.tls\)\)\?\(l\.tls\.mode==''\|\|l\.tls\.mode=='Terminate'\):true\)$/,
    build: () => (self) => asList(self).every((l) => !(str(l, 'protocol') === 'HTTPS' && has(l, 'tls')) || ['', 'Terminate'].includes(str(asObject(l).tls, 'mode'))),
  },
  {
    summary: 'TLS listeners set a tls mode',
    rule: /^self\.all\(l,\(l\.protocol=='TLS'\?has\(l\.tls\)&&has\(l\.tls\.mode\)&&l\.tls\.mode!='':true\)\)$/,
    build: () => (self) => asList(self).every((l) => str(l, 'protocol') !== 'TLS' || str(asObject(l).tls, 'mode') !== ''),
  },
  {
    summary: 'TCP and UDP listeners have no hostname',
    rule: /^self\.all\(l,l\.protocolin\['TCP','UDP'\]\?\(!has\(l\.hostname\)\|\|l\.hostname==''\):true\)$/,
    build: () => (self) => asList(self).every((l) => !['TCP', 'UDP'].includes(str(l, 'protocol')) || str(l, 'hostname') === ''),
  },
  {
    summary: 'port, protocol and hostname are unique across listeners',
    rule: /^self\.all\(l1,self\.exists_one\(l2,l1\.port==l2\.port&&l1\.protocol==l2\.protocol&&\(has\(l1\.hostname\)&&has\(l2\.hostname\)\?l1\.hostname==l2\.hostname:!has\(l1\.hostname\)&&!has\(l2\.hostname\)\)\)\)$/,
    build: () => (self) => asList(self).every((l1) => existsOne(asList(self), (l2) => sameListenerEndpoint(l1, l2))),
  },
  {
    summary: 'port, protocol and hostname are unique across listeners that set a port',
    rule: /^self\.all\(l1,!has\(l1\.port\)\|\|self\.exists_one\(l2,has\(l2\.port\)&&l1\.port==l2\.port&&l1\.protocol==l2\.protocol&&\(has\(l1\.hostname\)&&has\(l2\.hostname\)\?l1\.hostname==l2\.hostname:!has\(l1\.hostname\)&&!has\(l2\.hostname\)\)\)\)$/,
    build: () => (self) => asList(self).every((l1) => !has(l1, 'port') || existsOne(asList(self), (l2) => has(l2, 'port') && sameListenerEndpoint(l1, l2))),
  },
  {
    summary: 'terminating TLS needs certificateRefs or options',
    rule: /^self\.mode=='Terminate'\?size\(self\.certificateRefs\)>0\|\|size\(self\.options\)>0:true$/,
    build: () => (self) => str(self, 'mode') !== 'Terminate' || size(asObject(self).certificateRefs) > 0 || size(asObject(self).options) > 0,
  },
  {
    summary: 'address values of a type are unique',
    rule: /^self\.all\(a1,a1\.type=='(\w+)'&&has\(a1\.value\)\?self\.exists_one\(a2,a2\.type==a1\.type&&has\(a2\.value\)&&a2\.value==a1\.value\):true\)$/,
    build: ([type]) => (self) =>
      asList(self).every((a1) => !(str(a1, 'type') === type && has(a1, 'value')) || existsOne(asList(self), (a2) => str(a2, 'type') === type && has(a2, 'value') && str(a2, 'value') === str(a1, 'value'))),
  },
  {
    summary: 'hostname addresses are valid hostnames',
    rule: /^self\.type=='Hostname'\?\(?(!has\(self\.value\)\|\|)?self\.value\.matches\(r"""(.*)"""\)\)?:true$/,
    build: ([optional, pattern]) => {
      const re = celRegExp(pattern);
      return (self) => str(self, 'type') !== 'Hostname' || (optional !== undefined && !has(self, 'value')) || re.test(str(self, 'value'));
    },
  },
  {
    summary: 'label and annotation keys are qualified names',
    rule: /^self\.all\(key,key\.matches\(r"""(.*)"""\)\)$/,
    build: ([pattern]) => {
      const re = celRegExp(pattern);
      return (self) => Object.keys(asObject(self)).every((key) => re.test(key));
    },
  },
  {
    summary: 'label and annotation key prefixes are shorter than 253 characters',
    rule: /^self\.all\(key,key\.split\("\/"\)\[0\]\.size\(\)<(\d+)\)$/,
    build: ([limit]) => (self) => Object.keys(asObject(self)).every((key) => key.split('/')[0].length < Number(limit)),
  },

  // ---- TLSRoute hostnames, BackendTLSPolicy, XBackend
  {
    summary: 'hostnames are not IP addresses',
    rule: /^self\.all\(h,!isIP\(h\)\)$/,
    build: () => (self) => asList(self).every((h) => isIP(String(h)) === 0),
  },
  {
    summary: 'non-wildcard hostnames are RFC 1123 names',
    rule: /^self\.all\(h,!h\.contains\('\*'\)\?h\.matches\('(.*)'\):true\)$/,
    build: ([pattern]) => {
      const re = celRegExp(celStringBody(pattern, false));
      return (self) => asList(self).every((h) => String(h).includes('*') || re.test(String(h)));
    },
  },
  {
    summary: 'wildcards are only allowed as the first label',
    rule: /^self\.all\(h,h\.contains\('\*'\)\?\(h\.startsWith\('\*\.'\)&&h\.substring\(2\)\.matches\('(.*)'\)\):true\)$/,
    build: ([pattern]) => {
      const re = celRegExp(celStringBody(pattern, false));
      return (self) => asList(self).every((h) => !String(h).includes('*') || (String(h).startsWith('*.') && re.test(String(h).substring(2))));
    },
  },
  {
    summary: 'CA certificates come from refs or the well-known set, not both',
    rule: /^!\(has\(self\.caCertificateRefs\)&&size\(self\.caCertificateRefs\)>0&&has\(self\.wellKnownCACertificates\)&&self\.wellKnownCACertificates!=""\)$/,
    build: () => (self) => !(size(asObject(self).caCertificateRefs) > 0 && str(self, 'wellKnownCACertificates') !== ''),
  },
  {
    summary: 'CA certificates come from refs or the well-known set',
    rule: /^\(has\(self\.caCertificateRefs\)&&size\(self\.caCertificateRefs\)>0\|\|has\(self\.wellKnownCACertificates\)&&self\.wellKnownCACertificates!=""\)$/,
    build: () => (self) => size(asObject(self).caCertificateRefs) > 0 || str(self, 'wellKnownCACertificates') !== '',
  },
  {
    summary: 'a string does not end with a suffix',
    rule: /^!self\.endsWith\('([^']*)'\)$/,
    build: ([suffix]) => (self) => !String(self).endsWith(suffix),
  },
  {
    summary: 'a name is empty or a DNS-1123 label',
    rule: /^size\(self\)==0\|\|format\.dns1123Label\(\)\.validate\(self\)==null$/,
    build: () => (self) => String(self) === '' || (String(self).length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(String(self))),
  },
];

/** Whitespace is not significant in the rules; removing it makes the patterns above independent of CRD formatting. */
export function normalizeCelRule(rule: string): string {
  return rule.replace(/\s+/g, '');
}

/**
 * Per rule text as written in the CRD: whether it is a transition rule. The rule texts are a fixed
 * set (those in the bundled CRDs), so these caches stay small, while validation asks about them for
 * every field of every object.
 */
const transitionByRule = new Map<string, boolean>();

/** Whether a rule compares with the previous object (a transition rule, checked on update only). */
export function isTransitionRule(rule: string): boolean {
  let transition = transitionByRule.get(rule);
  if (transition === undefined) {
    transition = /\boldSelf\b/.test(rule);
    transitionByRule.set(rule, transition);
  }
  return transition;
}

/** By normalized rule text, so rules that differ only in whitespace share one compiled check. */
const checkCache = new Map<string, CelCheck | null>();
/** By rule text as given: looked up first, so the normalization (a regex replace) runs once per text. */
const checkByRawRule = new Map<string, CelCheck | null>();

/** The TypeScript check for a CEL rule text, or undefined when Tendril has no translation of it. */
export function findCelCheck(rule: string): CelCheck | undefined {
  let check = checkByRawRule.get(rule);
  if (check === undefined) {
    check = checkForNormalized(normalizeCelRule(rule));
    checkByRawRule.set(rule, check);
  }
  return check ?? undefined;
}

function checkForNormalized(normalized: string): CelCheck | null {
  let check = checkCache.get(normalized);
  if (check === undefined) {
    check = null;
    for (const implementation of celRuleImplementations) {
      const match = implementation.rule.exec(normalized);
      if (match) {
        check = implementation.build(match.slice(1));
        break;
      }
    }
    checkCache.set(normalized, check);
  }
  return check;
}

/** The implementation entry a rule text matches (for coverage tests). */
export function findCelImplementation(rule: string): CelRuleImplementation | undefined {
  const normalized = normalizeCelRule(rule);
  return celRuleImplementations.find((implementation) => implementation.rule.test(normalized));
}
