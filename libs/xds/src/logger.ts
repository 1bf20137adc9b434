/** The subset of pino's logger the xDS code uses, so callers can pass pino or a test double. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

const ignore = (): void => undefined;

export const silentLogger: Logger = { info: ignore, warn: ignore, error: ignore, debug: ignore };
