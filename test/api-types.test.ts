/**
 * The client's answers and bodies are typed from the route and method alone. These checks run at
 * type-check time (`npm run typecheck`): each `@ts-expect-error` fails the type-check when the line
 * below it stops being an error, i.e. when the types become loose enough to let a caller lie.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { Answer, Body, PathParams, RouteFor, Schemas } from '../src/client/neon-client.js';

describe('API types', () => {
  it('types an answer from the route and method', () => {
    expectTypeOf<Answer<'GET', '/projects/{project_id}'>>().toEqualTypeOf<Schemas['ProjectResponse']>();
    expectTypeOf<Answer<'GET', '/projects/{project_id}/branches/{branch_id}'>>().toMatchTypeOf<{
      branch: Schemas['Branch'];
    }>();
    // A schema that is not this route's answer does not fit.
    expectTypeOf<Answer<'GET', '/projects/{project_id}'>>().not.toMatchTypeOf<Schemas['BranchResponse']>();
  });

  it('admits only routes that have the method', () => {
    expectTypeOf<'/projects/{project_id}/branches/{branch_id}/restore'>().toMatchTypeOf<RouteFor<'POST'>>();
    // @ts-expect-error: restore has no GET
    const get: RouteFor<'GET'> = '/projects/{project_id}/branches/{branch_id}/restore';
    void get;
  });

  it('types bodies and path parameters from the route', () => {
    expectTypeOf<Body<'POST', '/projects/{project_id}/branches/{branch_id}/databases'>>().toMatchTypeOf<{
      database: { name: string; owner_name: string };
    }>();
    const ok: PathParams<'/projects/{project_id}/branches/{branch_id}'> = { project_id: 'p', branch_id: 'b' };
    void ok;
    // @ts-expect-error: branch_id is missing
    const missing: PathParams<'/projects/{project_id}/branches/{branch_id}'> = { project_id: 'p' };
    void missing;
    // @ts-expect-error: the route has no {role_name}
    const extra: PathParams<'/projects/{project_id}'> = { project_id: 'p', role_name: 'r' };
    void extra;
  });
});
