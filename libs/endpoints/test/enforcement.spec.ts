import { ResourceStore } from '@tendril/store';
import { startNodeEnforcement } from '../src';

const base = { store: new ResourceStore(), localPods: () => [], logger: { info: () => undefined, warn: () => undefined, error: () => undefined } };

describe('startNodeEnforcement', () => {
  it('is off, saying why, when pods share the host network or the process is not root', async () => {
    await expect(startNodeEnforcement({ ...base, podNetwork: 'loopback', uid: 0 })).resolves.toEqual({
      enabled: false,
      notice: 'network policy is not enforced: pods share the host network namespace (loopback pods); as root, `tendril up` gives each pod a namespace and enforces policy in eBPF',
    });
    await expect(startNodeEnforcement({ ...base, podNetwork: 'netns', uid: 1000 })).resolves.toEqual({
      enabled: false,
      notice: 'network policy is not enforced: loading eBPF programs needs root',
    });
  });
});
