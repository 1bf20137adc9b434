/**
 * CNI error reporting. The spec defines an error result ({cniVersion, code, msg, details}) printed on
 * stdout with a non-zero exit; codes 1-99 are reserved by the spec, 100+ are plugin-specific.
 */
export const CNI_ERROR_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  containerUnknown: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  /** Plugin-specific: the subnet has no free address left. */
  addressesExhausted: 100,
  /** Plugin-specific: an iproute2 command failed while wiring the pod. */
  datapathFailure: 101,
  /** Plugin-specific: CHECK found the pod's network not as ADD left it. */
  checkFailed: 102,
} as const;

export interface CniErrorResult {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'CniError';
  }

  toResult(cniVersion: string): CniErrorResult {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}
