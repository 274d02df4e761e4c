/**
 * Input fields shared by many tools, defined once so their descriptions are written (and paid for in
 * tokens) once. IDs are checked against Neon's pattern with a refinement rather than a JSON Schema
 * `pattern`, which would cost tokens in every tool that has the field.
 */
import * as z from 'zod';

const NEON_ID = /^[a-z0-9-]{1,60}$/;

/** A Neon resource ID (`project_id`, `branch_id`, …): lowercase letters, digits and dashes. */
export function neonId(what: string) {
  return z
    .string()
    .refine((v) => NEON_ID.test(v), {
      message: `must be a Neon ${what} ID (lowercase letters, digits, dashes; at most 60)`,
    })
    .describe(`${what} ID`);
}

/** A Postgres identifier (database or role name): what Postgres accepts, at most 63 bytes. */
export function pgName(what: string) {
  return z
    .string()
    .min(1)
    .refine((v) => Buffer.byteLength(v) <= 63 && !v.includes('\0'), {
      message: `must be a Postgres ${what} name (1 to 63 bytes, no NUL)`,
    })
    .describe(`${what} name`);
}

export const projectId = neonId('project');
export const branchId = neonId('branch');
export const endpointId = neonId('endpoint');
export const operationId = neonId('operation');
export const orgId = neonId('org');
export const databaseName = pgName('database');
export const roleName = pgName('role');

/** Page size for list tools. Neon allows up to 400 on most lists. */
export const limit = (max = 400) =>
  z
    .number()
    .int()
    .refine((n) => n >= 1 && n <= max, { message: `must be from 1 to ${max}` })
    .optional()
    // Equal to the name, so not advertised; the bound is in the validation message.
    .describe('limit');
/**
 * A string with an upper bound that guards against abuse rather than describing the API; enforced,
 * but not advertised in the JSON Schema, where it would cost tokens in every tool.
 */
export function text(max: number) {
  return z.string().refine((v) => v.length <= max, { message: `must be at most ${max} characters` });
}

/** A string of 1 to `max` characters; the bounds are enforced, not advertised (they cost tokens). */
export const str = (max: number) =>
  z.string().refine((v) => v.length >= 1 && v.length <= max, { message: `must be 1 to ${max} characters` });
/** An integer from `min` to `max`, enforced but not advertised. */
export const int = (min: number, max: number) =>
  z
    .number()
    .int()
    .refine((v) => v >= min && v <= max, { message: `must be from ${min} to ${max}` });

// Descriptions equal to the field name are not advertised: `next_cursor` in list results says it all.
export const cursor = text(2000).optional().describe('cursor');
export const search = text(256).optional().describe('search');

/** An ISO 8601 timestamp, e.g. for point-in-time restore. */
export const timestamp = (what: string) =>
  z.iso.datetime({ offset: true }).describe(`${what} (ISO 8601, e.g. 2026-01-31T12:00:00Z)`);
