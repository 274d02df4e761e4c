/**
 * What the resource files of the fake share: request body parsing, Neon's 404 shape, and the
 * lookups that answer 404 for a missing project or branch before a handler runs.
 */
import { type NeonFake, neonError, publicOperation } from './neon-fake.js';

export type Json = Record<string, any>;
export type Params = Record<string, string>;

export async function jsonBody(request: Request): Promise<Json> {
  const text = await request.text();
  return text ? JSON.parse(text) : {};
}

export const notFound = (what: string) => neonError(404, `${what} not found`, 'NOT_FOUND');
export const now = () => new Date().toISOString();

/** New running operations of a project, in their public shape. */
export function startOps(
  fake: NeonFake,
  projectId: string,
  actions: { action: string; branch_id?: string; endpoint_id?: string }[],
): Json[] {
  return fake.startOperations(projectId, actions).map(publicOperation);
}

type Resolver<A> = (a: A) => Response | Promise<Response>;
type MswArgs = { params: Record<string, unknown>; request: Request };

/** Runs `fn` with the project of the path, answering 404 when it is missing. */
export function projectScoped(fake: NeonFake) {
  return (fn: Resolver<{ params: Params; request: Request; project: Json }>) =>
    ({ params: raw, request }: MswArgs) => {
      const params = raw as Params;
      const project = fake.projects.get(params.project_id);
      if (!project) return notFound(`project ${params.project_id}`);
      return fn({ params, request, project });
    };
}

/** Runs `fn` with the project and branch of the path, answering 404 for what is missing. */
export function branchScoped(fake: NeonFake) {
  return (fn: Resolver<{ params: Params; request: Request; project: Json; branch: Json }>) =>
    ({ params: raw, request }: MswArgs) => {
      const params = raw as Params;
      const project = fake.projects.get(params.project_id);
      if (!project) return notFound(`project ${params.project_id}`);
      const branch = fake.branches.get(params.branch_id);
      if (!branch || branch.project_id !== project.id) return notFound(`branch ${params.branch_id}`);
      return fn({ params, request, project, branch });
    };
}

/**
 * What the resource files start with: handler wrappers that answer 404 for an unknown project or
 * branch, and `ops` to start the operations a change returns.
 */
export function resourceKit(fake: NeonFake) {
  return {
    withProject: projectScoped(fake),
    withBranch: branchScoped(fake),
    ops: (projectId: string, actions: { action: string; branch_id?: string; endpoint_id?: string }[]) =>
      startOps(fake, projectId, actions),
  };
}
