import type { KubeObject } from '@tendril/api-k8s';
import { formatSourceError, parseResourceFile, type ValidatorOutcome } from '../src';

const route = (name: string, pathValue = '/api') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name} }
spec:
  rules:
    - matches: [{ path: { value: ${pathValue} } }]
`;

/** Checks and defaults in one pass, the way validateResource from @tendril/api-gateway does. */
function defaultingValidator(calls: string[]): (obj: KubeObject) => ValidatorOutcome {
  return (obj) => {
    calls.push(String(obj.metadata.name));
    const spec = obj.spec as { rules: Array<{ matches: Array<{ path: { type?: string; value: string } }> }> };
    const value = spec.rules[0].matches[0].path.value;
    if (!value.startsWith('/')) return { errors: [{ path: 'spec.rules[0].matches[0].path.value', message: 'must start with "/"' }], resource: obj };
    const rules = spec.rules.map((r) => ({ ...r, matches: r.matches.map((m) => ({ ...m, path: { type: 'PathPrefix', ...m.path } })) }));
    return { errors: [], resource: { ...obj, spec: { ...spec, rules } } };
  };
}

describe('validators that return the normalized object', () => {
  it('keeps the object the validator defaulted, validating each object once', () => {
    const calls: string[] = [];
    const parsed = parseResourceFile('x.yaml', `${route('a')}---\n${route('b')}`, { validate: defaultingValidator(calls) });
    expect(parsed.errors).toEqual([]);
    expect(calls).toEqual(['a', 'b']);
    expect(parsed.objects.map((o) => (o.object.spec as { rules: Array<{ matches: Array<{ path: unknown }> }> }).rules[0].matches[0].path)).toEqual([
      { type: 'PathPrefix', value: '/api' },
      { type: 'PathPrefix', value: '/api' },
    ]);
    expect(parsed.objects[0].object.metadata).toEqual({ name: 'a', namespace: 'default' });
  });

  it('reports the errors of an invalid outcome and keeps nothing of it', () => {
    const parsed = parseResourceFile('x.yaml', `${route('ok')}---\n${route('bad', 'api')}`, { validate: defaultingValidator([]) });
    expect(parsed.objects.map((o) => o.object.metadata.name)).toEqual(['ok']);
    expect(parsed.errors.map(formatSourceError)).toEqual(['x.yaml: document 2 (HTTPRoute default/bad): spec.rules[0].matches[0].path.value: must start with "/"']);
  });

  it('keeps the checked object when a valid outcome carries no resource', () => {
    const parsed = parseResourceFile('x.yaml', route('a'), { validate: () => ({ errors: [] }) });
    expect((parsed.objects[0].object.spec as { rules: Array<{ matches: Array<{ path: unknown }> }> }).rules[0].matches[0].path).toEqual({ value: '/api' });
  });

  it('turns a resource that is not an object into an error on that document', () => {
    const parsed = parseResourceFile('x.yaml', route('a'), { validate: () => ({ errors: [], resource: 'nope' }) });
    expect(parsed.objects).toEqual([]);
    expect(parsed.errors.map(formatSourceError)).toEqual(['x.yaml: document 1 (HTTPRoute default/a): validator returned a resource that is not an object']);
  });
});
