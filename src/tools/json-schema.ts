/**
 * Turns a tool's zod shapes into what the MCP SDK takes (Standard Schema with JSON Schema), with the
 * JSON Schema trimmed of what costs tokens and tells the model nothing, and with project scoping
 * applied: `project_id` (and `org_id` under --org-id) leaves the advertised schema, and a call naming
 * another project (or organization) is refused.
 */
import * as z from 'zod';
import { looksLikeId } from '../neon/refs.js';

type JsonObject = Record<string, unknown>;

export interface StandardWithJson {
  '~standard': {
    version: 1;
    vendor: string;
    validate: (value: unknown) => StandardResult | Promise<StandardResult>;
    jsonSchema: { input: (o?: unknown) => JsonObject; output: (o?: unknown) => JsonObject };
  };
}
type StandardResult =
  | { value: unknown; issues?: undefined }
  | { issues: { message: string; path?: PropertyKey[] }[] };

/** The trimmed JSON Schema of a zod schema, as advertised in `tools/list`. */
export function leanJson(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const json = trim(
    z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }),
  ) as JsonObject;
  // An output schema describes what we send; which keys are always present tells the model nothing,
  // nor does "an array of objects" over "an array" (the description says what the items are).
  if (io === 'output') {
    for (const prop of Object.values((json.properties ?? {}) as Record<string, JsonObject>)) {
      const items = prop.items as JsonObject | undefined;
      if (prop.type === 'array' && items?.type === 'object' && Object.keys(items).length === 1)
        delete prop.items;
      // A Neon resource: its full shape is Neon's, and "some object" says no more than the key's name.
      if (prop.type === 'object' && Object.keys(prop).length === 1) delete prop.type;
    }
    leanOutput(json, 0);
  }
  return json;
}

/**
 * Output schemas name the main fields of what an answer carries, at the least cost: no `required` at
 * any depth (which keys are always there tells a model nothing), no `type: object` below the top where
 * `properties` already says it, and no scalar type on the fields of nested objects, whose values are
 * Neon's (ids, names, states): their names are what a model or a client looks for.
 */
function leanOutput(node: JsonObject, depth: number): void {
  delete node.required;
  if (depth > 0 && node.type === 'object' && node.properties) delete node.type;
  const props = node.properties as Record<string, JsonObject> | undefined;
  for (const [key, prop] of Object.entries(props ?? {})) {
    const scalar = typeof prop.type === 'string' && prop.type !== 'object' && prop.type !== 'array';
    if (depth > 0 && scalar && Object.keys(prop).length === 1) (props as JsonObject)[key] = {};
    else leanOutput(prop, depth + 1);
  }
  if (node.items && typeof node.items === 'object') leanOutput(node.items as JsonObject, depth + 1);
}

/** An object schema without one property (for `project_id` under project scope). */
export function withoutProperty(json: JsonObject, key: string): JsonObject {
  const { [key]: _, ...properties } = (json.properties ?? {}) as JsonObject;
  const required = ((json.required ?? []) as string[]).filter((k) => k !== key);
  const out: JsonObject = { ...json, properties };
  if (required.length) out.required = required;
  else delete out.required;
  return out;
}

export interface LeanOptions {
  /**
   * Arguments the server fixes (`project_id` under --project-id, `org_id` under --org-id): another
   * value is refused, the same one dropped (the server injects it).
   */
  scope?: Record<string, string>;
  /** The JSON Schema computed at build time (dist/tool-schemas.json), to skip converting at run time. */
  precomputed?: JsonObject;
}

/** Wraps a zod schema; the JSON Schema is computed on first use (or taken precomputed) and reused. */
export function leanSchema(
  schema: z.ZodType,
  io: 'input' | 'output',
  options: LeanOptions = {},
): StandardWithJson {
  const { scope } = options;
  let json: JsonObject | undefined = options.precomputed;
  const toJson = () => {
    json ??= leanJson(schema, io);
    return json;
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'neon-mcp',
      validate(value) {
        // A project name is kept for the server to check against the scoped project's name (refs.ts).
        let name: string | undefined;
        if (scope && value && typeof value === 'object') {
          const rest = { ...(value as JsonObject) };
          for (const [key, fixed] of Object.entries(scope)) {
            if (!(key in rest)) continue;
            const asked = rest[key];
            if (asked !== fixed) {
              if (key === 'project_id' && typeof asked === 'string' && !looksLikeId('project', asked))
                name = asked;
              else return { issues: [{ message: scopeMessage(key, fixed, asked), path: [key] }] };
            }
            delete rest[key];
          }
          value = rest;
        }
        const result = schema['~standard'].validate(value) as StandardResult | Promise<StandardResult>;
        if (name === undefined) return result;
        const withName = (r: StandardResult): StandardResult =>
          r.issues ? r : { value: { ...(r.value as JsonObject), project_id: name } };
        return result instanceof Promise ? result.then(withName) : withName(result);
      },
      jsonSchema: { input: toJson, output: toJson },
    },
  };
}

function scopeMessage(key: string, fixed: string, asked: unknown): string {
  return key === 'org_id'
    ? `this server is set to organization ${fixed} (--org-id); organization ${JSON.stringify(asked)} cannot be used. Omit org_id.`
    : `this server is scoped to project ${fixed}; project ${JSON.stringify(asked)} cannot be used. Omit project_id.`;
}

const SAFE_MIN = Number.MIN_SAFE_INTEGER;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Removes what costs tokens and tells the model nothing: `$schema`, safe-integer bounds, empty
 * `properties`, `additionalProperties` (`{}` is the default; `false` is enforced by validation anyway),
 * abuse guards, and generated patterns next to a `format`. Recursive.
 */
function trim(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(trim);
  if (!node || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node as JsonObject)) {
    if (k === '$schema') continue;
    if (k === 'minimum' && v === SAFE_MIN) continue;
    if (k === 'maximum' && v === SAFE_MAX) continue;
    if (
      k === 'additionalProperties' &&
      (v === false || (v && typeof v === 'object' && Object.keys(v).length === 0))
    ) {
      // Unknown keys are still rejected by validation, with a message naming them.
      continue;
    }
    // Guards against abuse (non-empty, huge strings or arrays) are enforced by validation, whose
    // message names the limit; advertising them in every field would cost tokens and tell nothing.
    if (k === 'minLength' && v === 1) continue;
    if (k === 'maxLength' && typeof v === 'number' && v >= 1000) continue;
    if (k === 'maxItems' && typeof v === 'number' && v >= 100) continue;
    // A `format` (date-time, uuid, email) says what zod's long generated regex says.
    if (k === 'pattern' && typeof (node as JsonObject).format === 'string') continue;
    if (k === 'properties' && v && typeof v === 'object' && Object.keys(v).length === 0) continue;
    if (
      k === 'propertyNames' &&
      (v as JsonObject)?.type === 'string' &&
      Object.keys(v as JsonObject).length === 1
    )
      continue;
    out[k] = k === 'properties' ? trimProperties(v as JsonObject) : trim(v);
  }
  return out;
}

const normalize = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Drops a property's description when it only restates the property's name ("project ID" on project_id). */
function trimProperties(props: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [name, schema] of Object.entries(props)) {
    const t = trim(schema) as JsonObject;
    if (typeof t.description === 'string' && normalize(t.description) === normalize(name))
      delete t.description;
    out[name] = t;
  }
  return out;
}
