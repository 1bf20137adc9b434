import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TypeUrl } from '@tendril/api-envoy';
import { AdsClient, type AdsClientOptions, type EnvoyResource, type Logger, type ResourceState } from '@tendril/xds';
import { GcStatsRecorder } from './gc-stats';

/** The configuration a data plane serves: every xDS resource it holds, by kind. */
export interface DataPlaneConfig {
  listeners: EnvoyResource[];
  routes: EnvoyResource[];
  clusters: EnvoyResource[];
  endpoints: EnvoyResource[];
  secrets: EnvoyResource[];
  /** Tendril NPDS: L7 policy per local endpoint. */
  networkPolicies: EnvoyResource[];
  /** Tendril NPHDS: the agent's ipcache, one resource per identity. */
  networkPolicyHosts: EnvoyResource[];
}

/** What the node proxy drives: tendril's proxy engine, or a test double. */
export interface DataPlane {
  /** Applies a whole configuration; rejects (with a reason the agent will see) to keep the old one. */
  apply(config: DataPlaneConfig): Promise<unknown>;
  close(): Promise<void>;
}

export interface NodeProxyOptions extends Omit<AdsClientOptions, 'apply' | 'logger'> {
  dataPlane: DataPlane;
  logger: Logger;
  /** host:port of the proxy's admin endpoint (/ready, /config_dump, /stats); omit for none. */
  adminAddress?: string;
}

function configOf(state: ResourceState): DataPlaneConfig {
  const values = (t: string): EnvoyResource[] => [...(state.get(t)?.values() ?? [])];
  return {
    listeners: values(TypeUrl.Listener),
    routes: values(TypeUrl.RouteConfiguration),
    clusters: values(TypeUrl.Cluster),
    endpoints: values(TypeUrl.ClusterLoadAssignment),
    secrets: values(TypeUrl.Secret),
    networkPolicies: values(TypeUrl.NetworkPolicy),
    networkPolicyHosts: values(TypeUrl.NetworkPolicyHosts),
  };
}

/**
 * A Secret as /config_dump shows it: private keys and generic secret values (header-match
 * Secrets of L7 policy) replaced, as Envoy's admin redacts them.
 */
function redactSecret(secret: EnvoyResource): EnvoyResource {
  const redacted = { ...secret };
  if (redacted['generic_secret']) redacted['generic_secret'] = { secret: { inline_string: '[redacted]' } };
  const certificate = redacted['tls_certificate'] as Record<string, unknown> | undefined;
  if (certificate?.['private_key']) redacted['tls_certificate'] = { ...certificate, private_key: { inline_string: '[redacted]' } };
  return redacted;
}

/**
 * tendril-proxy's control loop: an ADS client whose every response becomes a candidate
 * configuration for the data plane; a rejected candidate is NACKed with the data plane's error
 * and the last good configuration keeps serving. Also serves a small Envoy-like admin API.
 */
export class NodeProxy {
  private readonly client: AdsClient;
  private admin: http.Server | undefined;
  private ready = false;
  private readonly counters = { applied: 0, rejected: 0 };
  private lastRejection: { typeUrl: string; version: string; message: string } | undefined;
  /** GC pauses for /stats; recorded while the admin API is up. */
  private gcStats: GcStatsRecorder | undefined;

  constructor(private readonly opts: NodeProxyOptions) {
    this.client = new AdsClient({
      ...opts,
      apply: async (state, changedType) => {
        await opts.dataPlane.apply(configOf(state));
        this.counters.applied++;
        if (changedType === TypeUrl.Listener) this.ready = true;
      },
    });
    this.client.on('nack', (n: { typeUrl: string; version: string; message: string }) => {
      this.counters.rejected++;
      this.lastRejection = n;
    });
    this.client.on('connected', () => opts.logger.info({ target: opts.target }, 'connected to the agent'));
    this.client.on('disconnected', () => opts.logger.warn({ target: opts.target }, 'lost the agent; serving the last good configuration'));
  }

  async start(): Promise<void> {
    if (this.opts.adminAddress) await this.startAdmin(this.opts.adminAddress);
    this.client.start();
  }

  async stop(): Promise<void> {
    this.client.stop();
    this.gcStats?.stop();
    await new Promise<void>((resolve) => (this.admin ? this.admin.close(() => resolve()) : resolve()));
    this.admin?.closeAllConnections();
    await this.opts.dataPlane.close();
  }

  adminPort(): number | undefined {
    return (this.admin?.address() as AddressInfo | null)?.port;
  }

  private async startAdmin(address: string): Promise<void> {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    const admin = http.createServer((req, res) => {
      const json = (code: number, body: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body, null, 2));
      };
      switch (new URL(req.url ?? '/', 'http://admin').pathname) {
        case '/ready':
          res.writeHead(this.ready ? 200 : 503, { 'content-type': 'text/plain' });
          return res.end(this.ready ? 'LIVE\n' : 'PRE_INITIALIZING\n');
        case '/config_dump': {
          const config = configOf(this.client.resources());
          return json(200, { versions: this.client.versions(), ...config, secrets: config.secrets.map(redactSecret) });
        }
        case '/stats':
          return json(200, { connected: this.client.connected, ...this.counters, lastRejection: this.lastRejection ?? null, gc: this.gcStats?.snapshot() ?? null });
        default:
          return json(404, { error: 'not found' });
      }
    });
    this.admin = admin;
    this.gcStats = new GcStatsRecorder();
    this.gcStats.start();
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(port, host, () => resolve());
    });
  }
}
