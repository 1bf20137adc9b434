import { cond, type ConditionDraft } from './conditions';
import { applyBackendClientCertificate } from './backend-client-certificate';
import { applyFrontendValidation, frontendValidationConditions, type ClientCertificateValidation } from './frontend-validation';
import { GATEWAY_API_GROUP, type Gateway, type GatewayClass, type LabelSelector, type Listener, type SecretObjectReference } from './kube-types';
import { mergeListenerSets, type ListenerSetState } from './listener-sets';
import type { IrListener } from './ir';
import { isReferenceAllowed } from './reference-grants';
import { compareStrings, nameOf, namespaceOf, type ResourceIndex } from './resource-index';

/** Route kinds an HTTP-family listener can carry. */
const HTTP_ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'] as const;
/** Route kinds a TLS listener (Passthrough or Terminate mode) can carry. */
const TLS_PASSTHROUGH_ROUTE_KINDS = ['TLSRoute'] as const;
/** Route kinds a TCP listener can carry. */
const TCP_ROUTE_KINDS = ['TCPRoute'] as const;
/** Route kinds a UDP listener can carry. */
const UDP_ROUTE_KINDS = ['UDPRoute'] as const;
export type SupportedRouteKind =
  | (typeof HTTP_ROUTE_KINDS)[number]
  | (typeof TLS_PASSTHROUGH_ROUTE_KINDS)[number]
  | (typeof TCP_ROUTE_KINDS)[number]
  | (typeof UDP_ROUTE_KINDS)[number];

/** Protocols whose routes the proxy serves today (HTTPS: TLS terminated with the listener's certificates; TLS: passthrough by SNI; TCP: proxied as is; UDP: datagrams relayed per client session). */
const SERVED_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP']);
/** Protocols that carry HTTP routes. */
const HTTP_FAMILY_PROTOCOLS = new Set(['HTTP', 'HTTPS']);

/** A certificate and its private key, PEM-encoded, read from a kubernetes.io/tls Secret. */
export interface ListenerCertificate {
  /** `<namespace>/<name>` of the Secret; also the name of the Envoy SDS Secret. */
  secretName: string;
  certificateChain: string;
  privateKey: string;
}

export interface GatewayClassState {
  gatewayClass: GatewayClass;
  accepted: boolean;
  conditions: ConditionDraft[];
}

export interface ListenerState {
  gateway: GatewayState;
  spec: Listener;
  name: string;
  port: number;
  protocol: string;
  /** Lower-cased; undefined means any host. */
  hostname?: string;
  supportedKinds: SupportedRouteKind[];
  allowedNamespaces: { from: 'Same' | 'All' | 'Selector' | 'None'; selector?: LabelSelector };
  /** Routes may attach (and are counted in attachedRoutes). */
  attachable: boolean;
  /** Routes attached to this listener are served by the proxy. */
  programmed: boolean;
  attachedRoutes: number;
  conditions: ConditionDraft[];
  /** HTTPS listeners: the certificates TLS is terminated with, in certificateRefs order. */
  certificates?: ListenerCertificate[];
  /** The ListenerSet that brings this listener to its Gateway; absent for the Gateway's own listeners. */
  listenerSet?: { namespace: string; name: string };
  /** HTTPS listeners: how client certificates are checked (Gateway spec.tls.frontend); none asked for when absent. */
  clientValidation?: ClientCertificateValidation;
}

/** The part of an IR listener that names its Gateway socket: every kind of route's listener starts with it. */
export function gatewaySocket(name: string, gateway: GatewayState, port: number): Pick<IrListener, 'name' | 'gateway' | 'address' | 'port'> {
  return { name, gateway: { namespace: gateway.namespace, name: gateway.name }, address: gateway.address ?? '', port };
}

export interface GatewayState {
  gateway: Gateway;
  namespace: string;
  name: string;
  /** The IP address the Gateway's listeners bind to, when one could be assigned. */
  address?: string;
  listeners: ListenerState[];
  conditions: ConditionDraft[];
  /**
   * The ListenerSets that name this Gateway as their parent (listener-sets.ts), in precedence order;
   * absent when the Gateway neither allows ListenerSets nor is named by one.
   */
  listenerSets?: ListenerSetState[];
  /** Presented to TLS backends that ask for a client certificate (spec.tls.backend.clientCertificateRef). */
  backendClientCertificate?: ListenerCertificate;
}

/** The Gateway's own listeners, then those its accepted ListenerSets bring: every listener it serves. */
export function listenersOf(gateway: GatewayState): ListenerState[] {
  return gateway.listenerSets?.length ? [...gateway.listeners, ...gateway.listenerSets.flatMap((s) => s.listeners)] : gateway.listeners;
}

/** Who refers to a listener's certificates, for ReferenceGrants: a Gateway, or a ListenerSet for its listeners. */
export interface CertificateReferrer {
  kind: 'Gateway' | 'ListenerSet';
  namespace: string;
}

export interface GatewayAddressOptions {
  defaultAddress?: string;
  gatewayAddresses?: Record<string, string>;
  /**
   * Whether an address in a Gateway's spec.addresses can be used on this node (the agent checks its
   * network interfaces). Absent: every address is usable.
   */
  usableAddress?: (address: string) => boolean;
}

/** GatewayClasses whose controllerName is ours, with their acceptance. Other classes are not ours to judge. */
export function evaluateGatewayClasses(index: ResourceIndex, controllerName: string): GatewayClassState[] {
  return index.gatewayClasses
    .filter((gc) => gc.spec?.controllerName === controllerName)
    .map((gatewayClass) => {
      const ref = gatewayClass.spec?.parametersRef;
      if (ref) {
        return {
          gatewayClass,
          accepted: false,
          conditions: [
            cond('Accepted', false, 'InvalidParameters', `parametersRef ${ref.group ?? ''}/${ref.kind ?? ''} ${ref.name ?? ''} is not supported by this controller`),
          ],
        };
      }
      return { gatewayClass, accepted: true, conditions: [cond('Accepted', true, 'Accepted', 'GatewayClass is accepted')] };
    });
}

/** Gateways of our accepted classes with gateway- and listener-level acceptance (route attachment comes later). */
export function evaluateGateways(
  index: ResourceIndex,
  classes: readonly GatewayClassState[],
  options: GatewayAddressOptions,
): GatewayState[] {
  const accepted = new Set(classes.filter((c) => c.accepted).map((c) => nameOf(c.gatewayClass)));
  const states = index.gateways
    .filter((gw) => accepted.has(gw.spec?.gatewayClassName ?? ''))
    .map((gateway) => evaluateGateway(index, gateway, options));
  mergeListenerSets(index, states);
  resolveSocketCollisions(states);
  return states;
}

/**
 * Two Gateways cannot bind the same address and port: the oldest Gateway (then namespace/name) keeps
 * the socket and the other's listeners on that port are reported as not programmed. Callers avoid
 * this by giving each Gateway its own address (spec.addresses or options.gatewayAddresses).
 */
function resolveSocketCollisions(states: readonly GatewayState[]): void {
  const byAge = [...states].sort(
    (a, b) =>
      compareStrings(a.gateway.metadata?.creationTimestamp ?? '', b.gateway.metadata?.creationTimestamp ?? '') ||
      compareStrings(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
  );
  const owners = new Map<string, GatewayState>();
  for (const state of byAge) {
    for (const listener of listenersOf(state)) {
      if (!listener.programmed || !state.address) continue;
      // A UDP socket and a TCP socket on the same port do not collide.
      const socket = `${state.address}:${listener.port}${listener.protocol === 'UDP' ? '/udp' : ''}`;
      const owner = owners.get(socket);
      if (!owner) {
        owners.set(socket, state);
      } else if (owner !== state) {
        listener.programmed = false;
        listener.conditions[1] = cond(
          'Programmed',
          false,
          'Invalid',
          `${socket} is already bound by Gateway ${owner.namespace}/${owner.name}; give this Gateway its own address`,
        );
      }
    }
  }
}

/** A Gateway's conditions and its listeners' (ListenerSets' listeners are evaluated with it, as `referrer` ListenerSet). */
export function evaluateGateway(index: ResourceIndex, gateway: Gateway, options: GatewayAddressOptions, referrer?: CertificateReferrer): GatewayState {
  const state: GatewayState = { gateway, namespace: namespaceOf(gateway), name: nameOf(gateway), listeners: [], conditions: [] };
  const specListeners = gateway.spec?.listeners ?? [];
  // Keyed by port and IP protocol: a UDP listener shares a port number with TCP-based ones without conflict.
  const protocolsByPort = new Map<string, Set<string>>();
  for (const l of specListeners) {
    const p = (l.protocol ?? '').toUpperCase();
    if (!isKnownProtocol(p)) continue;
    const socket = socketKeyOf(l.port ?? 0, p);
    protocolsByPort.set(socket, (protocolsByPort.get(socket) ?? new Set()).add(transportOf(p)));
  }
  const hostnameCount = new Map<string, number>();
  for (const l of specListeners) {
    const k = `${l.port}/${(l.protocol ?? '').toUpperCase()}/${l.hostname?.toLowerCase() ?? ''}`;
    hostnameCount.set(k, (hostnameCount.get(k) ?? 0) + 1);
  }

  const address = resolveAddress(gateway, options);
  const assigned = address.kind === 'assigned' ? address.value : undefined;

  for (const spec of specListeners) {
    const protocol = (spec.protocol ?? '').toUpperCase();
    const port = spec.port ?? 0;
    const listener: ListenerState = {
      gateway: state,
      spec,
      name: spec.name ?? '',
      port,
      protocol,
      hostname: spec.hostname ? spec.hostname.toLowerCase() : undefined,
      supportedKinds: [],
      allowedNamespaces: {
        from: (spec.allowedRoutes?.namespaces?.from as ListenerState['allowedNamespaces']['from']) ?? 'Same',
        selector: spec.allowedRoutes?.namespaces?.selector,
      },
      attachable: false,
      programmed: false,
      attachedRoutes: 0,
      conditions: [],
    };

    // Conflicts: one port can carry one transport, and one hostname per protocol.
    let conflict: string | undefined;
    if (isKnownProtocol(protocol) && (protocolsByPort.get(socketKeyOf(port, protocol))?.size ?? 0) > 1) conflict = 'ProtocolConflict';
    else if ((hostnameCount.get(`${port}/${protocol}/${listener.hostname ?? ''}`) ?? 0) > 1) conflict = 'HostnameConflict';

    // Supported kinds and invalid kinds.
    const invalidKinds: string[] = [];
    // TLS listeners carry TLSRoutes in either mode: Passthrough relays the TLS session, Terminate (the default) its plaintext.
    const routeKinds: readonly SupportedRouteKind[] = HTTP_FAMILY_PROTOCOLS.has(protocol)
      ? HTTP_ROUTE_KINDS
      : protocol === 'TLS'
        ? TLS_PASSTHROUGH_ROUTE_KINDS
        : protocol === 'TCP'
          ? TCP_ROUTE_KINDS
          : protocol === 'UDP'
            ? UDP_ROUTE_KINDS
            : [];
    if (routeKinds.length > 0) {
      const requested = spec.allowedRoutes?.kinds;
      if (requested && requested.length > 0) {
        for (const k of requested) {
          const kind = k.kind ?? '';
          if ((k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && (routeKinds as readonly string[]).includes(kind)) {
            if (!listener.supportedKinds.includes(kind as SupportedRouteKind)) listener.supportedKinds.push(kind as SupportedRouteKind);
          } else {
            invalidKinds.push(`${k.group ?? GATEWAY_API_GROUP}/${kind}`);
          }
        }
      } else {
        listener.supportedKinds = [...routeKinds];
      }
    }

    const refs = protocol === 'HTTPS' || protocol === 'TLS' ? resolveCertificateRefs(index, referrer ?? { kind: 'Gateway', namespace: state.namespace }, spec) : undefined;
    const refProblem = refs && 'problem' in refs ? refs.problem : undefined;
    if ((protocol === 'HTTPS' || (protocol === 'TLS' && spec.tls?.mode !== 'Passthrough')) && refs && 'certificates' in refs) listener.certificates = refs.certificates;

    let accepted: ConditionDraft;
    if (conflict) accepted = cond('Accepted', false, conflict, conflictMessage(conflict, port));
    else if (protocol === 'HTTPS' && spec.tls?.mode === 'Passthrough')
      accepted = cond('Accepted', false, 'UnsupportedProtocol', 'an HTTPS listener terminates TLS; tls.mode Passthrough needs protocol TLS');
    else if (!SERVED_PROTOCOLS.has(protocol))
      accepted = cond('Accepted', false, 'UnsupportedProtocol', `protocol ${JSON.stringify(spec.protocol ?? '')} is not supported by the Tendril proxy`);
    else accepted = cond('Accepted', true, 'Accepted', 'Listener is accepted');

    let resolvedRefs: ConditionDraft;
    if (refProblem) resolvedRefs = cond('ResolvedRefs', false, refProblem.reason, refProblem.message);
    else if (invalidKinds.length > 0)
      resolvedRefs = cond('ResolvedRefs', false, 'InvalidRouteKinds', `unsupported route kinds: ${invalidKinds.join(', ')}`);
    else resolvedRefs = cond('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved');

    listener.attachable = !conflict && listener.supportedKinds.length > 0;
    // Unknown route kinds next to known ones do not stop the listener from serving the known ones.
    const valid = accepted.status === 'True' && !refProblem && listener.supportedKinds.length > 0;
    listener.programmed = valid && assigned !== undefined;
    let programmed: ConditionDraft;
    if (listener.programmed) programmed = cond('Programmed', true, 'Programmed', 'Listener is programmed');
    else if (valid) programmed = cond('Programmed', false, 'Pending', 'Gateway has no address yet');
    else programmed = cond('Programmed', false, 'Invalid', 'Listener is not valid');
    listener.conditions = [
      accepted,
      programmed,
      resolvedRefs,
      conflict ? cond('Conflicted', true, conflict, conflictMessage(conflict, port)) : cond('Conflicted', false, 'NoConflicts', 'No conflicts'),
    ];
    state.listeners.push(listener);
  }

  applyFrontendValidation(index, state);

  // Envoy could serve both on one socket (a tls_inspector picks HCM or tcp_proxy chains by SNI); the
  // node proxy serves a socket either way, not both, so passthrough yields to HTTPS there.
  const httpsPorts = new Set(state.listeners.filter((l) => l.programmed && l.protocol === 'HTTPS').map((l) => l.port));
  for (const l of state.listeners) {
    if (l.programmed && l.protocol === 'TLS' && httpsPorts.has(l.port)) {
      l.programmed = false;
      l.conditions[1] = cond('Programmed', false, 'Invalid', `TLS passthrough cannot share port ${l.port} with HTTPS listeners yet`);
    }
  }

  // Gateway-level conditions.
  const infraRef = gateway.spec?.infrastructure?.parametersRef;
  const validListeners = state.listeners.filter((l) => l.conditions[0].status === 'True').length;
  let accepted: ConditionDraft;
  if (infraRef) {
    accepted = cond('Accepted', false, 'InvalidParameters', `infrastructure.parametersRef ${infraRef.group ?? ''}/${infraRef.kind ?? ''} ${infraRef.name ?? ''} is not supported`);
  } else if (address.kind === 'unsupported') {
    accepted = cond('Accepted', false, 'UnsupportedAddress', address.message);
  } else if (validListeners === 0) {
    accepted = cond('Accepted', false, 'ListenersNotValid', 'No listener is valid');
  } else if (validListeners < state.listeners.length) {
    accepted = cond('Accepted', true, 'ListenersNotValid', 'Some listeners are not valid');
  } else {
    accepted = cond('Accepted', true, 'Accepted', 'Gateway is accepted');
  }
  if (accepted.status === 'True') state.address = assigned;
  let programmed: ConditionDraft;
  if (accepted.status !== 'True') programmed = cond('Programmed', false, 'Invalid', 'Gateway is not accepted');
  else if (address.kind === 'unusable') programmed = cond('Programmed', false, 'AddressNotUsable', address.message);
  else if (!assigned) programmed = cond('Programmed', false, 'AddressNotAssigned', 'No address could be assigned to the Gateway');
  else programmed = cond('Programmed', true, 'Programmed', 'Gateway is programmed');
  state.conditions = [accepted, programmed, ...frontendValidationConditions(state)];
  applyBackendClientCertificate(index, state);
  // A Gateway rejected as a whole (parameters, addresses) takes no routes; one whose listeners are all
  // invalid still reports each listener's own attachment, as the spec's attachedRoutes semantics ask.
  if (accepted.status !== 'True' && accepted.reason !== 'ListenersNotValid') {
    for (const l of state.listeners) {
      l.attachable = false;
      l.programmed = false;
      l.conditions[1] = cond('Programmed', false, 'Invalid', 'Gateway is not accepted');
    }
  }
  return state;
}

type AddressResolution =
  | { kind: 'assigned'; value: string }
  | { kind: 'none' }
  | { kind: 'unsupported'; message: string }
  | { kind: 'unusable'; message: string };

function resolveAddress(gateway: Gateway, options: GatewayAddressOptions): AddressResolution {
  for (const a of gateway.spec?.addresses ?? []) {
    const type = a.type ?? 'IPAddress';
    if (type !== 'IPAddress') return { kind: 'unsupported', message: `address type ${JSON.stringify(type)} is not supported` };
  }
  // Every requested address must be usable: a Gateway serves all of them or none (GatewayStaticAddresses).
  const unusable = (gateway.spec?.addresses ?? []).filter((a) => a.value && options.usableAddress && !options.usableAddress(a.value)).map((a) => a.value);
  if (unusable.length > 0) return { kind: 'unusable', message: `address ${unusable.join(', ')} cannot be used on this node` };
  const fromSpec = (gateway.spec?.addresses ?? []).find((a) => a.value)?.value;
  const value = fromSpec ?? options.gatewayAddresses?.[`${namespaceOf(gateway)}/${nameOf(gateway)}`] ?? options.defaultAddress;
  return value ? { kind: 'assigned', value } : { kind: 'none' };
}

function isKnownProtocol(protocol: string): boolean {
  return ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP'].includes(protocol);
}

function socketKeyOf(port: number, protocol: string): string {
  return protocol === 'UDP' ? `${port}/udp` : `${port}/tcp`;
}

/** Listeners on one TCP port must share a transport: HTTP, HTTPS, TLS and TCP all claim it. */
function transportOf(protocol: string): string {
  return protocol === 'UDP' ? 'UDP' : protocol === 'HTTP' ? 'HTTP' : protocol === 'TCP' ? 'TCP' : 'TLS';
}

function conflictMessage(reason: string, port: number): string {
  return reason === 'ProtocolConflict'
    ? `another listener on port ${port} uses an incompatible protocol`
    : `another listener on port ${port} uses the same protocol and hostname`;
}

type CertificateRefsResolution = { certificates: ListenerCertificate[] } | { problem: { reason: string; message: string } };

/** A TLS listener's certificateRefs: the certificates they name, or the problem reported in ResolvedRefs. */
function resolveCertificateRefs(index: ResourceIndex, referrer: CertificateReferrer, listener: Listener): CertificateRefsResolution {
  if (listener.tls?.mode === 'Passthrough') return { certificates: [] };
  const refs = listener.tls?.certificateRefs ?? [];
  if (refs.length === 0) return { problem: { reason: 'InvalidCertificateRef', message: 'listener has no certificateRefs' } };
  const certificates: ListenerCertificate[] = [];
  for (const ref of refs) {
    const resolved = resolveCertificateRef(index, referrer, ref);
    if ('problem' in resolved) return resolved;
    certificates.push(resolved.certificate);
  }
  return { certificates };
}

export function resolveCertificateRef(
  index: ResourceIndex,
  referrer: CertificateReferrer,
  ref: SecretObjectReference,
): { certificate: ListenerCertificate } | { problem: { reason: string; message: string } } {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Secret';
  const namespace = ref.namespace ?? referrer.namespace;
  const name = ref.name ?? '';
  if (group !== '' || kind !== 'Secret') {
    return { problem: { reason: 'InvalidCertificateRef', message: `certificateRef ${group}/${kind} ${name} is not a core Secret` } };
  }
  if (
    !isReferenceAllowed(
      index,
      { group: GATEWAY_API_GROUP, kind: referrer.kind, namespace: referrer.namespace },
      { group: '', kind: 'Secret', namespace, name },
    )
  ) {
    return { problem: { reason: 'RefNotPermitted', message: `certificateRef to Secret ${namespace}/${name} is not permitted by any ReferenceGrant` } };
  }
  const secret = index.secret(namespace, name);
  if (!secret) return { problem: { reason: 'InvalidCertificateRef', message: `Secret ${namespace}/${name} does not exist` } };
  // stringData wins over data for the same key, as on read from the API server.
  const value = (k: string): string =>
    secret.stringData?.[k] ?? (secret.data?.[k] ? Buffer.from(secret.data[k], 'base64').toString('utf8') : '');
  const certificateChain = value('tls.crt');
  const privateKey = value('tls.key');
  if (!certificateChain.includes('-----BEGIN CERTIFICATE-----') || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    return { problem: { reason: 'InvalidCertificateRef', message: `Secret ${namespace}/${name} does not hold a PEM certificate and private key` } };
  }
  return { certificate: { secretName: `${namespace}/${name}`, certificateChain, privateKey } };
}
