/**
 * Checks a request against Neon's OpenAPI description: the method and path exist, path parameters
 * match their patterns, query parameters are known and well-typed, and the JSON body validates
 * against the operation's request schema. Used by the msw layer on every request the client sends.
 */
import { readFileSync } from 'node:fs';
import AjvModule, { type ValidateFunction } from 'ajv';

const Ajv = AjvModule.default ?? AjvModule;

const SPEC_PATH = new URL('../../spec/neon-openapi-v2.json', import.meta.url);

type Json = Record<string, any>;
export const spec: Json = JSON.parse(readFileSync(SPEC_PATH, 'utf8'));

export interface SpecOperation {
  method: string;
  template: string;
  operationId: string;
  deprecated: boolean;
  internal: boolean;
  /** `beta` or `alpha` where Neon marks it. */
  stability?: string;
  parameters: Json[];
  requestBody?: Json;
  regex: RegExp;
  paramNames: string[];
  /** Literal segments rank first when two templates match (`/projects/shared` over `/{project_id}`). */
  literalSegments: number;
}

function resolve(node: Json): Json {
  if (node?.$ref) {
    const parts = String(node.$ref).replace(/^#\//, '').split('/');
    let cur: Json = spec;
    for (const p of parts) cur = cur[p];
    return resolve(cur);
  }
  return node;
}

export const operations: SpecOperation[] = [];
for (const [template, item] of Object.entries<Json>(spec.paths)) {
  const shared = (item.parameters ?? []).map(resolve);
  for (const [method, op] of Object.entries<Json>(item)) {
    if (method === 'parameters') continue;
    const paramNames: string[] = [];
    const pattern = template
      .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
      .replace(/\\?\{([a-z_]+)\\?\}/g, (_m, name) => {
        paramNames.push(name);
        return '([^/]+)';
      });
    const own = (op.parameters ?? []).map(resolve);
    const byKey = new Map<string, Json>();
    for (const p of [...shared, ...own]) byKey.set(`${p.in}:${p.name}`, p);
    operations.push({
      method: method.toUpperCase(),
      template,
      operationId: op.operationId,
      deprecated: op.deprecated === true,
      internal: op['x-internal'] === true,
      stability: op['x-stability-level'],
      parameters: [...byKey.values()],
      requestBody: op.requestBody ? resolve(op.requestBody) : undefined,
      regex: new RegExp(`^${pattern}$`),
      paramNames,
      literalSegments: template.split('/').filter((s) => s && !s.startsWith('{')).length,
    });
  }
}

const ajv: import('ajv').default = new (Ajv as any)({
  strict: false,
  allErrors: true,
  validateFormats: false,
});
ajv.addSchema(spec, 'neon');
const validators = new Map<string, ValidateFunction>();
function validatorFor(schema: Json, key: string): ValidateFunction {
  let v = validators.get(key);
  if (!v) {
    v = ajv.compile(schema.$ref ? { $ref: `neon${schema.$ref}` } : (rewriteRefs(schema) as Json));
    validators.set(key, v);
  }
  return v;
}
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === '$ref' ? `neon${v}` : rewriteRefs(v);
  return out;
}

/** Finds the operation for a method and a path relative to `/api/v2`. */
export function matchOperation(
  method: string,
  path: string,
): { op: SpecOperation; params: Record<string, string> } | undefined {
  const candidates = operations
    .filter((o) => o.method === method && o.regex.test(path))
    .sort((a, b) => b.literalSegments - a.literalSegments);
  const op = candidates[0];
  if (!op) return undefined;
  const m = op.regex.exec(path)!;
  const params: Record<string, string> = {};
  op.paramNames.forEach((n, i) => {
    params[n] = decodeURIComponent(m[i + 1]);
  });
  return { op, params };
}

function coerce(value: string, schema: Json): unknown {
  const type = resolve(schema)?.type;
  if (type === 'integer' || type === 'number') return value.trim() === '' ? value : Number(value);
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  return value;
}

/** Returns the list of problems; empty when the request is valid against the spec. */
export function validateRequest(
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
): string[] {
  const found = matchOperation(method, path);
  if (!found) return [`${method} ${path}: no such operation in Neon's OpenAPI description`];
  const { op, params } = found;
  const problems: string[] = [];
  const where = `${method} ${op.template}`;
  for (const p of op.parameters.filter((x) => x.in === 'path')) {
    const v = validatorFor(p.schema ?? {}, `${op.operationId}:path:${p.name}`);
    if (!v(coerce(params[p.name], p.schema ?? {})))
      problems.push(`${where}: path parameter ${p.name}="${params[p.name]}" ${ajv.errorsText(v.errors)}`);
  }
  const known = new Map(op.parameters.filter((x) => x.in === 'query').map((x) => [x.name, x]));
  for (const name of new Set(query.keys())) {
    const p = known.get(name);
    if (!p) {
      problems.push(`${where}: unknown query parameter ${name}`);
      continue;
    }
    const schema = resolve(p.schema ?? {});
    const values = query.getAll(name);
    const value =
      schema.type === 'array' ? values.map((x) => coerce(x, schema.items ?? {})) : coerce(values[0], schema);
    const v = validatorFor(schema, `${op.operationId}:query:${name}`);
    if (!v(value))
      problems.push(`${where}: query parameter ${name}=${JSON.stringify(value)} ${ajv.errorsText(v.errors)}`);
  }
  for (const p of op.parameters.filter((x) => x.in === 'query' && x.required)) {
    if (!query.has(p.name)) problems.push(`${where}: missing required query parameter ${p.name}`);
  }
  const bodySchema = op.requestBody?.content?.['application/json']?.schema;
  if (body !== undefined) {
    if (!bodySchema) problems.push(`${where}: sends a JSON body but the operation takes none`);
    else {
      const v = validatorFor(bodySchema, `${op.operationId}:body`);
      if (!v(body)) problems.push(`${where}: body ${ajv.errorsText(v.errors, { dataVar: 'body' })}`);
    }
  } else if (op.requestBody?.required) {
    problems.push(`${where}: the operation requires a JSON body`);
  }
  return problems;
}

/**
 * Checks an answer against the operation's response schema for its status (or `default`); returns the
 * problems, empty when it is valid. Used on the answers of local mode (test/local-api.test.ts).
 */
export function validateResponse(method: string, path: string, status: number, body: unknown): string[] {
  const found = matchOperation(method, path);
  if (!found) return [`${method} ${path}: no such operation in Neon's OpenAPI description`];
  const { op } = found;
  const where = `${method} ${op.template} → ${status}`;
  const item = resolve(spec.paths[op.template])[method.toLowerCase()];
  const responses: Json = item.responses ?? {};
  const response = responses[String(status)] ?? responses.default;
  if (!response) return [`${where}: status not described`];
  const schema = resolve(response).content?.['application/json']?.schema;
  if (!schema) return body === undefined ? [] : [`${where}: answers a body but none is described`];
  const v = validatorFor(schema, `${op.operationId}:response:${status}`);
  return v(body) ? [] : [`${where}: ${ajv.errorsText(v.errors, { dataVar: 'response' })}`];
}

/**
 * A fetch that checks each request and its answer against Neon's OpenAPI description, for a real API
 * server rather than the msw fake (local mode's stand-in): what does not validate is pushed onto
 * `problems`, for the test to assert empty.
 */
export function validatingFetch(problems: string[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/api\/v2/, '');
    const text = request.method === 'GET' || request.method === 'DELETE' ? '' : await request.text();
    problems.push(
      ...validateRequest(request.method, path, url.searchParams, text ? JSON.parse(text) : undefined),
    );
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: text || undefined,
      signal: request.signal,
    });
    const body = await response.clone().text();
    problems.push(
      ...validateResponse(request.method, path, response.status, body ? JSON.parse(body) : undefined).map(
        (p) => `${request.method} ${path}: ${p} (${body.slice(0, 300)})`,
      ),
    );
    return response;
  };
}
