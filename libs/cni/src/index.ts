export { CniError, CNI_ERROR_CODES, type CniErrorResult } from './errors';
export {
  parseNetworkConfig,
  PLUGIN_TYPE,
  SUPPORTED_VERSIONS,
  LATEST_VERSION,
  type NetworkConfig,
  type IpamConfig,
} from './config';
export { parseCniEnvironment, type CniInvocation, type CniCommand } from './env';
export { parseIpv4, formatIpv4, parseSubnet, formatSubnet, subnetContains, subnetSize, type Ipv4Subnet } from './ipv4';
export { FileIpam, assignableAddresses, type Allocation } from './ipam';
export { buildAddResult, buildVersionResult, type CniAddResult, type CniInterface, type CniIpConfig, type AddResultInput } from './result';
export { hostVethName, podVethTempName, MAX_IFNAME_LENGTH } from './naming';
export { runCni, cmdAdd, cmdDel, cmdCheck, type CniOutcome } from './plugin';
