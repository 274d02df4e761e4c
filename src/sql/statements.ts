/**
 * SQL read by PostgreSQL's own parser: libpg-query, the PostgreSQL 18 parser compiled to WebAssembly.
 * The checks of guard.ts look at the parse tree, so they see what the server sees — nested comments,
 * dollar quotes, quoted identifiers, any case, several statements in one text — where the hand-written
 * keyword filters it replaces were fooled by `/* /* *\/ *\/ COMMIT`.
 *
 * Like pg (driver.ts), the parser is loaded on the first SQL call and never at start-up: most sessions
 * never run SQL, and it costs ≈ 13–16 MB of resident memory once loaded (docs/SQL.md, "The read-only guarantee").
 */
type Parser = typeof import('libpg-query');

let loading: Promise<Parser> | undefined;

/** The parser, loaded once; a failed load is retried on the next call. */
export function loadParser(): Promise<Parser> {
  loading ??= (async () => {
    // The WebAssembly module binds its stdout to console.log while it is being set up. Nothing in the
    // parser should print, but stdout carries JSON-RPC, so whatever it might print goes to stderr.
    const log = console.log;
    console.log = console.error;
    try {
      const mod = (await import('libpg-query')) as Parser & { default?: Parser };
      const parser = (mod.default ?? mod) as Parser;
      await parser.loadModule();
      return parser;
    } finally {
      console.log = log;
    }
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** Whether the parser has been loaded (tests check start-up stays free of it). */
export function parserLoaded(): boolean {
  return loading !== undefined;
}

/** A parse-tree node as libpg-query writes it: `{ "FuncCall": { … } }`. */
export type Node = Record<string, unknown>;

export type Parsed =
  | { ok: true; statements: Node[] }
  | {
      ok: false;
      message: string;
      /** 0-based character offset, when the parser gave one. */
      position?: number;
      /**
       * The parser did not give a verdict on the SQL: reading its answer failed (a JavaScript stack
       * overflow on an expression nested thousands deep, which the server parses fine). Unlike a syntax
       * error, which the server reports the same way, such text cannot be vouched for.
       */
      unreadable: boolean;
    };

/** The statements of `sql` (none for text that is empty or only comments), or the parser's error. */
export function parseWith(parser: Parser, sql: string): Parsed {
  // libpg-query throws on blank text instead of returning no statements.
  if (!sql.trim()) return { ok: true, statements: [] };
  try {
    const res = parser.parseSync(sql) as { stmts?: { stmt?: Node }[] };
    return { ok: true, statements: (res.stmts ?? []).map((s) => s.stmt ?? {}) };
  } catch (e) {
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
    return {
      ok: false,
      message: details?.message ?? (e instanceof Error ? e.message : String(e)),
      ...(details?.cursorPosition !== undefined && details.cursorPosition >= 0
        ? { position: details.cursorPosition }
        : {}),
      unreadable: !details,
    };
  }
}

/**
 * Every node under `tree`, as [type, fields]: a key that starts with a capital letter names a node
 * type (`SelectStmt`, `FuncCall`, `A_Const`); everything else is a field. Walked with an explicit
 * stack, not recursion: `1 + 1 + …` makes a tree thousands of levels deep. Hand-written rather than
 * @pgsql/traverse: the checks want every node of any type, which these few lines give without a
 * visitor per node type or another dependency.
 */
export function* nodes(tree: unknown): Generator<[string, Node]> {
  const stack: unknown[] = [tree];
  while (stack.length) {
    const item = stack.pop();
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push(item[i]);
      continue;
    }
    if (!item || typeof item !== 'object') continue;
    const entries = Object.entries(item);
    for (const [key, value] of entries) {
      if (/^[A-Z]/.test(key) && value && typeof value === 'object' && !Array.isArray(value)) {
        yield [key, value as Node];
      }
    }
    for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]?.[1]);
  }
}

/** The SQL keywords of a TransactionStmt's kind, e.g. `COMMIT`, `ROLLBACK TO`. */
export function transactionKeyword(stmt: Node): string {
  const kind = String(stmt.kind ?? '').replace(/^TRANS_STMT_/, '');
  return (
    {
      BEGIN: 'BEGIN',
      START: 'START TRANSACTION',
      COMMIT: 'COMMIT',
      ROLLBACK: 'ROLLBACK',
      SAVEPOINT: 'SAVEPOINT',
      RELEASE: 'RELEASE',
      ROLLBACK_TO: 'ROLLBACK TO',
      PREPARE: 'PREPARE TRANSACTION',
      COMMIT_PREPARED: 'COMMIT PREPARED',
      ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
    }[kind] ?? 'transaction control'
  );
}

/** A function call's name, lower-cased, and its schema when qualified (`public.dblink_exec`). */
export function functionName(call: Node): { name: string; schema?: string } {
  const parts = ((call.funcname as Node[] | undefined) ?? []).map((p) =>
    String((p.String as Node | undefined)?.sval ?? '').toLowerCase(),
  );
  const name = parts.at(-1) ?? '';
  return parts.length > 1 ? { name, schema: parts.at(-2) } : { name };
}

/** The text of a string constant (`'…'`, `$$…$$`, also with a cast), or undefined for anything else. */
export function stringConstant(node: unknown): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const n = node as Node;
  if (n.A_Const) {
    const sval = (n.A_Const as Node).sval as Node | undefined;
    return typeof sval?.sval === 'string' ? sval.sval : sval ? '' : undefined;
  }
  if (n.TypeCast) return stringConstant((n.TypeCast as Node).arg);
  if (n.NamedArgExpr) return stringConstant((n.NamedArgExpr as Node).arg);
  return undefined;
}
