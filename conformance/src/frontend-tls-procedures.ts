import type { KubeObject } from '@tendril/api-k8s';
import type { ProcedureContext, RuntimeProcedure } from './procedures';
import type { ExpectedCondition, ObjectRef } from './status-checks';
import { clientCertificateRequested, tlsClientSettings } from './tls-client';
import { https1RoundTrip, type EchoBody, type GatewayTarget } from './traffic';

/**
 * The frontend client certificate validation tests (Gateway spec.tls.frontend), written out from
 * their Go sources (conformance/tests/gateway-*-clientcertificate-validation*.go): HTTPS requests to
 * a Gateway's listener ports presenting one client certificate or another (or none), trusting the
 * listeners' certificate, and the listener and Gateway conditions.
 */

const INFRA = 'gateway-conformance-infra';
const SERVER_CERTIFICATE = 'tls-validity-checks-certificate';
const DEFAULT_CLIENT = 'tls-validity-checks-client-certificate';
const PER_PORT_CLIENT = 'tls-validity-checks-per-port-client-certificate';

interface KeyPair {
  cert: string;
  key: string;
}

const failuresOf = (results: Array<string | undefined>): string[] => results.filter((r): r is string => r !== undefined);

/** A kubernetes.io/tls Secret of the setup, as upstream GetTLSSecret reads it. */
function tlsSecret(ctx: ProcedureContext, name: string): KeyPair {
  const secret = ctx.get('Secret', INFRA, name) as (KubeObject & { data?: Record<string, string> }) | undefined;
  const read = (key: string): string => Buffer.from(secret?.data?.[key] ?? '', 'base64').toString('utf8');
  const pair = { cert: read('tls.crt'), key: read('tls.key') };
  if (!pair.cert || !pair.key) throw new Error(`the setup made no Secret ${INFRA}/${name} with tls.crt and tls.key`);
  return pair;
}

interface TlsRequest {
  port: number;
  /** SNI and Host. */
  serverName: string;
  client?: KeyPair;
}

/** One HTTPS GET / with a new connection: the status and the echo's view, or why there is no response. */
async function httpsGet(target: GatewayTarget, server: KeyPair, request: TlsRequest, timeoutMs: number): Promise<{ status: number; echo?: EchoBody } | { error: string }> {
  const tls = { ...tlsClientSettings(request.serverName, [server.cert]), ...(request.client ? { cert: request.client.cert, key: request.client.key } : {}) };
  try {
    const res = await https1RoundTrip(target.address, request.port, 'GET', '/', { host: request.serverName, 'X-Echo-Set-Header': '' }, tls, timeoutMs);
    let echo: EchoBody | undefined;
    try {
      echo = JSON.parse(res.text) as EchoBody;
    } catch {
      echo = undefined;
    }
    return { status: res.statusCode, ...(echo ? { echo } : {}) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function describe(request: TlsRequest, clientName: string | undefined): string {
  return `GET https://${request.serverName}:${request.port}/ ${clientName ? `presenting ${clientName}` : 'without a client certificate'}`;
}

/** Upstream MakeTLSRequestAndExpectEventuallyConsistentResponse: 200 from `backend` in the infra namespace, 3 times in a row; a presented certificate must have been asked for. */
async function expectServed(ctx: ProcedureContext, server: KeyPair, request: TlsRequest, clientName: string | undefined, backend: string): Promise<string | undefined> {
  const served = await ctx.converge(describe(request, clientName), async (target, timeoutMs) => {
    const res = await httpsGet(target, server, request, timeoutMs);
    if ('error' in res) return `request failed: ${res.error}`;
    if (res.status !== 200) return `status ${res.status}, want 200`;
    if (res.echo?.namespace !== INFRA) return `namespace ${JSON.stringify(res.echo?.namespace ?? '')}, want ${JSON.stringify(INFRA)}`;
    return (res.echo.pod ?? '').startsWith(backend) ? undefined : `answered by pod ${JSON.stringify(res.echo.pod)}, want ${backend}-…`;
  });
  if (served || !request.client) return served;
  const target = await ctx.gatewayTarget();
  const requested = await clientCertificateRequested(target.address, request.port, request.serverName, 10_000).catch((err: Error) => err.message);
  return requested === true ? undefined : `${describe(request, clientName)}: the Gateway never asked for the client certificate${typeof requested === 'string' ? ` (${requested})` : ''}`;
}

/** Upstream MakeTLSRequestAndExpectEventuallyConsistentFailureResponse: the round trip errors, 3 times in a row. */
function expectRefused(ctx: ProcedureContext, server: KeyPair, request: TlsRequest, clientName: string | undefined): Promise<string | undefined> {
  return ctx.converge(`${describe(request, clientName)} (must fail)`, async (target, timeoutMs) => {
    const res = await httpsGet(target, server, request, timeoutMs);
    return 'error' in res ? undefined : `the request was answered (status ${res.status}), want a failed round trip`;
  });
}

async function routesReady(ctx: ProcedureContext, gateway: ObjectRef, routes: string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const name of routes) {
    const route = { namespace: INFRA, name };
    failures.push(
      ...failuresOf([
        await ctx.status({ clause: `route ${name} Accepted`, route, routeKind: 'HTTPRoute', parent: gateway, conditions: [{ type: 'Accepted', status: 'True' }] }),
        await ctx.status({ clause: `route ${name} ResolvedRefs=True`, route, routeKind: 'HTTPRoute', parent: gateway, conditions: [{ type: 'ResolvedRefs', status: 'True' }] }),
      ]),
    );
  }
  return failures;
}

/** GatewayFrontendClientCertificateValidation: the default CA on 443, the per-port CA on 8443; a certificate from the other CA fails. */
async function frontendClientCertificateValidation(ctx: ProcedureContext): Promise<string[]> {
  const gateway = { namespace: INFRA, name: 'client-validation-default' };
  const ready = await routesReady(ctx, gateway, ['client-certificate-validation-https-test', 'client-certificate-validation-https-test-no-hostname']);
  if (ready.length) return ready;
  const server = tlsSecret(ctx, SERVER_CERTIFICATE);
  const [defaultClient, perPortClient] = [tlsSecret(ctx, DEFAULT_CLIENT), tlsSecret(ctx, PER_PORT_CLIENT)];
  return failuresOf([
    await expectServed(ctx, server, { port: 443, serverName: 'example.org', client: defaultClient }, DEFAULT_CLIENT, 'infra-backend-v1'),
    await expectRefused(ctx, server, { port: 443, serverName: 'example.org', client: perPortClient }, PER_PORT_CLIENT),
    await expectServed(ctx, server, { port: 8443, serverName: 'second-example.org', client: perPortClient }, PER_PORT_CLIENT, 'infra-backend-v2'),
    await expectRefused(ctx, server, { port: 8443, serverName: 'second-example.org', client: defaultClient }, DEFAULT_CLIENT),
  ]);
}

/** GatewayFrontendClientCertificateValidationInsecureFallback: the certificate is asked for, but any (or none) gets through; the Gateway warns. */
async function frontendClientCertificateValidationInsecureFallback(ctx: ProcedureContext): Promise<string[]> {
  const gateway = { namespace: INFRA, name: 'client-validation-insecure-fallback' };
  const routes = (ctx.list('HTTPRoute', INFRA) as KubeObject[]).filter((r) => ((r.spec ?? {}) as { parentRefs?: Array<{ name?: string }> }).parentRefs?.some((p) => p.name === gateway.name)).map((r) => r.metadata.name ?? '');
  const ready = await routesReady(ctx, gateway, routes);
  if (ready.length) return ready;
  const warned = await ctx.status({ clause: 'Gateway InsecureFrontendValidationMode=True reason ConfigurationChanged', gateway, conditions: [{ type: 'InsecureFrontendValidationMode', status: 'True', reason: 'ConfigurationChanged' }] });
  if (warned) return [warned];
  const server = tlsSecret(ctx, SERVER_CERTIFICATE);
  const [defaultClient, perPortClient] = [tlsSecret(ctx, DEFAULT_CLIENT), tlsSecret(ctx, PER_PORT_CLIENT)];
  const failures: string[] = [];
  for (const [port, serverName, backend] of [[443, 'example.org', 'infra-backend-v1'], [8443, 'second-example.org', 'infra-backend-v2']] as const) {
    failures.push(
      ...failuresOf([
        await expectServed(ctx, server, { port, serverName, client: defaultClient }, DEFAULT_CLIENT, backend),
        await expectServed(ctx, server, { port, serverName, client: perPortClient }, PER_PORT_CLIENT, backend),
        await expectServed(ctx, server, { port, serverName }, undefined, backend),
      ]),
    );
  }
  return failures;
}

function listenerConditions(ctx: ProcedureContext, of: ObjectRef, listener: string, conditions: ExpectedCondition[]): Promise<string | undefined> {
  return ctx.status({ clause: `listener ${listener} ${conditions.map((c) => `${c.type}=${c.status ?? 'any'}${c.reason ? ` ${c.reason}` : ''}`).join(', ')}`, listener, of, conditions });
}

/** GatewayFrontendInvalidDefaultClientCertificateValidation: a default CA that does not exist breaks the HTTPS listener, not the HTTP one. */
async function frontendInvalidDefaultClientCertificateValidation(ctx: ProcedureContext): Promise<string[]> {
  const gateway = { namespace: INFRA, name: 'invalid-default-client-validation-config' };
  const httpOk = await listenerConditions(ctx, gateway, 'http', [{ type: 'ResolvedRefs', status: 'True' }, { type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }]);
  const served = httpOk
    ? httpOk
    : await ctx.traffic({
        request: { host: 'example.org', path: '/', method: 'GET', headers: {}, backendSetsResponseHeaders: {}, port: 80 },
        expect: { status: [200], backend: 'infra-backend-v1', namespace: INFRA, requestHeadersSeenByBackend: {}, absentRequestHeaders: [], responseHeaders: {}, absentResponseHeaders: [] },
        label: 'GET http://example.org/ (port 80)',
      });
  const httpsBroken = await listenerConditions(ctx, gateway, 'https', [
    { type: 'ResolvedRefs', status: 'False', reason: 'InvalidCACertificateRef' },
    { type: 'Accepted', status: 'False', reason: 'NoValidCACertificate' },
    { type: 'Programmed', status: 'False' },
  ]);
  const refused = httpsBroken ? undefined : await expectRefused(ctx, tlsSecret(ctx, SERVER_CERTIFICATE), { port: 443, serverName: 'example.org' }, undefined);
  return failuresOf([served, httpsBroken, refused]);
}

/** GatewayInvalidFrontendClientCertificateValidation: each broken per-port CA reference breaks only the listener on its port. */
async function invalidFrontendClientCertificateValidation(ctx: ProcedureContext): Promise<string[]> {
  const gateway = { namespace: INFRA, name: 'gateway-with-invalid-client-cert-validation' };
  const broken = (reason: string): ExpectedCondition[] => [
    { type: 'ResolvedRefs', status: 'False', reason },
    { type: 'Accepted', status: 'False', reason: 'NoValidCACertificate' },
    { type: 'Programmed', status: 'False' },
  ];
  return failuresOf([
    await listenerConditions(ctx, gateway, 'https', [{ type: 'ResolvedRefs', status: 'True' }, { type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }]),
    await listenerConditions(ctx, gateway, 'https-unresolved', broken('InvalidCACertificateRef')),
    await listenerConditions(ctx, gateway, 'https-invalid-kind', broken('InvalidCACertificateKind')),
    await listenerConditions(ctx, gateway, 'https-grant-missing', broken('RefNotPermitted')),
  ]);
}

export const FRONTEND_TLS_PROCEDURES: Record<string, RuntimeProcedure> = {
  GatewayFrontendClientCertificateValidation: frontendClientCertificateValidation,
  GatewayFrontendClientCertificateValidationInsecureFallback: frontendClientCertificateValidationInsecureFallback,
  GatewayFrontendInvalidDefaultClientCertificateValidation: frontendInvalidDefaultClientCertificateValidation,
  GatewayInvalidFrontendClientCertificateValidation: invalidFrontendClientCertificateValidation,
};
