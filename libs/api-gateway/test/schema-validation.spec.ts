/**
 * OpenAPI validation and defaulting against the generated CRD schemas: what a user sees when a
 * Gateway API manifest is wrong, and what the translator gets when it is right.
 */
import { validateGatewayResource, type HTTPRoute, type Gateway } from '../src';
import { fixture, type Manifest } from './fixtures';

function minimalRoute(): Manifest {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'default' },
    spec: { parentRefs: [{ name: 'gw' }], rules: [{ matches: [{ headers: [{ name: 'x-a', value: '1' }] }], backendRefs: [{ name: 'svc', port: 80 }] }] },
  };
}

describe('CRD defaults', () => {
  it('fills in HTTPRoute defaults the way the API server does', () => {
    const result = validateGatewayResource(minimalRoute());
    if (!result.valid) throw new Error(JSON.stringify(result.errors));
    const route = result.resource as HTTPRoute;
    expect(route.spec.parentRefs?.[0]).toEqual({ name: 'gw', group: 'gateway.networking.k8s.io', kind: 'Gateway' });
    const rule = route.spec.rules?.[0];
    expect(rule?.matches?.[0].path).toEqual({ type: 'PathPrefix', value: '/' });
    expect(rule?.matches?.[0].headers?.[0].type).toBe('Exact');
    expect(rule?.backendRefs?.[0]).toEqual({ name: 'svc', port: 80, group: '', kind: 'Service', weight: 1 });
  });

  it('gives a rule without matches the default match on every path', () => {
    const route = minimalRoute();
    delete route.spec.rules[0].matches;
    const result = validateGatewayResource(route);
    expect(result.valid).toBe(true);
    expect((result.resource as HTTPRoute).spec.rules?.[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/' } }]);
  });

  it('fills in Gateway listener defaults (allowedRoutes from Same, TLS mode Terminate, Secret certificate refs)', () => {
    const result = validateGatewayResource(fixture('gateway'));
    expect(result.valid).toBe(true);
    const gateway = result.resource as Gateway;
    expect(gateway.spec.listeners[0].allowedRoutes).toEqual({ namespaces: { from: 'Same' } });
    expect(gateway.spec.listeners[1].tls).toEqual({ mode: 'Terminate', certificateRefs: [{ name: 'shop-cert', group: '', kind: 'Secret' }] });
  });

  it('leaves the input object untouched and does not invent a status', () => {
    const input = minimalRoute();
    const before = structuredClone(input);
    const result = validateGatewayResource(input);
    expect(input).toEqual(before);
    expect(result.resource).not.toBe(input);
    expect((result.resource as HTTPRoute).status).toBeUndefined();
  });

  it('validates older served versions with their own schema', () => {
    const route = minimalRoute();
    route.apiVersion = 'gateway.networking.k8s.io/v1beta1';
    expect(validateGatewayResource(route).valid).toBe(true);
    const grant = fixture('referencegrant');
    grant.apiVersion = 'gateway.networking.k8s.io/v1';
    expect(validateGatewayResource(grant).valid).toBe(true);
  });
});

describe('schema errors, worded like the API server', () => {
  function errorsFor(change: (m: Manifest) => void, name = 'httproute') {
    const manifest = fixture(name);
    change(manifest);
    return validateGatewayResource(manifest).errors;
  }

  it('reports an unsupported enum value with the supported values', () => {
    expect(errorsFor((m) => (m.spec.rules[0].matches[0].path.type = 'Regex'))).toContainEqual({
      path: 'spec.rules[0].matches[0].path.type',
      message: 'Unsupported value: "Regex": supported values: "Exact", "PathPrefix", "RegularExpression"',
    });
  });

  it('reports an HTTP method outside the supported ones', () => {
    expect(errorsFor((m) => (m.spec.rules[0].matches[0].method = 'FETCH'))).toContainEqual(
      expect.objectContaining({ path: 'spec.rules[0].matches[0].method', message: expect.stringMatching(/^Unsupported value: "FETCH": supported values: "GET", /) }),
    );
  });

  it('reports a hostname that does not match the CRD pattern', () => {
    expect(errorsFor((m) => (m.spec.hostnames[0] = 'Shop.Example.com'))).toEqual([
      {
        path: 'spec.hostnames[0]',
        message: `Invalid value: "Shop.Example.com": spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'`,
      },
    ]);
  });

  it('reports a missing required field', () => {
    expect(errorsFor((m) => delete m.spec.rules[0].backendRefs[0].name)).toContainEqual({ path: 'spec.rules[0].backendRefs[0].name', message: 'Required value' });
  });

  it('reports a value of the wrong type', () => {
    expect(errorsFor((m) => (m.spec.rules[0].backendRefs[0].port = '8080'))).toContainEqual({
      path: 'spec.rules[0].backendRefs[0].port',
      message: 'Invalid value: "string": spec.rules[0].backendRefs[0].port in body must be of type integer: "string"',
    });
  });

  it('reports numbers out of range', () => {
    expect(errorsFor((m) => (m.spec.rules[0].backendRefs[0].port = 70000))).toContainEqual({
      path: 'spec.rules[0].backendRefs[0].port',
      message: 'Invalid value: 70000: spec.rules[0].backendRefs[0].port in body should be less than or equal to 65535',
    });
  });

  it('reports too many items', () => {
    const hostnames = Array.from({ length: 17 }, (_, i) => `h${i}.example.com`);
    expect(errorsFor((m) => (m.spec.hostnames = hostnames))).toContainEqual({ path: 'spec.hostnames', message: 'Too many: 17: must have at most 16 items' });
  });

  it('rejects fields the schema does not declare, as kubectl does, instead of dropping them', () => {
    expect(
      errorsFor((m) => {
        m.spec.rules[0].backendRef = m.spec.rules[0].backendRefs;
        delete m.spec.rules[0].backendRefs;
      }),
    ).toEqual([{ path: 'spec.rules[0].backendRef', message: 'unknown field "spec.rules[0].backendRef"' }]);
    expect(errorsFor((m) => (m.specs = {}))).toEqual([{ path: 'specs', message: 'unknown field "specs"' }]);
  });

  it('accepts any keys in map fields (listener TLS options)', () => {
    expect(errorsFor((m) => (m.spec.listeners[1].tls.options = { 'example.com/anything': 'x' }), 'gateway')).toEqual([]);
  });

  it('says which formats an IPAddress value may take', () => {
    const errors = errorsFor((m) => (m.spec.addresses[0].value = 'not-an-ip'), 'gateway');
    expect(errors).toContainEqual({
      path: 'spec.addresses[0].value',
      message: 'Invalid value: "not-an-ip": spec.addresses[0].value in body must be of type ipv4: "not-an-ip"',
    });
    expect(errors).toContainEqual({
      path: 'spec.addresses[0].value',
      message: 'Invalid value: "not-an-ip": spec.addresses[0].value in body must be of type ipv6: "not-an-ip"',
    });
    expect(errorsFor((m) => (m.spec.addresses[0].value = 'fd00::10'), 'gateway')).toEqual([]);
    expect(errorsFor((m) => (m.spec.addresses[0] = { type: 'Hostname', value: 'gw.example.com' }), 'gateway')).toEqual([]);
  });

  it('reports duplicate keys in list-map fields (header match names, listener names)', () => {
    expect(errorsFor((m) => m.spec.rules[0].matches[0].headers.push({ name: 'x-version', value: '3' }))).toContainEqual({
      path: 'spec.rules[0].matches[0].headers[1]',
      message: 'Duplicate value: {"name":"x-version"}',
    });
    expect(errorsFor((m) => (m.spec.listeners[1].name = 'http'), 'gateway')).toContainEqual({ path: 'spec.listeners[1]', message: 'Duplicate value: {"name":"http"}' });
  });

  it('accepts header matches whose names differ', () => {
    expect(errorsFor((m) => m.spec.rules[0].matches[0].headers.push({ name: 'x-other', value: '3' }))).toEqual([]);
  });

  it('reports duplicate entries in list-set fields', () => {
    expect(
      errorsFor((m) => m.spec.rules[0].filters.push({ type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['x-a', 'x-a'] } })),
    ).toContainEqual({ path: 'spec.rules[0].filters[2].responseHeaderModifier.remove[1]', message: 'Duplicate value: "x-a"' });
  });

  it('checks metadata: name syntax, namespace on cluster-scoped kinds', () => {
    expect(errorsFor((m) => (m.metadata.name = 'Web_Route'))).toContainEqual({
      path: 'metadata.name',
      message: expect.stringMatching(/^Invalid value: "Web_Route": a lowercase RFC 1123 subdomain must consist of/),
    });
    const gatewayClass = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'tendril', namespace: 'x' }, spec: { controllerName: 'tendril.io/gateway' } };
    expect(validateGatewayResource(gatewayClass).errors).toEqual([{ path: 'metadata.namespace', message: 'Forbidden: not allowed on this type' }]);
  });
});

describe('input that is not a Gateway API object', () => {
  it('rejects an unserved version of a known kind', () => {
    const route = minimalRoute();
    route.apiVersion = 'gateway.networking.k8s.io/v2';
    expect(validateGatewayResource(route)).toMatchObject({
      valid: false,
      errors: [{ path: 'kind', message: 'no kind "HTTPRoute" is registered for version "gateway.networking.k8s.io/v2"' }],
    });
  });

  it.each([
    ['a string', 'kind: HTTPRoute'],
    ['null', null],
    ['a list', [1, 2]],
  ])('rejects %s instead of an object without throwing', (_label, input) => {
    const result = validateGatewayResource(input);
    expect(result.valid).toBe(false);
    expect(result.errors[0].message).toMatch(/must be a Kubernetes object/);
  });

  it('rejects objects that are not plain data without throwing', () => {
    const route = minimalRoute();
    route.spec.onMatch = () => 'not data';
    expect(validateGatewayResource(route).errors).toEqual([{ path: '', message: 'Invalid value: "HTTPRoute": must be plain data (as parsed from YAML or JSON)' }]);
  });

  it('reports missing apiVersion and kind', () => {
    expect(validateGatewayResource({ metadata: { name: 'x' } }).errors).toEqual([
      { path: 'apiVersion', message: 'Required value' },
      { path: 'kind', message: 'Required value' },
    ]);
  });

  it('reports a spec of the wrong shape without throwing', () => {
    const route = minimalRoute();
    route.spec = { rules: 'all of them', parentRefs: [null] };
    const result = validateGatewayResource(route);
    expect(result.valid).toBe(false);
    expect(result.errors).toContainEqual({ path: 'spec.rules', message: 'Invalid value: "string": spec.rules in body must be of type array: "string"' });
  });
});
