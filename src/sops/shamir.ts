// Shamir secret sharing as sops uses it for several key groups (HashiCorp Vault's scheme): GF(2^8) with
// the polynomial x^8+x^4+x^3+x+1, each part the share bytes followed by its 1-based x coordinate.

function gfMultiply(a: number, b: number): number {
  let product = 0;
  let x = a;
  let y = b;
  while (y > 0) {
    if (y & 1) product ^= x;
    x = x & 0x80 ? ((x << 1) ^ 0x11b) & 0xff : (x << 1) & 0xff;
    y >>= 1;
  }
  return product;
}

function gfInverse(a: number): number {
  // a^254 = a^-1 in GF(2^8).
  let result = 1;
  let base = a;
  let exponent = 254;
  while (exponent > 0) {
    if (exponent & 1) result = gfMultiply(result, base);
    base = gfMultiply(base, base);
    exponent >>= 1;
  }
  return result;
}

/** Recombines parts (each `len(secret)+1` bytes, x coordinate last) by Lagrange interpolation at 0. */
export function combineShamirParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length < 2) throw new Error('at least two parts are needed to combine');
  const length = (parts[0] as Uint8Array).length;
  if (length < 2 || parts.some((p) => p.length !== length)) throw new Error('parts must all have the same length');
  const xs = parts.map((p) => p[length - 1] as number);
  if (new Set(xs).size !== xs.length || xs.includes(0)) throw new Error('duplicate or zero part coordinates');
  const secret = new Uint8Array(length - 1);
  for (let i = 0; i < length - 1; i++) {
    let value = 0;
    for (let j = 0; j < parts.length; j++) {
      let basis = 1;
      for (let m = 0; m < parts.length; m++) {
        if (m === j) continue;
        basis = gfMultiply(basis, gfMultiply(xs[m] as number, gfInverse((xs[m] as number) ^ (xs[j] as number))));
      }
      value ^= gfMultiply((parts[j] as Uint8Array)[i] as number, basis);
    }
    secret[i] = value;
  }
  return secret;
}

/** Splits a secret into `count` parts of which any `threshold` recombine it (tests and a future writer). */
export function splitShamirSecret(secret: Uint8Array, count: number, threshold: number, random: (n: number) => Uint8Array): Uint8Array[] {
  if (threshold < 2 || threshold > count || count > 255) throw new Error('invalid Shamir parameters');
  const parts = Array.from({ length: count }, (_, k) => {
    const part = new Uint8Array(secret.length + 1);
    part[secret.length] = k + 1;
    return part;
  });
  for (let i = 0; i < secret.length; i++) {
    const coefficients = [secret[i] as number, ...random(threshold - 1)];
    for (let k = 0; k < count; k++) {
      const x = k + 1;
      let y = 0;
      for (let c = coefficients.length - 1; c >= 0; c--) y = gfMultiply(y, x) ^ (coefficients[c] as number);
      (parts[k] as Uint8Array)[i] = y;
    }
  }
  return parts;
}
