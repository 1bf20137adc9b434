import { SUPPORTED_GATEWAY_TCP_TESTS } from '../src';
import { describeProfileTests } from './profile-suite';

/**
 * The upstream GATEWAY-TCP tests of their own that tendril passes (the profile's Gateway* tests are
 * GATEWAY-HTTP's, run in gateway-http.spec.ts): TCPRoute status written out from the Go sources,
 * the plain TCP echo conversation through each listener, the older of two routes serving, weighted
 * distribution in upstream's bands. One Jest test per upstream test, with the upstream name.
 */
describeProfileTests('GATEWAY-TCP', SUPPORTED_GATEWAY_TCP_TESTS);
