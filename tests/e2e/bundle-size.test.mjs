// Bundle budget: every .wasm, .js and .css file that Trunk put in dist/, raw and gzip -9.
// Fails when the gzip total passes 250 KB, or when dist/ holds no .wasm (no app was built).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { gzipSync, constants } from 'node:zlib';
import { distDir } from './server.mjs';

const BUDGET_GZIP_BYTES = 250 * 1024;
const COUNTED = new Set(['.wasm', '.js', '.css']);

async function listFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function table(rows) {
  const header = ['file', 'raw bytes', 'gzip bytes'];
  const cells = rows.map((r) => [r.file, String(r.raw), String(r.gzip)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) =>
    [c[0].padEnd(widths[0]), c[1].padStart(widths[1]), c[2].padStart(widths[2])].join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...cells.slice(0, -1).map(line), rule, line(cells.at(-1))].join('\n');
}

test('the shipped bundle stays within 250 KB gzip', async () => {
  assert.ok(existsSync(distDir), `${distDir} does not exist: run \`trunk build --release\` first`);
  const files = (await listFiles(distDir))
    .filter((f) => COUNTED.has(extname(f).toLowerCase()))
    .sort();
  assert.ok(
    files.some((f) => extname(f).toLowerCase() === '.wasm'),
    `no .wasm file in ${distDir}: the web app was not built`,
  );

  const rows = [];
  for (const path of files) {
    const data = await readFile(path);
    const gzip = gzipSync(data, { level: constants.Z_BEST_COMPRESSION }).length;
    rows.push({ file: relative(distDir, path), raw: data.length, gzip });
  }
  const total = {
    file: 'total',
    raw: rows.reduce((s, r) => s + r.raw, 0),
    gzip: rows.reduce((s, r) => s + r.gzip, 0),
  };
  console.log(`\nbundle size (${distDir})\n${table([...rows, total])}`);
  console.log(
    `gzip total ${(total.gzip / 1024).toFixed(1)} KB of a ${BUDGET_GZIP_BYTES / 1024} KB budget`,
  );

  await writeFile(
    join(distDir, 'bundle-size.json'),
    JSON.stringify(
      {
        budget_gzip_bytes: BUDGET_GZIP_BYTES,
        files: rows.map((r) => ({ file: r.file, raw_bytes: r.raw, gzip_bytes: r.gzip })),
        total_raw_bytes: total.raw,
        total_gzip_bytes: total.gzip,
      },
      null,
      2,
    ) + '\n',
  );

  assert.ok(
    total.gzip <= BUDGET_GZIP_BYTES,
    `bundle is ${total.gzip} bytes gzip, over the budget of ${BUDGET_GZIP_BYTES} bytes`,
  );
});
