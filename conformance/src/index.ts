export { runConformanceTests, ConformanceSession } from './runner';
export type { ConformanceOutcome, ConformanceRunOptions, ConformanceTestResult } from './runner';
export { DEFAULT_SUITE_DIR, Suite } from './suite';
export type { InventoryTest, SuiteSubstitutions } from './suite';
export { normaliseChecks } from './checks';
export type { DistributionCheck, HttpCheck, HttpExpectation, HttpRequestSpec, NormalisedCheck, RedirectExpectation, UnsupportedCheck } from './checks';
export { UPSTREAM_CONSISTENCY, UPSTREAM_WEIGHTED_TRAFFIC } from './traffic';
export type { ConsistencyRules, GatewayTarget } from './traffic';
export { SUPPORTED_GATEWAY_HTTP_TESTS } from './supported-tests';
