/**
 * @tendril/api-envoy: Envoy xDS v3 resources for Tendril — generated TypeScript types for the
 * "Envoy JSON" form, the proto Root they come from, a JSON <-> protobuf codec, the discovery
 * message serializers for grpc-js, and protoc-gen-validate checks.
 */
export type { envoy, google, tendril, udpa, xds, EnvoyMessageTypes } from './generated/envoy-types';
export {
  ENVOY_ROOT_PROTO_FILES,
  envoyProtoIncludeDirs,
  envoyProtoRoot,
  envoyProtoRootLoadMillis,
  envoyProtoSourceVersion,
  loadEnvoyProtoRoot,
  lookupMessageType,
} from './proto-root';
export type { LoadEnvoyProtoRootOptions } from './proto-root';
export { TypeUrl, xdsResourceName } from './type-urls';
export type { EnvoyResourceTypes, ResourceTypeUrl } from './type-urls';
export {
  EnvoyCodecError,
  TYPE_URL_PREFIX,
  decodeMessage,
  encodeMessage,
  encodeMessageByElements,
  decodeMessageByElements,
  envoyJsonToProtoObject,
  packAny,
  protoObjectToEnvoyJson,
  typeNameOfUrl,
  typeUrlOf,
  unpackAny,
} from './codec';
export type { AnyBytes, AnyJson, ElementDecoder, ElementEncoder } from './codec';
export { durationToMilliseconds, formatDuration, formatTimestamp, parseDuration, parseTimestamp } from './time-json';
export type { SecondsAndNanos } from './time-json';
export { DISCOVERY_TO_OBJECT_OPTIONS, aggregatedDiscoveryServiceDefinition, discoveryCodecs } from './discovery';
export type {
  DiscoveryMessageCodec,
  RawAny,
  RawDeltaDiscoveryRequest,
  RawDeltaDiscoveryResponse,
  RawDiscoveryRequest,
  RawDiscoveryResponse,
  RawNode,
  RawResource,
  RawStatus,
  StreamingMethodDefinition,
} from './discovery';
export { validateMessage, validateResource } from './validate';
export type { ValidationError } from './validate';
export { assertValidEnvoyResources } from './golden-check';
export { typedAny } from './typed-any';
