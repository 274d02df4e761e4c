/**
 * Names where users speak names: an argument that takes a project or branch ID also takes its name
 * ("main"), resolved here by listing. A value shaped like a Neon ID is used as is, without a request,
 * so callers that pass IDs pay nothing. One mechanism for every tool: the server resolves the fields
 * a tool marks as references (src/tools/fields.ts) before the handler runs.
 */
import { InvalidArgumentError } from '../client/errors.js';
import type { NeonContext } from './context.js';
import { defaultBranchId } from './resolver.js';

/**
 * `default-branch`: a branch reference that, left out, is the project's default branch (the one
 * optional-branch rule of every tool that acts on a branch's contents, src/tools/fields.ts).
 */
export type RefKind = 'project' | 'branch' | 'default-branch';

/**
 * What Neon's IDs look like: projects `<words>-<digits>` ("fancy-bird-12345678"), branches `br-…`.
 * A name of that shape is taken as an ID (a project named "app-2024" must then be passed by its ID).
 */
const ID_SHAPE: Record<'project' | 'branch', RegExp> = {
  project: /^[a-z0-9]+(?:-[a-z0-9]+)*-\d+$/,
  branch: /^br-[a-z0-9]+(?:-[a-z0-9]+)*$/,
};

export function looksLikeId(kind: 'project' | 'branch', value: string): boolean {
  return ID_SHAPE[kind].test(value);
}

/**
 * The Neon operations resolution may call, by kind: tools with a reference field may call them
 * without declaring them (test/operations-claims.test.ts reads this, as it reads operation polling).
 */
export const REF_OPERATIONS: Record<RefKind, readonly string[]> = {
  project: ['listProjects', 'getProject'],
  branch: ['listProjectBranches'],
  'default-branch': ['listProjectBranches'],
};

/** The fields of a tool's arguments that take a reference, by argument name. */
export type RefFields = Readonly<Record<string, RefKind>>;

/** Candidates shown in an error at most: enough to pick from, short enough for the context. */
const SHOWN = 20;

interface Named {
  id: string;
  name: string;
}

/**
 * Arguments with every reference field turned into an ID: the project first (branches are looked up
 * in it). Values that are already IDs, and absent fields, are left as they are.
 */
export async function resolveRefs(
  ctx: NeonContext,
  fields: RefFields,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const out = { ...args };
  const keys = Object.keys(fields).filter((k) => typeof out[k] === 'string');
  for (const key of keys.filter((k) => fields[k] === 'project')) {
    out[key] = await resolveProject(ctx, out[key] as string);
  }
  const project_id = out.project_id;
  for (const key of Object.keys(fields).filter(
    (k) => fields[k] === 'default-branch' && out[k] === undefined,
  )) {
    if (typeof project_id === 'string') out[key] = await defaultBranchId(ctx.client, project_id, ctx.signal);
  }
  const branchKeys = keys.filter((k) => fields[k] !== 'project' && !looksLikeId('branch', out[k] as string));
  if (branchKeys.length === 0) return out;
  if (typeof project_id !== 'string') {
    throw new InvalidArgumentError(`${branchKeys.join(', ')} must be a branch ID (br-…) here.`);
  }
  for (const key of branchKeys) out[key] = await resolveBranch(ctx, project_id, out[key] as string);
  return out;
}

/** A project ID, or the ID of the one project with that name that the key sees. */
export async function resolveProject(ctx: NeonContext, value: string): Promise<string> {
  const { client, signal, settings } = ctx;
  const scope = settings.projectId;
  if (value === scope || looksLikeId('project', value)) return value;
  if (scope !== undefined) {
    // Scoped to one project: its name is the only one that may be used, and listing the account's
    // projects would reach beyond the scope.
    const { project } = await client.get('/projects/{project_id}', { path: { project_id: scope }, signal });
    if (project.name === value) return scope;
    throw new InvalidArgumentError(
      `This server is scoped to project ${scope} ("${project.name}"); "${value}" is not its name. Omit project_id.`,
    );
  }
  // Neon's search matches parts of names, so every exact match is among its results.
  const found = await client.listAll('/projects', 'projects', { query: { search: value }, signal });
  return pick(
    'project',
    value,
    found,
    async () => (await client.get('/projects', { query: { limit: SHOWN }, signal })).projects,
  );
}

/** A branch ID, or the ID of the one branch of the project with that name. */
export async function resolveBranch(ctx: NeonContext, project_id: string, value: string): Promise<string> {
  const { client, signal } = ctx;
  if (looksLikeId('branch', value)) return value;
  const list = (search?: string) =>
    client.listAll('/projects/{project_id}/branches', 'branches', {
      path: { project_id },
      query: { search },
      signal,
      maxItems: search === undefined ? SHOWN : undefined,
    });
  return pick('branch', value, await list(value), () => list(), ` in project ${project_id}`);
}

/** The one item named `value`, or an error listing what could have been meant. */
async function pick(
  kind: RefKind,
  value: string,
  matches: readonly Named[],
  all: () => Promise<readonly Named[]>,
  where = '',
): Promise<string> {
  // An ID of another shape than expected (Neon's search matches IDs too) is still an ID.
  const byId = matches.find((m) => m.id === value);
  if (byId) return byId.id;
  const exact = matches.filter((m) => m.name === value);
  if (exact.length === 1) return (exact[0] as Named).id;
  const lister = kind === 'project' ? 'list_projects' : 'list_branches';
  if (exact.length > 1) {
    throw new InvalidArgumentError(
      `${exact.length} ${kind === 'project' ? 'projects' : 'branches'} are named "${value}"${where}: ${describe(exact)}. Pass the ID of the one you mean.`,
    );
  }
  const candidates = matches.length > 0 ? matches : await all();
  throw new InvalidArgumentError(
    `No ${kind} is named "${value}"${where}, and it is not a ${kind} ID. ` +
      (candidates.length > 0
        ? `${matches.length > 0 ? 'Similar' : 'Existing'}: ${describe(candidates)}. Pass one of these names or IDs (${lister} shows all).`
        : `There are no ${kind === 'project' ? 'projects' : 'branches'} to choose from (${lister}).`),
  );
}

function describe(items: readonly Named[]): string {
  const shown = items.slice(0, SHOWN).map((i) => `${i.id} (${i.name})`);
  return shown.join(', ') + (items.length > SHOWN ? ` and ${items.length - SHOWN} more` : '');
}
