import { DocumentReuse, formatSourceError, parseResourceFile, ResourceFiles } from '../src';

const service = (name: string, port = 80) => `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  ports: [{ port: ${port} }]\n`;
const failPort = { validate: (obj: { spec?: unknown }) => (JSON.stringify(obj.spec).includes('9999') ? [{ path: 'spec.ports[0].port', message: 'port 9999 is reserved' }] : []) };

function files(): ResourceFiles {
  return new ResourceFiles((file) => `res/${file}`);
}

function load(state: ResourceFiles, file: string, text: string): void {
  state.setParsed(file, parseResourceFile(`res/${file}`, text, failPort));
}

function ports(state: ResourceFiles): Record<string, unknown> {
  return Object.fromEntries([...state.resolve().objects].map(([key, obj]) => [key, (obj.spec as { ports: { port: number }[] }).ports[0].port]));
}

describe('ResourceFiles last-good semantics', () => {
  it('keeps the last valid version of an object whose document turns invalid', () => {
    const state = files();
    load(state, 'a.yaml', `${service('web', 80)}---\n${service('api', 81)}`);
    load(state, 'a.yaml', `${service('web', 9999)}---\n${service('api', 82)}`);
    expect(ports(state)).toEqual({ '/Service/default/web': 80, '/Service/default/api': 82 });
    expect(state.resolve().errors.map(formatSourceError)).toEqual(['res/a.yaml: document 1 (Service default/web): spec.ports[0].port: port 9999 is reserved']);
    load(state, 'a.yaml', `${service('web', 83)}---\n${service('api', 82)}`);
    expect(ports(state)).toEqual({ '/Service/default/web': 83, '/Service/default/api': 82 });
    expect(state.resolve().errors).toEqual([]);
  });

  it('keeps what a document defined by position when the document no longer names its object', () => {
    const state = files();
    load(state, 'a.yaml', `${service('web')}---\n${service('api')}`);
    load(state, 'a.yaml', `${service('web')}---\napiVersion: v1\nkind: Service\nmetadata: {}\n`);
    expect(Object.keys(ports(state))).toEqual(['/Service/default/web', '/Service/default/api']);
  });

  it('removes nothing from a file while it has a syntax error, then applies deletions once it parses', () => {
    const state = files();
    load(state, 'a.yaml', `${service('web')}---\n${service('api')}---\n${service('db')}`);
    // The unterminated quote swallows the following documents: they only look deleted.
    load(state, 'a.yaml', `${service('web', 90)}---\napiVersion: "v1\nkind: Service\n---\n${service('db')}`);
    expect(ports(state)).toEqual({ '/Service/default/web': 90, '/Service/default/api': 80, '/Service/default/db': 80 });
    load(state, 'a.yaml', service('web', 90));
    expect(ports(state)).toEqual({ '/Service/default/web': 90 });
  });

  it('removes the object of an emptied document', () => {
    const state = files();
    load(state, 'a.yaml', `${service('web')}---\n${service('api')}`);
    load(state, 'a.yaml', `${service('web')}---\n# removed\n`);
    expect(Object.keys(ports(state))).toEqual(['/Service/default/web']);
  });

  it('keeps every object of a file that cannot be read, and reports it', () => {
    const state = files();
    load(state, 'a.yaml', service('web'));
    state.setUnreadable('a.yaml', 'cannot read file: EACCES: permission denied');
    expect(Object.keys(ports(state))).toEqual(['/Service/default/web']);
    expect(state.resolve().errors.map(formatSourceError)).toEqual(['res/a.yaml: cannot read file: EACCES: permission denied']);
    state.remove('a.yaml');
    expect(state.resolve().objects.size).toBe(0);
  });

  it('lets the first file in path order win a duplicate and names both files', () => {
    const state = files();
    load(state, 'z.yaml', service('web', 2));
    load(state, 'a/b.yaml', service('web', 1));
    expect(ports(state)).toEqual({ '/Service/default/web': 1 });
    expect(state.resolve().errors.map(formatSourceError)).toEqual([
      'res/z.yaml: document 1 (Service default/web): duplicate definition: Service default/web is already defined in res/a/b.yaml (document 1); this one is ignored',
    ]);
    state.removeUnder('a');
    expect(ports(state)).toEqual({ '/Service/default/web': 2 });
    expect(state.resolve().errors).toEqual([]);
  });

  it('says which objects changed since the last resolve, and keeps duplicate errors true as the winning file changes', () => {
    const state = files();
    // As FileSource reads files: an unchanged document parses to the object it gave last time.
    const reuse = new Map<string, DocumentReuse>();
    const load = (state: ResourceFiles, file: string, text: string): void => {
      if (!reuse.has(file)) reuse.set(file, new DocumentReuse());
      state.setParsed(file, parseResourceFile(`res/${file}`, text, failPort, reuse.get(file)));
    };
    load(state, 'a.yaml', `${service('web', 1)}---\n${service('api', 1)}`);
    load(state, 'b.yaml', service('db', 1));
    expect([...state.resolve().changed].sort()).toEqual(['/Service/default/api', '/Service/default/db', '/Service/default/web']);
    expect([...state.resolve().changed]).toEqual([]);

    // One document edited: only its object changed; the untouched document keeps its object.
    load(state, 'a.yaml', `${service('web', 2)}---\n${service('api', 1)}`);
    expect([...state.resolve().changed]).toEqual(['/Service/default/web']);

    // b.yaml now defines web too: a.yaml still wins, so web is unchanged; b.yaml reports the duplicate.
    load(state, 'b.yaml', `${service('db', 1)}---\n${service('web', 3)}`);
    let resolved = state.resolve();
    expect(resolved.changed.has('/Service/default/web')).toBe(false);
    expect(resolved.errors.map(formatSourceError)).toEqual([
      'res/b.yaml: document 2 (Service default/web): duplicate definition: Service default/web is already defined in res/a.yaml (document 1); this one is ignored',
    ]);

    // a.yaml drops web: b.yaml's definition takes over and the duplicate error goes.
    load(state, 'a.yaml', service('api', 1));
    resolved = state.resolve();
    expect(resolved.changed.has('/Service/default/web')).toBe(true);
    expect(ports(state)).toEqual({ '/Service/default/api': 1, '/Service/default/db': 1, '/Service/default/web': 3 });
    expect(resolved.errors).toEqual([]);

    state.remove('b.yaml');
    expect([...state.resolve().changed].sort()).toEqual(['/Service/default/db', '/Service/default/web']);
    expect(ports(state)).toEqual({ '/Service/default/api': 1 });
  });
});
