import type { FieldError, KubeObject } from '@tendril/api-k8s';
import { DocumentReuse, formatSourceError, isClusterScoped, parseResourceFile } from '../src';

const route = (name: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
${extra}spec:
  rules:
    - matches:
        - path: { type: PathPrefix, value: /api }
`;

describe('parseResourceFile', () => {
  it('reads every document of a multi-document file, skipping empty ones but counting them', () => {
    const text = `---\n${route('a')}---\n# only a comment\n---\n${route('b', '  namespace: team\n')}`;
    const parsed = parseResourceFile('dir/routes.yaml', text);
    expect(parsed.errors).toEqual([]);
    expect(parsed.objects.map((o) => [o.documentIndex, o.key])).toEqual([
      [1, 'gateway.networking.k8s.io/HTTPRoute/default/a'],
      [3, 'gateway.networking.k8s.io/HTTPRoute/team/b'],
    ]);
    expect(parsed.objects[0].object.metadata.namespace).toBe('default');
  });

  it('expands List documents and reports a bad item by its path inside the list', () => {
    const text = `apiVersion: v1
kind: List
items:
  - { apiVersion: v1, kind: Service, metadata: { name: web } }
  - { apiVersion: v1, kind: Service, metadata: { namespace: prod } }
  - { apiVersion: v1, kind: ConfigMap, metadata: { name: cfg }, data: { a: b } }
`;
    const parsed = parseResourceFile('l.yaml', text);
    expect(parsed.objects.map((o) => [o.key, o.itemIndex])).toEqual([
      ['/Service/default/web', 0],
      ['/ConfigMap/default/cfg', 2],
    ]);
    expect(parsed.errors.map(formatSourceError)).toEqual(['l.yaml: document 1: items[1].metadata.name: Required value']);
    expect(parsed.failures).toEqual([{ documentIndex: 1, itemIndex: 1 }]);
    expect(parsed.syntaxError).toBe(false);
  });

  it('reports missing apiVersion, kind and metadata, and non-mapping documents', () => {
    const text = `kind: Service\nmetadata: { name: a }\n---\napiVersion: v1\nmetadata: { name: b }\n---\napiVersion: v1\nkind: Service\n---\n- just\n- a list\n`;
    const messages = parseResourceFile('x.yaml', text).errors.map(formatSourceError);
    expect(messages).toEqual([
      'x.yaml: document 1: apiVersion: Required value',
      'x.yaml: document 2: kind: Required value',
      'x.yaml: document 3: metadata: Required value',
      'x.yaml: document 4: Invalid value: ["just","a list"]: a document must be a mapping with apiVersion, kind and metadata, not a list',
    ]);
  });

  it('points at the line and column of a YAML syntax error and still names the object when it can', () => {
    const text = `${route('good')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [ {port: 80}\n`;
    const parsed = parseResourceFile('x.yaml', text);
    expect(parsed.syntaxError).toBe(true);
    expect(parsed.objects.map((o) => o.key)).toEqual(['gateway.networking.k8s.io/HTTPRoute/default/good']);
    expect(parsed.errors).toHaveLength(1);
    expect(parsed.errors[0]).toMatchObject({ file: 'x.yaml', documentIndex: 2, object: 'Service default/web', line: expect.any(Number), column: expect.any(Number) });
    expect(formatSourceError(parsed.errors[0])).toMatch(/^x\.yaml: document 2 \(Service default\/web\): line \d+, column \d+: YAML syntax error: /);
    expect(parsed.failures).toEqual([{ documentIndex: 2, key: '/Service/default/web' }]);
  });

  it('reports duplicate keys and unresolved aliases instead of guessing', () => {
    expect(parseResourceFile('d.yaml', 'apiVersion: v1\napiVersion: v2\n').errors[0]).toMatchObject({ line: 2, column: 1, message: expect.stringContaining('Map keys must be unique') });
    const alias = parseResourceFile('a.yaml', 'apiVersion: v1\nkind: Service\nmetadata: *missing\n');
    expect(alias.objects).toEqual([]);
    expect(alias.errors.map(formatSourceError).join('\n')).toMatch(/^a\.yaml: document 1: .*missing/);
  });

  it('reads JSON files, and places JSON syntax errors', () => {
    const ok = parseResourceFile('s.json', JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } }));
    expect(ok.objects.map((o) => o.key)).toEqual(['/Service/default/web']);
    const bad = parseResourceFile('s.json', '{\n  "apiVersion": "v1",\n}');
    expect(bad.syntaxError).toBe(true);
    expect(formatSourceError(bad.errors[0])).toBe('s.json: document 1: line 3, column 1: JSON syntax error: Expected double-quoted property name');
  });

  it('asks for quoted label values instead of letting a number through', () => {
    const parsed = parseResourceFile('x.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels:\n    version: 1\n');
    expect(parsed.errors.map(formatSourceError)).toEqual(['x.yaml: document 1 (Service default/web): metadata.labels.version: Invalid value: 1: must be a string (quote it: "1")']);
  });

  it('runs the injected validator and reports its field errors with the object name', () => {
    const validate = (obj: KubeObject): FieldError[] => {
      const value = JSON.stringify(obj.spec).includes('"value":"/') ? [] : [{ path: 'spec.rules[0].matches[0].path.value', message: 'must start with "/"' }];
      return value;
    };
    const parsed = parseResourceFile('examples/x.yaml', `${route('ok')}---\n${route('foo').replace('value: /api', 'value: api')}`, { validate });
    expect(parsed.objects.map((o) => o.object.metadata.name)).toEqual(['ok']);
    expect(parsed.errors.map(formatSourceError)).toEqual(['examples/x.yaml: document 2 (HTTPRoute default/foo): spec.rules[0].matches[0].path.value: must start with "/"']);
  });

  it('turns a validator that throws into an error on that document', () => {
    const parsed = parseResourceFile('x.yaml', route('a'), {
      validate: () => {
        throw new Error('boom');
      },
    });
    expect(parsed.objects).toEqual([]);
    expect(parsed.errors.map(formatSourceError)).toEqual(['x.yaml: document 1 (HTTPRoute default/a): validator failed: boom']);
  });

  it('defaults namespaces for namespaced kinds only', () => {
    const text = [
      'apiVersion: v1\nkind: Namespace\nmetadata: { name: prod }',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: { name: eg, namespace: ignored }',
      'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: { name: deny }',
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: { name: allow }',
      'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }',
    ].join('\n---\n');
    const parsed = parseResourceFile('x.yaml', text, { clusterScopedKinds: new Set(['example.com/Widget']) });
    expect(parsed.objects.map((o) => o.key)).toEqual([
      '/Namespace//prod',
      'gateway.networking.k8s.io/GatewayClass//eg',
      'cilium.io/CiliumClusterwideNetworkPolicy//deny',
      'cilium.io/CiliumNetworkPolicy/default/allow',
      'example.com/Widget//w',
    ]);
    expect(parsed.objects[1].object.metadata).not.toHaveProperty('namespace');
    expect(isClusterScoped('rbac.authorization.k8s.io/v1', 'ClusterRole')).toBe(true);
    expect(isClusterScoped('rbac.authorization.k8s.io/v1', 'Role')).toBe(false);
  });
});

describe('parseResourceFile with DocumentReuse (re-parsing only edited documents)', () => {
  const shapes: Array<[string, string]> = [
    ['leading comment and empty documents', `# header\n---\n${route('a')}---\n---\n# only a comment\n---\n${route('b', '  namespace: team\n')}`],
    ['no leading marker', `${route('a')}---\n${route('b')}`],
    ['document end markers and bare documents', `${route('a')}...\n---\n${route('b')}...\n${route('c')}`],
    ['a List and an invalid object', `apiVersion: v1\nkind: List\nitems:\n  - { apiVersion: v1, kind: Service, metadata: { name: web } }\n---\n${route('x')}---\napiVersion: v1\nkind: Service\nmetadata: {}\n---\n${route('y')}`],
    ['a syntax error', `${route('a')}---\nkind: [unclosed\n---\n${route('b')}`],
    ['a directive', `%YAML 1.2\n---\n${route('a')}---\n${route('b')}`],
    ['block scalars with dashes inside', `${route('a', '  annotations:\n    note: |\n      ---not a marker\n      text\n')}---\n${route('b')}`],
    ['trailing marker', `${route('a')}---\n`],
  ];

  it.each(shapes)('gives what a whole-file parse gives: %s', (_name, text) => {
    const reuse = new DocumentReuse();
    expect(parseResourceFile('f.yaml', text, {}, reuse)).toEqual(parseResourceFile('f.yaml', text));
    // Again, from the remembered documents.
    expect(parseResourceFile('f.yaml', text, {}, reuse)).toEqual(parseResourceFile('f.yaml', text));
  });

  it('validates only the documents an edit changed, and numbers documents as before', () => {
    const routes = Array.from({ length: 100 }, (_, i) => route(`r${i}`));
    const validated: string[] = [];
    const options = {
      validate: (obj: KubeObject): FieldError[] => {
        validated.push(obj.metadata.name ?? '');
        return [];
      },
    };
    const reuse = new DocumentReuse();
    parseResourceFile('routes.yaml', routes.join('---\n'), options, reuse);
    expect(validated).toHaveLength(100);

    validated.length = 0;
    const edited = routes.map((r, i) => (i === 42 ? route('r42', '  labels: { edited: "yes" }\n') : r)).join('---\n');
    const parsed = parseResourceFile('routes.yaml', edited, options, reuse);
    expect(validated).toEqual(['r42']);
    expect(parsed).toEqual(parseResourceFile('routes.yaml', edited));
    expect(parsed.objects[42]).toMatchObject({ documentIndex: 43, object: { metadata: { labels: { edited: 'yes' } } } });
  });
});
