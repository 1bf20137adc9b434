import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TypeUrl, decodeMessage, encodeMessage } from '../src';
import type { EnvoyMessageTypes, EnvoyResourceTypes, envoy } from '../src';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const generatedFile = path.join(__dirname, '..', 'src', 'generated', 'envoy-types.ts');

describe('generated Envoy types', () => {
  it('are up to date with the generator and the protos (tools/generate-envoy-types.ts --check)', () => {
    const result = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'tools/generate-envoy-types.ts', '--check'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('libs/api-envoy/src/generated/envoy-types.ts is up to date');
    expect(result.status).toBe(0);
  });

  it('declare one namespace per proto package, nested messages in a namespace named after their parent', () => {
    const source = fs.readFileSync(generatedFile, 'utf8');
    expect(source).toContain('export namespace envoy.config.route.v3 {');
    const clusterNamespace = source.slice(source.indexOf('  export namespace Cluster {'), source.indexOf('\n  }\n', source.indexOf('  export namespace Cluster {')));
    expect(clusterNamespace).toContain("export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST';");
    expect(clusterNamespace).toContain('export interface EdsClusterConfig {');
    expect(source).toContain("export interface Any { '@type': string; [field: string]: unknown }");
  });

  it('type the contract fields (a misspelt field or enum name is a compile error)', () => {
    const cluster: EnvoyResourceTypes[typeof TypeUrl.Cluster] = {
      name: 'c',
      type: 'EDS',
      lb_policy: 'ROUND_ROBIN',
      connect_timeout: '5s',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    };
    // @ts-expect-error -- enum values are names from the proto, nothing else
    const badEnum: envoy.config.cluster.v3.Cluster = { lb_policy: 'FASTEST' };
    // @ts-expect-error -- unknown fields are rejected
    const badField: envoy.config.route.v3.RouteMatch = { prefx: '/' };
    // @ts-expect-error -- a Duration is a string like "5s"
    const badDuration: envoy.config.cluster.v3.Cluster = { connect_timeout: 5 };
    const byName: EnvoyMessageTypes['envoy.config.endpoint.v3.LbEndpoint'] = { load_balancing_weight: 2, health_status: 'HEALTHY' };
    expect([badEnum, badField, badDuration]).toHaveLength(3);
    expect(decodeMessage('envoy.config.cluster.v3.Cluster', encodeMessage('envoy.config.cluster.v3.Cluster', cluster))).toEqual(cluster);
    expect(decodeMessage('envoy.config.endpoint.v3.LbEndpoint', encodeMessage('envoy.config.endpoint.v3.LbEndpoint', byName))).toEqual(byName);
  });
});
