// Bundles the extension (out/extension.js) and the test files (out/test/**).
//
// The extension is one CommonJS file with `vscode` left external, because
// VS Code provides that module at run time and nothing else may be loaded
// from node_modules: the package has no runtime dependencies.
//
// Tests are bundled too, with `vscode` aliased to the fake in
// test/fake/vscode.ts, so the code under test keeps its ordinary
// `import * as vscode from 'vscode'` and runs in plain Node.
import * as esbuild from 'esbuild';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const production = process.argv.includes('--production');

/** Every `*.test.ts` under `dir`, recursively. */
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return testFiles(path);
    }
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
};

if (production) {
  // `vsce package --out dist/...` needs the directory to exist.
  mkdirSync('dist', { recursive: true });
} else {
  // Stale test bundles of deleted tests would otherwise still run.
  rmSync('out', { recursive: true, force: true });
}

await esbuild.build({
  ...common,
  entryPoints: ['src/extension.ts'],
  outfile: 'out/extension.js',
  external: ['vscode'],
  minify: production,
  sourcemap: !production,
});

if (!production) {
  await esbuild.build({
    ...common,
    entryPoints: testFiles('test'),
    outdir: 'out/test',
    outbase: 'test',
    alias: { vscode: './test/fake/vscode.ts' },
    sourcemap: 'inline',
  });
}
