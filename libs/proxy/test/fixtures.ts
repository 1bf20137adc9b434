import type { envoy } from '@tendril/api-envoy';
import { startEchoServer, type EchoResponse, type EchoServer } from '@tendril/testing';
import * as http from 'node:http';
import * as net from 'node:net';
import { Agent, request as undiciRequest } from 'undici';
import { ProxyRuntime, type AccessLogEntry, type ProxyConfig } from '../src';

type Route = envoy.config.route.v3.Route;
type VirtualHost = envoy.config.route.v3.VirtualHost;
type RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
type Listener = envoy.config.listener.v3.Listener;
type Cluster = envoy.config.cluster.v3.Cluster;
type ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;

type HttpConnectionManager = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;

export function httpListener(name: string, routeConfigName: string, port = 0, address = '127.0.0.1', hcm: Partial<HttpConnectionManager> = {}): Listener {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              codec_type: 'AUTO',
              rds: { route_config_name: routeConfigName, config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
              ...hcm,
            },
          },
        ],
      },
    ],
  };
}

export function routeConfig(name: string, virtualHosts: VirtualHost[], extra: Partial<RouteConfiguration> = {}): RouteConfiguration {
  return { name, virtual_hosts: virtualHosts, ...extra };
}

export function vhost(name: string, domains: string[], routes: Route[], extra: Partial<VirtualHost> = {}): VirtualHost {
  return { name, domains, routes, ...extra };
}

export function toCluster(prefix: string, cluster: string, extra: Partial<Route> = {}, action: envoy.config.route.v3.RouteAction = {}): Route {
  return { name: `${prefix}->${cluster}`, match: { prefix }, route: { cluster, ...action }, ...extra };
}

export function edsCluster(name: string, options: { http2?: boolean; connectTimeout?: string; lbPolicy?: Cluster['lb_policy'] } = {}): Cluster {
  const cluster: Cluster = {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    connect_timeout: options.connectTimeout ?? '1s',
    lb_policy: options.lbPolicy ?? 'ROUND_ROBIN',
  };
  if (options.http2) {
    cluster.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return cluster;
}

export function loadAssignment(clusterName: string, endpoints: { port: number; weight?: number; host?: string }[]): ClusterLoadAssignment {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        lb_endpoints: endpoints.map((e) => ({
          endpoint: { address: { socket_address: { address: e.host ?? '127.0.0.1', port_value: e.port } } },
          ...(e.weight !== undefined ? { load_balancing_weight: e.weight } : {}),
        })),
      },
    ],
  };
}

/** A port nothing listens on: bound, then released. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ProxyResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The echo backend's view of the request, when the body is its JSON. */
  echo: EchoResponse;
}

/**
 * A proxy plus echo backends for one test file. Each test applies its own config; `url` points at
 * the first listener.
 */
export class ProxyHarness {
  readonly accessLog: AccessLogEntry[] = [];
  readonly runtime = new ProxyRuntime({ accessLog: (entry) => this.accessLog.push(entry), drainTimeoutMs: 5_000 });
  readonly backends: EchoServer[] = [];
  readonly client = new Agent({ keepAliveTimeout: 1_000 });
  port = 0;

  async backend(name = ''): Promise<EchoServer> {
    const server = await startEchoServer({ pod: name });
    this.backends.push(server);
    return server;
  }

  async apply(config: Partial<ProxyConfig>): Promise<void> {
    const result = await this.runtime.apply({ listeners: [], routes: [], clusters: [], endpoints: [], ...config });
    if (!result.accepted) throw new Error(`config rejected: ${JSON.stringify(result.errors)}`);
    this.port = result.listeners[0]?.port ?? 0;
  }

  async request(path: string, options: { method?: string; headers?: Record<string, string>; body?: string; port?: number } = {}): Promise<ProxyResponse> {
    const response = await undiciRequest(`http://127.0.0.1:${options.port ?? this.port}${path}`, {
      method: (options.method ?? 'GET') as 'GET',
      headers: options.headers,
      body: options.body,
      dispatcher: this.client,
    });
    const text = await response.body.text();
    let echo = {} as EchoResponse;
    try {
      echo = JSON.parse(text) as EchoResponse;
    } catch {
      // not an echo response (local reply)
    }
    return { status: response.statusCode, headers: response.headers, text, echo };
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.runtime.close();
    await Promise.all(this.backends.map((b) => b.close()));
  }
}

/** A request through node's own HTTP client, which (unlike undici) lets a test send hop-by-hop headers. */
export function nodeRequest(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
