import { ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, problems } from './problem';

// When a value has the wrong type, that is the one thing worth saying about it: "vcpus must
// not be greater than 512" for the string "2" would be wrong. Otherwise every rule it breaks.
const TYPE_CONSTRAINTS = ['whitelistValidation', 'isDefined', 'isInt', 'isNumber', 'isString', 'isBoolean', 'isObject', 'isArray', 'nestedValidation'];

function messagesOf(constraints: Record<string, string>): string[] {
  const typeErrors = TYPE_CONSTRAINTS.filter((k) => k in constraints).map((k) => constraints[k]!);
  return typeErrors.length > 0 ? typeErrors.slice(0, 1) : Object.values(constraints);
}

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = parent ? `${parent}.${e.property}` : e.property;
    for (const message of messagesOf(e.constraints ?? {})) {
      // class-validator says "property x should not exist" for unknown fields.
      out.push({ field, message: message.replace(/^property (\S+) should not exist$/, 'unknown field') });
    }
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

/** Unknown fields, wrong types and out-of-range values are 400s that name every field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    // All rules run; messagesOf picks what to say (the first to fail is not the best).
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => problems.validation(flatten(errors)),
  });
}
