import { meshProblem, normaliseChecks, type HttpCheck } from '../src';

/** The upstream mesh comparison: only status, request/response headers and the pod prefix count. */
describe('mesh comparison', () => {
  const check = (raw: unknown): HttpCheck => normaliseChecks([raw])[0] as HttpCheck;
  const echo = (pod: string, headers: Record<string, string[]> = {}): string => JSON.stringify({ pod, headers, path: '/elsewhere', host: 'other', method: 'PUT' });

  it('passes on the status, headers and pod prefix, whatever path, host and method the backend saw', () => {
    const c = check({ path: '/set', headers: { A: 'b' }, expect: { backend: 'echo-v1', requestHeadersSeenByBackend: { 'X-Header-Set': 'v' }, responseHeaders: { 'X-Out': 'o' } } });
    expect(meshProblem(c, { status: 200, headers: { 'x-out': 'o' }, body: echo('echo-v1-abc-def', { 'X-Header-Set': ['v'] }) })).toBeUndefined();
  });

  it('fails with what differs: status, pod, a request header seen, a response header', () => {
    const c = check({ path: '/', expect: { backend: 'echo-v2', requestHeadersSeenByBackend: { 'X-A': '1' }, absentResponseHeaders: ['X-B'] } });
    expect(meshProblem(c, { status: 503, body: '' })).toBe('status 503, want 200');
    expect(meshProblem(c, { status: 200, headers: { 'x-b': 'here' }, body: echo('echo-v1-abc-def', { 'X-A': ['2'] }) })).toBe(
      'response header X-B present, want absent; answered by pod "echo-v1-abc-def", want echo-v2-…; backend saw header X-A: "2", want "1"',
    );
    expect(meshProblem(c, { error: 'timeout' })).toBe('request failed: timeout');
  });

  it('a redirect is judged by its status alone (the Location is not compared in mesh mode)', () => {
    const c = check({ request: { host: 'echo', path: '/moved' }, expect: { status: 301 } });
    expect(meshProblem(c, { status: 301, headers: { location: 'http://anywhere/else' } })).toBeUndefined();
    expect(meshProblem(c, { status: 302 })).toBe('status 302, want 301');
  });
});
