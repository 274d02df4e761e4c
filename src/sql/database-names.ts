/**
 * The database names an agent writes, when the server calls the database otherwise: local mode
 * (`neon-mcp --local`) keeps every branch's `neondb` on one PostgreSQL server as `neondb__<tag>`
 * (docs/LOCAL.md, "Database names inside SQL"), while the agent knows it as `neondb` from
 * list_databases. The statements that name a database by name are given the server's name, found by
 * PostgreSQL's own scanner (so quotes, comments and dollar-quoted text are told apart) and replaced in
 * place, leaving the rest of the text byte for byte as written. On Neon both names are the same and
 * nothing is read.
 */
import type { loadParser } from './statements.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

/** What an agent calls the session's database, and what the server calls it. */
export interface DatabaseAlias {
  name: string;
  real: string;
}

/** Keywords after which `DATABASE name[, name…]` names a database that exists. */
const BEFORE_DATABASE = new Set(['on', 'alter', 'in', 'reindex']);
/** Functions that take a database's name as a string. */
const NAME_FUNCTIONS = new Set(['pg_database_size', 'has_database_privilege']);

/** The statements (as listed in docs/LOCAL.md) that a rewrite covers, for the error of one it does not. */
export const REWRITTEN =
  'GRANT/REVOKE … ON DATABASE, ALTER DATABASE, COMMENT ON DATABASE, ALTER ROLE … IN DATABASE, ' +
  'REINDEX DATABASE, pg_database_size() and has_database_privilege()';

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The name an identifier token stands for: unquoted ones fold to lower case, as PostgreSQL does. */
function identName(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replace(/""/g, '"') : text.toLowerCase();
}

/**
 * `sql` with each database name in the statements listed in {@link REWRITTEN} that is `alias.name`
 * replaced by `alias.real`. Text the scanner cannot read is returned as it is (the server reports it).
 */
export function renameDatabases(parser: Parser, sql: string, alias: DatabaseAlias): string {
  if (alias.name === alias.real || !/database/i.test(sql)) return sql;
  let tokens: ReturnType<Parser['scanSync']>['tokens'];
  try {
    tokens = parser.scanSync(sql).tokens;
  } catch {
    return sql;
  }
  // The scanner's offsets count bytes of UTF-8.
  const bytes = Buffer.from(sql, 'utf8');
  const edits: { start: number; end: number; text: string }[] = [];
  const word = (i: number) => tokens[i]?.text.toLowerCase();
  const isName = (i: number) => tokens[i] && (tokens[i].tokenName === 'IDENT' || tokens[i].keywordKind !== 0);
  for (let i = 0; i < tokens.length; i++) {
    if (word(i) === 'database' && BEFORE_DATABASE.has(word(i - 1) ?? '')) {
      let j = i + 1;
      if (word(j) === 'concurrently') j++;
      for (; isName(j); j += 2) {
        if (identName(tokens[j].text) === alias.name)
          edits.push({ start: tokens[j].start, end: tokens[j].end, text: quoteIdent(alias.real) });
        if (tokens[j + 1]?.text !== ',') break;
      }
    } else if (NAME_FUNCTIONS.has(word(i) ?? '') && tokens[i + 1]?.text === '(') {
      // The arguments up to the closing parenthesis: a string constant that is the name.
      for (let j = i + 2, depth = 1; j < tokens.length && depth > 0; j++) {
        const t = tokens[j];
        if (t.text === '(') depth++;
        else if (t.text === ')') depth--;
        else if (t.tokenName === 'SCONST' && t.text === `'${alias.name.replace(/'/g, "''")}'`)
          edits.push({ start: t.start, end: t.end, text: `'${alias.real.replace(/'/g, "''")}'` });
      }
    }
  }
  if (!edits.length) return sql;
  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(bytes.subarray(at, e.start), Buffer.from(e.text, 'utf8'));
    at = e.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString('utf8');
}

/** The database name in a PostgreSQL URI's path. */
export function databaseOfUri(uri: string): string | undefined {
  try {
    const path = new URL(uri).pathname.slice(1);
    return path ? decodeURIComponent(path) : undefined;
  } catch {
    return undefined;
  }
}
