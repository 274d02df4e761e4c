/**
 * A database's schema as SQL DDL, rendered from the catalog: get_branch_schema on a --database-url
 * server, where Neon's schema endpoint (pg_dump on Neon's side) is not there. Hand-written because
 * pg_dump is a binary a user may not have; PostgreSQL's own pg_get_*def functions render every
 * expression, constraint, index, view, function and trigger, so this only puts them in order.
 *
 * Covered: schemas, extensions, enum, domain and composite types, sequences (a serial's owned by
 * its column), functions and procedures, tables (columns with types, defaults, identity, generated
 * columns, NOT NULL; primary key, unique, check and exclusion constraints; partitioning), foreign keys,
 * indexes, views, materialized views, triggers, and row-level security with its policies. Not covered
 * (pg_dump has them): grants, comments, ownership, range types, aggregates, operators, rules. Objects
 * that belong to an extension are left out, as CREATE EXTENSION makes them. The order is by kind
 * (schemas, extensions, types, sequences, functions, tables, …), not pg_dump's dependency sort: a
 * function whose signature names a table's row type would need reordering to replay (a body that
 * reads a table replays: function bodies are not checked, as in pg_dump's output).
 */
import { cutText } from './budget.js';
import { catalogStringMax } from './catalog.js';
import type { Session } from './session.js';

const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Not made by an extension (those come with CREATE EXTENSION). */
const notInExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

/** One statement, in one round trip: every piece with its place in the order of creation. */
const SCHEMA_SQL = `WITH ns AS (SELECT n.oid, n.nspname FROM pg_namespace n WHERE ${USER_SCHEMA}),
rel AS (SELECT c.*, n.nspname FROM pg_class c JOIN ns n ON n.oid = c.relnamespace WHERE ${notInExtension('pg_class', 'c.oid')}),
parts(ord, sort, ddl) AS (
  SELECT 1, n.nspname::text, format('CREATE SCHEMA %I;', n.nspname)
    FROM ns n WHERE n.nspname <> 'public' AND ${notInExtension('pg_namespace', 'n.oid')}
  UNION ALL
  SELECT 2, x.extname::text, format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I;', x.extname, n.nspname)
    FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'
  UNION ALL
  SELECT 3, format('%I.%I', n.nspname, t.typname),
    format('CREATE TYPE %I.%I AS ENUM (%s);', n.nspname, t.typname,
      (SELECT string_agg(quote_literal(l.enumlabel), ', ' ORDER BY l.enumsortorder) FROM pg_enum l WHERE l.enumtypid = t.oid))
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'e' AND ${notInExtension('pg_type', 't.oid')}
  UNION ALL
  -- Domains and composite types after the enums they may use, then in creation order (one may use another).
  SELECT 3, '~' || lpad(t.oid::text, 10, '0'),
    CASE WHEN t.typtype = 'd' THEN
      format('CREATE DOMAIN %I.%I AS %s%s%s%s;', n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
        CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END,
        CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END,
        coalesce((SELECT string_agg(format(' CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid)), '' ORDER BY k.conname)
                  FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'), ''))
    ELSE
      format('CREATE TYPE %I.%I AS (%s);', n.nspname, t.typname,
        (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
         FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
    END
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
    WHERE (t.typtype = 'd' OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
      AND ${notInExtension('pg_type', 't.oid')}
  UNION ALL
  SELECT 4, format('%I.%I', c.nspname, c.relname),
    format('CREATE SEQUENCE %I.%I AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s%s;', c.nspname, c.relname,
      format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)
    FROM pg_sequence s JOIN rel c ON c.oid = s.seqrelid
    -- An identity column's sequence comes with its table; a serial's is made here, owned below.
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
  UNION ALL
  -- As pg_dump does: bodies are not checked at creation, so an SQL-language function that reads a
  -- table created further down replays (sort '' puts it before every function).
  SELECT 5, '', 'SET check_function_bodies = false;'
    WHERE EXISTS (SELECT 1 FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND ${notInExtension('pg_proc', 'p.oid')})
  UNION ALL
  SELECT 5, lpad(p.oid::text, 10, '0'), rtrim(pg_get_functiondef(p.oid), E'\n') || ';'
    FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND ${notInExtension('pg_proc', 'p.oid')}
  UNION ALL
  -- A partition after its parent: by depth in the partition tree, then by name.
  SELECT 6, lpad((SELECT count(*) FROM pg_partition_ancestors(c.oid))::text, 3, '0') || format('%I.%I', c.nspname, c.relname),
    CASE WHEN c.relispartition THEN
      format('CREATE TABLE %I.%I PARTITION OF %s %s%s;', c.nspname, c.relname,
        (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid), pg_get_expr(c.relpartbound, c.oid),
        CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END)
    ELSE
      format(E'CREATE %sTABLE %I.%I (\\n%s\\n)%s;', CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END, c.nspname, c.relname,
        (SELECT string_agg('    ' || line, E',\\n' ORDER BY k, num, line) FROM (
          SELECT 0 AS k, a.attnum AS num, format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)) ||
            CASE WHEN a.attidentity = 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                 WHEN a.attidentity = 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY'
                 WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                 WHEN a.attgenerated = 'v' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') VIRTUAL'
                 WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END ||
            CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END AS line
          FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          UNION ALL
          SELECT 1, 0, format('CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid))
          FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c', 'x') AND k.conislocal
        ) cols),
        CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END)
    END
    FROM rel c WHERE c.relkind IN ('r', 'p')
  UNION ALL
  SELECT 7, format('%I.%I %s', c.nspname, c.relname, k.conname),
    format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s;', c.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid))
    FROM pg_constraint k JOIN rel c ON c.oid = k.conrelid WHERE k.contype = 'f' AND k.conparentid = 0
  UNION ALL
  SELECT 7, format('%I.%I', s.nspname, s.relname),
    format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I;', s.nspname, s.relname, t.nspname, t.relname, a.attname)
    FROM pg_depend d JOIN rel s ON s.oid = d.objid AND s.relkind = 'S' JOIN rel t ON t.oid = d.refobjid
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
  UNION ALL
  SELECT 8, lpad(v.oid::text, 10, '0'),
    format(E'CREATE %s %I.%I AS\\n%s', CASE WHEN v.relkind = 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, v.nspname, v.relname,
      pg_get_viewdef(v.oid, true))
    FROM rel v WHERE v.relkind IN ('v', 'm')
  UNION ALL
  -- Indexes of constraints come with them; those of partitions with their parent's.
  -- A partitioned table's index renders ON ONLY (the parent alone); without ONLY, the partitions get it too.
  SELECT 9, format('%I.%I', i.nspname, i.relname),
    CASE WHEN i.relkind = 'I' THEN regexp_replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ') ELSE pg_get_indexdef(x.indexrelid) END || ';'
    FROM pg_index x JOIN rel i ON i.oid = x.indexrelid
    WHERE NOT i.relispartition AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))
  UNION ALL
  SELECT 10, format('%I.%I %s', c.nspname, c.relname, t.tgname), pg_get_triggerdef(t.oid) || ';'
    FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND t.tgparentid = 0
  UNION ALL
  SELECT 11, format('%I.%I', c.nspname, c.relname),
    format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', c.nspname, c.relname) ||
      CASE WHEN c.relforcerowsecurity THEN format(E'\\nALTER TABLE %I.%I FORCE ROW LEVEL SECURITY;', c.nspname, c.relname) ELSE '' END
    FROM rel c WHERE c.relrowsecurity
  UNION ALL
  SELECT 12, format('%I.%I %s', p.schemaname, p.tablename, p.policyname),
    format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s;', p.policyname, p.schemaname, p.tablename, p.permissive, p.cmd,
      -- Role names quoted (pg_policies has them bare), but for PUBLIC, which no role can be named.
      (SELECT string_agg(CASE WHEN r.name = 'public' THEN 'public' ELSE quote_ident(r.name) END, ', ' ORDER BY r.i)
       FROM unnest(p.roles) WITH ORDINALITY r(name, i)), CASE WHEN p.qual IS NOT NULL THEN ' USING (' || p.qual || ')' ELSE '' END,
      CASE WHEN p.with_check IS NOT NULL THEN ' WITH CHECK (' || p.with_check || ')' ELSE '' END)
    FROM pg_policies p
)
SELECT ddl FROM parts ORDER BY ord, sort`;

/**
 * Statements shown at most: one less than an internal read keeps (10,000 rows, Session.read), so that
 * the one row more tells that statements were left out (with 10,000 here, the 10,001st was dropped by
 * the read unnoticed and the schema looked complete).
 */
const MAX_STATEMENTS = 9_999;

/**
 * The DDL of the session's database (in its open read-only transaction), one statement per
 * paragraph; past `maxBytes` the remaining statements are left out and `truncated` says how many.
 */
export async function catalogSchema(
  s: Session,
  maxBytes: number,
  what = 'get_branch_schema',
): Promise<{ sql: string; truncated?: string }> {
  const rows = await s.read<{ ddl: string }>(`${SCHEMA_SQL} LIMIT ${MAX_STATEMENTS + 1}`, undefined, what);
  const kept: string[] = [];
  let bytes = 0;
  let cut = 0;
  // A statement longer than a catalog string may be (a 3 MB CHECK constraint) is cut with its length
  // stated, so that it does not hide every statement after it; it no longer replays, and says so.
  const longest = catalogStringMax(maxBytes);
  for (const { ddl } of rows.slice(0, MAX_STATEMENTS)) {
    const whole = ddl.trimEnd();
    const shown = cutText(whole, longest);
    if (shown !== whole) cut++;
    const text = `${shown}\n`;
    bytes += Buffer.byteLength(text) + 1;
    if (bytes > maxBytes) break;
    kept.push(text);
  }
  const left = rows.length - kept.length;
  const cutNote = cut
    ? ` ${cut} long statement${cut === 1 ? ' was' : 's were'} cut (… [cut: N bytes in all]) and will not replay as shown; describe_table shows one table.`
    : '';
  if (left === 0)
    return cut ? { sql: kept.join('\n'), truncated: `truncated:${cutNote}` } : { sql: kept.join('\n') };
  const more = rows.length > MAX_STATEMENTS ? `${left} or more` : String(left);
  return {
    sql: kept.join('\n'),
    truncated: `truncated: ${more} more statements not shown (at most ${maxBytes} bytes; --sql-max-bytes). describe_table shows one table.${cutNote}`,
  };
}
