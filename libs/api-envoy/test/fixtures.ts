import type { envoy } from '../src';

/**
 * Realistic resources in the shape Tendril's translator emits (see the Envoy contract), typed
 * with the generated interfaces so that a contract field the types lack fails the typecheck.
 * Durations are in protobuf's canonical form ("1.500s"), which decoding produces.
 */

export const listener: envoy.config.listener.v3.Listener = {
  name: 'default/eg/http',
  address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'default/eg/http',
            codec_type: 'AUTO',
            rds: {
              route_config_name: 'default/eg/http',
              config_source: { ads: {}, resource_api_version: 'V3' },
            },
            http_filters: [
              {
                name: 'envoy.filters.http.router',
                typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
              },
            ],
            use_remote_address: true,
            stream_idle_timeout: '300s',
            access_log: [
              {
                name: 'envoy.access_loggers.file',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
                  path: '/dev/stdout',
                  log_format: { json_format: { method: '%REQ(:METHOD)%', status: '%RESPONSE_CODE%', sampled: true, tags: ['a', null] } },
                },
              },
            ],
          },
        },
      ],
    },
  ],
};

export const routeConfiguration: envoy.config.route.v3.RouteConfiguration = {
  name: 'default/eg/http',
  request_headers_to_add: [{ header: { key: 'x-gateway', value: 'eg' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  response_headers_to_remove: ['server'],
  virtual_hosts: [
    {
      name: 'default/eg/http/www_example_com',
      domains: ['www.example.com', '*.example.com', '*'],
      request_headers_to_add: [{ header: { key: 'x-vhost', value: 'www' }, append_action: 'ADD_IF_ABSENT' }],
      request_headers_to_remove: ['x-debug'],
      response_headers_to_add: [{ header: { key: 'x-served-by', value: 'tendril' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' }],
      routes: [
        {
          name: 'exact-with-headers',
          match: {
            path: '/login',
            headers: [
              { name: ':method', string_match: { exact: 'POST' } },
              { name: 'x-canary', string_match: { prefix: 'yes' }, invert_match: true },
              { name: 'x-trace', present_match: true },
              { name: 'x-suffix', string_match: { suffix: '.json' } },
              { name: 'x-contains', string_match: { contains: 'beta' } },
              { name: 'x-version', string_match: { safe_regex: { regex: 'v[0-9]+' } } },
            ],
            query_parameters: [
              { name: 'debug', string_match: { exact: '1' } },
              { name: 'id', string_match: { safe_regex: { regex: '[0-9]+' } } },
              { name: 'trace', present_match: true },
            ],
          },
          route: {
            cluster: 'default/login/8080',
            timeout: '1.500s',
            retry_policy: { per_try_timeout: '0.250s' },
            prefix_rewrite: '/auth/login',
            host_rewrite_literal: 'login.internal',
            request_mirror_policies: [
              {
                cluster: 'default/shadow/8080',
                runtime_fraction: { default_value: { numerator: 25, denominator: 'HUNDRED' } },
              },
            ],
          },
          request_headers_to_add: [{ header: { key: 'x-route', value: 'login' }, append_action: 'OVERWRITE_IF_EXISTS' }],
          request_headers_to_remove: ['cookie'],
          response_headers_to_add: [{ header: { key: 'cache-control', value: 'no-store' } }],
          response_headers_to_remove: ['x-powered-by'],
        },
        {
          match: { safe_regex: { regex: '/api/v[0-9]+/.*' } },
          route: {
            weighted_clusters: {
              clusters: [
                {
                  name: 'default/api-v1/8080',
                  weight: 90,
                  request_headers_to_add: [{ header: { key: 'x-backend', value: 'v1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
                },
                { name: 'default/api-v2/8080', weight: 10 },
                { name: 'default/api-v3/8080', weight: 0 },
              ],
            },
            timeout: '0s',
            regex_rewrite: { pattern: { regex: '^/api/(v[0-9]+)/' }, substitution: '/\\1/' },
          },
        },
        {
          match: { path_separated_prefix: '/old' },
          redirect: {
            scheme_redirect: 'https',
            host_redirect: 'new.example.com',
            port_redirect: 8443,
            prefix_rewrite: '/new',
            response_code: 'PERMANENT_REDIRECT',
            strip_query: true,
          },
        },
        {
          match: { prefix: '/moved' },
          redirect: { path_redirect: '/elsewhere', response_code: 'FOUND' },
        },
        {
          match: { prefix: '/broken' },
          direct_response: { status: 500, body: { inline_string: 'invalid backend' } },
        },
        {
          match: { prefix: '/' },
          route: {
            cluster: 'default/web/8080',
            request_mirror_policies: [
              { cluster: 'default/audit/8080', runtime_fraction: { default_value: { numerator: 5000, denominator: 'TEN_THOUSAND' } } },
            ],
          },
        },
      ],
    },
  ],
};

export const edsCluster: envoy.config.cluster.v3.Cluster = {
  name: 'default/api-v1/8080',
  type: 'EDS',
  eds_cluster_config: {
    eds_config: { ads: {}, resource_api_version: 'V3' },
    service_name: 'default/api-v1/8080',
  },
  connect_timeout: '10s',
  lb_policy: 'ROUND_ROBIN',
  per_connection_buffer_limit_bytes: 32768,
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
  metadata: { filter_metadata: { tendril: { route: 'default/api', weight: 1.5, tags: ['a', 'b'], nested: { on: true } } } },
};

export const clusterLoadAssignment: envoy.config.endpoint.v3.ClusterLoadAssignment = {
  cluster_name: 'default/api-v1/8080',
  endpoints: [
    {
      locality: { zone: 'local' },
      lb_endpoints: [
        { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9001 } } }, load_balancing_weight: 1, health_status: 'HEALTHY' },
        { endpoint: { address: { socket_address: { address: '127.0.0.2', port_value: 9001 } } }, load_balancing_weight: 3, health_status: 'DRAINING' },
      ],
    },
  ],
  policy: { overprovisioning_factor: 140 },
};

export const secret: envoy.extensions.transport_sockets.tls.v3.Secret = {
  name: 'default/eg-cert',
  tls_certificate: {
    certificate_chain: { inline_string: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
    private_key: { inline_bytes: Buffer.from('not really a key').toString('base64') },
  },
};
