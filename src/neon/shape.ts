/** Checking arguments whose schema is enforced but not advertised (advertising it would cost tokens). */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';

/**
 * Checks an argument whose schema is not advertised (to save tokens) but still enforced; a refusal
 * names what is wrong and lists the accepted fields, so the model can correct the call.
 */
export function checkShape<T>(schema: z.ZodType<T>, value: unknown, label: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${[label, ...i.path].join('.')}: ${i.message}`);
  const fields = fieldsOf(schema);
  throw new InvalidArgumentError(
    `Invalid ${label}: ${issues.join('; ')}.${fields ? ` Accepted fields: ${fields}.` : ''}`,
  );
}

/** The fields of an object schema (of an array's items; of each union member), `?` when optional. */
function fieldsOf(schema: z.ZodType): string {
  if (schema instanceof z.ZodArray) return fieldsOf(schema.element as z.ZodType);
  if (schema instanceof z.ZodUnion) {
    return (schema.options as z.ZodType[])
      .map(fieldsOf)
      .filter(Boolean)
      .map((f) => `{${f}}`)
      .join(' or ');
  }
  if (!(schema instanceof z.ZodObject)) return '';
  return Object.entries(schema.shape as Record<string, z.ZodType>)
    .map(([key, field]) => {
      const optional = field.safeParse(undefined).success;
      const inner = field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType) : field;
      const values = valuesOf(inner instanceof z.ZodArray ? (inner.element as z.ZodType) : inner);
      return `${key}${optional ? '?' : ''}${values && ` (${inner instanceof z.ZodArray ? `[${values}]` : values})`}`;
    })
    .join(', ');
}

/** The accepted values of an enum or literal, `a|b`; empty for other types. */
function valuesOf(schema: z.ZodType): string {
  if (schema instanceof z.ZodEnum) return schema.options.join('|');
  if (schema instanceof z.ZodLiteral) return [...schema.values].join('|');
  return '';
}
