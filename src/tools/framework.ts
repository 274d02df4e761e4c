/**
 * What every tool is made of: its definition as data (name, title, description, schemas, hints,
 * toolset) and a handler that calls the Neon client. Handlers throw; the server turns errors into
 * `isError` results in one place.
 */
import * as z from 'zod';
import { NeonError } from '../client/errors.js';
import type { NeonContext, Settings } from '../neon/context.js';
import type { Operation, OperationProgress } from '../neon/operations.js';
import { databaseName } from './fields.js';

/** Groups of tools an operator can enable with `--toolsets`. */
export const TOOLSETS = {
  projects: 'Projects: list, create, update, delete, recover',
  access: 'Sharing projects with other users, and transfers between accounts and organizations',
  branches: 'Branches: create (with a compute), reset, restore, protect, recover',
  anonymization: 'Anonymized branches and masking rules',
  computes: 'Computes (endpoints): create, configure, start, suspend, restart',
  databases: 'Databases on a branch',
  roles: 'Postgres roles and their passwords',
  operations: 'Neon operations (the async work behind changes)',
  sql: 'Run SQL, inspect tables, explain, slow queries',
  schema: 'Schema of a branch, schema diffs, migrations and query tuning on temporary branches',
  safety: 'What tools wrote to branches, and undoing it (list_changes, undo_change)',
  snapshots: 'Snapshots and backup schedules',
  organizations: 'Organizations, members, invitations, org API keys',
  api_keys: 'Personal API keys',
  billing: 'Consumption history and spending limits',
  auth: 'Neon Auth for a branch',
  data_api: 'The Data API of a database',
  storage: 'Storage, buckets and objects',
  functions: 'Functions and the AI gateway',
  networking: 'VPC endpoints, IP allow lists, JWKS',
  users: 'The current user and their organizations',
  docs: "Neon's documentation: the index and single pages as markdown",
} as const;
export type Toolset = keyof typeof TOOLSETS;

/** The four MCP annotation hints, always all set. */
export interface Hints {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/*
 * openWorldHint: the management tools act on a closed domain (the user's own Neon account), so it is
 * false; tools that return database rows (whose contents may come from anywhere) set it to true.
 */
/** Reads, changes nothing. */
export const READ: Hints = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};
/** Creates something new; calling twice creates two. */
export const CREATE: Hints = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
};
/** Changes settings in place; the same call twice has no further effect. */
export const UPDATE: Hints = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};
/** Deletes or overwrites data; the same call twice has no further effect. */
export const DESTROY: Hints = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: true,
  openWorldHint: false,
};
/** Acts (start, restart, reveal); not destructive, but not a pure read either. */
export const ACT: Hints = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
};

/**
 * What a handler gets besides its arguments: the domain layer's context (client, cancellation, progress,
 * operation waits, settings), so a handler can hand it straight to the domain functions it composes.
 */
export type ToolContext = NeonContext & {
  /** The running server's toolsets (absent outside a server, e.g. in unit tests of a handler). */
  toolsets?: RuntimeToolsets;
  /**
   * Confirms an irreversible change (src/mcp/confirm.ts): asks the person through a form where the
   * client can show one (`given` is then ignored), otherwise accepts only the one-time token its own
   * refusal handed out, passed back as `given`. Resolves when confirmed, throws otherwise. Absent
   * outside a server, where nothing confirms; see `confirmIrreversible`.
   */
  confirm?: (request: Confirmation, given: string | undefined) => Promise<void>;
};

/** Toolsets enabled at run time (enable_toolsets), never past the server's flags. */
export interface RuntimeToolsets {
  /** The toolsets enabled now (names, or `all`). */
  current(): readonly string[];
  /** Enables toolsets; answers with the tools this added (read-only and scope filters still apply). */
  enable(toolsets: readonly string[]): string[];
}

/** What an irreversible call asks the person to confirm. */
export interface Confirmation {
  /** What will happen, e.g. `Delete branch "main" (br-1) of project p-1`. */
  action: string;
  /** What is lost and cannot be recovered. */
  loses: string;
  /** The name of what is changed (the branch's, the project's): what the person is asked about. */
  target: string;
}
/**
 * Input fields that name a Neon project, branch or role, or a moment of a branch's history (`as_of`,
 * read on a branch made then): not offered with --database-url.
 */
export const DATABASE_URL_DROPS = ['project_id', 'branch_id', 'role', 'as_of'] as const;

/** `database` with --database-url: another database of the same server. */
const URL_DATABASE = databaseName.optional().describe("Default: the URL's database");

/**
 * A tool's input with --database-url: no project, branch or role on a plain server; `database` picks
 * another database of it. Used by the server and by the build (its JSON Schema is precomputed).
 */
export function databaseUrlShape(shape: z.ZodRawShape): z.ZodRawShape {
  const out: Record<string, z.core.$ZodType> = { ...shape };
  for (const key of DATABASE_URL_DROPS) delete out[key];
  if ('database' in out) out.database = URL_DATABASE;
  return out;
}

/** Settings a tool may consult. */
export type ToolSettings = Settings;

export type Shape = z.ZodRawShape;
type Args<S extends Shape> = z.infer<z.ZodObject<S>>;

export interface ToolDef<S extends Shape = Shape> {
  /** snake_case `verb_noun`. */
  name: string;
  title: string;
  /** For the model: what it does, when to use it, what to call next. Short. */
  description: string;
  toolset: Toolset;
  /** Input fields; `project_id` is removed and injected when the server is scoped to a project. */
  input: S;
  /** Shape of the structured result. */
  output: z.ZodType<Record<string, unknown>>;
  hints: Hints;
  /**
   * True for tools that reach beyond one project (list/create projects, organizations, API keys, …);
   * a server scoped to one project does not expose them.
   */
  accountLevel?: boolean;
  /** Neon marks the endpoint beta or alpha. */
  beta?: boolean;
  /**
   * Works on any PostgreSQL: the handler only connects through `onDatabase` and calls no Neon API
   * (but for `as_of`, which is dropped), so it is offered with --database-url, where the server drops the
   * Neon fields of {@link DATABASE_URL_DROPS} from its input (the handler then gets no project, branch,
   * role or as_of).
   */
  anyPostgres?: boolean;
  /** The Neon operationIds this tool calls (checked against the spec by the coverage test). */
  operations: string[];
  handler(args: Args<S>, ctx: ToolContext): Promise<Record<string, unknown>>;
}

/** Keeps the types of a tool's input shape flowing into its handler. */
export function defineTool<S extends Shape>(def: ToolDef<S>): ToolDef {
  return def as unknown as ToolDef;
}

/** A JSON object with any keys, for resources whose full shape Neon defines. */
export const anyObject = z.looseObject({});
/**
 * An object of an answer, by its main fields: what an agent or a client looks for first. The rest of
 * the object is passed through as Neon gives it, so the advertised schema stays short.
 */
export const item = (shape: Record<string, z.ZodType>) =>
  // Optional: the server checks every answer against this schema, and Neon leaves fields out.
  z.looseObject(Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])));
/** An array of {@link item}s. */
export const items = (shape: Record<string, z.ZodType>) => z.array(item(shape));
/** What most Neon resources are known by. */
export const ID_NAME = { id: z.string(), name: z.string() };
/** A Neon resource (project, branch, snapshot, …) by its ID and name. */
export const resource = item(ID_NAME);
/** An output schema: named top-level fields, each an object, an array, or any JSON. */
export function output(fields: Record<string, z.ZodType>): z.ZodType<Record<string, unknown>> {
  return z.looseObject(fields);
}

export type { Operation, OperationProgress };

/**
 * Stops an irreversible call until the person behind the client confirmed it (src/mcp/confirm.ts):
 * through a form where the client can show one, the `confirm` argument then ignored; otherwise only
 * the one-time token of this call's own refusal, passed back as `given`, confirms. A name repeated in
 * `confirm` no longer does: an agent could write it without asking anyone. One optional `confirm` field
 * keeps the schema lean for clients that show forms.
 */
export async function confirmIrreversible(
  ctx: Pick<ToolContext, 'confirm'>,
  given: string | undefined,
  request: Confirmation,
): Promise<void> {
  if (ctx.confirm) return ctx.confirm(request, given);
  // Outside a server (a handler called directly) there is no one to ask and no token to check.
  throw new ConfirmationRequiredError(
    `${request.action} needs the user's confirmation, which only the MCP server can take. Nothing was changed.`,
  );
}

/** The error of an unconfirmed irreversible call from a client that cannot show a form. */
export function confirmationNeeded(request: Confirmation, token: string): NeonError {
  return new ConfirmationRequiredError(
    `${request.action} needs the user's confirmation: ${request.loses}. Nothing was changed. Ask the user; ` +
      `if they agree, call again with the same arguments and confirm: "${token}" ` +
      '(this token confirms this call once, for 10 minutes).',
  );
}

/** An irreversible call was not confirmed (yet); nothing was changed. */
export class ConfirmationRequiredError extends NeonError {
  override name = 'ConfirmationRequiredError';
}
