/**
 * The fake's one list of handlers (test/mock/index.ts) serves every operation a tool declares, each
 * from one resource file, and msw reaches the right handler first where two routes match one path
 * (`/projects/shared` and `/projects/:project_id`).
 */
import { HttpHandler, matchRequestUrl, type RequestHandler } from 'msw';
import { describe, expect, it } from 'vitest';
import { ALL_TOOLS } from '../src/tools/registry.js';
import { BASE, NeonFake } from './helpers.js';
import { RESOURCES } from './mock/index.js';
import { operations, type SpecOperation } from './mock/spec.js';

/** Declared operations the msw list does not serve, each with where they are served instead. */
const SERVED_ELSEWHERE: Record<string, string> = {
  createProjectBranchFunctionDeployment:
    'multipart: tests route it to handleDeployment (test/mock/functions.ts) through the client fetch option',
};

const fake = new NeonFake();
const byFactory = RESOURCES.map((factory) => ({ name: factory.name, handlers: factory(fake) }));
const all = byFactory.flatMap(({ name, handlers }) => handlers.map((handler) => ({ name, handler })));

/** A path of the operation: each parameter filled with a value no literal route segment has. */
function sampleUrl(op: SpecOperation): URL {
  return new URL(`${BASE}${op.template.replace(/\{[a-z_]+\}/g, (m) => `x-${m.slice(1, -1)}`)}`);
}

function matches(handler: RequestHandler, op: SpecOperation): boolean {
  if (!(handler instanceof HttpHandler)) return false;
  const { method, path } = handler.info;
  if (typeof method !== 'string' || method.toUpperCase() !== op.method) return false;
  if (typeof path !== 'string') return false;
  return matchRequestUrl(sampleUrl(op), path).matches;
}

/** The msw path a handler for this operation is written with (`{x}` → `:x`). */
const mswPath = (op: SpecOperation) => `${BASE}${op.template.replace(/\{([a-z_]+)\}/g, ':$1')}`;

describe('the fake', () => {
  it('serves every operation a tool declares', () => {
    const declared = new Set(ALL_TOOLS.flatMap((t) => t.operations));
    const missing = operations
      .filter((op) => declared.has(op.operationId) && !SERVED_ELSEWHERE[op.operationId])
      .filter((op) => !all.some(({ handler }) => matches(handler, op)))
      .map((op) => `${op.operationId} (${op.method} ${op.template})`);
    expect(missing).toEqual([]);
  });

  it('answers each operation first with its own route, from one resource file', () => {
    const wrong: string[] = [];
    for (const op of operations) {
      const hits = all.filter(({ handler }) => matches(handler, op));
      if (hits.length === 0) continue;
      const first = (hits[0].handler as HttpHandler).info.path;
      if (first !== mswPath(op)) wrong.push(`${op.operationId}: ${first} comes before ${mswPath(op)}`);
      const own = hits.filter(({ handler }) => (handler as HttpHandler).info.path === mswPath(op));
      const files = new Set(own.map((h) => h.name));
      if (files.size > 1) wrong.push(`${op.operationId}: served by ${[...files].join(' and ')}`);
    }
    expect(wrong).toEqual([]);
  });

  it('names each factory after its resource and lists it once', () => {
    const names = RESOURCES.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][A-Za-z]*Handlers$/);
  });
});
