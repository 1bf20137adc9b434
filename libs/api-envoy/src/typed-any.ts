import { typeUrlOf } from './codec';
import type { EnvoyMessageTypes, google } from './generated/envoy-types';

/**
 * Builds an Any (typed_config, typed_extension_protocol_options value, ...) whose fields are
 * type-checked against the named message: the generated Any type alone accepts any fields.
 *
 *   typed_config: typedAny('envoy.extensions.filters.http.router.v3.Router', {})
 */
export function typedAny<N extends keyof EnvoyMessageTypes>(typeName: N, fields: EnvoyMessageTypes[N]): google.protobuf.Any {
  return { '@type': typeUrlOf(typeName), ...fields };
}
