import { envoyDuration, parseGatewayDuration } from '../src/durations';
import { intersectHostnames } from '../src/hostnames';

describe('intersectHostnames (listener hostname × route hostnames)', () => {
  it.each([
    [undefined, [], ['*']],
    ['foo.example.com', [], ['foo.example.com']],
    [undefined, ['b.com', 'A.com'], ['a.com', 'b.com']],
    ['*.example.com', ['foo.example.com', 'foo.bar.example.com', 'example.com', 'other.com'], ['foo.bar.example.com', 'foo.example.com']],
    ['foo.example.com', ['*.example.com'], ['foo.example.com']],
    ['*.example.com', ['*.example.com'], ['*.example.com']],
    ['*.example.com', ['*.foo.example.com'], ['*.foo.example.com']],
    ['*.foo.example.com', ['*.example.com'], ['*.foo.example.com']],
    ['example.com', ['*.example.com'], undefined],
    ['very.specific.com', ['specific.but.wrong.com', 'wildcard.io'], undefined],
  ])('listener %s with route hostnames %j serves %j', (listener, routes, expected) => {
    expect(intersectHostnames(listener, routes)).toEqual(expected);
  });
});

describe('Gateway API durations → Envoy durations', () => {
  it.each([
    ['0s', '0s'],
    ['10s', '10s'],
    ['500ms', '0.500s'],
    ['1h', '3600s'],
    ['1m30s', '90s'],
    ['2s250ms', '2.250s'],
  ])('%s is %s', (input, expected) => {
    const ms = parseGatewayDuration(input);
    expect(ms).toBeDefined();
    expect(envoyDuration(ms as number)).toBe(expected);
  });

  it.each(['', '10', '1.5s', '10 seconds', '1d', '123456s'])('rejects %j', (input) => {
    expect(parseGatewayDuration(input)).toBeUndefined();
  });
});
