/** `tendril policy validate`: policies in a file checked as the agent accepts them, with Cilium's messages. */
import { formatPolicyFileReports, validatePolicyFile } from '../src';

const FILE = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: mixes-endpoints-and-cidr, namespace: default }
spec:
  endpointSelector: {}
  ingress:
    - fromEndpoints: [{}]
      fromCIDR: ["0.0.0.0/0"]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { ports: [{ port: 80 }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-all, namespace: default }
spec: { podSelector: {}, policyTypes: [Ingress] }
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: bad-port }
spec:
  endpointSelector: {}
  ingress: [{ toPorts: [{ ports: [{ port: "70000", protocol: TCP }] }] }]
`;

describe('validatePolicyFile', () => {
  it('reports each invalid policy with its document and Cilium’s error, lists the valid ones and leaves other kinds alone', () => {
    const report = validatePolicyFile('policies.yaml', FILE);
    expect(report.valid).toEqual(['NetworkPolicy default/deny-all']);
    expect(report.errors).toEqual([
      'policies.yaml: document 1 (CiliumNetworkPolicy default/mixes-endpoints-and-cidr): Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromCIDR is not supported yet',
      expect.stringMatching(/^policies\.yaml: document 4 \(CiliumClusterwideNetworkPolicy bad-port\): .*70000/),
    ]);
    const { text, ok } = formatPolicyFileReports([report, validatePolicyFile('empty.yaml', '')]);
    expect(ok).toBe(false);
    expect(text.split('\n')).toEqual([
      `INVALID  ${report.errors[0]}`,
      `INVALID  ${report.errors[1]}`,
      'valid    policies.yaml: NetworkPolicy default/deny-all',
      'skipped  empty.yaml: no policy in this file',
      '1 valid policy, 2 errors',
      '',
    ]);
  });

  it('a YAML syntax error is an error of the file', () => {
    const report = validatePolicyFile('broken.yaml', 'kind: CiliumNetworkPolicy\nspec: [unclosed\n');
    expect(report.valid).toEqual([]);
    expect(report.errors).toHaveLength(1);
    expect(formatPolicyFileReports([report]).ok).toBe(false);
  });

  it('all valid: ok', () => {
    const report = validatePolicyFile('ok.yaml', FILE.split('---\n')[2]!);
    expect(formatPolicyFileReports([report])).toEqual({ text: 'valid    ok.yaml: NetworkPolicy default/deny-all\n1 valid policy, 0 errors\n', ok: true });
  });
});
