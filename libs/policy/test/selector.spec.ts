import { label, labelSet } from '@tendril/identity';
import { formatSelector, identitySelector, matchesIdentity } from '../src';

describe('identity selectors', () => {
  const pod = labelSet([label('k8s', 'app', 'web'), label('k8s', 'io.kubernetes.pod.namespace', 'shop')]);
  const host = labelSet([label('reserved', 'host')]);

  it('matches a key without source from any source, and a sourced key only from that source', () => {
    expect(matchesIdentity(identitySelector({ matchLabels: { app: 'web' } }), pod)).toBe(true);
    expect(matchesIdentity(identitySelector({ matchLabels: { 'k8s:app': 'web' } }), pod)).toBe(true);
    expect(matchesIdentity(identitySelector({ matchLabels: { 'reserved:app': 'web' } }), pod)).toBe(false);
    expect(matchesIdentity(identitySelector({ matchLabels: { 'reserved:host': '' } }), host)).toBe(true);
    expect(matchesIdentity(identitySelector({ matchLabels: { 'reserved:host': '' } }), pod)).toBe(false);
  });

  it('implements In, NotIn, Exists and DoesNotExist like the API server', () => {
    const expr = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', values?: string[]) => identitySelector({ matchExpressions: [{ key: 'app', operator, values }] });
    expect(matchesIdentity(expr('In', ['web', 'db']), pod)).toBe(true);
    expect(matchesIdentity(expr('NotIn', ['web']), pod)).toBe(false);
    expect(matchesIdentity(expr('NotIn', ['web']), host)).toBe(true);
    expect(matchesIdentity(expr('Exists'), host)).toBe(false);
    expect(matchesIdentity(expr('DoesNotExist'), host)).toBe(true);
    expect(matchesIdentity(identitySelector({}), host)).toBe(true);
  });

  it('prints selectors readably for traces', () => {
    expect(formatSelector(identitySelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'k8s:tier', operator: 'NotIn', values: ['a', 'b'] }] }))).toBe(
      'any:app=web,k8s:tier notin (a,b)',
    );
  });
});
