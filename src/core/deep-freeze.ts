// Freezes a value and everything it holds: what one cache hands to every caller (a parsed coffre.yaml, a
// parsed example) cannot then be changed by one of them for the next.

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
