/**
 * Freezes a value and everything inside it that is not frozen yet. A frozen object is taken to be
 * frozen all the way down (this is the only place that freezes), so a row that shares its payload
 * with the previous version of itself costs only its own fields.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const v of value) deepFreeze(v);
  } else {
    for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  }
  return value;
}
