/**
 * Just enough reading of SQL text to refuse what would break the tools' guarantees: transaction control
 * (a COMMIT inside run_sql_transaction would end the all-or-nothing transaction early; a BEGIN in
 * run_sql would leave a transaction open) and statements that are already EXPLAINs.
 */

/** The SQL without leading whitespace, comments and opening parentheses. */
function stripLeading(sql: string): string {
  let s = sql;
  for (;;) {
    const before = s;
    s = s.replace(/^[\s(]+/, '');
    if (s.startsWith('--')) s = s.replace(/^--[^\n]*(\n|$)/, '');
    else if (s.startsWith('/*')) {
      const end = s.indexOf('*/');
      s = end < 0 ? '' : s.slice(end + 2);
    }
    if (s === before) return s;
  }
}

/** The first one or two keywords, upper-cased (e.g. `ROLLBACK TO`, `SELECT`). */
export function leadingKeywords(sql: string, n = 2): string {
  const words = stripLeading(sql).match(/^[A-Za-z_]+(\s+[A-Za-z_]+)*/)?.[0] ?? '';
  return words.split(/\s+/).slice(0, n).join(' ').toUpperCase();
}

/** Why `sql` cannot run in a tool that owns the transaction, or undefined when it can. */
export function transactionControl(sql: string): string | undefined {
  const [first = '', second = ''] = leadingKeywords(sql).split(' ');
  const control =
    ['BEGIN', 'COMMIT', 'END', 'ABORT'].includes(first) ||
    (first === 'START' && second === 'TRANSACTION') ||
    (first === 'ROLLBACK' && second !== 'TO') ||
    (first === 'PREPARE' && second === 'TRANSACTION');
  return control ? first : undefined;
}

/** True when the statement is already an EXPLAIN. */
export function isExplain(sql: string): boolean {
  return leadingKeywords(sql, 1) === 'EXPLAIN';
}

/** True when the text is empty or only comments. */
export function isBlank(sql: string): boolean {
  return stripLeading(sql).replace(/;/g, '').trim() === '';
}
