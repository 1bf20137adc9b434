/** Range checks for values written into fixed-width map fields, so bad input is an error, not a wrap-around. */

export function checkUnsigned(value: number, bits: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new Error(`${name} must be an integer in 0..${2 ** bits - 1}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export const checkU32 = (value: number, name: string): number => checkUnsigned(value, 32, name);
