/**
 * src/tools/json-schema.ts in isolation: what the advertised JSON Schema keeps and drops (each trim
 * rule at its boundary), `withoutProperty`, and project scoping in `leanSchema`'s validation. The
 * snapshots (schemas.test.ts) show the result on real tools; these pin the rules.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { leanJson, leanSchema, withoutProperty } from '../src/tools/json-schema.js';

describe('leanJson (input)', () => {
  it('drops $schema, safe-integer bounds, additionalProperties and empty properties', () => {
    expect(leanJson(z.strictObject({ n: z.number().int() }), 'input')).toEqual({
      type: 'object',
      properties: { n: { type: 'integer' } },
      required: ['n'],
    });
    expect(leanJson(z.strictObject({}), 'input')).toEqual({ type: 'object' });
    expect(leanJson(z.looseObject({ a: z.string() }), 'input')).toEqual({
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
    });
  });

  it('keeps real bounds: other minimums and maximums, additionalProperties with a schema', () => {
    expect(leanJson(z.object({ n: z.number().int().min(0).max(10) }), 'input')).toMatchObject({
      properties: { n: { type: 'integer', minimum: 0, maximum: 10 } },
    });
    expect(leanJson(z.object({ m: z.record(z.string(), z.number()) }), 'input')).toMatchObject({
      properties: { m: { type: 'object', additionalProperties: { type: 'number' } } },
    });
  });

  it('drops abuse guards at their thresholds and keeps limits below them', () => {
    const json = leanJson(
      z.object({
        min1: z.string().min(1),
        min2: z.string().min(2),
        max999: z.string().max(999),
        max1000: z.string().max(1000),
        items99: z.array(z.string()).max(99),
        items100: z.array(z.string()).max(100),
      }),
      'input',
    );
    expect(json.properties).toEqual({
      min1: { type: 'string' },
      min2: { type: 'string', minLength: 2 },
      max999: { type: 'string', maxLength: 999 },
      max1000: { type: 'string' },
      items99: { type: 'array', items: { type: 'string' }, maxItems: 99 },
      items100: { type: 'array', items: { type: 'string' } },
    });
  });

  it('each guard applies to its own keyword only: the same numbers elsewhere stay', () => {
    const json = leanJson(
      z.object({
        one: z.number().min(1),
        big: z.number().max(5000),
        huge: z
          .number()
          .int()
          .min(0)
          .max(Number.MAX_SAFE_INTEGER - 1),
        tags: z.array(z.string()).min(1),
      }),
      'input',
    );
    expect(json.properties).toEqual({
      one: { type: 'number', minimum: 1 },
      big: { type: 'number', maximum: 5000 },
      huge: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER - 1 },
      tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
    });
  });

  it('drops only the bounds at the safe-integer limits: a default or constant of the same value stays', () => {
    const json = leanJson(
      z.object({
        top: z.int().default(Number.MAX_SAFE_INTEGER),
        bottom: z.int().default(Number.MIN_SAFE_INTEGER),
        exact: z.literal(Number.MAX_SAFE_INTEGER),
      }),
      'input',
    );
    expect(json.properties).toEqual({
      top: { type: 'integer', default: Number.MAX_SAFE_INTEGER },
      bottom: { type: 'integer', default: Number.MIN_SAFE_INTEGER },
      exact: { type: 'number', const: Number.MAX_SAFE_INTEGER },
    });
  });

  it('drops the generated pattern next to a format, keeps a pattern alone', () => {
    const json = leanJson(z.object({ at: z.iso.datetime(), code: z.string().regex(/^[a-z]+$/) }), 'input');
    expect(json.properties).toEqual({
      at: { type: 'string', format: 'date-time' },
      code: { type: 'string', pattern: '^[a-z]+$' },
    });
  });

  it('drops a plain string propertyNames, keeps a constrained one', () => {
    const plain = leanJson(z.object({ m: z.record(z.string(), z.string()) }), 'input');
    expect((plain.properties as any).m).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
    const constrained = leanJson(z.object({ m: z.record(z.string().min(2), z.string()) }), 'input');
    expect((constrained.properties as any).m.propertyNames).toEqual({ type: 'string', minLength: 2 });
    // Keys from a union of literals: one keyword (anyOf), but not "any string".
    const keys = leanJson(
      z.object({ m: z.record(z.union([z.literal('a'), z.literal('b')]), z.number()) }),
      'input',
    );
    expect((keys.properties as any).m.propertyNames).toEqual({
      anyOf: [
        { type: 'string', const: 'a' },
        { type: 'string', const: 'b' },
      ],
    });
  });

  it('drops a description that only restates the field name, keeps one that says more', () => {
    const json = leanJson(
      z.object({
        project_id: z.string().describe('Project ID'),
        branch_id: z.string().describe('The branch to use'),
        database: z.string().describe('Data-base.'),
        nested: z.object({ role_name: z.string().describe('role-name') }),
      }),
      'input',
    );
    expect(json.properties).toEqual({
      project_id: { type: 'string' },
      branch_id: { type: 'string', description: 'The branch to use' },
      database: { type: 'string' },
      nested: { type: 'object', properties: { role_name: { type: 'string' } }, required: ['role_name'] },
    });
  });

  it('trims inside arrays (anyOf) too', () => {
    const json = leanJson(z.object({ v: z.union([z.number().int(), z.string().min(1)]) }), 'input');
    expect((json.properties as any).v).toEqual({ anyOf: [{ type: 'integer' }, { type: 'string' }] });
  });
});

describe('leanJson (output)', () => {
  it('drops required at any depth, items that only say "object", the type of a bare object, nested object types and bare nested scalar types', () => {
    const json = leanJson(
      z.object({
        rows: z.array(z.looseObject({})),
        names: z.array(z.string()),
        project: z.looseObject({}),
        typed: z.object({ id: z.string(), state: z.string().describe('what it does now') }),
        list: z.array(z.object({ id: z.string(), inner: z.object({ n: z.number() }) })),
        count: z.number(),
      }),
      'output',
    );
    expect(json).toEqual({
      type: 'object',
      properties: {
        rows: { type: 'array' },
        names: { type: 'array', items: { type: 'string' } },
        project: {},
        // Nested fields keep a type only when it comes with more (a description here).
        typed: { properties: { id: {}, state: { type: 'string', description: 'what it does now' } } },
        list: { type: 'array', items: { properties: { id: {}, inner: { properties: { n: {} } } } } },
        count: { type: 'number' },
      },
    });
  });

  it('a bare object below the top keeps its type (no properties to say it)', () => {
    const json = leanJson(
      z.object({ typed: z.object({ meta: z.looseObject({}), id: z.string() }) }),
      'output',
    );
    expect(json.properties).toEqual({ typed: { properties: { meta: { type: 'object' }, id: {} } } });
  });

  it('keeps required in an input schema', () => {
    expect(leanJson(z.object({ a: z.string() }), 'input').required).toEqual(['a']);
  });
});

describe('withoutProperty', () => {
  it('removes the property and its required entry, dropping required when it empties', () => {
    const json = {
      type: 'object',
      properties: { project_id: {}, name: {} },
      required: ['project_id', 'name'],
    };
    expect(withoutProperty(json, 'project_id')).toEqual({
      type: 'object',
      properties: { name: {} },
      required: ['name'],
    });
    expect(
      withoutProperty(
        { type: 'object', properties: { project_id: {} }, required: ['project_id'] },
        'project_id',
      ),
    ).toEqual({
      type: 'object',
      properties: {},
    });
    expect(withoutProperty({ type: 'object' }, 'project_id')).toEqual({ type: 'object', properties: {} });
    // The input is not changed.
    expect(json.required).toEqual(['project_id', 'name']);
  });
});

describe('leanSchema', () => {
  const shape = z.strictObject({ project_id: z.string().optional(), name: z.string() });

  it('validates with the zod schema and advertises the lean JSON Schema (computed once)', async () => {
    const s = leanSchema(shape, 'input');
    expect(s['~standard'].vendor).toBe('neon-mcp');
    expect(s['~standard'].version).toBe(1);
    expect(await s['~standard'].validate({ name: 'x' })).toEqual({ value: { name: 'x' } });
    const bad = (await s['~standard'].validate({ name: 1 })) as { issues: unknown[] };
    expect(bad.issues.length).toBeGreaterThan(0);
    const first = s['~standard'].jsonSchema.input();
    expect(first).toEqual(leanJson(shape, 'input'));
    expect(s['~standard'].jsonSchema.output()).toBe(first);
  });

  it('uses a precomputed JSON Schema instead of converting', () => {
    const precomputed = { type: 'object', note: 'from the build' };
    const s = leanSchema(shape, 'input', { precomputed });
    expect(s['~standard'].jsonSchema.input()).toBe(precomputed);
  });

  it('scoped: refuses another project_id, drops the same one, accepts none', async () => {
    const s = leanSchema(shape, 'input', { scope: { project_id: 'p-1' } });
    const other = await s['~standard'].validate({ project_id: 'p-2', name: 'x' });
    expect(other).toEqual({
      issues: [
        {
          message: 'this server is scoped to project p-1; project "p-2" cannot be used. Omit project_id.',
          path: ['project_id'],
        },
      ],
    });
    const missing = await s['~standard'].validate({ project_id: undefined, name: 'x' });
    expect(missing).toMatchObject({ issues: [{ path: ['project_id'] }] });
    expect(await s['~standard'].validate({ project_id: 'p-1', name: 'x' })).toEqual({ value: { name: 'x' } });
    expect(await s['~standard'].validate({ name: 'x' })).toEqual({ value: { name: 'x' } });
  });

  it('unscoped: project_id is validated like any field', async () => {
    const s = leanSchema(shape, 'input');
    expect(await s['~standard'].validate({ project_id: 'p-2', name: 'x' })).toEqual({
      value: { project_id: 'p-2', name: 'x' },
    });
  });

  it('scoped: a value that is not an object goes to zod as it is', async () => {
    const s = leanSchema(shape, 'input', { scope: { project_id: 'p-1' } });
    for (const value of [null, 'p-1', 42]) {
      const res = (await s['~standard'].validate(value)) as { issues: unknown[] };
      expect(res.issues.length, String(value)).toBeGreaterThan(0);
      expect(res, String(value)).toEqual(await shape['~standard'].validate(value));
    }
  });

  it('scoped to an organization: refuses another org_id, whatever it looks like, and drops the same one', async () => {
    const orgShape = z.strictObject({ org_id: z.string().optional(), name: z.string() });
    const s = leanSchema(orgShape, 'input', { scope: { org_id: 'org-1' } });
    expect(await s['~standard'].validate({ org_id: 'my-team', name: 'x' })).toEqual({
      issues: [
        {
          message:
            'this server is set to organization org-1 (--org-id); organization "my-team" cannot be used. Omit org_id.',
          path: ['org_id'],
        },
      ],
    });
    expect(await s['~standard'].validate({ org_id: 'org-1', name: 'x' })).toEqual({ value: { name: 'x' } });
  });
});
