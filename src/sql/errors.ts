/**
 * Turning what Postgres (or the network) says into an error an agent can act on: Postgres's message,
 * the SQLSTATE and its name, where in the SQL it happened, and what to do next. The text Postgres sends
 * back may quote row values (a unique violation's detail, a failed cast), so it is fenced as untrusted
 * data like query results are.
 */
import { NeonError } from '../client/errors.js';
import { cutText } from './budget.js';
import { type DatabaseAlias, REWRITTEN } from './database-names.js';
import { fence, inline } from './untrusted.js';

/**
 * Bytes kept of each field PostgreSQL sends (message, detail, hint, context): enough for any message
 * it writes itself, while a value it quotes (a 5 MB string that failed a cast) is cut with its length
 * stated. The server's budget (--sql-max-bytes) still bounds the whole error (src/server.ts).
 */
export const PG_FIELD_MAX = 2_000;

/** A field of PostgreSQL's error, cut to {@link PG_FIELD_MAX} bytes. */
const field = (text: string) => cutText(text, PG_FIELD_MAX);

/** An error from the SQL layer; its message is shown to the agent as it is. */
export class SqlError extends NeonError {
  override name = 'SqlError';
  constructor(
    message: string,
    /** The SQLSTATE, when Postgres sent one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The connection could not be opened: nothing was sent, so a retry with fresh details is safe. */
export class SqlConnectError extends SqlError {
  override name = 'SqlConnectError';
  constructor(
    message: string,
    code: string | undefined,
    readonly cause: unknown,
  ) {
    super(message, code);
  }
}

/** The MCP client cancelled the call; the query was cancelled on the server. */
export class SqlCancelledError extends SqlError {
  override name = 'SqlCancelledError';
}

/** The fields of node-postgres' DatabaseError that matter here. */
export interface PgErrorFields {
  message: string;
  code?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/** Whether `e` came from Postgres (has a SQLSTATE) rather than from the network or the driver. */
export function isPgError(e: unknown): e is PgErrorFields & Error {
  const code = (e as { code?: unknown } | undefined)?.code;
  return e instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

const CONDITION: Record<string, string> = {
  '08000': 'connection_exception',
  '08006': 'connection_failure',
  '0A000': 'feature_not_supported',
  '22001': 'string_data_right_truncation',
  '22003': 'numeric_value_out_of_range',
  '22007': 'invalid_datetime_format',
  '22012': 'division_by_zero',
  '22P02': 'invalid_text_representation',
  '23502': 'not_null_violation',
  '23503': 'foreign_key_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  '23P01': 'exclusion_violation',
  '25001': 'active_sql_transaction',
  '25006': 'read_only_sql_transaction',
  '25P02': 'in_failed_sql_transaction',
  '28000': 'invalid_authorization_specification',
  '28P01': 'invalid_password',
  '2BP01': 'dependent_objects_still_exist',
  '3D000': 'invalid_catalog_name',
  '3F000': 'invalid_schema_name',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '42501': 'insufficient_privilege',
  '42601': 'syntax_error',
  '42602': 'invalid_name',
  '42701': 'duplicate_column',
  '42703': 'undefined_column',
  '42704': 'undefined_object',
  '42710': 'duplicate_object',
  '42723': 'duplicate_function',
  '42725': 'ambiguous_function',
  '42803': 'grouping_error',
  '42804': 'datatype_mismatch',
  '42809': 'wrong_object_type',
  '42830': 'invalid_foreign_key',
  '42883': 'undefined_function',
  '42P01': 'undefined_table',
  '42P02': 'undefined_parameter',
  '42P06': 'duplicate_schema',
  '42P07': 'duplicate_table',
  '42P18': 'indeterminate_datatype',
  '53100': 'disk_full',
  '53200': 'out_of_memory',
  '53300': 'too_many_connections',
  '54000': 'program_limit_exceeded',
  '55000': 'object_not_in_prerequisite_state',
  '55P03': 'lock_not_available',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P03': 'cannot_connect_now',
  '58P01': 'undefined_file',
  XX000: 'internal_error',
};

export interface ErrorContext {
  /** The tool or step, e.g. `run_sql`, `statement 2 of 3`. */
  what: string;
  /** The SQL that failed (for the line and column of the position Postgres reports). */
  sql?: string;
  /** Where it ran, e.g. `branch br-x, database neondb, role neondb_owner`. */
  where: string;
  timeoutMs: number;
  /** Why it was read-only, for the advice (e.g. "this server runs with --read-only"). */
  readOnlyReason?: string;
  role?: string;
  /** The role is the database's owner (so "connect as the owner" is no advice). */
  owner?: boolean;
  /** On a --database-url server, whose user is the URL's: no other role can be chosen. */
  byUrl?: boolean;
  /** The database's name as the agent knows it and as the server does, when they differ (local mode). */
  alias?: DatabaseAlias;
}

/** A Postgres error as an agent-facing {@link SqlError}. */
export function fromPgError(e: PgErrorFields, ctx: ErrorContext): SqlError {
  const code = e.code ?? '';
  const name = CONDITION[code];
  const parts: string[] = [];
  let head = `${ctx.what} failed on ${ctx.where}: Postgres error ${code}${name ? ` (${name})` : ''}`;
  const pos = Number(e.position);
  const location = ctx.sql && pos > 0 ? locate(ctx.sql, pos) : undefined;
  if (location) head += ` at line ${location.line}, column ${location.column}`;
  parts.push(`${head}.`);
  const said = [
    field(e.message),
    e.detail && `DETAIL: ${field(e.detail)}`,
    e.hint && `HINT: ${field(e.hint)}`,
    e.where && `CONTEXT: ${field(e.where)}`,
  ]
    .filter(Boolean)
    .join('\n');
  // Escaped into one line inside the fence (untrusted.ts): a quoted value cannot end the fence or
  // write a "What to do" line of its own.
  parts.push(`Postgres said ${fence(said)}`);
  if (location) parts.push(`Near: ${location.excerpt}`);
  parts.push(`What to do: ${advice(code, e, ctx)}`);
  return new SqlError(parts.join('\n'), code);
}

/** Where a 1-based character position falls in `sql`, with the line around it. */
export function locate(sql: string, position: number): { line: number; column: number; excerpt: string } {
  const chars = Array.from(sql);
  const before = chars.slice(0, position - 1).join('');
  const lines = before.split('\n');
  const line = lines.length;
  const column = Array.from(lines[lines.length - 1] ?? '').length + 1;
  const full = sql.split('\n')[line - 1] ?? '';
  const start = Math.max(0, column - 60);
  const excerpt = `${start > 0 ? '…' : ''}${Array.from(full)
    .slice(start, column + 60)
    .join('')}${Array.from(full).length > column + 60 ? '…' : ''}`.trim();
  return { line, column, excerpt: `${excerpt}  (error at column ${column})` };
}

function advice(code: string, e: PgErrorFields, ctx: ErrorContext): string {
  switch (code) {
    case '42601':
      // What the extended protocol says when the SQL holds more than one statement.
      if (/multiple commands/i.test(e.message))
        return 'this tool runs one statement per call. Send the statements one per call, or all together with run_sql_transaction (one transaction, all or nothing).';
      return 'fix the SQL syntax at the position shown, then run it again.';
    case '42P01':
      return 'check the table name and its schema with list_tables (quoted names are case-sensitive), or create it first.';
    case '42703':
      return 'check the column names with describe_table.';
    case '42883':
      return 'check the function name and argument types (add casts); the function may come from an extension that is not installed (CREATE EXTENSION).';
    case '3F000':
      return 'check the schema name with list_tables.';
    case '42501': {
      const who = `the role${ctx.role ? ` ${ctx.role}` : ''}`;
      if (ctx.byUrl)
        return `${who} (the user of --database-url) lacks a privilege for this. Have the object's owner GRANT it, or ask the user for a URL whose role has it.`;
      if (ctx.owner)
        return `${who}, the owner of this database, lacks a privilege for this. On Neon no role is a superuser: objects owned by another role need that role to GRANT the privilege, and some actions are reserved to Neon (see the message).`;
      return `${who} lacks a privilege for this. Connect as the database owner (omit role) or have the object's owner GRANT the privilege.`;
    }
    case '25006':
      return ctx.readOnlyReason
        ? `writes are refused: ${ctx.readOnlyReason}. Nothing was changed.`
        : 'writes are refused in a read-only transaction. Nothing was changed.';
    case '57014':
      return `the statement was stopped after ${seconds(ctx.timeoutMs)}, the SQL statement timeout of this server (--sql-timeout / NEON_MCP_SQL_TIMEOUT_MS). Make it cheaper (explain_sql; an index; a LIMIT) or ask the user to raise the limit. Nothing was changed by the stopped statement.`;
    case '23505':
    case '23503':
    case '23502':
    case '23514':
    case '23P01':
      return 'a constraint rejected the change (see DETAIL); nothing was changed by this statement. Fix the data or the statement.';
    case '40001':
    case '40P01':
      return 'a concurrent transaction conflicted; nothing was changed. Run it again.';
    case '55P03':
      return 'another session holds a lock on the object; try again later.';
    case '25001':
      return 'this statement cannot run inside a transaction block. Run it on its own with run_sql.';
    case '0A000':
      return 'Postgres does not support this here; see the message.';
    case '53300':
      return 'the compute has no free connections. Close idle clients, use a larger compute, or try again shortly.';
    case '42P07':
    case '42710':
    case '42701':
    case '42P06':
      return 'the object already exists; use IF NOT EXISTS, pick another name, or drop it first.';
    case '2BP01':
      return 'other objects depend on it (see DETAIL); drop those first or use CASCADE if that is intended.';
    case '28P01':
    case '28000':
      return 'authentication failed; the role password may have been reset. Try again (connection details are fetched anew), or check the role with list_roles.';
    case '3D000':
      if (ctx.alias && e.message.includes(`"${ctx.alias.name}"`))
        return (
          `in local mode (neon-mcp --local) this branch's database ${ctx.alias.name} is called ${ctx.alias.real} on the server (current_database()). ` +
          `neon-mcp gives it that name in ${REWRITTEN}; elsewhere (WHERE datname = …, text built in PL/pgSQL, psql's \\c) name it with current_database() or as ${ctx.alias.real}. On Neon both are ${ctx.alias.name}.`
        );
      return 'the database does not exist on this branch; list them with list_databases.';
    case '55000':
      if (/pg_stat_statements/.test(e.message))
        return 'pg_stat_statements must be in shared_preload_libraries (Neon computes preload it; on other servers add it to postgresql.conf and restart).';
      return 'the object is not in the state this needs; see the message.';
    case '42P02':
      return 'the SQL uses $1, $2, … placeholders: pass their values in params.';
    case '42P18':
      return 'Postgres could not infer a parameter type: add a cast such as $1::int.';
    case '57P01':
      return 'the server ended the connection (the compute was restarted, suspended or shut down); what it had not committed was rolled back. Run it again.';
    case '57P03':
      return 'the database is starting up, shutting down or recovering and takes no connections yet; try again in a few seconds.';
    default:
      return 'fix the statement (or the data) as the message says and run it again.';
  }
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * What to check when connecting to a --database-url server failed: the URL and the server, where a
 * Neon compute's advice would send the agent to Neon tools that are not offered.
 */
function urlConnectAdvice(code: string | undefined, msg: string): string | undefined {
  switch (code) {
    case '28P01':
    case '28000':
      return 'authentication failed: the user or password in --database-url (NEON_MCP_DATABASE_URL) is wrong, or pg_hba.conf refuses this client. Ask the user to check them; retrying will not help.';
    case '3D000':
      return "the database does not exist on this server; list them with run_sql_readonly: SELECT datname FROM pg_database, and pass one as database (or leave it out for the URL's).";
    case '53300':
      return 'the server has no free connections (max_connections). Close idle clients or try again shortly.';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name did not resolve: check the host in --database-url, and the network.';
  }
  if (/does not support SSL|SSL|certificate|self[- ]signed|TLS/i.test(msg))
    return 'the TLS handshake failed. Without sslmode in --database-url, neon-mcp requires TLS with a certificate verified against the host name; for a server without TLS (e.g. on localhost) add ?sslmode=disable, or sslmode=prefer to try TLS without verifying it.';
  if (code?.startsWith('E') || /timeout/i.test(msg))
    return 'check that the server in --database-url is running and accepts TCP connections on that host and port (listen_addresses, a firewall).';
  return undefined;
}

/** A failure to connect, with what to check. */
export function connectError(e: unknown, where: string, byUrl = false): SqlConnectError {
  if (isPgError(e)) {
    const todo =
      (byUrl ? urlConnectAdvice(e.code, e.message) : undefined) ??
      advice(e.code ?? '', e, { what: 'connect', where, timeoutMs: 0 });
    // PostgreSQL's message may quote what the server was given (a database name): one line, cut.
    const said = inline(field(e.message));
    const text = `Could not connect to ${where}: Postgres error ${e.code}${CONDITION[e.code ?? ''] ? ` (${CONDITION[e.code ?? '']})` : ''}: ${said}. What to do: ${todo}`;
    return new SqlConnectError(text, e.code, e);
  }
  const err = e as { message?: string; code?: string };
  const msg = inline(field(err?.message ?? String(e)));
  const urlTodo = byUrl ? urlConnectAdvice(err?.code, msg) : undefined;
  if (byUrl) {
    return new SqlConnectError(
      `Could not connect to ${where}: ${msg}${err?.code ? ` (${err.code})` : ''}. What to do: ${urlTodo ?? 'check --database-url and that its server is reachable.'}`,
      undefined,
      e,
    );
  }
  let todo =
    'the compute may be starting or suspended: try again in a few seconds. If it keeps failing, check that the branch has a read-write compute (list_computes) and that it is not disabled.';
  if (/does not support SSL|SSL/i.test(msg) || /certificate|self[- ]signed|TLS/i.test(msg))
    todo =
      'the TLS handshake failed. Neon requires TLS with a valid certificate; check the sslmode in the connection string.';
  else if (err?.code === 'ENOTFOUND' || err?.code === 'EAI_AGAIN')
    todo =
      'the host name did not resolve: the compute may have been deleted, or there is no network. Check list_computes.';
  else if (/timeout/i.test(msg))
    todo = 'connecting took too long: the compute may be waking up from suspend; try again.';
  return new SqlConnectError(
    `Could not connect to ${where}: ${msg}${err?.code ? ` (${err.code})` : ''}. What to do: ${todo}`,
    undefined,
    e,
  );
}

/** The connection was lost while a statement ran; the message says what that means for the data. */
export class SqlLostError extends SqlError {
  override name = 'SqlLostError';
  constructor(
    /** What was lost, where, and why (`… failed on …: the connection was lost (…).`). */
    readonly lost: string,
    outcome: string,
  ) {
    super(`${lost} ${outcome}`);
  }
}

/** A connection lost while a statement ran: it may or may not have been applied. */
export function lostError(e: unknown, ctx: ErrorContext, applied: 'maybe' | 'no'): SqlError {
  const msg = inline(field(e instanceof Error ? e.message : String(e)));
  return new SqlLostError(
    `${ctx.what} failed on ${ctx.where}: the connection was lost (${msg}).`,
    applied === 'no'
      ? 'Nothing was changed (the transaction had not been committed). Try again.'
      : 'A write may or may not have been applied: check the data before running it again.',
  );
}
