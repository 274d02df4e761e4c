/**
 * Reading EXPLAIN (FORMAT JSON) output: the figures that matter for comparing two plans, and a compact
 * text rendering of the tree (one line per node with its key condition).
 */

type Node = Record<string, unknown> & { Plans?: Node[] };
type Explained = { Plan?: Node; 'Planning Time'?: number; 'Execution Time'?: number };

export interface PlanSummary {
  total_cost: number | null;
  /** Milliseconds, with ANALYZE. */
  execution_ms: number | null;
  planning_ms: number | null;
  /** Rows the top node returned (ANALYZE) or was estimated to return. */
  rows: number | null;
  /** Scans and joins used, e.g. `Index Scan using orders_customer_idx on orders`. */
  scans: string[];
  /** The tree, one node a line. */
  plan: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function summarizePlan(explained: unknown): PlanSummary {
  const e = (explained ?? {}) as Explained;
  const root = e.Plan ?? ({} as Node);
  const scans: string[] = [];
  const lines: string[] = [];
  const walk = (node: Node, depth: number) => {
    const label = nodeLabel(node);
    if (/Scan|Join|Nested Loop/.test(String(node['Node Type']))) scans.push(label);
    const cost = `cost=${fmt(node['Startup Cost'])}..${fmt(node['Total Cost'])} rows=${node['Plan Rows'] ?? '?'}`;
    const actual =
      node['Actual Total Time'] !== undefined
        ? ` actual time=${fmt(node['Actual Startup Time'])}..${fmt(node['Actual Total Time'])} rows=${node['Actual Rows']} loops=${node['Actual Loops']}`
        : '';
    const cond = [
      'Index Cond',
      'Recheck Cond',
      'Hash Cond',
      'Merge Cond',
      'Join Filter',
      'Filter',
      'Sort Key',
    ]
      .filter((k) => node[k] !== undefined)
      .map((k) => `${k}: ${Array.isArray(node[k]) ? (node[k] as unknown[]).join(', ') : node[k]}`)
      .join('; ');
    lines.push(
      `${'  '.repeat(depth)}${depth ? '-> ' : ''}${label}  (${cost}${actual})${cond ? `  ${cond}` : ''}`,
    );
    for (const child of node.Plans ?? []) walk(child, depth + 1);
  };
  if (e.Plan) walk(root, 0);
  return {
    total_cost: num(root['Total Cost']),
    execution_ms: num(e['Execution Time']),
    planning_ms: num(e['Planning Time']),
    rows: num(root['Actual Rows']) ?? num(root['Plan Rows']),
    scans,
    plan: lines.join('\n'),
  };
}

function nodeLabel(node: Node): string {
  let label = String(node['Node Type'] ?? '?');
  if (node['Join Type'] && !/Join/.test(label)) label = `${label} (${node['Join Type']})`;
  else if (node['Join Type'] && node['Join Type'] !== 'Inner') label = `${node['Join Type']} ${label}`;
  if (node['Index Name']) label += ` using ${node['Index Name']}`;
  if (node['Relation Name']) {
    const alias = node.Alias && node.Alias !== node['Relation Name'] ? ` ${node.Alias}` : '';
    label += ` on ${node['Relation Name']}${alias}`;
  }
  return label;
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : '?';
}

interface PlanComparison {
  cost_before: number | null;
  cost_after: number | null;
  cost_change_pct: number | null;
  time_before_ms: number | null;
  time_after_ms: number | null;
  time_change_pct: number | null;
  verdict: string;
}

export function comparePlans(before: PlanSummary, after: PlanSummary): PlanComparison {
  const pct = (a: number | null, b: number | null) =>
    a === null || b === null || a === 0 ? null : Math.round(((b - a) / a) * 1000) / 10;
  const cost = pct(before.total_cost, after.total_cost);
  const time = pct(before.execution_ms, after.execution_ms);
  // Time decides when measured; small differences are noise.
  const basis = time ?? cost;
  const verdict =
    basis === null
      ? 'not comparable'
      : basis <= -10
        ? 'faster'
        : basis >= 10
          ? 'slower'
          : 'about the same (within 10%)';
  return {
    cost_before: before.total_cost,
    cost_after: after.total_cost,
    cost_change_pct: cost,
    time_before_ms: before.execution_ms,
    time_after_ms: after.execution_ms,
    time_change_pct: time,
    verdict,
  };
}
