/**
 * Core kinds: each check has a bad object that fails with the API server's words and the fixture
 * it was derived from, which passes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isCoreKind, validateCoreObject, validateObjectMeta, type FieldError } from '../src';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = Record<string, any>;

/** test/fixtures/core.yaml holds one valid object of each core kind, by kind. */
function fixture(kind: string): Manifest {
  const docs = parseAllDocuments(fs.readFileSync(path.join(__dirname, 'fixtures/core.yaml'), 'utf8')).map((d) => d.toJS() as Manifest);
  const found = docs.find((d) => d.kind === kind);
  if (!found) throw new Error(`no ${kind} in core.yaml`);
  return found;
}

function errorsAfter(kind: string, change: (m: Manifest) => void): FieldError[] {
  const manifest = fixture(kind);
  change(manifest);
  return validateCoreObject(manifest);
}

const subdomainMessage =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMessage =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

describe('core fixtures', () => {
  it.each(['Namespace', 'Service', 'EndpointSlice', 'Secret', 'ConfigMap', 'Pod', 'Deployment'])('%s is valid as written', (kind) => {
    expect(validateCoreObject(fixture(kind))).toEqual([]);
  });
});

describe('metadata', () => {
  it('requires a name', () => {
    expect(errorsAfter('ConfigMap', (m) => delete m.metadata.name)).toEqual([{ path: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    expect(errorsAfter('ConfigMap', (m) => (m.metadata = { generateName: 'cfg-' }))).toEqual([]);
  });

  it('requires names to be DNS-1123 subdomains', () => {
    expect(errorsAfter('ConfigMap', (m) => (m.metadata.name = 'Config_Map'))).toEqual([{ path: 'metadata.name', message: `Invalid value: "Config_Map": ${subdomainMessage}` }]);
    expect(errorsAfter('ConfigMap', (m) => (m.metadata.name = 'config.map-1'))).toEqual([]);
  });

  it('limits names to 253 characters', () => {
    const long = 'a'.repeat(254);
    expect(errorsAfter('ConfigMap', (m) => (m.metadata.name = long))).toEqual([{ path: 'metadata.name', message: `Invalid value: "${long}": must be no more than 253 characters` }]);
  });

  it('requires Namespace names to be DNS-1123 labels', () => {
    expect(errorsAfter('Namespace', (m) => (m.metadata.name = 'shop.prod'))).toEqual([{ path: 'metadata.name', message: `Invalid value: "shop.prod": ${labelMessage}` }]);
  });

  it('requires namespaces to be DNS-1123 labels and forbids them on cluster-scoped kinds', () => {
    expect(errorsAfter('Pod', (m) => (m.metadata.namespace = 'Shop'))).toEqual([{ path: 'metadata.namespace', message: `Invalid value: "Shop": ${labelMessage}` }]);
    expect(errorsAfter('Namespace', (m) => (m.metadata.namespace = 'default'))).toEqual([{ path: 'metadata.namespace', message: 'Forbidden: not allowed on this type' }]);
  });

  it('checks label keys and values', () => {
    const errors = errorsAfter('Pod', (m) => (m.metadata.labels = { 'app/': 'web', tier: 'front end' }));
    expect(errors).toEqual([
      { path: 'metadata.labels', message: 'Invalid value: "app/": name part must be non-empty' },
      expect.objectContaining({ path: 'metadata.labels[tier]', message: expect.stringMatching(/^Invalid value: "front end": a valid label must be an empty string/) }),
    ]);
  });

  it('reports metadata that is not an object', () => {
    expect(validateObjectMeta('web', { namespaced: true })).toEqual([{ path: 'metadata', message: 'Invalid value: "web": must be an object' }]);
    expect(validateObjectMeta(undefined, { namespaced: true })).toEqual([{ path: 'metadata', message: 'Required value' }]);
  });
});

describe('Service', () => {
  it('requires DNS-1035 names (no leading digit)', () => {
    expect(errorsAfter('Service', (m) => (m.metadata.name = '9web'))[0].message).toMatch(/^Invalid value: "9web": a DNS-1035 label must consist of/);
  });

  it('requires port names when there are several ports, and unique ones', () => {
    expect(errorsAfter('Service', (m) => delete m.spec.ports[1].name)).toEqual([{ path: 'spec.ports[1].name', message: 'Required value' }]);
    expect(errorsAfter('Service', (m) => (m.spec.ports[1].name = 'http'))).toEqual([{ path: 'spec.ports[1].name', message: 'Duplicate value: "http"' }]);
  });

  it('checks port numbers, protocols and named target ports', () => {
    expect(errorsAfter('Service', (m) => (m.spec.ports[0].port = 65536))).toEqual([{ path: 'spec.ports[0].port', message: 'Invalid value: 65536: must be between 1 and 65535, inclusive' }]);
    expect(errorsAfter('Service', (m) => (m.spec.ports[0].protocol = 'HTTP'))).toEqual([
      { path: 'spec.ports[0].protocol', message: 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"' },
    ]);
    expect(errorsAfter('Service', (m) => (m.spec.ports[1].targetPort = 'grpc--port'))).toEqual([
      { path: 'spec.ports[1].targetPort', message: 'Invalid value: "grpc--port": must not contain consecutive hyphens' },
    ]);
    expect(errorsAfter('Service', (m) => (m.spec.ports[1].targetPort = 'GRPC'))).toEqual([
      { path: 'spec.ports[1].targetPort', message: 'Invalid value: "GRPC": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)' },
      { path: 'spec.ports[1].targetPort', message: 'Invalid value: "GRPC": must contain at least one letter (a-z)' },
    ]);
  });

  it('requires ports unless the Service is an ExternalName', () => {
    expect(errorsAfter('Service', (m) => delete m.spec.ports)).toEqual([{ path: 'spec.ports', message: 'Required value' }]);
    expect(errorsAfter('Service', (m) => (m.spec = { type: 'ExternalName', externalName: 'db.example.com' }))).toEqual([]);
    expect(errorsAfter('Service', (m) => (m.spec = { type: 'ExternalName' }))).toEqual([{ path: 'spec.externalName', message: 'Required value' }]);
  });
});

describe('EndpointSlice', () => {
  it('requires a supported addressType', () => {
    expect(errorsAfter('EndpointSlice', (m) => delete m.addressType)).toEqual([{ path: 'addressType', message: 'Required value' }]);
    expect(errorsAfter('EndpointSlice', (m) => (m.addressType = 'IP'))).toEqual([
      { path: 'addressType', message: 'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"' },
    ]);
  });

  it('requires each endpoint to have addresses of the slice address type', () => {
    expect(errorsAfter('EndpointSlice', (m) => (m.endpoints[0].addresses = []))).toEqual([
      { path: 'endpoints[0].addresses', message: 'Required value: must contain at least 1 address' },
    ]);
    expect(errorsAfter('EndpointSlice', (m) => (m.endpoints[1].addresses = ['10.0.0.300']))).toEqual([
      { path: 'endpoints[1].addresses[0]', message: 'Invalid value: "10.0.0.300": must be a valid IPv4 address' },
    ]);
    expect(errorsAfter('EndpointSlice', (m) => (m.addressType = 'IPv6'))).toContainEqual({
      path: 'endpoints[0].addresses[0]',
      message: 'Invalid value: "10.0.0.5": must be a valid IPv6 address',
    });
    expect(errorsAfter('EndpointSlice', (m) => Object.assign(m, { addressType: 'IPv6', endpoints: [{ addresses: ['fd00::5'] }] }))).toEqual([]);
  });

  it('accepts a slice without endpoints', () => {
    expect(errorsAfter('EndpointSlice', (m) => delete m.endpoints)).toEqual([]);
  });

  it('checks condition types and port names', () => {
    expect(errorsAfter('EndpointSlice', (m) => (m.endpoints[0].conditions.ready = 'yes'))).toEqual([
      { path: 'endpoints[0].conditions.ready', message: 'Invalid value: "yes": must be a boolean' },
    ]);
    expect(errorsAfter('EndpointSlice', (m) => (m.ports[0].name = 'HTTP'))).toEqual([{ path: 'ports[0].name', message: `Invalid value: "HTTP": ${labelMessage}` }]);
  });
});

describe('Secret and ConfigMap', () => {
  it('requires base64 in Secret data', () => {
    expect(errorsAfter('Secret', (m) => (m.data['tls.crt'] = 'not base64!'))).toEqual([
      { path: 'data[tls.crt]', message: 'Invalid value: "not base64!": must be base64-encoded' },
    ]);
  });

  it('requires tls.crt and tls.key in TLS secrets, from data or stringData', () => {
    expect(errorsAfter('Secret', (m) => delete m.data['tls.key'])).toEqual([{ path: 'data[tls.key]', message: 'Required value' }]);
    expect(
      errorsAfter('Secret', (m) => {
        delete m.data['tls.key'];
        m.stringData = { 'tls.key': '-----BEGIN PRIVATE KEY-----' };
      }),
    ).toEqual([]);
  });

  it('requires config keys', () => {
    expect(errorsAfter('ConfigMap', (m) => (m.data['bad key'] = 'x'))).toEqual([
      {
        path: 'data',
        message:
          "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
      },
    ]);
  });

  it('forbids a key in both data and binaryData', () => {
    expect(errorsAfter('ConfigMap', (m) => (m.binaryData = { 'ca.crt': 'AAAA' }))).toEqual([
      { path: 'data', message: 'Invalid value: "ca.crt": duplicate of key present in binaryData' },
    ]);
  });
});

describe('Pod and Deployment', () => {
  it('requires containers with unique DNS-label names', () => {
    expect(errorsAfter('Pod', (m) => (m.spec.containers = []))).toEqual([{ path: 'spec.containers', message: 'Required value' }]);
    expect(errorsAfter('Pod', (m) => m.spec.containers.push({ name: 'web' }))).toEqual([{ path: 'spec.containers[1].name', message: 'Duplicate value: "web"' }]);
  });

  it('requires the Deployment selector to match the template labels', () => {
    expect(errorsAfter('Deployment', (m) => (m.spec.template.metadata.labels = { app: 'other' }))).toEqual([
      { path: 'spec.template.metadata.labels', message: 'Invalid value: {"app":"other"}: `selector` does not match template `labels`' },
    ]);
  });

  it('requires a selector and a template', () => {
    expect(errorsAfter('Deployment', (m) => delete m.spec.selector)).toEqual([{ path: 'spec.selector', message: 'Required value' }]);
    expect(errorsAfter('Deployment', (m) => delete m.spec.template)).toEqual([{ path: 'spec.template', message: 'Required value' }]);
  });
});

describe('kinds', () => {
  it('knows the core kinds at their served versions only', () => {
    expect(isCoreKind('v1', 'Service')).toBe(true);
    expect(isCoreKind('discovery.k8s.io/v1', 'EndpointSlice')).toBe(true);
    expect(isCoreKind('discovery.k8s.io/v1beta1', 'EndpointSlice')).toBe(false);
    expect(isCoreKind('apps/v1', 'Service')).toBe(false);
  });

  it('reports an unknown kind or a non-object instead of throwing', () => {
    expect(validateCoreObject({ apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual([
      { path: 'kind', message: 'no kind "Widget" is registered for version "v1"' },
    ]);
    expect(validateCoreObject(42)).toEqual([{ path: '', message: 'Invalid value: 42: must be an object' }]);
    expect(validateCoreObject({ kind: 'Service' })).toEqual([{ path: 'apiVersion', message: 'Required value' }]);
  });
});
