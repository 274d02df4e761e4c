/**
 * Property-based fuzzing of every tool in the registry (`--toolsets all`), with fast-check: random
 * and hostile arguments (wrong types, huge strings, unicode, `../`, `%2F`, NUL bytes, extra fields,
 * `__proto__` and friends), always round-tripped through JSON as they arrive on the wire.
 *
 * Properties, for every call: the server answers with a tool result (never a protocol error, never a
 * crash), an error result says something, arguments that fail validation send no request at all, and
 * every request that is sent stays under /api/v2 on a route Neon's OpenAPI description has, with
 * only query parameters that route knows. Afterwards the server still answers tools/list and
 * Object.prototype is untouched.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RateLimiter } from '../src/client/rate-limiter.js';
import type { ToolDef } from '../src/tools/framework.js';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { connect, text } from './helpers.js';
import { BASE, MockNeonApi, type SeenRequest } from './mock/http-server.js';
import type { NeonFake } from './mock/neon-fake.js';
import { matchOperation, validateRequest } from './mock/spec.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const mock = new MockNeonApi({ validate: true });
let conn: Awaited<ReturnType<typeof connect>>;
let world: ReturnType<typeof seed>;
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();

function seed(fake: NeonFake) {
  const { project, branch, endpoint } = fake.seedProject('fuzz');
  const [op] = fake.startOperations(project.id, [{ action: 'apply_config', branch_id: branch.id }]);
  op.status = 'finished';
  // SQL tools connect to what connection_uri returns: a port where nothing listens, refused at once.
  fake.connectionUri = ({ role, database }) => `postgresql://${role}:pw@127.0.0.1:1/${database}`;
  return { project, branch, endpoint, op };
}

beforeAll(async () => {
  world = seed(mock.fake);
  conn = await connect({
    toolsets: ['all'],
    clientOptions: {
      fetch: mock.fetch,
      retries: 1,
      retryDelayMs: 1,
      maxRetryDelayMs: 5,
      timeoutMs: 5_000,
      // The file sends well over Neon's 700 requests a minute through this one client: with Neon's
      // limits, whichever tool ran when the minute's budget ran out sat in the limiter's queue for the
      // rest of that minute (get_storage 46.8 s in one run, another tool in another: it depends on
      // how fast the file ran). The limiter is tested on a fake clock in client.test.ts; here it only
      // has to let everything through at once.
      limiter: new RateLimiter({ perMinute: 1_000_000, perSecondPerRoute: 1_000_000 }),
    },
    operationTimeoutMs: 500,
    sqlTimeoutMs: 2_000,
  });
});
afterAll(() => conn?.close());

// Hostile values: path tricks, encodings, control characters, unicode, injections, sizes, types.
const NASTY = [
  '',
  ' ',
  '.',
  '..',
  '../',
  '../../api_keys',
  '..%2F..%2Fapi_keys',
  '%2F',
  '%2e%2e',
  '%2e%2e%2f%2e%2e%2fapi_keys',
  '/api/v2/api_keys',
  '//evil.example/x',
  'http://evil.example/x',
  'a/b',
  'a\\b',
  '\u0000',
  'x\u0000y',
  '%00',
  '%',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '\u202eevil',
  '😀',
  '\uD800',
  'İǅß',
  "'; DROP TABLE users; --",
  '{{7*7}}',
  '<script>alert(1)</script>',
  '?limit=1&org_id=x',
  '#fragment',
  '\r\nX-Injected: 1',
  'a'.repeat(100_000),
  '9'.repeat(400),
  `br-${'a'.repeat(80)}`,
  'NaN',
  'null',
  '-1',
  '1e309',
];
const nasty = fc.constantFrom(...NASTY);
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nasty },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(nasty, fc.integer(), fc.constant(null)), { maxLength: 4 }),
  fc.dictionary(fc.oneof(nasty, fc.string()), fc.oneof(nasty, fc.integer()), { maxKeys: 3 }),
);
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'then', 'toJSON', 'project_id'),
  fc.string({ maxLength: 20 }),
);

/** A plausible value for a field of the seeded world, so that hostile values ride along on real requests. */
function plausible(field: string): unknown[] {
  const w = world;
  const byName: Record<string, unknown[]> = {
    project_id: [w.project.id],
    branch_id: [w.branch.id],
    parent_id: [w.branch.id],
    source_branch_id: [w.branch.id],
    compute_id: [w.endpoint.id],
    operation_id: [w.op.id],
    database: ['neondb'],
    role: ['neondb_owner'],
    owner: ['neondb_owner'],
    name: ['fuzzed'],
    sql: ['select 1'],
  };
  return byName[field] ?? [];
}

/**
 * Arguments for a tool, two ways: (a) each known field absent, plausible or hostile, plus hostile extra
 * fields; (b) the required fields plausible and one field hostile (a string trick), so that hostile
 * values pass validation where the field allows them and reach the request building.
 */
function argsFor(tool: ToolDef): fc.Arbitrary<Record<string, unknown>> {
  const fields = Object.keys(tool.input);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of fields) {
    const ok = plausible(field);
    model[field] = ok.length
      ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...ok) }, { weight: 3, arbitrary: hostile })
      : hostile;
  }
  const anything = fc
    .tuple(
      fc.record(model, { requiredKeys: [] }),
      fc.option(fc.dictionary(hostileKey, hostile, { maxKeys: 3 }), { freq: 3 }),
    )
    .map(([known, extra]) => ({ ...(extra ?? {}), ...known }));

  const base: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(tool.input) as [string, z.ZodType][]) {
    const ok = plausible(field);
    if (ok.length && !schema.safeParse(undefined).success) base[field] = ok[0];
  }
  const oneTrick = fields.length
    ? fc
        .tuple(fc.constantFrom(...fields), fc.oneof(nasty, fc.string({ unit: 'grapheme', maxLength: 40 })))
        .map(([field, value]) => ({ ...base, [field]: value }))
    : fc.constant(base);

  // What arrives on the wire: JSON (own `__proto__` keys survive, undefined and NaN do not).
  return fc.oneof(anything, oneTrick).map((args) => JSON.parse(JSON.stringify(args)));
}

/** Problems with a request the server sent: outside /api/v2, on no route of the spec, unknown query keys. */
function requestProblems(r: SeenRequest): string[] {
  const where = `${r.method} ${r.url.slice(0, 300)}`;
  if (!r.url.startsWith(`${BASE}/`) || !r.inApi) return [`${where}: outside ${BASE}`];
  if (!matchOperation(r.method, r.path)) return [`${where}: no such route in Neon's API`];
  if (r.path.split('/').some((s) => s === '.' || s === '..')) return [`${where}: dot segment`];
  return validateRequest(r.method, r.path, r.query, undefined)
    .filter((p) => /unknown query parameter|no such operation/.test(p))
    .map((p) => `${where}: ${p}`);
}

describe('fuzzing every tool with hostile arguments', () => {
  it('covers the whole registry', () => {
    expect(ALL_TOOLS.length).toBeGreaterThan(10);
  });

  for (const tool of ALL_TOOLS) {
    it(`${tool.name}`, { timeout: 60_000 }, async () => {
      const outside: string[] = [];
      // The schema the server validates arguments with (src/server.ts: a strict object of the input).
      const input = z.strictObject(tool.input);
      const refusal = `Input validation error: Invalid arguments for tool ${tool.name}:`;
      await fc.assert(
        fc.asyncProperty(argsFor(tool), async (args) => {
          const before = mock.requests.length;
          let res: Awaited<ReturnType<typeof conn.call>>;
          try {
            res = await conn.call(tool.name, args);
          } catch (error) {
            throw new Error(`protocol error instead of a tool result: ${String(error)}`);
          }
          expect(Array.isArray(res.content)).toBe(true);
          const sent = mock.requests.slice(before);
          for (const r of sent) outside.push(...requestProblems(r));
          // Whether the arguments pass the tool's input schema decides, up front, what must happen:
          // refused before the handler (and nothing sent) exactly when they do not.
          // An own `__proto__` key never reaches validation (the SDK copies arguments by assignment,
          // which drops it); no tool has such a field, so it cannot change what is valid.
          const valid = input.safeParse(
            Object.fromEntries(Object.entries(args).filter(([k]) => k !== '__proto__')),
          ).success;
          const message = text(res);
          const refused = res.isError === true && message.startsWith(refusal);
          expect(
            refused,
            `${valid ? 'valid arguments refused' : 'invalid arguments accepted'}: ${message.slice(0, 300)}`,
          ).toBe(!valid);
          expect(valid || sent.length === 0, 'refused arguments reached Neon').toBe(true);
          // Every answer says something: an error a sentence, a success its JSON.
          expect(message).toMatch(res.isError ? /^.{11}/s : /^\{/);
          expect(message).not.toMatch(/\[object Object\]/);
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      expect(outside).toEqual([]);
      // The server still serves.
      const { tools } = await conn.mcp.listTools();
      expect(tools.length).toBeGreaterThan(ALL_TOOLS.length / 2);
    });
  }

  it('reached Neon with hostile values riding on valid ones (not only refused at validation)', () => {
    const routes = new Set(mock.requests.map((r) => r.route));
    console.info(`fuzz: ${mock.requests.length} requests on ${routes.size} routes`);
    if (process.env.FUZZ_REPORT) console.info([...new Set(mock.violations)].join('\n'));
    expect(mock.requests.length).toBeGreaterThan(ALL_TOOLS.length);
    expect(routes.size).toBeGreaterThan(10);
  });

  it('left Object.prototype untouched', () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
