import { LATEST_VERSION, SUPPORTED_VERSIONS } from './config';

export interface CniInterface {
  name: string;
  mac: string;
  /** Netns path for interfaces inside the pod; absent for host-side interfaces. */
  sandbox?: string;
}

export interface CniIpConfig {
  /** Only in 0.3.x/0.4.0 results, where it is required ("4" or "6"). */
  version?: '4';
  address: string;
  gateway: string;
  interface: number;
}

export interface CniAddResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: { dst: string; gw?: string }[];
  dns: Record<string, never>;
}

export interface AddResultInput {
  cniVersion: string;
  hostInterface: { name: string; mac: string };
  podInterface: { name: string; mac: string; sandbox: string };
  /** Pod address in CIDR form, e.g. 10.250.0.2/32. */
  podAddress: string;
  gateway: string;
}

/**
 * The ADD result in the caller's cniVersion: host veth first (index 0), pod interface second
 * (index 1, which ips[].interface points at), and the default route the pod got.
 */
export function buildAddResult(input: AddResultInput): CniAddResult {
  const legacy = input.cniVersion.startsWith('0.');
  return {
    cniVersion: input.cniVersion,
    interfaces: [
      { name: input.hostInterface.name, mac: input.hostInterface.mac },
      { name: input.podInterface.name, mac: input.podInterface.mac, sandbox: input.podInterface.sandbox },
    ],
    ips: [
      {
        ...(legacy ? { version: '4' as const } : {}),
        address: input.podAddress,
        gateway: input.gateway,
        interface: 1,
      },
    ],
    routes: [{ dst: '0.0.0.0/0', gw: input.gateway }],
    dns: {},
  };
}

export function buildVersionResult(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
