/** A branch database's schema as DDL, as Neon renders it (get_branch_schema and the schema resource). */
import { parsePatch, type StructuredPatch, structuredPatch } from 'diff';
import type { NeonClient } from '../client/neon-client.js';
import { catalogSchema } from '../sql/ddl.js';
import type { NeonContext } from './context.js';
import { defaultBranchId, onDatabase, pickDatabase } from './resolver.js';

export const SCHEMA_OPERATIONS = [
  'getProjectBranchSchema',
  'listProjectBranches',
  'listProjectBranchDatabases',
];

/** The DDL of `database` (default: the branch's only or default database) on `branch_id` (default branch). */
export async function branchSchema(
  client: NeonClient,
  project_id: string,
  branch: string | undefined,
  database: string | undefined,
  signal: AbortSignal,
): Promise<{ branch_id: string; database: string; sql: string }> {
  const branch_id = branch ?? (await defaultBranchId(client, project_id, signal));
  const db = await pickDatabase(client, project_id, branch_id, database, signal);
  const res = await client.get('/projects/{project_id}/branches/{branch_id}/schema', {
    path: { project_id, branch_id },
    query: { db_name: db.name },
    signal,
  });
  return { branch_id, database: db.name, sql: res.sql ?? '' };
}

/**
 * The schema as DDL wherever the context connects: rendered by Neon for a branch, or from the catalog
 * of a --database-url server (src/sql/ddl.ts), which has no schema endpoint.
 */
export async function databaseSchema(
  ctx: Pick<NeonContext, 'client' | 'signal' | 'settings' | 'connections'>,
  target: { project_id: string; branch_id?: string; database?: string },
): Promise<{ branch_id?: string; database: string; sql: string; truncated?: string }> {
  if (ctx.connections?.kind !== 'postgres')
    return branchSchema(ctx.client, target.project_id, target.branch_id, target.database, ctx.signal);
  return onDatabase(ctx, { database: target.database }, async (s, db) => {
    s.beginReadOnly();
    return { database: db.database, ...(await catalogSchema(s, ctx.settings.sqlMaxBytes)) };
  });
}

/* ---------------------------------------------------------------- diffs sized by what changed */

/** Most characters of diff text in one answer; the rest is counted, not shown. */
const DIFF_MAX_CHARS = 12_000;
/** Most summary lines; the rest are counted. */
const SUMMARY_MAX = 40;

/** A schema diff cut to three lines of context, with a line per changed object first. */
interface SizedDiff {
  /** One line per changed object (`column email of public.users: added`), in the order of the diff. */
  summary: string[];
  /** The unified diff with at most three lines of context around each change, cut at {@link DIFF_MAX_CHARS}. */
  diff: string;
  /** Set when the diff or the summary was cut: what the whole holds and how much is shown. */
  truncated?: string;
}

/**
 * Neon's unified diff (whatever context Neon chose, often the whole file as one hunk) re-cut by the
 * `diff` package to three lines of context, a summary per changed object first, and a cap with the full
 * size stated: the answer grows with the change, not with the database (issue 26).
 */
export function sizeDiff(text: string, maxChars = DIFF_MAX_CHARS): SizedDiff {
  if (text.trim() === '') return { summary: [], diff: '' };
  let files: StructuredPatch[];
  try {
    files = parsePatch(text);
  } catch {
    files = [];
  }
  const hunks = files.flatMap((f) => f.hunks);
  if (!hunks.length) return cap([], text, maxChars); // not a diff we can read: passed on, capped
  const out: string[] = [];
  const objects = new Changes();
  for (const f of files) {
    if (!f.hunks.length) continue;
    out.push(`--- ${f.oldFileName ?? ''}`, `+++ ${f.newFileName ?? ''}`);
    for (const h of f.hunks) {
      summarize(h.lines, objects);
      out.push(...recut(h));
    }
  }
  return cap(objects.lines(), out.join('\n'), maxChars);
}

/** One hunk as hunks with three lines of context, by diffing the hunk's old and new sides again. */
function recut(h: StructuredPatch['hunks'][number]): string[] {
  const side = (mark: string) =>
    h.lines
      .filter((l) => l[0] === ' ' || l[0] === mark)
      .map((l) => `${l.slice(1)}\n`)
      .join('');
  const again = structuredPatch('', '', side('-'), side('+'), undefined, undefined, { context: 3 });
  return again.hunks.flatMap((g) => [
    `@@ -${g.oldStart + h.oldStart - 1},${g.oldLines} +${g.newStart + h.newStart - 1},${g.newLines} @@`,
    ...g.lines.filter((l) => l[0] !== '\\'),
  ]);
}

function cap(summary: string[], diff: string, maxChars: number): SizedDiff {
  const notes: string[] = [];
  let shown = summary;
  if (summary.length > SUMMARY_MAX) {
    shown = [...summary.slice(0, SUMMARY_MAX), `… and ${summary.length - SUMMARY_MAX} more objects`];
  }
  let cut = diff;
  if (diff.length > maxChars) {
    const end = diff.lastIndexOf('\n', maxChars);
    cut = diff.slice(0, end > 0 ? end : maxChars);
    const changed = diff.split('\n').filter((l) => /^[+-](?![+-]{2} )/.test(l)).length;
    notes.push(
      `the diff is ${diff.length} characters (${changed} changed lines); the first ${cut.length} are shown. ` +
        'get_branch_schema or describe_table shows an object whole.',
    );
  }
  return {
    summary: shown,
    diff: cut,
    ...(notes.length ? { truncated: `truncated: ${notes.join(' ')}` } : {}),
  };
}

/** Changes per object, in first-seen order; equal lines removed and added (a moved comma) cancel out. */
class Changes {
  private readonly seen = new Map<string, { removed: string[]; added: string[] }>();
  note(object: string, mark: string, line: string): void {
    const c = this.seen.get(object) ?? { removed: [], added: [] };
    this.seen.set(object, c);
    (mark === '+' ? c.added : c.removed).push(line.trim().replace(/,$/, ''));
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [object, c] of this.seen) {
      const added = [...c.added];
      const removed = c.removed.filter((r) => {
        const i = added.indexOf(r);
        if (i < 0) return true;
        added.splice(i, 1);
        return false;
      });
      if (!added.length && !removed.length) continue;
      out.push(
        `${object}: ${added.length && removed.length ? 'changed' : added.length ? 'added' : 'removed'}`,
      );
    }
    return out;
  }
}

const NAME = String.raw`("(?:[^"]|"")+"|[^\s(,;]+)`;
const STATEMENTS: [RegExp, (m: RegExpMatchArray) => string][] = [
  [new RegExp(`^CREATE (?:UNLOGGED |FOREIGN )?TABLE (?:IF NOT EXISTS )?${NAME}`), (m) => `table ${m[1]}`],
  [
    new RegExp(`^CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?${NAME} ON (?:ONLY )?${NAME}`),
    (m) => `index ${m[1]} on ${m[2]}`,
  ],
  [
    new RegExp(String.raw`^ALTER TABLE (?:ONLY )?${NAME}\s+ADD CONSTRAINT ${NAME}`),
    (m) => `constraint ${m[2]} on ${m[1]}`,
  ],
  [
    new RegExp(String.raw`^ALTER TABLE (?:ONLY )?${NAME}\s+ALTER COLUMN ${NAME}`),
    (m) => `column ${m[2]} of ${m[1]}`,
  ],
  [new RegExp(`^ALTER TABLE (?:ONLY )?${NAME}`), (m) => `table ${m[1]}`],
  [
    new RegExp(`^CREATE (?:OR REPLACE )?(FUNCTION|PROCEDURE|AGGREGATE) ${NAME}`),
    (m) => `${m[1].toLowerCase()} ${m[2]}`,
  ],
  [
    new RegExp(`^CREATE (?:OR REPLACE )?(?:TEMP |TEMPORARY |RECURSIVE )*(MATERIALIZED VIEW|VIEW) ${NAME}`),
    (m) => `${m[1].toLowerCase()} ${m[2]}`,
  ],
  [
    new RegExp(`^CREATE (?:OR REPLACE )?(?:CONSTRAINT )?TRIGGER ${NAME} .*? ON ${NAME}`),
    (m) => `trigger ${m[1]} on ${m[2]}`,
  ],
  [new RegExp(`^CREATE POLICY ${NAME} ON ${NAME}`), (m) => `policy ${m[1]} on ${m[2]}`],
  [
    new RegExp(`^CREATE (SEQUENCE|TYPE|DOMAIN|SCHEMA|EXTENSION) (?:IF NOT EXISTS )?${NAME}`),
    (m) => `${m[1].toLowerCase()} ${m[2]}`,
  ],
  [/^(COMMENT ON|GRANT|REVOKE|ALTER [A-Z]+|CREATE [A-Z]+)\b/, (m) => `${m[1].toLowerCase()} statements`],
];

/** The object a statement's first line makes or changes, or undefined for a line inside a statement. */
function statementObject(line: string): string | undefined {
  for (const [re, name] of STATEMENTS) {
    const m = line.match(re);
    if (m) return name(m);
  }
  return undefined;
}

/**
 * Which object each changed line belongs to: a line that starts a statement names its object (a table,
 * an index, a constraint…); a line inside `CREATE TABLE` names a column; any other line inside a
 * statement belongs to that statement. pg_dump's comments and blank lines say nothing.
 */
function summarize(lines: string[], objects: Changes): void {
  let current: { object: string; table?: string; whole: boolean } | undefined;
  for (const l of lines) {
    const mark = l[0];
    const text = l.slice(1);
    if (mark === '\\' || text.trim() === '' || text.startsWith('--')) continue;
    const started = /^\S/.test(text) && !/^[)]/.test(text) ? statementObject(text) : undefined;
    if (started) {
      current = {
        object: started,
        table: started.startsWith('table ') && text.startsWith('CREATE') ? started.slice(6) : undefined,
        whole: mark !== ' ',
      };
    }
    if (mark !== '+' && mark !== '-') continue;
    if (!current) {
      objects.note('other lines', mark, text);
      continue;
    }
    const column = !started && !current.whole && current.table ? columnOf(text) : undefined;
    objects.note(column ? `column ${column} of ${current.table}` : current.object, mark, text);
  }
}

/** The column a line inside CREATE TABLE defines (not a table constraint, not the closing parenthesis). */
function columnOf(line: string): string | undefined {
  const m = line.match(new RegExp(String.raw`^\s+${NAME}\s`));
  if (!m || /^(CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN|EXCLUDE|LIKE)$/i.test(m[1])) return undefined;
  return m[1];
}
