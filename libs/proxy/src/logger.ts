/** The subset of pino's API the proxy logs through; pass a pino logger or anything shaped like it. */
export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const ignore = (): void => undefined;

export const silentLogger: ProxyLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
