/**
 * The panel's logic, free of JupyterLab: what the filter box sends, how the
 * columns sort, which metrics show, how values read, and the code that the
 * Compare button runs. Unit-tested in test/logic.test.ts.
 */

/** A run as the runs route lists it. */
export interface IRunSummary {
  run_id: string;
  name: string | null;
  experiment: string;
  status: string;
  start_time: number | null;
  end_time: number | null;
  duration_s: number | null;
  parent_id: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, number | string>;
  tags: Record<string, string>;
}

/** A sort of the runs table: a column of the runs filter language and a direction. */
export interface ISort {
  key: string;
  desc: boolean;
}

export const DEFAULT_SORT: ISort = { key: 'start_time', desc: true };

const EXPRESSION =
  /(^|\s|\()(metrics?|params?|parameters|tags?|attributes?|attr|run)\.|[=<>]|\s(i?like|in|is)\s/i;

/** Quote text as a string literal of the runs filter language (a backslash is plain text). */
export function quote(text: string): string {
  return "'" + text.replace(/'/g, "''") + "'";
}

/** Does the filter box hold an expression of the filter language (rather than words)? */
export function isExpression(text: string): boolean {
  return EXPRESSION.test(text);
}

/**
 * The `filter` to send for what the user typed.
 *
 * An expression (`metrics.acc > 0.9 and params.model = 'rf'`) goes as it is;
 * plain words match runs whose name or experiment contains every word (any
 * case), whose id starts with it, or whose status is it.
 */
export function buildFilter(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) {
    return '';
  }
  if (isExpression(trimmed)) {
    return trimmed;
  }
  return trimmed
    .split(/\s+/)
    .map(word => {
      const contains = quote(`%${word}%`);
      return (
        `(name ilike ${contains} or experiment ilike ${contains}` +
        ` or run_id like ${quote(`${word.toLowerCase()}%`)}` +
        ` or status = ${quote(word.toLowerCase())})`
      );
    })
    .join(' and ');
}

/** The `order_by` to send for a sort. */
export function orderBy(sort: ISort): string {
  const key = /^[\w.]+$/.test(sort.key) ? sort.key : sortKeyQuoted(sort.key);
  return `${key} ${sort.desc ? 'desc' : 'asc'}`;
}

function sortKeyQuoted(key: string): string {
  const dot = key.indexOf('.');
  return `${key.slice(0, dot)}.\`${key.slice(dot + 1)}\``;
}

/**
 * The sort after a click on the header of `key`: the same column flips its
 * direction; another column starts with the direction that reads best
 * (highest metric and newest first, names and statuses A to Z).
 */
export function nextSort(current: ISort, key: string): ISort {
  if (current.key === key) {
    return { key, desc: !current.desc };
  }
  return { key, desc: key.startsWith('metrics.') || key.endsWith('_time') };
}

/** The metric columns to show: the keys most runs have, then by name, at most `max`. */
export function keyMetrics(runs: IRunSummary[], max = 3): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) {
    for (const key of Object.keys(run.metrics)) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, max)
    .map(([key]) => key);
}

/** Is any of these runs still running (so the list should refresh itself)? */
export function hasRunning(runs: IRunSummary[]): boolean {
  return runs.some(run => run.status === 'running');
}

/** A value for a table cell: numbers to 4 significant digits, missing as a dash. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
      return value.toExponential(3).replace(/\.?0+e/, 'e');
    }
    return String(Number(value.toPrecision(4)));
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

/** A duration in seconds, as a person would say it. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) {
    return '—';
  }
  if (seconds < 10) {
    return `${Number(seconds.toFixed(1))} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds - m * 60);
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds - h * 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** When a run started, relative to `now` (both epoch seconds) for the last day. */
export function formatTime(epoch: number | null, now: number): string {
  if (epoch === null) {
    return '—';
  }
  const ago = now - epoch;
  if (ago < 45) {
    return 'just now';
  }
  if (ago < 3600) {
    return `${Math.max(1, Math.round(ago / 60))} min ago`;
  }
  if (ago < 86400) {
    return `${Math.round(ago / 3600)} h ago`;
  }
  const d = new Date(epoch * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

/** mlops-lab's run ids: hexadecimal (a uuid4 without dashes). */
const RUN_ID = /^[0-9a-f]{8,64}$/i;

/**
 * A value as one argument of a `%mlops` line: quoted for the shell-style
 * split when needed, and with `{`, `}` and `$` doubled, so the magic reads
 * them as themselves and never as a notebook variable.
 */
export function magicArgument(ref: string): string {
  const literal = ref.replace(/[{}$]/g, c => c + c);
  if (/^[\w.@/-]+$/.test(literal)) {
    return literal;
  }
  return `'${literal.replace(/'/g, "'\\''")}'`;
}

/**
 * The code the Compare button runs: load the extension unless it is, then compare.
 * Only run ids go into the line; anything else (a forged id from a merged store) is refused.
 */
export function compareCode(runIds: string[], loaded: boolean): string {
  if (runIds.length === 0) {
    throw new Error('select at least one run to compare');
  }
  const bad = runIds.find(id => !RUN_ID.test(id));
  if (bad !== undefined) {
    throw new Error(
      `cannot compare run ${JSON.stringify(bad.slice(0, 80))}: not an mlops-lab run id ` +
        '(hexadecimal); compare it from code with ml.compare([...])'
    );
  }
  const line = `%mlops compare ${runIds.map(magicArgument).join(' ')}`;
  return loaded ? line : `%load_ext mlops_lab\n${line}`;
}
