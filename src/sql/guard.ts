/**
 * What the SQL tools refuse before a statement reaches the server, decided on PostgreSQL's own parse
 * tree (statements.ts):
 *
 * - Transaction control inside a tool that owns the transaction (run_sql_transaction, migrations,
 *   EXPLAIN ANALYZE) or in run_sql (a transaction cannot span calls): a COMMIT would end the
 *   all-or-nothing transaction early while the answer says nothing was applied.
 * - COPY … FROM STDIN / TO STDOUT: there is no client-side data stream.
 * - In read-only calls, whatever acts outside the transaction, which a READ ONLY transaction does not
 *   stop and its rollback does not undo: dblink and foreign-data connections, signals to other
 *   backends, WAL and replication changes, large objects and server files, advisory locks,
 *   notifications, statistics resets, ANALYZE/VACUUM/CLUSTER/REINDEX, CHECKPOINT, LOAD, and code the
 *   guard cannot read (DO, CALL, EXECUTE, SQL passed as text to query_to_xml and the like). The READ
 *   ONLY transaction stays as the second wall for everything else.
 *
 * Why `SET` and `set_config` are allowed: a setting changed inside a transaction is undone by its
 * rollback, and read-only calls always roll back (the connection is also reset before reuse).
 */
import { SqlError } from './errors.js';
import { INTERNAL_MARK, type Session } from './session.js';
import {
  functionName,
  loadParser,
  type Node,
  nodes,
  type Parsed,
  parseWith,
  stringConstant,
  transactionKeyword,
} from './statements.js';

/** Something in a statement that acts outside its transaction. */
interface Effect {
  /** As the agent wrote it: `dblink_exec()`, `ANALYZE`. */
  name: string;
  why: string;
}

const WHY = {
  dblink: 'dblink opens its own connection to a database, which the READ ONLY transaction does not cover',
  fdw: 'it manages connections to foreign servers',
  signal: 'it signals other server processes (cancel, terminate, reload, log)',
  wal: 'it writes to the WAL or changes replication state, which no rollback undoes',
  lo: 'large objects are read from and written to server files and storage outside the read-only check',
  lock: 'advisory locks can outlive the transaction',
  notify: 'it notifies other sessions',
  stats: 'it resets or rewrites statistics, which no rollback undoes',
  maintenance: 'PostgreSQL lets it change tables, indexes or statistics inside a READ ONLY transaction',
  server: 'it acts on the whole server or the session outside the transaction',
  file: 'it reads or writes files on the server or runs a program there',
  opaque: 'it runs code the guard cannot read, which could do any of the above',
  role:
    'it changes the role the statement runs as: read-only calls run as a role without write or signal ' +
    'privileges, and PostgreSQL checks SET ROLE against the login role, so only this check keeps it',
};

/** Functions with effects outside the transaction, by exact name (lower case, any schema). */
const FUNCTIONS = new Map<string, string>([
  ...[
    'pg_terminate_backend',
    'pg_cancel_backend',
    'pg_reload_conf',
    'pg_rotate_logfile',
    'pg_log_backend_memory_contexts',
    'pg_promote',
    'pg_wal_replay_pause',
    'pg_wal_replay_resume',
  ].map((n) => [n, WHY.signal] as const),
  ...[
    'pg_logical_emit_message',
    'pg_switch_wal',
    'pg_drop_replication_slot',
    'pg_replication_slot_advance',
    'pg_sync_replication_slots',
    'pg_backup_start',
    'pg_backup_stop',
    'pg_log_standby_snapshot',
  ].map((n) => [n, WHY.wal] as const),
  ['lowrite', WHY.lo],
  ['pg_notify', WHY.notify],
  ...[
    'pg_stat_statements_reset',
    'pg_restore_relation_stats',
    'pg_restore_attribute_stats',
    'pg_clear_relation_stats',
    'pg_clear_attribute_stats',
  ].map((n) => [n, WHY.stats] as const),
  ...[
    'brin_summarize_new_values',
    'brin_summarize_range',
    'brin_desummarize_range',
    'gin_clean_pending_list',
    'pg_import_system_collations',
    'pg_truncate_visibility_map',
  ].map((n) => [n, WHY.maintenance] as const),
]);

/** Families of such functions, by name prefix. */
const PREFIXES: [string, string][] = [
  ['dblink', WHY.dblink],
  ['postgres_fdw_', WHY.fdw],
  ['pg_create_', WHY.wal], // replication slots, restore points
  ['pg_copy_', WHY.wal], // replication slots
  ['pg_replication_origin_', WHY.wal],
  ['pg_logical_slot_get_', WHY.wal], // consumes the slot's changes
  ['lo_', WHY.lo],
  ['pg_advisory_', WHY.lock],
  ['pg_try_advisory_', WHY.lock],
  ['pg_stat_reset', WHY.stats],
  ['pg_file_', WHY.file], // adminpack on older servers
  ['heap_force_', WHY.maintenance], // pg_surgery
  ['pg_buffercache_evict', WHY.server],
  ['autoprewarm_', WHY.file],
];

/** Built-in functions that run SQL given to them as text; the text is checked when it is a constant. */
const RUNS_SQL_TEXT = new Set([
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'ts_stat',
  'ts_rewrite',
]);

function functionEffect(name: string): string | undefined {
  return FUNCTIONS.get(name) ?? PREFIXES.find(([p]) => name.startsWith(p))?.[1];
}

/** Statement types PostgreSQL runs inside a READ ONLY transaction although they act outside it. */
function statementEffect(type: string, n: Node): Effect | undefined {
  switch (type) {
    case 'VacuumStmt':
      return { name: n.is_vacuumcmd ? 'VACUUM' : 'ANALYZE', why: WHY.maintenance };
    case 'ClusterStmt':
      return { name: 'CLUSTER', why: WHY.maintenance };
    case 'ReindexStmt':
      return { name: 'REINDEX', why: WHY.maintenance };
    case 'CheckPointStmt':
      return { name: 'CHECKPOINT', why: WHY.server };
    case 'LoadStmt':
      return { name: 'LOAD', why: WHY.server };
    case 'ListenStmt':
      return { name: 'LISTEN', why: WHY.notify };
    case 'NotifyStmt':
      return { name: 'NOTIFY', why: WHY.notify };
    case 'DoStmt':
      return { name: 'DO', why: WHY.opaque };
    case 'CallStmt':
      return { name: 'CALL', why: WHY.opaque };
    case 'ExecuteStmt':
      return { name: 'EXECUTE of a prepared statement', why: WHY.opaque };
    case 'CopyStmt':
      return n.filename !== undefined || n.is_program
        ? { name: 'COPY … TO/FROM a server file or PROGRAM', why: WHY.file }
        : undefined;
    default:
      return undefined;
  }
}

/** Words that, in text the parser refused, may hide an effect (see {@link suspectWords}). */
const KEYWORDS = new Set([
  'analyze',
  'vacuum',
  'cluster',
  'reindex',
  'checkpoint',
  'load',
  'listen',
  'notify',
  'do',
  'call',
  'execute',
  'program',
]);

type Parser = Awaited<ReturnType<typeof loadParser>>;

/** What a text holds: statements and the findings of the checks. */
export interface Inspection {
  parsed: Parsed;
  /** Transaction control statements, as keywords (`COMMIT`, `SAVEPOINT`). */
  transactionControl: string[];
  /** A COPY that needs a client-side stream (FROM STDIN / TO STDOUT). */
  copyStream: boolean;
  /** The first statement is an EXPLAIN. */
  explain: boolean;
  /** Effects outside the transaction (only meaningful when the text parsed). */
  effects: Effect[];
  /**
   * Every function the statement may call, however spelled, for the catalog check
   * ({@link checkCatalog}): `f(x)` and `s.f(x)`, and the attribute notation PostgreSQL also reads as a
   * call, `x.f` and `(expr).f`, which mean `f(x)` when no column of that name exists.
   */
  calls: Call[];
  /** Operators used (each runs a function), by name. */
  operators: string[];
}

/** A function call as written: `form` tells the notation (attribute calls take exactly one argument). */
export interface Call {
  name: string;
  schema?: string;
  form: 'call' | 'attribute';
}

/** Parses `sql` and collects what the checks need. */
export async function inspect(sql: string): Promise<Inspection> {
  const parser = await loadParser();
  return inspectWith(parser, sql, 0);
}

function inspectWith(parser: Parser, sql: string, depth: number): Inspection {
  const parsed = parseWith(parser, sql);
  const found: Inspection = {
    parsed,
    transactionControl: [],
    copyStream: false,
    explain: false,
    effects: [],
    calls: [],
    operators: [],
  };
  if (!parsed.ok) return found;
  found.explain = Object.keys(parsed.statements[0] ?? {})[0] === 'ExplainStmt';
  for (const [type, n] of nodes(parsed.statements)) {
    if (type === 'TransactionStmt') found.transactionControl.push(transactionKeyword(n));
    if (type === 'CopyStmt' && n.filename === undefined && !n.is_program) found.copyStream = true;
    const statement = statementEffect(type, n);
    if (statement) found.effects.push(statement);
    collectCalls(type, n, found);
    if (type !== 'FuncCall') continue;
    const { name } = functionName(n);
    const why = functionEffect(name);
    if (why) found.effects.push({ name: `${name}()`, why });
    if (name === 'set_config') found.effects.push(...setConfigEffects(n));
    if (RUNS_SQL_TEXT.has(name)) sqlTextEffects(parser, name, n, depth, found);
  }
  return found;
}

/** The last String field of a name list (a ColumnRef's fields, an indirection), lower-cased. */
function strings(list: unknown): string[] {
  return ((list as Node[] | undefined) ?? []).map((p) =>
    typeof (p?.String as Node | undefined)?.sval === 'string'
      ? String((p.String as Node).sval).toLowerCase()
      : '',
  );
}

/**
 * Records every way `n` may call a function: FuncCall; `x.f` (a ColumnRef of two or more names, whose
 * last names a column or, failing that, a function of x's row type); `(expr).f` (A_Indirection); and
 * operators (A_Expr). Also refuses changing the role or resetting every setting (see WHY.role).
 */
function collectCalls(type: string, n: Node, found: Inspection): void {
  switch (type) {
    case 'FuncCall': {
      const { name, schema } = functionName(n);
      found.calls.push({ name, ...(schema !== undefined ? { schema } : {}), form: 'call' });
      return;
    }
    case 'ColumnRef': {
      const fields = strings(n.fields);
      const last = fields.at(-1);
      if (fields.length >= 2 && last) found.calls.push({ name: last, form: 'attribute' });
      return;
    }
    case 'A_Indirection': {
      for (const name of strings(n.indirection)) if (name) found.calls.push({ name, form: 'attribute' });
      return;
    }
    case 'A_Expr': {
      const op = strings(n.name).at(-1);
      // BETWEEN and the like are keywords here, not operator names: those run built-in comparisons.
      if (op && !/^[a-z_]/.test(op)) found.operators.push(op);
      return;
    }
    case 'VariableSetStmt': {
      const name = String(n.name ?? '').toLowerCase();
      if (n.kind === 'VAR_RESET_ALL') found.effects.push({ name: 'RESET ALL', why: WHY.role });
      else if (ROLE_SETTINGS.has(name)) found.effects.push({ name: `SET/RESET ${name}`, why: WHY.role });
      return;
    }
    default:
      return;
  }
}

/** Settings that change whose privileges a statement runs with. */
const ROLE_SETTINGS = new Set(['role', 'session_authorization']);

/** set_config is allowed (rolled back with the call) unless it names a role setting or a name not written out. */
function setConfigEffects(call: Node): Effect[] {
  const first = ((call.args as unknown[] | undefined) ?? [])[0];
  const name = stringConstant(first);
  if (name === undefined) {
    return [{ name: 'set_config() with a setting name that is not a constant', why: WHY.role }];
  }
  return ROLE_SETTINGS.has(name.trim().toLowerCase())
    ? [{ name: `set_config('${name.trim().toLowerCase()}', …)`, why: WHY.role }]
    : [];
}

/**
 * Effects of the SQL a function such as query_to_xml would run: its constant text is checked too, and
 * the functions it calls join the catalog check.
 */
function sqlTextEffects(parser: Parser, name: string, call: Node, depth: number, found: Inspection): void {
  const opaque = {
    name: `${name}() with a query that is not a constant`,
    why: 'it runs SQL given as text, which the guard can only check when it is written out',
  };
  if (depth > 3) {
    found.effects.push(opaque);
    return;
  }
  for (const arg of (call.args as unknown[] | undefined) ?? []) {
    const text = stringConstant(arg);
    if (text === undefined) {
      // Booleans and other constants are fine; anything computed could build any query.
      if (arg && typeof arg === 'object' && 'A_Const' in arg) continue;
      found.effects.push(opaque);
      return;
    }
    const inner = inspectWith(parser, text, depth + 1);
    if (inner.parsed.ok) {
      found.effects.push(...inner.effects);
      found.calls.push(...inner.calls);
      found.operators.push(...inner.operators);
    } else if (inner.parsed.unreadable) {
      found.effects.push(opaque);
      return;
    } else found.effects.push(...suspectWords(text));
    // Unreadable SQL text (a tsquery such as 'a & b' is not SQL) is fine unless it names an effect.
  }
}

/**
 * Refused names and keywords found anywhere in a text the parser refused: an older server may parse
 * what the PostgreSQL 18 parser does not (a word reserved since 16 used as an alias), so what a read-only
 * call cannot check is not sent when it might hide an effect. Comments and strings count too.
 */
function suspectWords(sql: string): Effect[] {
  const words = new Set(sql.toLowerCase().match(/[a-z_][a-z0-9_$]*/g) ?? []);
  const effects: Effect[] = [];
  for (const w of words) {
    const why = functionEffect(w);
    if (why) effects.push({ name: `${w}()`, why });
    else if (KEYWORDS.has(w)) effects.push({ name: w.toUpperCase(), why: WHY.opaque });
  }
  return effects;
}

/**
 * A standard string constant containing `\'`: with standard_conforming_strings off (a role or database
 * setting) the server reads the backslash as an escape and the string ends elsewhere than the parser
 * says, so a call the parser sees inside a string could run. Found with PostgreSQL's own scanner.
 */
async function backslashQuote(sql: string): Promise<boolean> {
  if (!sql.includes("\\'")) return false;
  const parser = await loadParser();
  // The scanner's offsets count UTF-8 bytes, not JavaScript characters: read the tokens in the bytes, or
  // an 'é' before the string would shift them off its quote and let `'\', $$' , dblink_exec(…) --$$` through.
  const bytes = Buffer.from(sql);
  try {
    return parser
      .scanSync(sql)
      .tokens.some(
        (t) =>
          t.tokenName === 'SCONST' &&
          bytes[t.start] === 0x27 &&
          bytes.subarray(t.start, t.end).includes("\\'"),
      );
  } catch {
    return true; // the scanner failed where the parser did not: treat it as unreadable
  }
}

function list(names: string[]): string {
  const unique = [...new Set(names)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} and ${unique.at(-1)}`;
}

/** Refuses text whose statements have effects outside the transaction of a read-only call. */
export async function checkReadOnly(sql: string, tool: string, found?: Inspection): Promise<void> {
  const { parsed, effects } = found ?? (await inspect(sql));
  const advice =
    'Its rollback would not undo that, so read-only calls refuse it. ' +
    'To run it on purpose, use run_sql (not offered when the server runs with --read-only).';
  if (!parsed.ok && parsed.unreadable) throw unreadable(tool, parsed.message);
  if (!parsed.ok) {
    // PostgreSQL will refuse the syntax error itself with the same message, unless the server is
    // older and reads the text differently; refuse only when the text could hide an effect.
    const suspects = suspectWords(sql);
    if (!suspects.length) return;
    throw new SqlError(
      `${tool}: the statement could not be parsed by PostgreSQL's parser (${parsed.message}` +
        `${parsed.position !== undefined ? ` at character ${parsed.position + 1}` : ''}), and it names ` +
        `${list(suspects.map((s) => s.name))}, which ${suspects.length > 1 ? 'are' : 'is'} not allowed in a read-only call. ` +
        'Fix the syntax and call again.',
    );
  }
  if (effects.length) {
    const names = list(effects.map((e) => e.name));
    throw new SqlError(
      `${tool}: ${names} ${new Set(effects.map((e) => e.name)).size > 1 ? 'are' : 'is'} not allowed in a read-only call: ` +
        `${[...new Set(effects.map((e) => e.why))].join('; ')}. ${advice}`,
    );
  }
  if (await backslashQuote(sql)) {
    throw new SqlError(
      `${tool}: a string constant contains a backslash before a quote (\\'), which a server with ` +
        'standard_conforming_strings off reads differently from the check, so a read-only call cannot vouch ' +
        "for it. Write the quote doubled ('') or use an escape string (E'…').",
    );
  }
}

function unreadable(tool: string, message: string): SqlError {
  return new SqlError(
    `${tool}: the statement is too deeply nested to be checked (${message}), so it is not sent. ` +
      'Split it up, e.g. a long chain of + or || into sum() or string_agg() over a list, or several statements.',
  );
}

/** Where the SQL runs, for the wording of refusals. */
type Place = 'own transaction' | 'session' | 'migration';

/** Refuses empty text, transaction control and COPY with a client-side stream. */
export function checkShape(found: Inspection, tool: string, place: Place): void {
  const { parsed } = found;
  if (parsed.ok && parsed.statements.length === 0) throw new SqlError(`${tool}: the SQL is empty.`);
  // A single statement cannot hide a second one from the extended protocol; a script can.
  if (!parsed.ok && parsed.unreadable && place === 'migration') throw unreadable(tool, parsed.message);
  const control = found.transactionControl[0];
  if (control) {
    throw new SqlError(
      place === 'own transaction'
        ? `${tool}: ${control} is not allowed here: the tool runs the SQL in a transaction it manages itself (committed only when every statement succeeded, or rolled back). Leave transaction control out.`
        : place === 'migration'
          ? `${tool}: ${control} is not allowed in a migration: neon-mcp runs the migration in one transaction, so it is applied whole or not at all (a COMMIT inside would keep its first part even when a later statement fails). Leave transaction control out; statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM) belong in run_sql.`
          : `${tool}: ${control} is not allowed: each call runs on its own connection session, so a transaction cannot span calls. To run several statements atomically, use run_sql_transaction.`,
    );
  }
  if (found.copyStream) {
    throw new SqlError(
      `${tool}: COPY … FROM STDIN / TO STDOUT needs a client-side data stream, which this tool does not have. Use INSERT … VALUES (or INSERT … SELECT) to load data, and SELECT to read it.`,
    );
  }
}

/**
 * Volatile built-in functions a read-only call may still use: each only reads the clock, a random
 * source, sizes and server state, or waits (bounded by the statement timeout). Everything else that
 * PostgreSQL marks volatile may act outside the transaction (that is what the mark says: its effects
 * are not bound to its arguments), so it is refused unless listed here. Only pg_catalog's own count:
 * a function of the same name in another schema is judged by its own mark.
 */
const VOLATILE_ALLOWED = new Set([
  'random',
  'random_normal',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'pg_relation_size',
  'pg_total_relation_size',
  'pg_table_size',
  'pg_indexes_size',
  'pg_database_size',
  'pg_tablespace_size',
  'pg_is_in_recovery',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_last_wal_receive_lsn',
  'pg_last_wal_replay_lsn',
  'pg_last_xact_replay_timestamp',
  'currval',
  'lastval',
  'pg_blocking_pids',
  // Its arguments are checked by setConfigEffects; the setting is undone by the rollback.
  'set_config',
]);

interface ProcRow extends Record<string, unknown> {
  kind: 'f' | 'o';
  name: string;
  schema: string;
  volatility: string;
  nargs: number;
  ndefaults: number;
}

/** Whether a catalog function may run in a read-only call. `strict`: no privilege wall behind it. */
function safeProc(p: ProcRow, strict: boolean): boolean {
  const builtin = p.schema === 'pg_catalog';
  if (strict && !builtin) return false;
  return p.volatility !== 'v' || (builtin && p.kind === 'f' && VOLATILE_ALLOWED.has(p.name));
}

/**
 * The catalog check of a read-only call, on the server that will run it: every function the text may
 * call (however spelled, see {@link Call}) and every operator's function is looked up in pg_proc, as
 * PostgreSQL would resolve it, and refused when it is volatile and not in {@link VOLATILE_ALLOWED}:
 * a function is refused for what PostgreSQL says it is, not for its name. Where several functions share
 * a name (overloads, schemas), any unsafe one refuses the call. `strict` (no privilege wall) also
 * refuses every function outside pg_catalog, whatever its mark: nothing else then stops a function its
 * author marked STABLE from signalling other sessions.
 */
export async function checkCatalog(
  s: Pick<Session, 'exec'>,
  found: Inspection,
  tool: string,
  strict: boolean,
): Promise<void> {
  const names = [...new Set(found.calls.map((c) => c.name))];
  const operators = [...new Set(found.operators)];
  if (!names.length && !operators.length) return;
  const { rows } = await s.exec<ProcRow>(
    `SELECT ${INTERNAL_MARK} 'f' AS kind, lower(p.proname) AS name, n.nspname::text AS schema,
       p.provolatile::text AS volatility, p.pronargs::int AS nargs, p.pronargdefaults::int AS ndefaults
     FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE lower(p.proname) = ANY($1::text[])
     UNION ALL
     SELECT 'o', o.oprname::text, n.nspname::text, p.provolatile::text, 0, 0
     FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE o.oprname = ANY($2::text[])`,
    [names, operators],
    `${tool}: checking the functions it calls`,
  );
  const refused = new Map<string, ProcRow>();
  for (const call of found.calls) {
    for (const p of rows) {
      if (p.kind !== 'f' || p.name !== call.name) continue;
      if (call.schema !== undefined && p.schema.toLowerCase() !== call.schema) continue;
      // x.f means f(x): only functions callable with one argument.
      if (call.form === 'attribute' && !(p.nargs >= 1 && p.nargs - p.ndefaults <= 1)) continue;
      if (!safeProc(p, strict)) refused.set(`${p.schema}.${p.name}()`, p);
    }
  }
  for (const p of rows) {
    if (p.kind === 'o' && operators.includes(p.name) && !safeProc(p, strict)) {
      refused.set(`operator ${p.schema}.${p.name}`, p);
    }
  }
  if (!refused.size) return;
  const names2 = list([...refused.keys()]);
  const volatile = [...refused.values()].some((p) => p.volatility === 'v');
  const why = [
    volatile
      ? 'PostgreSQL marks it volatile: it may act outside the transaction (write over its own connection, signal or lock), which the rollback of a read-only call does not undo'
      : '',
    [...refused.values()].some((p) => p.volatility !== 'v')
      ? `this server has no read-only role for neon-mcp (see the log), so only built-in functions known to be safe are allowed`
      : '',
  ]
    .filter(Boolean)
    .join('; ');
  throw new SqlError(
    `${tool}: ${names2} ${refused.size > 1 ? 'are' : 'is'} not allowed in a read-only call: ${why}. ` +
      '(Written as x.f or (expr).f, PostgreSQL calls f(x) when x has no column f.) ' +
      'To run it on purpose, use run_sql (not offered when the server runs with --read-only).',
  );
}
