import { registerDecorator, ValidationOptions } from 'class-validator';

const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;

/** An object of string → string, e.g. labels: at most `max` entries, keys label-like, values ≤ 63. */
export function IsStringMap(max = 32, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isStringMap',
      target: target.constructor,
      propertyName: String(propertyName),
      options: {
        message: `must be an object of at most ${max} string values with keys of lowercase letters, digits, '.', '_', '/' or '-'`,
        ...options,
      },
      validator: {
        validate(value: unknown): boolean {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          const entries = Object.entries(value as Record<string, unknown>);
          return entries.length <= max && entries.every(([k, v]) => LABEL_KEY.test(k) && typeof v === 'string' && v.length <= 63);
        },
      },
    });
  };
}

/** distributions: { debian: ['12'], … } as drivers report them. */
export function IsVersionMap(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isVersionMap',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: 'must map distribution names to arrays of version strings', ...options },
      validator: {
        validate(value: unknown): boolean {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
          const entries = Object.entries(value as Record<string, unknown>);
          return (
            entries.length <= 64 &&
            entries.every(([k, v]) => /^[a-z0-9][a-z0-9.-]{0,62}$/.test(k) && Array.isArray(v) && v.length <= 64 && v.every((x) => typeof x === 'string' && x.length <= 32))
          );
        },
      },
    });
  };
}

/** Any JSON object, as long as its JSON stays under `maxBytes` (driver details and the like). */
export function IsSmallObject(maxBytes = 8192, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isSmallObject',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: `must be an object of at most ${maxBytes} bytes as JSON`, ...options },
      validator: {
        validate(value: unknown): boolean {
          return value !== null && typeof value === 'object' && !Array.isArray(value) && JSON.stringify(value).length <= maxBytes;
        },
      },
    });
  };
}
