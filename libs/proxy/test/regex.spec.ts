import { compileFullMatchRegex, compileGlobalRegex, globalReplace, parseSubstitution } from '../src/routing/regex';

describe('RE2 regex translation', () => {
  it('matches the whole input only', () => {
    const regex = compileFullMatchRegex('/api/v[0-9]+');
    expect(regex.test('/api/v2')).toBe(true);
    expect(regex.test('/api/v2/users')).toBe(false);
    expect(regex.test('x/api/v2')).toBe(false);
  });

  it('accepts RE2 named groups, leading flags and \\A \\z anchors', () => {
    expect(compileFullMatchRegex('/u/(?P<id>[0-9]+)').exec('/u/7')?.groups?.id).toBe('7');
    expect(compileFullMatchRegex('(?i)/ABC').test('/abc')).toBe(true);
    expect(compileFullMatchRegex('\\A/x\\z').test('/x')).toBe(true);
    expect(compileFullMatchRegex('[\\]a]+').test(']a]')).toBe(true);
  });

  it('rejects what RE2 rejects, with a reason', () => {
    expect(() => compileFullMatchRegex('(a)\\1')).toThrow('invalid regex "(a)\\\\1": backreferences are not supported by RE2');
    expect(() => compileFullMatchRegex('a(?!b)')).toThrow(/lookaround/);
    expect(() => compileFullMatchRegex('[a-')).toThrow(/invalid regex "\[a-"/);
    expect(() => compileFullMatchRegex('(?U)a')).toThrow(/unsupported regex flag "U"/);
  });

  it('rewrites every match like RE2::GlobalReplace, with \\N group references', () => {
    const rewrite = (input: string, pattern: string, substitution: string) => {
      const regex = compileGlobalRegex(pattern);
      return globalReplace(input, regex, parseSubstitution(substitution, regex));
    };
    expect(rewrite('/ab-1/cd-2', '([a-z]+)-([0-9]+)', '\\2:\\1$')).toBe('/1:ab$/2:cd$');
    expect(rewrite('abc', 'b', '[\\0]')).toBe('a[b]c');
    expect(rewrite('/any/path', '^/.*$', '/full')).toBe('/full');
    // RE2 does not rewrite the empty match right after ".*" consumed everything; JS replace would.
    expect(rewrite('abc', '.*', 'X')).toBe('X');
    expect(rewrite('abc', 'x*', '-')).toBe('-a-b-c-');
    expect(rewrite('untouched', 'zzz', 'y')).toBe('untouched');
    expect(() => rewrite('a', '(a)', '\\2')).toThrow('refers to group 2, but the regex has 1');
  });
});
