// Names from a model cannot drive a terminal or break a report: control characters and bidi controls are shown as
// visible escapes, long names are cut with the count of what was left out, Markdown tables and CSV keep their shape,
// JSON keeps every string whole, and error messages are one bounded line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import { graph, makeTensor, node, valueInfo } from './support/builder';
import { sanitizeTerminal } from '../src/cli/sanitize';
import { convertModel } from '../src/engine/convert/convert';
import { ModelError, describeError } from '../src/engine/errors';
import { formatConvert, formatConvertJson } from '../src/engine/report/convertFormat';
import { formatReport } from '../src/engine/report/format';
import { displayName, displayPath, displayText } from '../src/engine/safeText';
import { inspectSpec, writeTempModel } from './support/models';

/** Characters a terminal or an editor acts on: C0 but newline, DEL, C1, line separators, bidi controls. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// Clears the screen, homes the cursor and overwrites the line with a fake verdict; a pipe, a comma, a quote, a newline.
const HOSTILE = 'fc\x1b[2J\x1b[H\rgate passed | a,"b"\nnext';
// An override that reverses what follows, DEL, and the 8-bit CSI.
const HOSTILE_WEIGHT = 'W\u202eevil\x7f\u009b31m';
const LONG = `long_${'x'.repeat(60_000)}`;

function weight(name: string): onnx.ITensorProto {
  return makeTensor({ name, dtype: 'float32', dims: [8, 4], values: Array.from({ length: 32 }, (_, i) => (Math.floor(i / 4) % 4 >= 2 ? 0 : i + 1)) });
}

function hostileModel() {
  return {
    producer: 'tool\x1b]0;owned\x07',
    graph: graph({
      name: 'g',
      nodes: [node('MatMul', ['X', HOSTILE_WEIGHT], ['H'], {}, { name: HOSTILE }), node('MatMul', ['X', 'W2'], ['Y'], {}, { name: LONG })],
      inputs: [valueInfo('X', 'float32', [1, 8])],
      outputs: [valueInfo('H', 'float32', [1, 4]), valueInfo('Y', 'float32', [1, 4])],
      initializers: [weight(HOSTILE_WEIGHT), weight('W2')],
    }),
  };
}

/** A GitHub-flavoured Markdown table row's cells: a backslash escapes the next character, an unescaped '|' separates. */
function markdownCells(row: string): number {
  let cells = 0;
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\') i++;
    else if (row[i] === '|') cells++;
  }
  return cells - 1;
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') record.push(field), (field = '');
    else if (c === '\n') record.push(field), records.push(record), (record = []), (field = '');
    else field += c;
  }
  assert.equal(quoted, false, 'an unterminated quoted field');
  return records;
}

describe('safe display of names', () => {
  test('control characters and bidi controls become visible escapes; other text, backslashes included, stays as it is', () => {
    assert.equal(displayName('a\x1b[2Jb\r\n\t\x00\x7f\u0085\u009b'), 'a\\x1b[2Jb\\r\\n\\t\\x00\\x7f\\x85\\x9b');
    assert.equal(displayName('x\u202ey\u2066z\u2069\u2028'), 'x\\u202ey\\u2066z\\u2069\\u2028');
    assert.equal(displayName('C:\\models\\résumé 模型 🙂.onnx'), 'C:\\models\\résumé 模型 🙂.onnx');
  });

  test('a long name is cut to the bound, saying how many characters were left out', () => {
    const shown = displayName('y'.repeat(1000));
    assert.equal(shown.length, 200);
    assert.equal(shown, `${'y'.repeat(187)}…(+813 chars)`);
    assert.equal(displayName(shown), shown, 'a cut name passes a second cut unchanged');
    assert.equal(displayText('z'.repeat(5000)).length, 2000);
    assert.equal(displayPath('p'.repeat(5000)).length, 1024);
  });

  test('escapes count towards the bound, and a cut never splits an escape or a surrogate pair', () => {
    const shown = displayName('\x1b'.repeat(100), 40);
    assert.equal(shown, `${'\\x1b'.repeat(7)}…(+93 chars)`);
    const emoji = displayName('🙂'.repeat(100), 21);
    assert.ok(!/[\ud800-\udbff]…/.test(emoji), emoji);
  });

  test('a 50 MB name costs only what is shown', () => {
    const huge = `\x1b${'n'.repeat(50 << 20)}`;
    const shown = displayName(huge);
    assert.equal(shown.length, 200);
    assert.ok(shown.startsWith('\\x1bnnn'));
    assert.ok(shown.endsWith(`…(+${huge.length - 179} chars)`), shown.slice(-30));
  });

  test('sanitizeTerminal keeps newlines and tabs, escapes every other control, and cuts each line', () => {
    const text = `sparsity-lens: model.onnx: tensor '\x1b[2K\rgate passed': bad\n\tsecond\x1b[31m line\n${'q'.repeat(10_000)}\n`;
    const safe = sanitizeTerminal(text);
    assert.equal(safe, `sparsity-lens: model.onnx: tensor '\\x1b[2K\\rgate passed': bad\n\tsecond\\x1b[31m line\n${'q'.repeat(4082)}…(+5918 chars)\n`);
    assert.equal(sanitizeTerminal(safe), safe);
    assert.equal(sanitizeTerminal('abc\u202edef', 100), 'abc\\u202edef');
  });
});

describe('reports of a model whose names hold escapes', () => {
  test('table: no raw control character, the names shown escaped, every line bounded', async () => {
    const report = await inspectSpec(hostileModel());
    const table = formatReport(report, 'table');
    assert.doesNotMatch(table, RAW_CONTROL);
    assert.ok(table.includes(displayName(HOSTILE)), table);
    assert.ok(table.includes('fc\\x1b[2J\\x1b[H\\rgate passed | a,"b"\\nnext'));
    assert.ok(table.includes('tool\\x1b]0;owned\\x07'));
    assert.equal(displayName(LONG), `${LONG.slice(0, 185)}…(+59820 chars)`);
    assert.ok(table.includes(displayName(LONG)));
    for (const line of table.split('\n')) assert.ok(line.length < 1000, `a line of ${line.length} characters`);
  });

  test('markdown: every row of the layer table has as many cells as its header', async () => {
    const report = await inspectSpec(hostileModel());
    const markdown = formatReport(report, 'markdown');
    assert.doesNotMatch(markdown, RAW_CONTROL);
    const rows = markdown.split('\n').filter((l) => l.startsWith('|'));
    const header = markdownCells(rows[0]);
    assert.equal(rows.length, 2 + report.layers.length);
    for (const row of rows) assert.equal(markdownCells(row), header, row);
    assert.ok(markdown.includes('fc\\\\x1b[2J\\\\x1b[H\\\\rgate passed \\| a,"b"\\\\nnext'));
  });

  test('CSV: valid RFC 4180, one record per layer with every column, names escaped and bounded', async () => {
    const report = await inspectSpec(hostileModel());
    const csv = formatReport(report, 'csv');
    assert.doesNotMatch(csv, RAW_CONTROL);
    const records = parseCsv(csv);
    assert.equal(records.length, 1 + report.layers.length);
    for (const r of records) assert.equal(r.length, records[0].length);
    const name = records[0].indexOf('name');
    const weightColumn = records[0].indexOf('weight');
    assert.equal(records[1][name], displayName(HOSTILE));
    assert.equal(records[1][weightColumn], 'W\\u202eevil\\x7f\\x9b31m');
    assert.equal(records[2][name], displayName(LONG));
  });

  test('JSON: every name whole, and no raw DEL, C1 or bidi control in the text', async () => {
    const report = await inspectSpec(hostileModel());
    const json = formatReport(report, 'json');
    assert.doesNotMatch(json, RAW_CONTROL);
    const parsed = JSON.parse(json);
    assert.deepEqual(
      parsed.layers.map((l: { name: string; weight: string }) => [l.name, l.weight]),
      [
        [HOSTILE, HOSTILE_WEIGHT],
        [LONG, 'W2'],
      ],
    );
    assert.equal(parsed.producer, 'tool\x1b]0;owned\x07');
  });

  test('convert report: the text escapes and bounds names, the JSON keeps them whole', async () => {
    const path = writeTempModel(hostileModel());
    const report = await convertModel(path, { mode: 'prune', dryRun: true });
    const text = formatConvert(report);
    assert.doesNotMatch(text, RAW_CONTROL);
    assert.ok(text.includes(displayName(HOSTILE)));
    for (const line of text.split('\n')) assert.ok(line.length < 1000, `a line of ${line.length} characters`);
    const json = formatConvertJson(report);
    assert.doesNotMatch(json, RAW_CONTROL);
    assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(report)));
  });
});

describe('error messages quoting the model', () => {
  test('a ModelError is one bounded line; its fields keep the whole text', () => {
    const tensor = `t\x1b[2J${'n'.repeat(1 << 20)}`;
    const problem = `bad\n\x1b[1A\rgate passed${'p'.repeat(1 << 20)}`;
    const err = new ModelError('dir/\x1b]0;x\x07model.onnx', problem, tensor);
    assert.doesNotMatch(err.message, RAW_CONTROL);
    assert.ok(!err.message.includes('\n'));
    assert.ok(err.message.length <= 1024 + 200 + 2000 + 20, `${err.message.length} characters`);
    assert.ok(err.message.startsWith("dir/\\x1b]0;x\\x07model.onnx: tensor 't\\x1b[2Jnnn"));
    assert.equal(err.tensor, tensor);
    assert.equal(err.problem, problem);
  });

  test('describeError bounds and escapes any thrown message', () => {
    const message = describeError(new Error(`external data '${'l'.repeat(100 << 20)}\x1b[2J'`));
    assert.ok(message.length <= 4096);
    assert.match(message, /…\(\+\d+ chars\)$/);
    assert.equal(describeError('\x1b[2Jplain'), '\\x1b[2Jplain');
  });

  test("a 60,000-character external location (under the 64 KiB name cap) with escapes: the layer's error is bounded and escaped", async () => {
    const location = `/${'d'.repeat(60_000)}\x1b[2J\rgate passed`;
    const tensor: onnx.ITensorProto = {
      name: 'W',
      dataType: 1,
      dims: [8, 4],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: location }],
    };
    const report = await inspectSpec({
      graph: graph({ name: 'g', nodes: [node('MatMul', ['X', 'W'], ['Y'], {}, { name: 'fc' })], inputs: [valueInfo('X', 'float32', [1, 8])], outputs: [valueInfo('Y', 'float32', [1, 4])], initializers: [tensor] }),
    });
    const error = report.layers[0].error!;
    assert.match(error, /^external data location '\/ddd/);
    assert.ok(error.length <= 4096, `${error.length} characters`);
    assert.doesNotMatch(error, RAW_CONTROL);
    for (const format of ['table', 'markdown', 'csv', 'json'] as const) {
      const text = formatReport(report, format);
      assert.doesNotMatch(text, RAW_CONTROL, format);
      assert.ok(text.length < 20_000, `${format}: ${text.length} characters`);
    }
  });
});
