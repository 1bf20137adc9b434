import type { Condition, KubeObject } from '@tendril/api-k8s';
import type { HttpCheck } from './checks';
import { grpcEchoCall } from './grpc-traffic';
import type { ProcedureContext, RuntimeProcedure } from './procedures';
import type { ExpectedCondition, ObjectRef } from './status-checks';

/**
 * The BackendTLSPolicy tests, written out from their Go sources (conformance/tests/backendtlspolicy*.go):
 * policy conditions per ancestor Gateway (upstream BackendTLSPolicyMustHaveCondition), traffic
 * re-encrypted to the TLS echo backend with the policy's hostname as SNI, requests that must fail
 * when the backend cannot be validated, and the reconcile steps that edit a policy and its CA
 * ConfigMap while the test runs.
 */

const INFRA = 'gateway-conformance-infra';
const SAME_NAMESPACE: ObjectRef = { namespace: INFRA, name: 'same-namespace' };
const HTTPS_GATEWAY: ObjectRef = { namespace: INFRA, name: 'same-namespace-with-https-listener' };
/** Upstream HTTPRouteMustHaveCondition timeout, which BackendTLSPolicyMustHaveCondition uses. */
const POLICY_CONDITION_TIMEOUT_MS = 60_000;

const ACCEPTED: ExpectedCondition = { type: 'Accepted', status: 'True', reason: 'Accepted' };
const RESOLVED_REFS: ExpectedCondition = { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' };
const NO_VALID_CA: ExpectedCondition = { type: 'Accepted', status: 'False', reason: 'NoValidCACertificate' };
const INVALID_CA_REF: ExpectedCondition = { type: 'ResolvedRefs', status: 'False', reason: 'InvalidCACertificateRef' };

/**
 * Every status but 200 and the timeout codes: upstream WaitForConsistentFailureResponse counts a
 * non-200 answer as the expected failure and a timeout (408, 504) as "not ready yet".
 */
const FAILURE_STATUSES: number[] = Array.from({ length: 500 }, (_, i) => i + 100).filter((s) => s !== 200 && s !== 408 && s !== 504);

interface Ancestor {
  ancestorRef?: { name?: string; namespace?: string };
  conditions?: Condition[];
}

function request(host: string, path: string, tls?: { serverName: string; gateway: string; trustSecret: string }): Pick<HttpCheck, 'request' | 'gateway'> {
  return {
    ...(tls ? { gateway: tls.gateway } : {}),
    request: { host, path, method: 'GET', headers: {}, backendSetsResponseHeaders: {}, ...(tls ? { protocol: 'https' as const, serverName: tls.serverName, trustSecret: tls.trustSecret } : {}) },
  };
}

function expectOk(host: string, path: string, expect: Partial<HttpCheck['expect']>, tls?: { serverName: string; gateway: string; trustSecret: string }): HttpCheck {
  return {
    ...request(host, path, tls),
    expect: { status: [200], requestHeadersSeenByBackend: {}, absentRequestHeaders: [], responseHeaders: {}, absentResponseHeaders: [], ...expect },
    label: `GET ${tls ? 'https' : 'http'}://${host}${path}${tls ? ` (SNI ${tls.serverName})` : ''}`,
  };
}

function expectFailure(host: string, path: string, statuses: number[] = FAILURE_STATUSES): HttpCheck {
  return { ...expectOk(host, path, { status: statuses }), label: `GET http://${host}${path} (must fail)` };
}

function describeCondition(c: ExpectedCondition): string {
  return `${c.type}=${c.status ?? 'any'}${c.reason ? ` reason ${c.reason}` : ''}`;
}

/**
 * Upstream BackendTLSPolicyMustHaveCondition: every ancestor's conditions at the policy's
 * generation, and the ancestor naming `gateway` carrying the condition; polled for 60 s.
 */
export function policyCondition(ctx: ProcedureContext, policy: string, gateway: ObjectRef, condition: ExpectedCondition): Promise<string | undefined> {
  const what = `BackendTLSPolicy ${INFRA}/${policy}`;
  return ctx.eventually(`${what} ${describeCondition(condition)} for Gateway ${gateway.name}`, POLICY_CONDITION_TIMEOUT_MS, () => {
    const o = ctx.get('BackendTLSPolicy', INFRA, policy) as KubeObject<unknown, { ancestors?: Ancestor[] }> | undefined;
    if (!o) return `${what} not found`;
    const ancestors = o.status?.ancestors ?? [];
    if (ancestors.length === 0) return `${what} has no ancestors in status`;
    for (const a of ancestors) {
      const stale = (a.conditions ?? []).filter((c) => c.observedGeneration !== o.metadata.generation);
      if (stale.length > 0) return `${what} ancestor ${a.ancestorRef?.name ?? '?'}: ${stale.map((c) => `${c.type} at observedGeneration ${c.observedGeneration ?? 'absent'}`).join(', ')}, want ${o.metadata.generation}`;
    }
    const ancestor = ancestors.find((a) => a.ancestorRef?.name === gateway.name && (a.ancestorRef.namespace === undefined || a.ancestorRef.namespace === gateway.namespace));
    if (!ancestor) return `${what} has no ancestor for Gateway ${gateway.namespace}/${gateway.name}`;
    const found = (ancestor.conditions ?? []).find((c) => c.type === condition.type);
    const holds = found && (!condition.status || found.status === condition.status) && (!condition.reason || found.reason === condition.reason);
    return holds ? undefined : `${what}: ${found ? `${found.type}=${found.status} reason ${found.reason}` : `no ${condition.type} condition`}, want ${describeCondition(condition)}`;
  });
}

/** The route Accepted and ResolvedRefs on its Gateway (upstream GatewayAndRoutesMustBeAccepted + HTTPRouteMustHaveResolvedRefsConditionsTrue). */
async function routeReady(ctx: ProcedureContext, route: string, gateway: ObjectRef, routeKind = 'HTTPRoute'): Promise<string[]> {
  const ref = { namespace: INFRA, name: route };
  return failuresOf([
    await ctx.status({ clause: `${routeKind} ${route} Accepted`, route: ref, routeKind, parent: gateway, conditions: [{ type: 'Accepted', status: 'True' }] }),
    await ctx.status({ clause: `${routeKind} ${route} ResolvedRefs=True`, route: ref, routeKind, parent: gateway, conditions: [{ type: 'ResolvedRefs', status: 'True' }] }),
  ]);
}

const failuresOf = (results: Array<string | undefined>): string[] => results.filter((r): r is string => r !== undefined);

async function policyConditions(ctx: ProcedureContext, policy: string, gateway: ObjectRef, conditions: ExpectedCondition[]): Promise<string[]> {
  const failures: string[] = [];
  for (const c of conditions) {
    const failure = await policyCondition(ctx, policy, gateway, c);
    if (failure) failures.push(failure);
  }
  return failures;
}

/** The upstream CA ConfigMap's PEM, as the reconcile step copies it. */
function caCertificate(ctx: ProcedureContext, name: string): string | undefined {
  return (ctx.get('ConfigMap', INFRA, name) as (KubeObject & { data?: Record<string, string> }) | undefined)?.data?.['ca.crt'];
}

/** BackendTLSPolicy: re-encrypt from the HTTPS listener, HTTP to the TLS backend, hostname and CA mismatches, and the CA ConfigMap reconcile. */
async function backendTlsPolicy(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const reencrypt = [
    ...(await routeReady(ctx, 'backendtlspolicy-reencrypt', HTTPS_GATEWAY)),
    ...(await policyConditions(ctx, 'normative-test', HTTPS_GATEWAY, [ACCEPTED, RESOLVED_REFS])),
  ];
  if (reencrypt.length === 0) {
    const tls = { serverName: 'https-listener.org', gateway: HTTPS_GATEWAY.name, trustSecret: 'tls-validity-checks-certificate' };
    const failure = await ctx.traffic(expectOk('https-listener.org', '/backendtlspolicy', { namespace: INFRA, pathSeenByBackend: '/backendtlspolicy', backendServerName: 'abc.example.com' }, tls));
    if (failure) reencrypt.push(failure);
  }
  const routed = await routeReady(ctx, 'backendtlspolicy', SAME_NAMESPACE);
  if (routed.length) return [...reencrypt, ...routed];
  const failures = [...reencrypt];
  const valid = await policyConditions(ctx, 'normative-test', SAME_NAMESPACE, [ACCEPTED, RESOLVED_REFS]);
  failures.push(...valid);
  if (valid.length === 0) failures.push(...failuresOf([await ctx.traffic(expectOk('abc.example.com', '/backendtlspolicy', { namespace: INFRA, backendServerName: 'abc.example.com' }))]));
  const hostMismatch = await policyConditions(ctx, 'host-mismatch', SAME_NAMESPACE, [ACCEPTED, RESOLVED_REFS]);
  failures.push(...hostMismatch);
  if (hostMismatch.length === 0) failures.push(...failuresOf([await ctx.traffic(expectFailure('abc.example.org', '/backendtlspolicy-host-mismatch'))]));
  const certMismatch = await policyConditions(ctx, 'cert-mismatch', SAME_NAMESPACE, [ACCEPTED, RESOLVED_REFS]);
  failures.push(...certMismatch);
  if (certMismatch.length === 0) failures.push(...failuresOf([await ctx.traffic(expectFailure('abc.example.com', '/backendtlspolicy-cert-mismatch'))]));
  failures.push(...(await reconcileCaConfigMap(ctx)));
  return failures;
}

/**
 * Changing the content of a ConfigMap used as CA must be reconciled: the policy repointed to a
 * ConfigMap that does not exist yet is invalid, valid once it is created, invalid when its ca.crt
 * is emptied, valid again when it is restored.
 */
async function reconcileCaConfigMap(ctx: ProcedureContext): Promise<string[]> {
  const policy = 'reconcile-test';
  const initial = await policyConditions(ctx, policy, SAME_NAMESPACE, [ACCEPTED, RESOLVED_REFS]);
  if (initial.length) return initial;
  const original = caCertificate(ctx, 'tls-checks-ca-certificate');
  if (!original) return ['the setup made no ConfigMap tls-checks-ca-certificate with ca.crt'];
  const configMapName = 'tls-checks-ca-certificate-reconcile-test';
  ctx.patch('BackendTLSPolicy', INFRA, policy, (o) => {
    const spec = o.spec as { validation: { caCertificateRefs: unknown[] } };
    spec.validation.caCertificateRefs = [{ group: '', kind: 'ConfigMap', name: configMapName }];
  });
  const steps: Array<[string, () => void, ExpectedCondition[]]> = [
    ['after pointing the policy at a ConfigMap that does not exist', () => undefined, [NO_VALID_CA, INVALID_CA_REF]],
    ['after creating the ConfigMap', () => ctx.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: INFRA, name: configMapName }, data: { 'ca.crt': original } } as KubeObject), [ACCEPTED, RESOLVED_REFS]],
    ['after emptying its ca.crt', () => ctx.patch('ConfigMap', INFRA, configMapName, (o) => ((o as KubeObject & { data: Record<string, string> }).data['ca.crt'] = '')), [NO_VALID_CA, INVALID_CA_REF]],
    ['after restoring its ca.crt', () => ctx.patch('ConfigMap', INFRA, configMapName, (o) => ((o as KubeObject & { data: Record<string, string> }).data['ca.crt'] = original)), [ACCEPTED, RESOLVED_REFS]],
  ];
  for (const [when, change, conditions] of steps) {
    change();
    const failures = await policyConditions(ctx, policy, SAME_NAMESPACE, conditions);
    if (failures.length) return failures.map((f) => `${when}: ${f}`);
  }
  return [];
}

/** BackendTLSPolicyConflictResolution: of two policies with the same target the older (then by name) applies; sectionName beats none. */
async function backendTlsPolicyConflictResolution(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const routed = await routeReady(ctx, 'backendtlspolicy-conflict-resolution', SAME_NAMESPACE);
  if (routed.length) return routed;
  const accepted: ExpectedCondition = { type: 'Accepted', status: 'True', reason: 'Accepted' };
  const conflicted: ExpectedCondition = { type: 'Accepted', status: 'False', reason: 'Conflicted' };
  const statuses = [
    ...(await policyConditions(ctx, 'conflicted-without-section-name-1', SAME_NAMESPACE, [accepted])),
    ...(await policyConditions(ctx, 'conflicted-without-section-name-2', SAME_NAMESPACE, [conflicted])),
    ...(await policyConditions(ctx, 'conflicted-with-section-name-1', SAME_NAMESPACE, [accepted])),
    ...(await policyConditions(ctx, 'conflicted-with-section-name-2', SAME_NAMESPACE, [conflicted])),
    ...(await policyConditions(ctx, 'not-conflicted-with-section-name', SAME_NAMESPACE, [accepted])),
    ...(await policyConditions(ctx, 'not-conflicted-without-section-name', SAME_NAMESPACE, [accepted])),
  ];
  if (statuses.length) return statuses;
  const cases: Array<[string, string]> = [
    ['/backendtlspolicy-conflicted-without-section-name', 'other.example.com'],
    ['/backendtlspolicy-conflicted-with-section-name', 'other.example.com'],
    ['/backendtlspolicy-not-conflicted-with-section-name', 'other.example.com'],
    ['/backendtlspolicy-not-conflicted-without-section-name', 'abc.example.com'],
  ];
  const failures: string[] = [];
  for (const [path, serverName] of cases) failures.push(...failuresOf([await ctx.traffic(expectOk('abc.example.com', path, { namespace: INFRA, backendServerName: serverName }))]));
  return failures;
}

/** BackendTLSPolicyInvalidCACertificateRef: a missing or empty CA ConfigMap makes the policy invalid and the backend fail closed (5xx). */
async function backendTlsPolicyInvalidCaCertificateRef(ctx: ProcedureContext): Promise<string[]> {
  const routed = await routeReady(ctx, 'backendtlspolicy-invalid-ca-certificate-ref', SAME_NAMESPACE).then((f) => f.slice(0, 1));
  if (routed.length) return routed;
  const failures: string[] = [];
  for (const policy of ['nonexistent-ca-certificate-ref', 'malformed-ca-certificate-ref']) failures.push(...(await policyConditions(ctx, policy, SAME_NAMESPACE, [NO_VALID_CA, INVALID_CA_REF])));
  if (failures.length) return failures;
  for (const path of ['/backendtlspolicy-nonexistent-ca-certificate-ref', '/backendtlspolicy-malformed-ca-certificate-ref']) {
    failures.push(...failuresOf([await ctx.traffic(expectFailure('abc.example.com', path, [500, 502, 503]))]));
  }
  return failures;
}

/** BackendTLSPolicyInvalidKind: a caCertificateRef of an unsupported kind: ResolvedRefs=False InvalidKind, and 5xx. */
async function backendTlsPolicyInvalidKind(ctx: ProcedureContext): Promise<string[]> {
  const routed = await routeReady(ctx, 'backendtlspolicy-invalid-kind-test', SAME_NAMESPACE).then((f) => f.slice(0, 1));
  if (routed.length) return routed;
  const statuses = await policyConditions(ctx, 'invalid-kind', SAME_NAMESPACE, [NO_VALID_CA, { type: 'ResolvedRefs', status: 'False', reason: 'InvalidKind' }]);
  if (statuses.length) return statuses;
  return failuresOf([await ctx.traffic(expectFailure('abc.example.com', '/backendtlspolicy-invalid-kind', [500, 502, 503]))]);
}

/** BackendTLSPolicyObservedGenerationBump: after a patch of validation.hostname every ancestor condition follows the new generation. */
async function backendTlsPolicyObservedGenerationBump(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const policy = 'observed-generation-bump';
  const acceptedAnyReason: ExpectedCondition = { type: 'Accepted', status: 'True' };
  const first = await policyCondition(ctx, policy, SAME_NAMESPACE, acceptedAnyReason);
  if (first) return [first];
  const before = ctx.get('BackendTLSPolicy', INFRA, policy)?.metadata.generation;
  ctx.patch('BackendTLSPolicy', INFRA, policy, (o) => {
    (o.spec as { validation: { hostname: string } }).validation.hostname = 'foo.example.com';
  });
  const bumped = await ctx.eventually(`BackendTLSPolicy ${policy} at a new generation`, 30_000, () => (ctx.get('BackendTLSPolicy', INFRA, policy)?.metadata.generation === before ? `metadata.generation still ${before}` : undefined));
  if (bumped) return [bumped];
  // policyCondition requires every ancestor condition at the new generation.
  return failuresOf([await policyCondition(ctx, policy, SAME_NAMESPACE, acceptedAnyReason)]);
}

/** BackendTLSPolicySANValidation: subjectAltNames (Hostname, URI, several) decide whether the backend's certificate is accepted. */
async function backendTlsPolicySanValidation(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const routed = await routeReady(ctx, 'backendtlspolicy-san-test', SAME_NAMESPACE);
  if (routed.length) return routed;
  const failures: string[] = [];
  for (const policy of ['san-dns', 'san-dns-mismatch', 'san-uri', 'san-uri-mismatch', 'multiple-sans', 'multiple-mismatch-sans']) {
    failures.push(...(await policyConditions(ctx, policy, SAME_NAMESPACE, [ACCEPTED])));
  }
  if (failures.length) return failures;
  const host = 'abc.example.com';
  const checks = [
    expectOk(host, '/backendtlspolicy-san-dns', { namespace: INFRA, backendServerName: 'abc.example.com' }),
    expectFailure(host, '/backendtlspolicy-san-dns-mismatch'),
    expectOk(host, '/backendtlspolicy-san-uri', { namespace: INFRA, backendServerName: 'abc.example.com' }),
    expectFailure(host, '/backendtlspolicy-san-uri-mismatch'),
    expectOk(host, '/backendtlspolicy-multiple-sans', { namespace: INFRA, backendServerName: 'abc.example.com' }),
    expectFailure(host, '/backendtlspolicy-multiple-mismatch-sans'),
  ];
  for (const check of checks) failures.push(...failuresOf([await ctx.traffic(check)]));
  return failures;
}

/**
 * BackendTLSPolicyGRPCRoute: gRPC re-encrypted to the gRPC echo's TLS port (h2 with ALPN); a policy
 * hostname or CA the backend's certificate does not match makes calls fail (any code but OK).
 */
async function backendTlsPolicyGrpcRoute(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const routed = [...(await routeReady(ctx, 'backendtlspolicy-grpcroute', SAME_NAMESPACE, 'GRPCRoute')), ...(await routeReady(ctx, 'backendtlspolicy-grpcroute-cert-mismatch', SAME_NAMESPACE, 'GRPCRoute'))];
  if (routed.length) return routed;
  const failures: string[] = [];
  for (const policy of ['grpc-normative-test', 'grpc-host-mismatch', 'grpc-cert-mismatch']) failures.push(...(await policyConditions(ctx, policy, SAME_NAMESPACE, [ACCEPTED, RESOLVED_REFS])));
  if (failures.length) return failures;
  const ok = await ctx.converge('gRPC Echo with :authority abc.example.com', async (target, timeoutMs) => {
    const result = await grpcEchoCall(target, 'Echo', { authority: 'abc.example.com', timeoutMs });
    if (result.code !== 'OK') return `status ${result.code}${result.details ? ` (${result.details})` : ''}, want OK`;
    const context = result.response?.assertions?.context;
    if (context?.namespace !== INFRA) return `namespace ${JSON.stringify(context?.namespace ?? '')}, want ${JSON.stringify(INFRA)}`;
    return (context.pod ?? '').startsWith('grpc-infra-backend-v1') ? undefined : `answered by pod ${JSON.stringify(context.pod)}, want grpc-infra-backend-v1-…`;
  });
  // Upstream MakeRequestAndExpectEventuallyConsistentFailure: any code but OK, 3 times in a row.
  const notOk = (method: 'Echo' | 'EchoTwo', authority: string) =>
    ctx.converge(`gRPC ${method} with :authority ${authority} (must fail)`, async (target, timeoutMs) => {
      const result = await grpcEchoCall(target, method, { authority, timeoutMs });
      return result.code === 'OK' ? 'status OK, want a failure' : undefined;
    });
  return failuresOf([ok, await notOk('EchoTwo', 'abc.example.com'), await notOk('Echo', 'cert-mismatch.example.com')]);
}

/** GatewayTLSBackendClientCertificate: the Gateway presents its spec.tls.backend certificate to a backend that asks for one. */
async function gatewayTlsBackendClientCertificate(ctx: ProcedureContext): Promise<string[]> {
  const ready = await ctx.podsReady([INFRA]);
  if (ready) return [ready];
  const gateway = { namespace: INFRA, name: 'gateway-tls-backend-client-certificate' };
  const statuses = [
    ...(await routeReady(ctx, 'gateway-tls-backend-client-certificate', gateway)),
    ...(await policyConditions(ctx, 'gateway-tls-backend-client-certificate-test', gateway, [ACCEPTED])),
    ...failuresOf([await ctx.status({ clause: 'Gateway ResolvedRefs=True reason ResolvedRefs', gateway, conditions: [{ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' }] })]),
  ];
  if (statuses.length) return statuses;
  const client = Buffer.from(((ctx.get('Secret', INFRA, 'tls-checks-client-certificate') as (KubeObject & { data?: Record<string, string> }) | undefined)?.data ?? {})['tls.crt'] ?? '', 'base64').toString('utf8');
  if (!client) return ['the setup made no Secret tls-checks-client-certificate'];
  return failuresOf([await ctx.traffic(expectOk('abc.example.com', '/', { namespace: INFRA, backendServerName: 'abc.example.com', backendPeerCertificates: [client] }))]);
}

/** GatewayInvalidTLSBackendConfiguration: an unusable spec.tls.backend.clientCertificateRef sets ResolvedRefs=False, the Gateway stays Accepted. */
async function gatewayInvalidTlsBackendConfiguration(ctx: ProcedureContext): Promise<string[]> {
  const cases: Array<[string, string]> = [
    ['gateway-client-certificate-nonexistent-secret', 'InvalidClientCertificateRef'],
    ['gateway-client-certificate-unsupported-group', 'InvalidClientCertificateRef'],
    ['gateway-client-certificate-unsupported-kind', 'InvalidClientCertificateRef'],
    ['gateway-client-certificate-malformed-secret', 'InvalidClientCertificateRef'],
    ['gateway-client-certificate-missing-reference-grant', 'RefNotPermitted'],
  ];
  const failures: string[] = [];
  for (const [name, reason] of cases) {
    const gateway = { namespace: INFRA, name };
    failures.push(
      ...failuresOf([
        await ctx.status({
          clause: `Gateway ${name} ResolvedRefs=False reason ${reason}, Accepted=True reason Accepted, conditions at the latest generation`,
          gateway,
          conditions: [
            { type: 'ResolvedRefs', status: 'False', reason },
            { type: 'Accepted', status: 'True', reason: 'Accepted' },
          ],
          allConditionsCurrent: true,
        }),
      ]),
    );
  }
  return failures;
}

export const BACKEND_TLS_POLICY_PROCEDURES: Record<string, RuntimeProcedure> = {
  BackendTLSPolicy: backendTlsPolicy,
  BackendTLSPolicyConflictResolution: backendTlsPolicyConflictResolution,
  BackendTLSPolicyInvalidCACertificateRef: backendTlsPolicyInvalidCaCertificateRef,
  BackendTLSPolicyInvalidKind: backendTlsPolicyInvalidKind,
  BackendTLSPolicyObservedGenerationBump: backendTlsPolicyObservedGenerationBump,
  BackendTLSPolicySANValidation: backendTlsPolicySanValidation,
  BackendTLSPolicyGRPCRoute: backendTlsPolicyGrpcRoute,
  GatewayTLSBackendClientCertificate: gatewayTlsBackendClientCertificate,
  GatewayInvalidTLSBackendConfiguration: gatewayInvalidTlsBackendConfiguration,
};
