/**
 * Input fields shared by many tools, defined once so their descriptions are written (and paid for in
 * tokens) once. IDs are checked against Neon's pattern with a refinement rather than a JSON Schema
 * `pattern`, which would cost tokens in every tool that has the field.
 */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import type { RefFields, RefKind } from '../neon/refs.js';

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

/*
 * References: fields that take a project or branch ID, or its name (resolved by src/neon/refs.ts before
 * the handler runs, for every tool, from this registry). Kept in a registry of its own so nothing of it
 * reaches the advertised JSON Schema.
 */
const references = z.registry<{ ref: RefKind }>();

/** Names are what Neon allows (1 to 256 characters); an ID is one such string too. */
const refString = (kind: 'project' | 'branch') =>
  z.string().refine((v) => v.length >= 1 && v.length <= 256 && !/\p{Cc}/u.test(v), {
    message: `must be a ${kind} ID or name (1 to 256 characters)`,
  });

/** A field taking a project ID or a project name (unique among the projects the key sees). */
export function projectRef(description: string) {
  const field = refString('project').describe(description);
  references.add(field, { ref: 'project' });
  return field;
}

/** A field taking a branch ID (`br-…`) or the name of a branch of the call's project. */
export function branchRef(description: string) {
  const field = refString('branch').describe(description);
  references.add(field, { ref: 'branch' });
  return field;
}

/**
 * The branch a tool acts on (its databases, roles, computes, Neon Auth, Data API, storage, functions),
 * as opposed to a branch that is itself the subject (get_branch, delete_branch, …, which take `branchId`)
 * and to tools that delete or revoke something on a branch (delete_database, delete_role, …: `branchId`
 * too, so a forgotten argument never destroys something on the default branch).
 * Optional by one rule for every such tool: when left out, src/neon/refs.ts puts the project's default
 * branch in before the handler runs, so a handler always receives a branch ID. The cast says so to the
 * type checker; the advertised schema (built from the runtime value) shows the field as optional.
 */
export function onBranchRef(description: string): z.ZodString {
  const field = refString('branch').describe(description).optional();
  references.add(field, { ref: 'default-branch' });
  return field as unknown as z.ZodString;
}

/** Which reference a field of an input shape takes, looking through `.optional()` and the like. */
function refOf(schema: z.ZodType): RefKind | undefined {
  let s: z.ZodType | undefined = schema;
  while (s) {
    const meta = references.get(s);
    if (meta) return meta.ref;
    s = (s._zod.def as { innerType?: z.ZodType }).innerType;
  }
  return undefined;
}

/** The reference fields of a tool's input shape, for the server to resolve before the handler runs. */
export function refFields(shape: z.ZodRawShape): RefFields {
  const out: Record<string, RefKind> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const kind = refOf(schema as z.ZodType);
    if (kind) out[key] = kind;
  }
  return out;
}

/*
 * "ID or name" is said once, in the server's instructions, not in each of the ~150 fields that take
 * one (it would cost about 1,000 tokens of every tools/list); these descriptions restate the field's
 * name, so they are not advertised.
 */
export const projectId = projectRef('project ID');
export const branchId = branchRef('branch ID');
/*
 * One rule for every optional branch argument (issue 9, item 5): left out, it is the project's default
 * branch. The rule is said once, in the server's instructions and the README, rather than in each of
 * the ~60 fields that follow it (about 400 tokens of every tools/list, over the 135-per-tool budget);
 * so these descriptions restate the field's name and are not advertised.
 */
/** The branch a tool acts on: optional, filled in with the default branch (see `onBranchRef`). */
export const onBranchId = onBranchRef('branch ID');
/** An optional branch (or parent): the project's default branch when left out. */
export const optionalBranchId = branchRef('branch ID').optional();
/** An optional branch that narrows a list or a scope: all branches when left out. */
export const filterBranchId = branchRef('Only this branch; default: all').optional();
export const operationId = neonId('operation').describe('From list_operations');
export const orgId = neonId('org').describe('From list_organizations');
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

/** An ISO 8601 / RFC 3339 date-time with seconds and an offset, as Neon's API takes them. */
const ISO_TIME = z.iso.datetime({ offset: true });
const isTimestamp = (v: string) => ISO_TIME.safeParse(v).success;
const TIMESTAMP_MESSAGE = 'must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z';

/**
 * A point in time. Checked by a refinement and advertised as `format: date-time` only
 * (`z.iso.datetime()` would also advertise a long pattern, which costs tokens in every tool).
 */
export const timestamp = (what: string) =>
  z.string().refine(isTimestamp, { message: TIMESTAMP_MESSAGE }).meta({ format: 'date-time' }).describe(what);

/** A point in time, or null to clear it; advertised as a plain nullable string (a format there costs an anyOf). */
export const nullableTimestamp = (what: string) =>
  z.string().refine(isTimestamp, { message: TIMESTAMP_MESSAGE }).nullable().describe(what);

/** A list of Neon IDs; items are checked but not described (a description per item costs tokens). */
export const neonIdList = (what: string, min: number, max: number) =>
  z
    .array(z.string().refine((v) => NEON_ID.test(v), { message: `must be a Neon ${what} ID` }))
    .refine((a) => a.length >= min && a.length <= max, {
      message: `must hold ${min === max ? max : `${min} to ${max}`} ${what} IDs`,
    });

/* ---------------------------------------------------------------- computes */

/**
 * `compute_id`: a compute's ID, as answers carry it (`compute.id`, `computes[].id`); Neon's API calls
 * computes endpoints (`endpoint_id`), the tools and their answers call them computes.
 */
export const computeId = neonId('compute');
/** A compute size in Compute Units; bounds enforced by validation, whose message names them. */
export const computeUnit = z
  .number()
  .refine((v) => v >= 0.25 && v <= 56, { message: 'must be 0.25 to 56 compute units' })
  .describe('CU');
export const minCu = computeUnit.optional().describe('Min CU');
export const maxCu = computeUnit.optional().describe('Max CU');
export const suspendTimeout = z
  .number()
  .int()
  .refine((v) => v >= -1 && v <= 604_800, { message: 'must be -1 to 604800 seconds' })
  .describe('-1 never, 0 default');

/** Refuses min > max before anything is sent. */
export function checkCuRange(min: number | undefined, max: number | undefined): void {
  if (min !== undefined && max !== undefined && min > max) {
    throw new InvalidArgumentError(`min_cu (${min}) must not be greater than max_cu (${max}).`);
  }
}

/* ---------------------------------------------------------------- API keys */

/** The ID of an API key (personal or organization). */
export const keyId = z
  .number()
  .int()
  .refine((v) => v >= 1, { message: 'must be an API key ID (a positive integer)' })
  .describe('From list_api_keys');
/** The name given to a new API key. */
export const keyName = z
  .string()
  .refine((v) => v.length > 0 && v.length <= 64, { message: 'must be 1 to 64 characters' })
  .describe('Key name');
/** Goes next to a newly created key, the only time Neon shows it. */
export const KEY_WARNING =
  'SECRET: `key` is shown only this once and cannot be retrieved again. Give it to the user to store securely.';

/* ---------------------------------------------------------------- connections and SQL */

/** `branch_id` for reads: optional, the default branch when left out. */
export const readBranchId = optionalBranchId;

/**
 * An optional database: the branch's only or first one when left out. Said tersely (on the `database`
 * field, "first" is the first database): these words are paid for in every SQL tool of the default list.
 */
export const optionalDatabase = databaseName.optional().describe('Default: first');
/**
 * Input fields naming a database to connect to; everything but the project has a default (the default
 * branch, its only or first database, that database's owner), said once here for every SQL tool.
 */
export const connectionFields = {
  project_id: projectId,
  branch_id: optionalBranchId,
  database: optionalDatabase,
  // The owner of the database connected to (the field before it).
  role: roleName.optional().describe('Default: owner'),
};

/**
 * `as_of` of the reads that can look at the past (run_sql_readonly, describe_table, compare_schema): an
 * ISO time, an LSN, or a change ID from list_changes meaning just before that change (src/neon/as-of.ts
 * reads the text and says what it accepts when it is none of them).
 */
export const asOf = text(100).optional().describe('Time, LSN or change ID');

export const computeField = neonId('compute').optional().describe('Default: read-write compute');
export const pooledField = z.boolean().optional().describe('Pooled');

export const sqlText = z.string().min(1).max(100_000);
/** Parameter values: scalars (checked by a refinement, so the advertised schema stays short). */
export const sqlParams = z
  .array(z.any())
  .refine(
    (a) =>
      a.length <= 100 && a.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v)),
    {
      message: 'must be at most 100 strings, numbers, booleans or nulls',
    },
  )
  .optional()
  .describe('$1, $2, …');

/**
 * The one-time token that confirms an irreversible call (framework.ts `confirmIrreversible`); clients
 * that show forms are asked instead and it is ignored, so it stays optional.
 */
export const confirm = text(256)
  .optional()
  .describe("Only its own refusal's token (once, 10 min); ignored if the client shows a form");
