/**
 * The YAML an end-to-end test serves: a Gateway on `gatewayPort` and Services (port
 * `servicePort`, default 8080) backed by static EndpointSlices.
 */
export function baseConfig(opts: { gatewayPort: number; servicePort?: number; backends: Record<string, { port: number; namespace?: string }> }): string {
  const docs = [
    `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: tendril }
spec: { controllerName: tendril.io/gateway-controller }`,
    `apiVersion: v1
kind: Namespace
metadata: { name: other }`,
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: tendril
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - { name: http, protocol: HTTP, port: ${opts.gatewayPort}, allowedRoutes: { namespaces: { from: All } } }`,
  ];
  for (const [name, b] of Object.entries(opts.backends)) {
    const ns = b.namespace ?? 'default';
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  ports: [{ name: http, port: ${opts.servicePort ?? 8080}, targetPort: ${b.port} }]`);
    docs.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-1
  namespace: ${ns}
  labels: { kubernetes.io/service-name: ${name} }
addressType: IPv4
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
ports: [{ name: http, port: ${b.port}, protocol: TCP }]`);
  }
  return docs.join('\n---\n') + '\n';
}

/** One HTTPRoute per Gateway API feature the foundation covers, each under its own path. */
export const featureRoutes = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: matches, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: Exact, value: /exact } }]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /prefix } }]
      backendRefs: [{ name: v2, port: 8080 }]
    - matches: [{ path: { type: RegularExpression, value: "/regex/[0-9]+" } }]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /hdr }, headers: [{ name: x-env, value: canary }] }]
      backendRefs: [{ name: v2, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /hdr } }]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /query }, queryParams: [{ name: version, value: "2" }] }]
      backendRefs: [{ name: v2, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /query } }]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /method }, method: POST }]
      backendRefs: [{ name: v2, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /method } }]
      backendRefs: [{ name: v1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: hostnames, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [foo.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /host } }]
      backendRefs: [{ name: v2, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: filters, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /reqhdr } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{ name: x-set, value: 'set-value 50%' }]
            add: [{ name: x-add, value: added }]
            remove: [x-remove]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /resphdr } }]
      filters:
        - type: ResponseHeaderModifier
          responseHeaderModifier:
            set: [{ name: x-resp, value: "yes" }]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /redirect } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { hostname: redirect.example.com, statusCode: 302 }
    - matches: [{ path: { type: PathPrefix, value: /rewrite } }]
      filters:
        - type: URLRewrite
          urlRewrite: { hostname: rewritten.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } }
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /mirror } }]
      filters:
        - type: RequestMirror
          requestMirror: { backendRef: { name: mirror, port: 8080 } }
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /weights } }]
      backendRefs: [{ name: v1, port: 8080, weight: 0 }, { name: v2, port: 8080, weight: 1 }]
    - matches: [{ path: { type: PathPrefix, value: /timeout } }]
      timeouts: { request: 300ms }
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /down } }]
      backendRefs: [{ name: down, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: missing-backend, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /missing } }]
      backendRefs: [{ name: does-not-exist, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: cross-namespace, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /granted } }]
      backendRefs: [{ name: granted, namespace: other, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /not-granted } }]
      backendRefs: [{ name: not-granted, namespace: other, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: allow-default-routes, namespace: other }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default }]
  to: [{ group: "", kind: Service, name: granted }]
`;

/** A Gateway with two listeners, and routes that pick one by sectionName or by port. */
export function sectionRoutes(portA: number, portB: number): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: two-listeners, namespace: default }
spec:
  gatewayClassName: tendril
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - { name: first, protocol: HTTP, port: ${portA} }
    - { name: second, protocol: HTTP, port: ${portB} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: by-section, namespace: default }
spec:
  parentRefs: [{ name: two-listeners, sectionName: second }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /section } }]
      backendRefs: [{ name: v2, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: by-port, namespace: default }
spec:
  parentRefs: [{ name: two-listeners, port: ${portA} }, { name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /by-port } }]
      backendRefs: [{ name: v1, port: 8080 }]
`;
}
