/**
 * validateResource: one entry point for everything Tendril reads from YAML. Gateway API kinds go through
 * their CRD schema and CEL rules, core kinds through api-k8s, anything else is refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateResource, isGatewayApiKind } from '../src';
import { fixture } from './fixtures';

describe('validateResource', () => {
  it('validates Gateway API kinds against their CRDs, defaults included', () => {
    const result = validateResource(fixture('httproute'));
    expect(result.valid).toBe(true);
    expect(result.resource).toMatchObject({ spec: { parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway' }] } });
  });

  it('rejects a broken Gateway API object with the CRD message', () => {
    const route = fixture('httproute');
    route.spec.rules[0].matches[0].path.value = '/a//b';
    expect(validateResource(route).errors).toEqual([
      { path: 'spec.rules[0].matches[0].path', message: `Invalid value: "object": must not contain '//' when type one of ['Exact', 'PathPrefix']` },
    ]);
  });

  it('validates core kinds with the Kubernetes rules', () => {
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { ports: [{ port: 80, targetPort: 8080 }] } };
    expect(validateResource(service)).toEqual({ valid: true, errors: [], resource: service });
    const broken = { ...service, metadata: { name: '1web' }, spec: { ports: [{ port: 0 }] } };
    expect(validateResource(broken).errors).toEqual([
      {
        path: 'metadata.name',
        message:
          "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      },
      { path: 'spec.ports[0].port', message: 'Invalid value: 0: must be between 1 and 65535, inclusive' },
    ]);
  });

  it.each([
    ['networking.k8s.io/v1', 'Ingress'],
    ['gateway.networking.k8s.io/v1', 'HTTPRouteFilter'],
    ['apps/v2', 'Deployment'],
    ['v1', 'HTTPRoute'],
  ])('refuses %s %s, which is not registered', (apiVersion, kind) => {
    const result = validateResource({ apiVersion, kind, metadata: { name: 'x' } });
    expect(result).toMatchObject({ valid: false, errors: [{ path: 'kind', message: `no kind "${kind}" is registered for version "${apiVersion}"` }] });
  });

  it('knows which kinds are Gateway API kinds', () => {
    expect(isGatewayApiKind('gateway.networking.k8s.io/v1beta1', 'HTTPRoute')).toBe(true);
    expect(isGatewayApiKind('gateway.networking.x-k8s.io/v1alpha1', 'XBackendTrafficPolicy')).toBe(true);
    expect(isGatewayApiKind('v1', 'Service')).toBe(false);
  });
});

// The conformance suite's manifests are applied to real clusters, so every one of them must pass.
const conformanceDir = path.resolve(__dirname, '../../../../shared/gateway-api/conformance');

(fs.existsSync(conformanceDir) ? describe : describe.skip)('Gateway API conformance manifests', () => {
  const files = fs.existsSync(conformanceDir)
    ? ['tests', 'base', 'mesh'].flatMap((sub) => {
        const dir = path.join(conformanceDir, sub);
        return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f)) : [];
      })
    : [];

  it('found the manifests', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  test.each(files.map((f) => [path.relative(conformanceDir, f), f]))('%s is valid', (_name, file) => {
    // The suite substitutes the implementation's controller name before applying.
    const text = fs.readFileSync(file, 'utf8').replace(/\{GATEWAY_CONTROLLER_NAME\}/g, 'tendril.io/gateway-controller');
    const failures = parseAllDocuments(text)
      .map((doc) => doc.toJS())
      .filter((obj) => obj)
      .map((obj) => ({ object: `${obj.kind}/${obj.metadata?.name}`, errors: validateResource(obj).errors }))
      .filter((r) => r.errors.length > 0);
    expect(failures).toEqual([]);
  });
});
