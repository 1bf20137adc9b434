import type * as protobuf from 'protobufjs';
import { envoyProtoRoot, lookupMessageType } from './proto-root';

/**
 * Serializers for the xDS discovery messages in their raw protobufjs form, for a grpc-js ADS
 * server or client. Resources stay packed (Any with bytes): packAny/unpackAny convert them.
 *
 * Decoding uses Type.toObject with these options:
 * - longs: Number   — 64-bit integers as JS numbers (the discovery messages have none that
 *                     exceed 2^53 in practice);
 * - enums: String   — enum values by name, as in Envoy JSON;
 * - defaults: false — absent fields stay absent (read repeated fields with `?? []`);
 * - bytes left as decoded — a Buffer when the input is a Buffer (as grpc-js hands it over),
 *                     so Any.value is a Buffer ready for unpackAny.
 * Field names are the proto's snake_case names. Embedded messages that are not Any keep the
 * protobufjs form (e.g. Node.metadata is a Struct `{ fields: { key: { stringValue } } }`);
 * protoObjectToEnvoyJson('envoy.config.core.v3.Node', request.node) gives the Envoy JSON form.
 */

export interface RawAny {
  type_url: string;
  value: Uint8Array;
}

/** google.rpc.Status as carried in error_detail (a NACK). */
export interface RawStatus {
  code?: number;
  message?: string;
  details?: RawAny[];
}

/** envoy.config.core.v3.Node in protobufjs object form. */
export interface RawNode {
  id?: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_version?: string;
  metadata?: { fields?: Record<string, unknown> };
  locality?: { region?: string; zone?: string; sub_zone?: string };
  [field: string]: unknown;
}

export interface RawDiscoveryRequest {
  version_info?: string;
  node?: RawNode;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: RawStatus;
}

export interface RawDiscoveryResponse {
  version_info?: string;
  resources?: RawAny[];
  canary?: boolean;
  type_url?: string;
  nonce?: string;
  control_plane?: { identifier?: string };
}

export interface RawDeltaDiscoveryRequest {
  node?: RawNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: RawStatus;
}

export interface RawResource {
  name?: string;
  aliases?: string[];
  version?: string;
  resource?: RawAny;
  ttl?: { seconds?: number; nanos?: number };
  cache_control?: { do_not_cache?: boolean };
}

export interface RawDeltaDiscoveryResponse {
  system_version_info?: string;
  resources?: RawResource[];
  type_url?: string;
  removed_resources?: string[];
  nonce?: string;
  control_plane?: { identifier?: string };
}

export interface DiscoveryMessageCodec<T> {
  /** The full proto name, e.g. envoy.service.discovery.v3.DiscoveryRequest. */
  readonly typeName: string;
  /** The protobufjs Type (loads the Envoy protos on first access). */
  readonly type: protobuf.Type;
  encode(message: T): Buffer;
  decode(bytes: Uint8Array): T;
}

export const DISCOVERY_TO_OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: false };

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function discoveryCodec<T>(typeName: string): DiscoveryMessageCodec<T> {
  let type: protobuf.Type | undefined;
  const resolve = (): protobuf.Type => (type ??= lookupMessageType(typeName, envoyProtoRoot()));
  return {
    typeName,
    get type() {
      return resolve();
    },
    encode(message: T): Buffer {
      const t = resolve();
      return toBuffer(t.encode(t.fromObject(message as Record<string, unknown>)).finish());
    },
    decode(bytes: Uint8Array): T {
      const t = resolve();
      return t.toObject(t.decode(bytes), DISCOVERY_TO_OBJECT_OPTIONS) as T;
    },
  };
}

export const discoveryCodecs = {
  DiscoveryRequest: discoveryCodec<RawDiscoveryRequest>('envoy.service.discovery.v3.DiscoveryRequest'),
  DiscoveryResponse: discoveryCodec<RawDiscoveryResponse>('envoy.service.discovery.v3.DiscoveryResponse'),
  DeltaDiscoveryRequest: discoveryCodec<RawDeltaDiscoveryRequest>('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
  DeltaDiscoveryResponse: discoveryCodec<RawDeltaDiscoveryResponse>('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
};

/** One bidirectional-streaming method, in the shape grpc-js's ServiceDefinition expects. */
export interface StreamingMethodDefinition<Req, Res> {
  path: string;
  requestStream: true;
  responseStream: true;
  originalName: string;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

function streamingMethod<Req, Res>(
  method: string,
  request: DiscoveryMessageCodec<Req>,
  response: DiscoveryMessageCodec<Res>,
): StreamingMethodDefinition<Req, Res> {
  return {
    path: `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`,
    requestStream: true,
    responseStream: true,
    originalName: method.charAt(0).toLowerCase() + method.slice(1),
    requestSerialize: (value) => request.encode(value),
    requestDeserialize: (bytes) => request.decode(bytes),
    responseSerialize: (value) => response.encode(value),
    responseDeserialize: (bytes) => response.decode(bytes),
  };
}

/**
 * envoy.service.discovery.v3.AggregatedDiscoveryService as a grpc-js service definition:
 * pass it to server.addService(...) or makeGenericClientConstructor(...).
 */
export const aggregatedDiscoveryServiceDefinition = {
  StreamAggregatedResources: streamingMethod('StreamAggregatedResources', discoveryCodecs.DiscoveryRequest, discoveryCodecs.DiscoveryResponse),
  DeltaAggregatedResources: streamingMethod(
    'DeltaAggregatedResources',
    discoveryCodecs.DeltaDiscoveryRequest,
    discoveryCodecs.DeltaDiscoveryResponse,
  ),
};
