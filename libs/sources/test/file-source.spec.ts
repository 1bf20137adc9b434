import type { KubeObject } from '@tendril/api-k8s';
import { ResourceStore, type StoreChange } from '@tendril/store';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSource, formatSourceError, storeSink, type ResourceSink, type SourceError } from '../src';

const service = (name: string, port = 80, namespace?: string) =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}spec:\n  ports:\n    - port: ${port}\n`;
const route = (name: string, value: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
spec:
  rules:
    - matches:
        - path:
            value: ${value}
`;

/** Rejects route paths that do not start with "/", like the Gateway API CEL rule. */
function validate(obj: KubeObject) {
  if (obj.kind !== 'HTTPRoute') return [];
  const value = (obj.spec as { rules: { matches: { path: { value: string } }[] }[] }).rules[0].matches[0].path.value;
  return value.startsWith('/') ? [] : [{ path: 'spec.rules[0].matches[0].path.value', message: 'must start with "/"' }];
}

/** A store behind the sink, plus a way to wait (with a deadline) for what the source delivers. */
class Harness {
  readonly store = new ResourceStore();
  readonly changes: StoreChange[] = [];
  errors: readonly SourceError[] = [];
  readonly calls: string[] = [];
  private waiters: (() => void)[] = [];
  readonly sink: ResourceSink;

  constructor() {
    const inner = storeSink(this.store, (_id, errors) => (this.errors = errors));
    this.store.onChange((c) => this.changes.push(c));
    const record =
      <A extends unknown[]>(name: string, fn: (...args: A) => void) =>
      (...args: A) => {
        this.calls.push(name);
        fn(...args);
        this.recheck();
      };
    this.sink = { replaceAll: record('replaceAll', inner.replaceAll), applyChanges: record('applyChanges', inner.applyChanges), errors: record('errors', inner.errors) };
  }

  /** Re-evaluates pending waits; for events that do not pass through the sink. */
  recheck(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `condition` holds after a sink call; fails if that takes longer than `ms`. */
  until(condition: () => boolean, ms = 1000, what = 'condition'): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; errors: ${this.errors.map(formatSourceError).join('; ')}`));
      }, ms);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  names(kind = 'Service'): string[] {
    return this.store.list({ kind }).map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  }

  port(name: string, namespace = 'default'): number | undefined {
    return (this.store.get(`/Service/${namespace}/${name}`)?.spec as { ports: { port: number }[] } | undefined)?.ports[0].port;
  }

  errorText(): string[] {
    return this.errors.map(formatSourceError);
  }
}

describe('FileSource', () => {
  let dir: string;
  let harness: Harness;
  let source: FileSource | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tendril-files-'));
    harness = new Harness();
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function startSource(): Promise<FileSource> {
    source = new FileSource(dir, { validate });
    await source.start(harness.sink);
    return source;
  }

  it('loads every resource file of the tree on start, as one batch', async () => {
    await mkdir(path.join(dir, 'apps/web'), { recursive: true });
    await mkdir(path.join(dir, '.git'));
    await writeFile(path.join(dir, 'namespaces.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n');
    await writeFile(path.join(dir, 'apps/web/services.yml'), `${service('web')}---\n---\n${service('web', 81, 'prod')}`);
    await writeFile(path.join(dir, 'apps/api.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api' } }] }));
    await writeFile(path.join(dir, 'apps/README.md'), service('not-a-resource'));
    await writeFile(path.join(dir, '.git/config.yaml'), service('hidden'));

    const started = await startSource();
    await expect(started.ready).resolves.toBeUndefined();
    expect(harness.names()).toEqual(['default/api', 'default/web', 'prod/web']);
    expect(harness.names('Namespace')).toEqual(['/prod']);
    expect(harness.store.get('/Namespace//prod')?.metadata).not.toHaveProperty('namespace');
    expect(harness.calls).toEqual(['replaceAll', 'errors']);
    expect(harness.changes).toHaveLength(1);
    expect(harness.errors).toEqual([]);
  });

  it('loads the repository\'s quickstart example without errors', async () => {
    source = new FileSource(path.resolve(__dirname, '../../../examples/quickstart'));
    await source.start(harness.sink);
    expect(harness.errorText()).toEqual([]);
    expect(harness.store.get('gateway.networking.k8s.io/GatewayClass//tendril')).toBeDefined();
    expect(harness.store.get('gateway.networking.k8s.io/Gateway/default/quickstart')).toBeDefined();
    expect(harness.store.list({ kind: 'HTTPRoute' }).length).toBeGreaterThan(0);
  });

  it('delivers a new file within 1 s of the write', async () => {
    await startSource();
    await writeFile(path.join(dir, 'web.yaml'), service('web'));
    await harness.until(() => harness.port('web') === 80, 1000, 'web.yaml to arrive');
  });

  it('follows modifications and deletions', async () => {
    await writeFile(path.join(dir, 'web.yaml'), `${service('web')}---\n${service('api')}`);
    await startSource();
    await writeFile(path.join(dir, 'web.yaml'), service('web', 8080));
    await harness.until(() => harness.port('web') === 8080 && harness.port('api') === undefined, 1000, 'the edit');
    expect(harness.store.get('/Service/default/web')?.metadata.generation).toBe(2);
    await rm(path.join(dir, 'web.yaml'));
    await harness.until(() => harness.store.size === 0, 1000, 'the deletion');
  });

  it('picks up files in directories created after start, and forgets removed directories', async () => {
    await startSource();
    await mkdir(path.join(dir, 'a/b/c'), { recursive: true });
    await writeFile(path.join(dir, 'a/b/c/deep.yaml'), service('deep'));
    await harness.until(() => harness.port('deep') === 80, 1000, 'the nested file');
    await writeFile(path.join(dir, 'a/b/c/deeper.yaml'), service('deeper'));
    await harness.until(() => harness.port('deeper') === 80, 1000, 'a second file in the new directory');
    await rm(path.join(dir, 'a'), { recursive: true });
    await harness.until(() => harness.store.size === 0, 1000, 'the removed directory');
  });

  it('handles renames of files and directories', async () => {
    await mkdir(path.join(dir, 'team'));
    await writeFile(path.join(dir, 'team/web.yaml'), service('web'));
    await startSource();

    await rename(path.join(dir, 'team/web.yaml'), path.join(dir, 'team/www.yaml'));
    await rename(path.join(dir, 'team'), path.join(dir, 'crew'));
    await writeFile(path.join(dir, 'crew/api.yaml'), service('api'));
    await harness.until(() => harness.port('api') === 80, 1000, 'a file in the renamed directory');
    expect(harness.port('web')).toBe(80);
    expect(harness.store.get('/Service/default/web')?.metadata.generation).toBe(1);

    await rename(path.join(dir, 'crew/www.yaml'), path.join(dir, 'crew/www.yaml.bak'));
    await harness.until(() => harness.port('web') === undefined, 1000, 'the file renamed away');
  });

  it('sees an editor-style save: write a hidden temp file, rename it over the original', async () => {
    await writeFile(path.join(dir, 'web.yaml'), service('web'));
    await startSource();
    await writeFile(path.join(dir, '.web.yaml.swp'), service('web', 443));
    await rename(path.join(dir, '.web.yaml.swp'), path.join(dir, 'web.yaml'));
    await harness.until(() => harness.port('web') === 443, 1000, 'the saved file');
    expect(harness.store.get('/Service/default/web')?.metadata.generation).toBe(2);
  });

  it('reports a YAML syntax error with its position and keeps the objects of the broken file', async () => {
    await writeFile(path.join(dir, 'x.yaml'), `${service('web')}---\n${service('api')}`);
    await startSource();
    await writeFile(path.join(dir, 'x.yaml'), `${service('web', 81)}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  ports: [ {port: 1}\n`);
    await harness.until(() => harness.errors.length > 0, 1000, 'the syntax error');
    expect(harness.errorText()).toEqual([expect.stringMatching(new RegExp(`^${dir}/x\\.yaml: document 2 \\(Service default/api\\): line \\d+, column \\d+: YAML syntax error: `))]);
    expect(harness.port('web')).toBe(81);
    expect(harness.port('api')).toBe(80);

    await writeFile(path.join(dir, 'x.yaml'), service('web', 82));
    await harness.until(() => harness.errors.length === 0 && harness.port('api') === undefined, 1000, 'the fix');
    expect(harness.port('web')).toBe(82);
  });

  it('reports invalid documents next to valid ones and keeps the last good version', async () => {
    await writeFile(path.join(dir, 'x.yaml'), `${service('web')}---\n${route('foo', '/v1')}`);
    await startSource();
    await writeFile(path.join(dir, 'x.yaml'), `${service('web', 81)}---\n${route('foo', 'v2')}---\napiVersion: v1\nkind: Service\nmetadata:\n  namespace: prod\n`);
    await harness.until(() => harness.errors.length === 2, 1000, 'two errors');
    expect(harness.errorText()).toEqual([
      `${path.join(dir, 'x.yaml')}: document 2 (HTTPRoute default/foo): spec.rules[0].matches[0].path.value: must start with "/"`,
      `${path.join(dir, 'x.yaml')}: document 3: metadata.name: Required value`,
    ]);
    expect(harness.port('web')).toBe(81);
    const kept = harness.store.get('gateway.networking.k8s.io/HTTPRoute/default/foo');
    expect(JSON.stringify(kept?.spec)).toContain('"/v1"');
  });

  it('names both files when two define the same object, and lets the first path win', async () => {
    await writeFile(path.join(dir, 'a.yaml'), service('web', 1));
    await writeFile(path.join(dir, 'b.yaml'), service('web', 2));
    await startSource();
    expect(harness.port('web')).toBe(1);
    expect(harness.errorText()).toEqual([
      `${path.join(dir, 'b.yaml')}: document 1 (Service default/web): duplicate definition: Service default/web is already defined in ${path.join(dir, 'a.yaml')} (document 1); this one is ignored`,
    ]);
    await rm(path.join(dir, 'a.yaml'));
    await harness.until(() => harness.port('web') === 2 && harness.errors.length === 0, 1000, 'b.yaml to take over');
  });

  it('names files relative to the directory as it was given', async () => {
    const cwd = process.cwd();
    process.chdir(path.dirname(dir));
    try {
      await writeFile(path.join(dir, 'x.yaml'), route('foo', 'no-slash'));
      source = new FileSource(path.basename(dir), { validate });
      await source.start(harness.sink);
      expect(harness.errorText()).toEqual([
        `${path.basename(dir)}/x.yaml: document 1 (HTTPRoute default/foo): spec.rules[0].matches[0].path.value: must start with "/"`,
      ]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('survives a sink that throws, reports it, and re-sends the changes with the next delivery', async () => {
    const internal: Error[] = [];
    let failNext = true;
    const sink: ResourceSink = {
      ...harness.sink,
      applyChanges: (id, changes) => {
        if (failNext) {
          failNext = false;
          throw new Error('store unavailable');
        }
        harness.sink.applyChanges(id, changes);
      },
    };
    source = new FileSource(dir, { onInternalError: (err) => {
        internal.push(err);
        harness.recheck();
      },
    });
    await source.start(sink);
    await writeFile(path.join(dir, 'a.yaml'), service('a'));
    await harness.until(() => internal.length > 0 || harness.store.size > 0, 1000, 'the failed delivery');
    expect(internal.map((e) => e.message)).toEqual(['store unavailable']);
    await writeFile(path.join(dir, 'b.yaml'), service('b'));
    await harness.until(() => harness.names().length === 2, 1000, 'both files');
  });

  it('stops delivering after stop()', async () => {
    const started = await startSource();
    await started.stop();
    await writeFile(path.join(dir, 'late.yaml'), service('late'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(harness.store.size).toBe(0);
    expect(harness.calls).toEqual(['replaceAll', 'errors']);
  });

  it('rejects start for a missing directory with a clear message, and a second start', async () => {
    const missing = new FileSource(path.join(dir, 'nope'));
    await expect(missing.start(harness.sink)).rejects.toThrow(`resource directory "${path.join(dir, 'nope')}" does not exist`);
    await expect(missing.ready).rejects.toThrow(/does not exist/);
    await missing.stop();
    const started = await startSource();
    await expect(started.start(harness.sink)).rejects.toThrow(/already started/);
  });
});
