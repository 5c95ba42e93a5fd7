// Unit tests of the panel's logic (node:test; run with `jlpm test`).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  IRunSummary,
  buildFilter,
  compareCode,
  magicArgument,
  formatDuration,
  formatTime,
  formatValue,
  hasRunning,
  isExpression,
  keyMetrics,
  nextSort,
  orderBy,
  quote
} from '../src/logic';

function run(id: string, metrics: Record<string, number | string>, status = 'finished'): IRunSummary {
  return {
    run_id: id,
    name: id,
    experiment: 'default',
    status,
    start_time: 0,
    end_time: 1,
    duration_s: 1,
    parent_id: null,
    params: {},
    metrics,
    tags: {}
  };
}

test('words become a case-insensitive match on name, experiment, id and status', () => {
  assert.equal(buildFilter('  '), '');
  assert.equal(
    buildFilter('RF'),
    "(name ilike '%RF%' or experiment ilike '%RF%' or run_id like 'rf%' or status = 'rf')"
  );
  assert.match(buildFilter('rf iris'), /^\(name ilike '%rf%'.*\) and \(name ilike '%iris%'.*\)$/);
});

test('quotes in words cannot end the literal', () => {
  assert.equal(quote("it's"), "'it''s'");
  assert.equal(quote('a\\b'), "'a\\b'");
  assert.equal(quote('a\\'), "'a\\'");
  assert.ok(buildFilter("o'neil").includes("'%o''neil%'"));
});

test('expressions of the filter language pass through', () => {
  for (const text of [
    'metrics.acc > 0.9',
    "params.model = 'rf'",
    "name like 'rf%'",
    'tags.team is null',
    "status in ('failed', 'killed')",
    '(metric.f1 >= 0.5)'
  ]) {
    assert.ok(isExpression(text), text);
    assert.equal(buildFilter(` ${text} `), text);
  }
  for (const text of ['rf', 'baseline run', 'iris-2024', 'accuracy']) {
    assert.ok(!isExpression(text), text);
  }
});

test('clicking a header sorts by it, clicking again flips it', () => {
  const start = { key: 'start_time', desc: true };
  assert.deepEqual(nextSort(start, 'start_time'), { key: 'start_time', desc: false });
  assert.deepEqual(nextSort(start, 'name'), { key: 'name', desc: false });
  assert.deepEqual(nextSort(start, 'metrics.acc'), { key: 'metrics.acc', desc: true });
  assert.equal(orderBy({ key: 'metrics.acc', desc: true }), 'metrics.acc desc');
  assert.equal(orderBy({ key: 'metrics.val loss', desc: false }), 'metrics.`val loss` asc');
});

test('key metrics are the most common keys, then by name', () => {
  const runs = [run('a', { loss: 1, acc: 0.9 }), run('b', { acc: 0.8, f1: 0.1 }), run('c', { z: 1 })];
  assert.deepEqual(keyMetrics(runs), ['acc', 'f1', 'loss']);
  assert.deepEqual(keyMetrics(runs, 1), ['acc']);
  assert.deepEqual(keyMetrics([]), []);
});

test('live refresh only while a run is running', () => {
  assert.ok(!hasRunning([run('a', {})]));
  assert.ok(hasRunning([run('a', {}), run('b', {}, 'running')]));
});

test('values read well in a narrow panel', () => {
  assert.equal(formatValue(null), '—');
  assert.equal(formatValue(3), '3');
  assert.equal(formatValue(0.912345), '0.9123');
  assert.equal(formatValue(0.00001234), '1.234e-5');
  assert.equal(formatValue(123456789.5), '1.235e+8');
  assert.equal(formatValue('Infinity'), 'Infinity');
  assert.equal(formatValue([1, 2]), '[1,2]');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatDuration(0.42), '0.4 s');
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(185), '3 min 5 s');
  assert.equal(formatDuration(7260), '2 h 1 min');
  assert.equal(formatTime(null, 100), '—');
  assert.equal(formatTime(1000, 1010), 'just now');
  assert.equal(formatTime(1000, 1000 + 300), '5 min ago');
  assert.equal(formatTime(1000, 1000 + 7200), '2 h ago');
  assert.match(formatTime(1000, 1000 + 200000), /^1970-01-0\d \d\d:\d\d$/);
});

test('compare code loads the extension only when the kernel has not', () => {
  const a = '0123456789abcdef0123456789abcdef';
  assert.equal(compareCode([a, 'cd34ef56'], true), `%mlops compare ${a} cd34ef56`);
  assert.equal(compareCode(['ab12cd34'], false), '%load_ext mlops_lab\n%mlops compare ab12cd34');
  assert.throws(() => compareCode([], true), /at least one run/);
});

test('compare refuses anything but run ids, so no code can reach the line', () => {
  for (const forged of [
    "{__import__('os').system('touch /tmp/x')}",
    '$HOME',
    'my run',
    "ab12cd34' --html /tmp/x '",
    'ab12cd34\n!touch /tmp/x',
    ''
  ]) {
    assert.throws(() => compareCode([forged], true), /not an mlops-lab run id/, forged);
  }
});

test('an argument keeps braces and dollars literal and stays one argument', () => {
  assert.equal(magicArgument('rf-1'), 'rf-1');
  assert.equal(magicArgument('{x}'), "'{{x}}'");
  assert.equal(magicArgument('$x'), "'$$x'");
  assert.equal(magicArgument('my run'), "'my run'");
  assert.equal(
    magicArgument("{__import__('os').system('x')}"),
    "'{{__import__('\\''os'\\'').system('\\''x'\\'')}}'"
  );
});
