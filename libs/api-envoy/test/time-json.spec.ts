import { durationToMilliseconds, formatDuration, formatTimestamp, parseDuration, parseTimestamp } from '../src';

describe('Duration strings', () => {
  it.each([
    ['15s', { seconds: 15, nanos: 0 }, '15s'],
    ['1.5s', { seconds: 1, nanos: 500_000_000 }, '1.500s'],
    ['0.250s', { seconds: 0, nanos: 250_000_000 }, '0.250s'],
    ['0.000001s', { seconds: 0, nanos: 1000 }, '0.000001s'],
    ['0.000000001s', { seconds: 0, nanos: 1 }, '0.000000001s'],
    ['-2.5s', { seconds: -2, nanos: -500_000_000 }, '-2.500s'],
    ['-0.5s', { seconds: 0, nanos: -500_000_000 }, '-0.500s'],
    ['0s', { seconds: 0, nanos: 0 }, '0s'],
  ])('%s parses exactly and formats canonically', (text, parsed, canonical) => {
    expect(parseDuration(text)).toEqual(parsed);
    expect(formatDuration(parsed)).toBe(canonical);
  });

  it.each(['5', '5ms', '1.5 s', '.5s', '1.0000000001s', '', 's', '999999999999999s'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('converts to milliseconds and names bad input', () => {
    expect(durationToMilliseconds('1.5s')).toBe(1500);
    expect(durationToMilliseconds('0.000250s')).toBe(0.25);
    expect(() => durationToMilliseconds('15')).toThrow('invalid duration "15": expected a string like "1.5s"');
  });
});

describe('Timestamp strings', () => {
  it('parses RFC 3339 with offsets and fractions, formats in UTC', () => {
    expect(parseTimestamp('2024-01-02T03:04:05Z')).toEqual({ seconds: 1704164645, nanos: 0 });
    expect(parseTimestamp('2024-01-02T05:04:05.5+02:00')).toEqual({ seconds: 1704164645, nanos: 500_000_000 });
    expect(formatTimestamp({ seconds: 1704164645, nanos: 500_000_000 })).toBe('2024-01-02T03:04:05.500Z');
    expect(formatTimestamp({ seconds: 1704164645 })).toBe('2024-01-02T03:04:05Z');
    expect(parseTimestamp('2024-01-02 03:04:05')).toBeUndefined();
    expect(parseTimestamp('2024-13-02T03:04:05Z')).toBeUndefined();
  });
});
