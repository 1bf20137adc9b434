import { SUPPORTED_GATEWAY_GRPC_TESTS } from '../src';
import { describeProfileTests } from './profile-suite';

/**
 * The upstream GATEWAY-GRPC tests of their own (the profile's Gateway* tests are GATEWAY-HTTP's,
 * run in gateway-http.spec.ts): GrpcEcho calls over plaintext HTTP/2 through the Gateway to the
 * grpc-infra-backend pods (`tendril echo` with GRPC_ECHO_SERVER), compared as upstream's
 * conformance/utils/grpc compares them, under the upstream consistency rules. One Jest test per
 * upstream test, with the upstream name.
 */
describeProfileTests('GATEWAY-GRPC', SUPPORTED_GATEWAY_GRPC_TESTS);
