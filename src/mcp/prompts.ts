/**
 * Prompts for the workflows that take several tools in the right order. Each names our own tools,
 * says what to check between steps, and takes arguments that complete (completions.ts).
 */
import { completable, type McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { type Completer, type CompletionContext, safely } from './completions.js';

type Args = Record<string, string | undefined>;

interface PromptDef {
  name: string;
  title: string;
  description: string;
  args: (c: Completer) => Record<string, z.ZodType>;
  text: (a: Args) => string;
}

const project = (c: Completer) =>
  completable(
    z.string().describe('Project ID'),
    safely((v) => c.projects(v)),
  );
const branch = (c: Completer) =>
  completable(
    z.string().describe('Branch ID (default: the default branch)'),
    safely((v, ctx) => c.branches(v, ctx as CompletionContext)),
  ).optional();
const database = (c: Completer) =>
  completable(
    z.string().describe('Database name'),
    safely((v, ctx) => c.databases(v, ctx as CompletionContext)),
  ).optional();

const where = (a: Args) =>
  `project ${a.project_id}${a.branch_id ? `, branch ${a.branch_id}` : ' (its default branch)'}` +
  `${a.database ? `, database ${a.database}` : ''}`;

const PROMPTS: PromptDef[] = [
  {
    name: 'safe_migration',
    title: 'Safe schema migration',
    description: 'Try a schema change on a temporary branch, verify it, then apply or discard it.',
    args: (c) => ({
      project_id: project(c),
      branch_id: branch(c),
      database: database(c),
      change: z.string().describe('The change, in words or SQL'),
    }),
    text: (a) =>
      `Migrate the schema of ${where(a)}: ${a.change}\n\n` +
      '1. Write the migration as SQL DDL; read the current schema first with get_branch_schema (or describe_table).\n' +
      '2. Call prepare_database_migration with that SQL: it runs on a temporary branch, not the real one.\n' +
      '3. Verify on the temporary branch it names: compare_schema for the diff, run_sql for checks of the data.\n' +
      '4. Show me the diff and what you checked. Only after I agree, call complete_database_migration ' +
      'with the migration_id; otherwise discard_database_migration. Never run the DDL on the real branch with run_sql.',
  },
  {
    name: 'tune_slow_query',
    title: 'Tune a slow query',
    description: 'Find why a query is slow and try an index on a temporary branch before applying it.',
    args: (c) => ({
      project_id: project(c),
      branch_id: branch(c),
      database: database(c),
      query: z.string().optional().describe('The query (default: the slowest ones)'),
    }),
    text: (a) =>
      `Make ${a.query ? `this query faster: ${a.query}` : 'the slowest queries faster'} on ${where(a)}.\n\n` +
      `1. ${a.query ? 'Call explain_sql on it' : 'Call list_slow_queries, pick the worst, then explain_sql on it'} and read the plan.\n` +
      '2. Propose DDL (usually CREATE INDEX) and call prepare_query_tuning with the query and the DDL: it compares ' +
      'EXPLAIN ANALYZE before and after on a temporary branch.\n' +
      '3. Show me the before/after figures. If I agree, complete_query_tuning with apply=true; otherwise with apply=false.',
  },
  {
    name: 'branch_per_feature',
    title: 'A branch per feature or pull request',
    description: 'Create a branch for a feature, connect to it, review its schema diff, and clean up.',
    args: (c) => ({
      project_id: project(c),
      feature: z.string().describe('Feature or pull request, e.g. pr-123'),
      parent_branch_id: branch(c),
    }),
    text: (a) =>
      `Set up an isolated Neon branch for "${a.feature}" in project ${a.project_id}.\n\n` +
      `1. create_branch named "${a.feature}"${a.parent_branch_id ? ` from ${a.parent_branch_id}` : ''} with a compute; ` +
      'it answers with a connection string: give it to the app as DATABASE_URL (never commit it).\n' +
      '2. While working, compare_schema for the new branch shows how its schema differs from its parent.\n' +
      '3. When the work is merged or dropped, delete_branch the feature branch (never the default one). ' +
      'To start over from the parent, reset_branch_from_parent.',
  },
  {
    name: 'app_role',
    title: 'An app role with least privilege',
    description: 'Create a Postgres role for an application with only the access it needs.',
    args: (c) => ({
      project_id: project(c),
      branch_id: branch(c),
      database: database(c),
      role_name: z.string().describe('Role name, e.g. app_reader'),
      access: z.string().optional().describe('read_only, read_write or owner (default read_only)'),
    }),
    text: (a) =>
      `Create the role "${a.role_name}" for an application on ${where(a)} with ${a.access ?? 'read_only'} access.\n\n` +
      '1. If create_role is not listed, call enable_toolsets with ["roles"].\n' +
      `2. Call create_role with name "${a.role_name}" and access "${a.access ?? 'read_only'}" ` +
      '(read_only: SELECT only; read_write: also INSERT, UPDATE, DELETE; owner: can change the schema). Choose the ' +
      'least the app needs; owner only for the migration tool.\n' +
      '3. get_connection_string with that role for the app. Its password is a secret: hand it over once, never log it.\n' +
      '4. Check with run_sql as that role that a write it should not make fails.',
  },
  {
    name: 'undo_last_change',
    title: 'Undo the last change',
    description: 'See what tools wrote to a branch and put it back as it was before a change.',
    args: (c) => ({
      project_id: project(c),
      branch_id: branch(c),
    }),
    text: (a) =>
      `Help me undo a change on ${where(a)}.\n\n` +
      '1. If list_changes is not listed, call enable_toolsets with ["safety"].\n' +
      `2. Call list_changes${a.branch_id ? ` with branch_id ${a.branch_id}` : ''} and show me the recent changes: ` +
      'tool, time, statement summary, rows affected, and whether each can still be undone.\n' +
      '3. Ask me which change to undo (default: the newest). Before undoing, show me what it will cost: undo_change ' +
      'puts the branch back as it was just before that change, so EVERY write to the branch since then is undone, ' +
      "by anyone — the application's writes too, not only yours. run_sql_readonly and describe_table with as_of " +
      "that change's ID show the data as it was, compare_schema with it what changed in the schema since; " +
      'compare_data can show which rows differ.\n' +
      '4. Only after I agree, call undo_change with the change_id. Tell me the name of the branch that keeps the ' +
      'undone state (undone-<id>) and that I can delete it with delete_branch once I no longer need it.',
  },
  {
    name: 'get_started',
    title: 'Get started with a new project',
    description: 'Create a Neon project, connect an app, and create a first table.',
    args: () => ({
      name: z.string().describe('Project name'),
      region_id: z.string().optional().describe('Region, e.g. aws-us-east-2'),
    }),
    text: (a) =>
      `Start a new Neon project "${a.name}"${a.region_id ? ` in ${a.region_id}` : ''}.\n\n` +
      '1. create_project: it answers with the project, its default branch and a connection string.\n' +
      '2. Give the app the connection string as DATABASE_URL in its environment (never in the repository).\n' +
      '3. Create the first tables with prepare_database_migration then complete_database_migration ' +
      '(or run_sql for a brand-new, empty database), and check them with list_tables.\n' +
      '4. For questions about Neon itself, enable_toolsets ["docs"] and use list_docs and get_doc.',
  },
];

export function registerPrompts(server: McpServer, completer: Completer): void {
  for (const p of PROMPTS) {
    server.registerPrompt(
      p.name,
      { title: p.title, description: p.description, argsSchema: z.object(p.args(completer)) },
      (args) => ({
        description: p.description,
        messages: [{ role: 'user' as const, content: { type: 'text' as const, text: p.text(args as Args) } }],
      }),
    );
  }
}
