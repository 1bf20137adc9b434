/**
 * Gateway API durations (GEP-2257: one to four `<number><unit>` parts, units h, m, s, ms) converted
 * to Envoy's JSON Duration form ("1.500s").
 */

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds for a Gateway API duration, or undefined when the string is not one. */
export function parseGatewayDuration(text: string): number | undefined {
  if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(amount) * UNIT_MS[unit];
  return total;
}

export function envoyDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  const rest = milliseconds % 1000;
  return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, '0')}s`;
}
