import { httpListener, ProxyHarness, routeConfig, vhost } from './fixtures';

/** Route updates reuse compiled virtual hosts whose content did not change; these pin what must still change. */
describe('route configuration updates', () => {
  const h = new ProxyHarness();
  afterAll(() => h.close());

  const reply = (text: string) => [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: text } } }];
  const body = async (host: string) => {
    const response = await h.request('/', { headers: { host } });
    return { text: response.text, added: response.headers['x-config-level'] };
  };

  it('serves an update that changes one virtual host among unchanged ones', async () => {
    const hosts = (changed: string) => [vhost('one', ['one.example'], reply('one')), vhost('two', ['two.example'], reply(changed)), vhost('three', ['three.example'], reply('three'))];
    await h.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', hosts('two-v1'))] });
    expect((await body('two.example')).text).toBe('two-v1');
    await h.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', hosts('two-v2'))] });
    expect((await body('one.example')).text).toBe('one');
    expect((await body('two.example')).text).toBe('two-v2');
    expect((await body('three.example')).text).toBe('three');
  });

  it('moves a domain from one unchanged virtual host body to another and applies config-level headers to unchanged hosts', async () => {
    await h.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', [vhost('a', ['a.example'], reply('a')), vhost('b', ['b.example'], reply('b'))])] });
    expect(await body('a.example')).toEqual({ text: 'a', added: undefined });
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [
        routeConfig('rc', [vhost('a', ['a.example'], reply('a')), vhost('b', ['b.example'], reply('b'))], {
          response_headers_to_add: [{ header: { key: 'x-config-level', value: 'yes' } }],
        }),
      ],
    });
    expect(await body('a.example')).toEqual({ text: 'a', added: 'yes' });
    expect(await body('b.example')).toEqual({ text: 'b', added: 'yes' });
  });

  it('rejects an invalid virtual host even when an identical valid one was compiled before', async () => {
    await h.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', [vhost('a', ['a.example'], reply('a'))])] });
    const result = await h.runtime.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('a', ['a.example'], reply('a')), vhost('a-again', ['a.example'], reply('a'))])],
      clusters: [],
      endpoints: [],
    });
    expect(result.accepted).toBe(false);
    expect(result.errors.map((e) => e.message).join('\n')).toContain('domain "a.example" is used by more than one virtual host');
    expect((await body('a.example')).text).toBe('a');
  });

  it('checks the domains of the very same virtual host objects (as the xDS decoder hands out unchanged ones) on every update', async () => {
    const a = vhost('a', ['A.example'], reply('a'));
    const b = vhost('b', ['b.example'], reply('b'));
    const bad = vhost('bad', ['x*y.example'], reply('bad'));
    const apply = (hosts: ReturnType<typeof vhost>[]) => h.runtime.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', hosts)], clusters: [], endpoints: [] });
    expect((await apply([a, b])).accepted).toBe(true);
    expect((await apply([a, b])).accepted).toBe(true);
    expect((await body('a.example')).text).toBe('a');
    for (let attempt = 0; attempt < 2; attempt++) {
      const invalid = await apply([a, b, bad]);
      expect(invalid.accepted).toBe(false);
      expect(invalid.errors.map((e) => e.message).join('\n')).toContain('may only have a wildcard at its start or end');
    }
    const duplicate = await apply([a, b, vhost('a-again', ['a.example'], reply('again'))]);
    expect(duplicate.errors.map((e) => e.message).join('\n')).toContain('domain "a.example" is used by more than one virtual host');
    expect((await body('a.example')).text).toBe('a');
  });

  it('serves the latest of many successive edits of one virtual host (past the point its compile cache is pruned)', async () => {
    const one = vhost('one', ['one.example'], reply('one'));
    const three = vhost('three', ['three.example'], reply('three'));
    for (let edit = 1; edit <= 90; edit++) {
      const result = await h.runtime.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', [one, vhost('two', ['two.example'], reply(`two-v${edit}`)), three])], clusters: [], endpoints: [] });
      expect(result.accepted).toBe(true);
    }
    expect((await body('two.example')).text).toBe('two-v90');
    expect((await body('one.example')).text).toBe('one');
    expect((await body('three.example')).text).toBe('three');
  });

  it('an edit of one virtual host among the same objects moves its domain, and one that takes an unchanged host’s domain is rejected', async () => {
    const one = vhost('one', ['one.example'], reply('one'));
    const three = vhost('three', ['three.example'], reply('three'));
    const apply = (two: ReturnType<typeof vhost>) => h.runtime.apply({ listeners: [httpListener('l', 'rc')], routes: [routeConfig('rc', [one, two, three])], clusters: [], endpoints: [] });
    for (let edit = 1; edit <= 40; edit++) expect((await apply(vhost('two', [`two-${edit}.example`], reply(`two-v${edit}`)))).accepted).toBe(true);
    expect((await body('two-40.example')).text).toBe('two-v40');
    expect((await h.request('/', { headers: { host: 'two-39.example' } })).status).toBe(404);
    expect((await body('one.example')).text).toBe('one');

    const taken = await apply(vhost('two', ['three.example'], reply('two')));
    expect(taken.accepted).toBe(false);
    expect(taken.errors.map((e) => e.message).join('\n')).toContain('domain "three.example" is used by more than one virtual host');
    expect((await body('three.example')).text).toBe('three');
    expect((await body('two-40.example')).text).toBe('two-v40');

    // A wildcard in the edited host goes through a full build: the more specific exact host still wins.
    expect((await apply(vhost('two', ['*.example'], reply('any')))).accepted).toBe(true);
    expect((await body('other.example')).text).toBe('any');
    expect((await body('one.example')).text).toBe('one');
  });
});
