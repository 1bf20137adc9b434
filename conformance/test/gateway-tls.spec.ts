import { SUPPORTED_GATEWAY_TLS_TESTS } from '../src';
import { describeProfileTests } from './profile-suite';

/**
 * The upstream GATEWAY-TLS tests of their own that tendril passes (the profile's Gateway* tests are
 * GATEWAY-HTTP's, run in gateway-http.spec.ts): TLSRoute status written out from the Go sources,
 * and TLS dials with a route's hostname as SNI that the Gateway must reset or close. One Jest test
 * per upstream test, with the upstream name.
 */
describeProfileTests('GATEWAY-TLS', SUPPORTED_GATEWAY_TLS_TESTS);
