import { SUPPORTED_GATEWAY_UDP_TESTS } from '../src';
import { describeProfileTests } from './profile-suite';

/**
 * The upstream GATEWAY-UDP tests of their own that tendril passes (the profile's Gateway* tests are
 * GATEWAY-HTTP's, run in gateway-http.spec.ts): UDPRoute status written out from the Go sources, a
 * DNS query answered by the coredns pod (the Corefile-driven test DNS server), the UDP echo through
 * each listener, the older of two routes serving, weighted sessions in upstream's band. One Jest
 * test per upstream test, with the upstream name.
 */
describeProfileTests('GATEWAY-UDP', SUPPORTED_GATEWAY_UDP_TESTS);
