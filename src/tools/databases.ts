/**
 * Databases on a branch. `branch_id` is optional in every tool here, reads and changes alike: like the
 * SQL tools, they act on the project's default branch when it is left out (fields.ts `onBranchId`).
 */
import * as z from 'zod';
import { InvalidArgumentError, NeonApiError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { LEDGER_COPY_OPERATIONS, PendingChange } from '../neon/ledger.js';
import { defaultBranchId } from '../neon/resolver.js';
import { defined, pick } from '../neon/util.js';
import { branchId, databaseName, onBranchId, projectId, readBranchId, roleName } from './fields.js';
import { CREATE, DESTROY, defineTool, item, output, READ, type ToolDef, UPDATE } from './framework.js';

/** A database by its name and owner (the role SQL tools connect as by default). */
const database = item({ name: z.string(), owner_name: z.string() });

const dbsRoute = '/projects/{project_id}/branches/{branch_id}/databases' as const;
const dbRoute = '/projects/{project_id}/branches/{branch_id}/databases/{database_name}' as const;

/** The `database` argument naming an existing database. */
const databaseArg = databaseName.describe('Database');

async function getDatabase(
  client: NeonClient,
  project_id: string,
  branch_id: string,
  database_name: string,
  signal: AbortSignal,
) {
  const res = await client.get(dbRoute, {
    path: { project_id, branch_id, database_name },
    signal,
  });
  return res.database;
}

export const listDatabases = defineTool({
  name: 'list_databases',
  title: 'List databases',
  description: 'List the databases of a branch and their owners.',
  toolset: 'databases',
  operations: ['listProjectBranchDatabases', 'listProjectBranches'],
  input: { project_id: projectId, branch_id: readBranchId },
  // Also returns branch_id.
  output: output({ databases: z.array(database) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const branch = branch_id ?? (await defaultBranchId(client, project_id, signal));
    const res = await client.get(dbsRoute, {
      path: { project_id, branch_id: branch },
      signal,
    });
    return {
      branch_id: branch,
      databases: res.databases.map((d) => pick(d, ['name', 'owner_name', 'created_at'])),
    };
  },
});

export const getDatabaseTool = defineTool({
  name: 'get_database',
  title: 'Get database',
  description: 'Get a database: name, owner, dates.',
  toolset: 'databases',
  operations: ['getProjectBranchDatabase', 'listProjectBranches'],
  input: { project_id: projectId, branch_id: readBranchId, database: databaseArg },
  output: output({ database }),
  hints: READ,
  async handler({ project_id, branch_id, database }, { client, signal }) {
    const branch = branch_id ?? (await defaultBranchId(client, project_id, signal));
    return { database: await getDatabase(client, project_id, branch, database, signal) };
  },
});

/**
 * The owner a new database gets when none is named: the owner of the branch's first database (the one
 * get_connection_string connects as by default), else the branch's only role.
 */
async function defaultOwner(client: NeonClient, project_id: string, branch_id: string, signal: AbortSignal) {
  const path = { project_id, branch_id };
  const { databases } = await client.get(dbsRoute, { path, signal });
  if (databases[0]) return databases[0].owner_name;
  const { roles } = await client.get('/projects/{project_id}/branches/{branch_id}/roles', { path, signal });
  const candidates = roles.filter((r) => !r.protected);
  if (candidates.length === 1) return candidates[0].name;
  throw new InvalidArgumentError(
    candidates.length === 0
      ? `Branch ${branch_id} has no role to own the database. Create one with create_role, then pass it as owner.`
      : `Branch ${branch_id} has no database to copy the owner from; pass owner (one of: ${candidates.map((r) => r.name).join(', ')}).`,
  );
}

export const createDatabase = defineTool({
  name: 'create_database',
  title: 'Create database',
  description: "Create a database on a branch (default owner: the first database's).",
  toolset: 'databases',
  operations: [
    'createProjectBranchDatabase',
    'getProjectBranchDatabase',
    'listProjectBranchDatabases',
    'listProjectBranchRoles',
  ],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    name: databaseName.describe('Name'),
    owner: roleName.optional().describe('Owner'),
  },
  output: output({ database }),
  hints: CREATE,
  async handler({ project_id, branch_id, name, owner }, { client, signal, wait }) {
    const owner_name = owner ?? (await defaultOwner(client, project_id, branch_id, signal));
    const body: Schemas['DatabaseCreateRequest'] = { database: { name, owner_name } };
    const res = await client.post(dbsRoute, { path: { project_id, branch_id }, body, signal });
    await wait(res.operations);
    return { database: await getDatabase(client, project_id, branch_id, res.database.name, signal) };
  },
});

export const updateDatabase = defineTool({
  name: 'update_database',
  title: 'Update database',
  description: 'Rename a database or change its owner.',
  toolset: 'databases',
  operations: ['updateProjectBranchDatabase', 'getProjectBranchDatabase'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    database: databaseArg,
    name: databaseName.optional().describe('New name'),
    owner: roleName.optional().describe('Owner'),
  },
  output: output({ database }),
  hints: UPDATE,
  async handler({ project_id, branch_id, database, name: new_name, owner }, { client, signal, wait }) {
    const changes = defined({ name: new_name, owner_name: owner });
    if (Object.keys(changes).length === 0) {
      throw new InvalidArgumentError('Nothing to change: give name or owner.');
    }
    const body: Schemas['DatabaseUpdateRequest'] = { database: changes };
    const res = await client.patch(dbRoute, {
      path: { project_id, branch_id, database_name: database },
      body,
      signal,
    });
    await wait(res.operations);
    const name = res.database?.name ?? new_name ?? database;
    return { database: await getDatabase(client, project_id, branch_id, name, signal) };
  },
});

export const deleteDatabase = defineTool({
  name: 'delete_database',
  title: 'Delete database',
  description: 'Delete a database and all its data.',
  toolset: 'databases',
  // Recorded in the change ledger: a copy of the branch made just before (src/neon/ledger.ts).
  operations: ['deleteProjectBranchDatabase', ...LEDGER_COPY_OPERATIONS],
  input: { project_id: projectId, branch_id: branchId, database: databaseArg },
  // Also returns deleted: true, and change (its record in the change ledger).
  output: output({ database }),
  // Not idempotent: each call records a restore point (a copy of the branch, in the change ledger).
  hints: { ...DESTROY, idempotentHint: false },
  async handler({ project_id, branch_id, database }, ctx) {
    const { client, signal, wait } = ctx;
    const change = await PendingChange.copying(
      ctx,
      { project_id, branch_id },
      'delete_database',
      `delete database ${database}`,
    );
    let res: Awaited<ReturnType<typeof client.delete<typeof dbRoute>>>;
    try {
      // 204 (no body) means it was already gone.
      res = await client.delete(dbRoute, {
        path: { project_id, branch_id, database_name: database },
        signal,
      });
    } catch (e) {
      // Refused (4xx): nothing was deleted, the copy goes. Otherwise it may have been deleted: the
      // change is recorded all the same (list_changes shows it; its undo is harmless if it was not).
      if (e instanceof NeonApiError && e.status < 500) await change?.failed();
      else await change?.done(true, database, null);
      throw e;
    }
    // Accepted: from here on it is recorded (a deletion whose operation then failed is still undoable).
    const note = change ? await change.done(res !== undefined, database, null) : undefined;
    await wait(res?.operations);
    return {
      deleted: true,
      database: res ? pick(res.database, ['name', 'owner_name', 'branch_id']) : { name: database },
      ...(note ? { change: note } : {}),
    };
  },
});

export const databaseTools: ToolDef[] = [
  listDatabases,
  getDatabaseTool,
  createDatabase,
  updateDatabase,
  deleteDatabase,
];
