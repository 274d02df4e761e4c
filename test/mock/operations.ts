/**
 * Operations of a project (list, and GET that advances one each poll). Serves src/tools/operations.ts
 * and every tool that waits on the operations a change started.
 */
import { HttpResponse, http, type RequestHandler } from 'msw';
import { notFound, type Params } from './common.js';
import { BASE, type NeonFake, publicOperation } from './neon-fake.js';

export function operationHandlers(fake: NeonFake): RequestHandler[] {
  const project = (p: Params) => fake.projects.get(p.project_id);
  return [
    http.get(`${BASE}/projects/:project_id/operations`, ({ params, request }) => {
      if (!project(params as Params)) return notFound(`project ${params.project_id}`);
      const url = new URL(request.url);
      const limit = Number(url.searchParams.get('limit') ?? 10);
      const cursor = url.searchParams.get('cursor');
      let all = [...fake.operations.values()].filter((o) => o.project_id === params.project_id).reverse();
      if (cursor) all = all.slice(all.findIndex((o) => o.id === cursor) + 1);
      const page = all.slice(0, limit);
      return HttpResponse.json({
        operations: page.map(publicOperation),
        pagination: { cursor: page.at(-1)?.id ?? 'end' },
      });
    }),
    http.get(`${BASE}/projects/:project_id/operations/:operation_id`, ({ params }) => {
      const op = fake.operations.get(params.operation_id as string);
      if (!op || op.project_id !== params.project_id) return notFound(`operation ${params.operation_id}`);
      return HttpResponse.json({ operation: fake.pollOperation(op) });
    }),
  ];
}
