import { CniError, CNI_ERROR_CODES } from './errors';
import { parseSubnet, type Ipv4Subnet, parseIpv4, formatIpv4, subnetContains } from './ipv4';

export const PLUGIN_TYPE = 'tendril-cni';
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
/** Version used for answers that come before a config could be read (VERSION, early errors). */
export const LATEST_VERSION = '1.1.0';

export interface IpamConfig {
  subnet: Ipv4Subnet;
  /** Gateway address (dotted quad) the pod's default route points at. */
  gateway: string;
  /** Directory holding one file per allocated address. */
  dataDir: string;
}

export interface NetworkConfig {
  cniVersion: string;
  name: string;
  type: typeof PLUGIN_TYPE;
  ipam: IpamConfig;
}

function invalid(msg: string): CniError {
  return new CniError(CNI_ERROR_CODES.invalidNetworkConfig, msg);
}

function requireString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${where}${key} must be a non-empty string`);
  }
  return value;
}

/** Reads the network configuration the runtime writes on stdin; throws CniError with a spec code. */
export function parseNetworkConfig(stdin: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_ERROR_CODES.decodingFailure, 'network configuration on stdin is not valid JSON', String(err));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CniError(CNI_ERROR_CODES.decodingFailure, 'network configuration on stdin must be a JSON object');
  }
  const obj = raw as Record<string, unknown>;
  const cniVersion = requireString(obj, 'cniVersion', '');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniError(
      CNI_ERROR_CODES.incompatibleVersion,
      `incompatible CNI version ${cniVersion}`,
      `plugin supports ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  const name = requireString(obj, 'name', '');
  const type = requireString(obj, 'type', '');
  if (type !== PLUGIN_TYPE) throw invalid(`type must be "${PLUGIN_TYPE}", got "${type}"`);
  const ipamRaw = obj['ipam'];
  if (typeof ipamRaw !== 'object' || ipamRaw === null || Array.isArray(ipamRaw)) {
    throw invalid('ipam must be an object with subnet, gateway and dataDir');
  }
  const ipamObj = ipamRaw as Record<string, unknown>;
  const subnetText = requireString(ipamObj, 'subnet', 'ipam.');
  let subnet: Ipv4Subnet;
  try {
    subnet = parseSubnet(subnetText);
  } catch (err) {
    throw invalid(`ipam.subnet: ${(err as Error).message}`);
  }
  if (subnet.prefixLength > 30) throw invalid(`ipam.subnet ${subnetText} is too small for a gateway and pods`);
  const gatewayText = requireString(ipamObj, 'gateway', 'ipam.');
  let gateway: number;
  try {
    gateway = parseIpv4(gatewayText);
  } catch (err) {
    throw invalid(`ipam.gateway: ${(err as Error).message}`);
  }
  if (!subnetContains(subnet, gateway)) throw invalid(`ipam.gateway ${gatewayText} is not inside ${subnetText}`);
  const dataDir = requireString(ipamObj, 'dataDir', 'ipam.');
  if (!dataDir.startsWith('/')) throw invalid(`ipam.dataDir must be an absolute path, got "${dataDir}"`);
  return { cniVersion, name, type: PLUGIN_TYPE, ipam: { subnet, gateway: formatIpv4(gateway), dataDir } };
}
