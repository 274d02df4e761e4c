/**
 * Resources of the `neon://` scheme, read through the same client (and the same error texts) as the
 * tools:
 * - `neon://projects/{project_id}`: the project's settings, its branches as a tree (parents first)
 *   with their computes, as JSON; `resources/list` pages through the key's projects;
 * - `neon://projects/{project_id}/branches/{branch_id}/schema{?database}`: the DDL of one database;
 * - `neon://docs` (the index of Neon's docs) and `neon://docs/{+slug}` (one page as markdown).
 * A project or branch in a URI is an ID or a name, as in every tool (`neon://projects/local/branches/
 * main/schema`), resolved by the tools' own resolver (src/neon/refs.ts). A server scoped to one project
 * lists and reads that project only.
 */
import {
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import { InvalidArgumentError, NeonApiError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import type { NeonContext, Settings } from '../neon/context.js';
import { DocsSite } from '../neon/docs-site.js';
import { resolveBranch, resolveProject } from '../neon/refs.js';
import { summarizeEndpoint } from '../neon/resources.js';
import { isRestorePoint, restorePointsNote } from '../neon/restore-points.js';
import { pick } from '../neon/util.js';
import { type Completer, safely } from './completions.js';

interface SurfaceDeps {
  client: NeonClient;
  settings: Settings;
  completer: Completer;
  /** The tools' error text for a failure (redacted). */
  describeError(what: string, error: unknown): string;
}

/** Projects per resources/list page (Neon's largest page is 400). */
const PAGE = 100;

/** The static resources: listed with or without Neon. */
const DOCS = { uri: 'neon://docs', name: 'docs_index', title: "Neon's documentation index" };

const PROJECT_TEMPLATE = 'neon://projects/{project_id}';
const SCHEMA_TEMPLATE = 'neon://projects/{project_id}/branches/{branch_id}/schema{?database}';
const SCHEMA_DEFAULT_TEMPLATE = 'neon://projects/{project_id}/branches/{branch_id}/schema';

export function registerResources(server: McpServer, deps: SurfaceDeps): void {
  const { client, settings, completer } = deps;
  const projectOnly = { project_id: safely((v) => completer.projects(v)) };

  server.registerResource(
    'project',
    new ResourceTemplate(PROJECT_TEMPLATE, { list: undefined, complete: projectOnly }),
    {
      title: 'Neon project',
      description:
        'A project (by ID or name): settings, branches as a tree with parents, and computes (JSON).',
      mimeType: 'application/json',
    },
    async (uri, vars, ctx) =>
      guarded(deps, uri.href, async () => {
        const project_id = await projectRef(deps, vars.project_id, ctx.mcpReq.signal);
        const text = JSON.stringify(await projectView(client, project_id, ctx.mcpReq.signal), null, 2);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
      }),
  );

  // The SDK's URI templates need the query when a template has one: the plain URI is a second template.
  const schemaComplete = {
    ...projectOnly,
    branch_id: safely((v, c) => completer.branches(v, c)),
    database: safely((v, c) => completer.databases(v, c)),
  };
  for (const [name, template] of [
    ['branch_schema', SCHEMA_TEMPLATE],
    ['branch_schema_default_database', SCHEMA_DEFAULT_TEMPLATE],
  ] as const) {
    server.registerResource(
      name,
      new ResourceTemplate(template, { list: undefined, complete: schemaComplete }),
      {
        title: 'Branch schema',
        description:
          template === SCHEMA_TEMPLATE
            ? "One database's schema on a branch (project and branch by ID or name), as SQL DDL."
            : "The schema of a branch's only (or first) database (by ID or name), as SQL DDL.",
        mimeType: 'application/sql',
      },
      async (uri, vars, ctx) =>
        guarded(deps, uri.href, async () => {
          const signal = ctx.mcpReq.signal;
          const project_id = await projectRef(deps, vars.project_id, signal);
          const branch_id = await resolveBranch(
            refContext(deps, signal),
            project_id,
            decoded(vars.branch_id),
          );
          const database = vars.database ? decoded(vars.database) : undefined;
          // Loaded on the first read: it brings the SQL layer's DDL and the diff library, which a
          // server that only lists resources never needs (memory, docs/BENCHMARKS.md).
          const { branchSchema } = await import('../neon/schema.js');
          const schema = await branchSchema(client, project_id, branch_id, database, signal);
          return { contents: [{ uri: uri.href, mimeType: 'application/sql', text: schema.sql }] };
        }),
    );
  }

  server.registerResource(
    'docs_index',
    'neon://docs',
    {
      title: "Neon's documentation index",
      description: 'Every page of Neon’s docs with a one-line summary (llms.txt).',
      mimeType: 'text/markdown',
    },
    async (uri, ctx) =>
      guarded(deps, uri.href, async () => ({
        contents: [
          {
            uri: uri.href,
            mimeType: 'text/markdown',
            text: await new DocsSite(settings.docsUrl).indexText(ctx.mcpReq.signal),
          },
        ],
      })),
  );

  server.registerResource(
    'docs_page',
    new ResourceTemplate('neon://docs/{+slug}', {
      list: undefined,
      complete: {
        slug: safely(async (v) => {
          const pages = await new DocsSite(settings.docsUrl).index();
          return pages
            .map((p) => p.slug)
            .filter((s) => s.startsWith(v))
            .slice(0, 100);
        }),
      },
    }),
    {
      title: 'Neon docs page',
      description: 'One page of Neon’s docs as markdown.',
      mimeType: 'text/markdown',
    },
    async (uri, vars, ctx) =>
      guarded(deps, uri.href, async () => {
        const page = await new DocsSite(settings.docsUrl).page(String(vars.slug), ctx.mcpReq.signal);
        return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: page.markdown }] };
      }),
  );

  // The SDK's resources/list asks every template for all its resources at once and has no cursor;
  // this one pages through the key's projects with Neon's own cursor.
  server.server.setRequestHandler('resources/list', async (request, ctx) =>
    guarded(deps, 'resources/list', async () => {
      const cursor = request.params?.cursor;
      // Without a key the server still starts and lists its tools; its resources list says what
      // it can without Neon (reading a project then explains how to set the key).
      if (!client.hasApiKey) return { resources: [DOCS] };
      try {
        return await neonResources(cursor, ctx.mcpReq.signal);
      } catch (error) {
        // A later page cannot be answered in part: the client asked for exactly that page.
        if (cursor) throw error;
        // Neon unreachable or the key refused: the static resources need no network, so they are still
        // listed, and a log message says why the projects are missing.
        void ctx.mcpReq
          .log(
            'warning',
            {
              event: 'resources_list',
              message: `Projects not listed: ${deps.describeError('resources/list', error)}`,
            },
            'neon-mcp',
          )
          .catch(() => undefined);
        return { resources: [DOCS] };
      }
    }),
  );

  /** The resources that need Neon: the scoped project, or one page of the key's projects (docs on the first). */
  async function neonResources(cursor: string | undefined, signal: AbortSignal) {
    if (settings.projectId) {
      const { project } = await client.get('/projects/{project_id}', {
        path: { project_id: settings.projectId },
        signal,
      });
      return { resources: [projectResource(project), DOCS] };
    }
    const page = await client.get('/projects', { query: { limit: PAGE, cursor }, signal });
    const projects = page.projects ?? [];
    const next = page.pagination?.cursor;
    return {
      resources: [...projects.map(projectResource), ...(cursor ? [] : [DOCS])],
      ...(projects.length === PAGE && next && next !== cursor ? { nextCursor: next } : {}),
    };
  }
}

function projectResource(p: { id: string; name: string; region_id?: string }) {
  return {
    uri: `neon://projects/${p.id}`,
    name: p.name,
    title: `Neon project ${p.name}`,
    description: `Project ${p.id}${p.region_id ? ` in ${p.region_id}` : ''}: settings, branches, computes.`,
    mimeType: 'application/json',
  };
}

/** A template variable as the client meant it: a name may hold characters that travel percent-encoded. */
function decoded(value: string | string[] | undefined): string {
  return decodeURIComponent(String(value));
}

/**
 * The domain context the reference resolver needs. Resolving only lists and reads: it starts no Neon
 * operation, so there is nothing to wait for or report progress on.
 */
function refContext(deps: SurfaceDeps, signal: AbortSignal): NeonContext {
  return {
    client: deps.client,
    settings: deps.settings,
    signal,
    progress: async () => undefined,
    wait: async () => {
      throw new Error('resolving a resource URI starts no Neon operation to wait for');
    },
  };
}

/** The project ID a URI's project (ID or name) stands for, within the server's scope. */
async function projectRef(deps: SurfaceDeps, value: string | string[] | undefined, signal: AbortSignal) {
  // An ID is taken as is, with no request, so one out of scope is refused without asking Neon.
  return scoped(deps.settings, await resolveProject(refContext(deps, signal), decoded(value)));
}

/** A scoped server reads its own project only. */
function scoped(settings: Settings, project_id: string): string {
  if (settings.projectId && project_id !== settings.projectId) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidParams,
      `This server is scoped to project ${settings.projectId}; ${project_id} is out of its scope.`,
    );
  }
  return project_id;
}

/** Failures as JSON-RPC errors with the tools' texts; a missing resource as resource-not-found. */
async function guarded<T>(deps: SurfaceDeps, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    const message = deps.describeError(what, error);
    // A name no project or branch has, or one several share: the message lists the candidates.
    if (error instanceof InvalidArgumentError)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, message);
    if (error instanceof NeonApiError && error.status === 404 && what.startsWith('neon://'))
      throw new ResourceNotFoundError(what, message);
    throw new ProtocolError(ProtocolErrorCode.InternalError, message);
  }
}

type Branch = Schemas['Branch'];
interface BranchNode {
  id: string;
  name: string;
  [key: string]: unknown;
  computes: Record<string, unknown>[];
  children: BranchNode[];
}

/** The project with its branches as a tree (roots first, children under their parent). */
async function projectView(client: NeonClient, project_id: string, signal: AbortSignal) {
  const [{ project }, branches, { endpoints }] = await Promise.all([
    client.get('/projects/{project_id}', { path: { project_id }, signal }),
    client.listAll('/projects/{project_id}/branches', 'branches', { path: { project_id }, signal }),
    client.get('/projects/{project_id}/endpoints', { path: { project_id }, signal }),
  ]);
  const nodes = new Map<string, BranchNode>();
  for (const b of branches as Branch[]) {
    nodes.set(b.id, {
      ...pick(b, [
        'id',
        'name',
        'parent_id',
        'default',
        'protected',
        'current_state',
        'created_at',
        'logical_size',
      ]),
      id: b.id,
      name: b.name,
      computes: endpoints.filter((e) => e.branch_id === b.id).map(summarizeEndpoint),
      children: [],
    });
  }
  const roots: BranchNode[] = [];
  for (const node of nodes.values()) {
    const parent = typeof node.parent_id === 'string' ? nodes.get(node.parent_id) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  // The safety net's restore points are counted, not shown (restore-points.ts); one that has become
  // a parent stays, so no branch loses its place in the tree.
  let left = 0;
  const shown = (list: BranchNode[]) =>
    list.filter((n) => {
      n.children = shown(n.children);
      const hide = isRestorePoint(n.name) && n.children.length === 0;
      if (hide) left++;
      return !hide;
    });
  const tree = shown(roots);
  return {
    project: pick(project, [
      'id',
      'name',
      'region_id',
      'pg_version',
      'org_id',
      'created_at',
      'history_retention_seconds',
      'settings',
      'default_endpoint_settings',
    ]),
    branches: tree,
    ...restorePointsNote(left),
  };
}
