import { SUPPORTED_GATEWAY_HTTP_TESTS } from '../src';
import { describeProfileTests } from './profile-suite';

/**
 * Upstream GATEWAY-HTTP conformance tests that tendril passes, run as the upstream suite runs them:
 * base manifests once (the echo Deployments as local pods), each test's manifests on top and
 * deleted after, its statusChecks asserted on the agent's store (each polled until it holds, within
 * the upstream status timeout), traffic through the node proxy under the upstream consistency rules
 * (3 successes in a row within 30 s). One Jest test per upstream test, with the upstream name.
 */
describeProfileTests('GATEWAY-HTTP', SUPPORTED_GATEWAY_HTTP_TESTS);
