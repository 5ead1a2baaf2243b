import * as assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, test } from 'node:test';

import { FOGBANK, FOGBANK_DAP, findBinary, isExecutableFile, type SearchPlaces } from '../../src/binaries';
import { locateBinary } from '../../src/settings';
import { fake } from '../fake/vscode';
import { tempTree } from '../helpers';

const PLACES: SearchPlaces = {
  setting: '',
  workspaceFolders: ['/ws/app', '/ws/fogbank'],
  pathVariable: '/usr/local/bin:/usr/bin:',
  home: '/home/dev',
  platform: 'linux',
};

/**
 * Looks up fogbank-dap with `places` over a file system holding exactly
 * `existing`, and compares the result with `expected`: a path and source,
 * or a pattern the not-found message must match.
 */
function check(
  places: Partial<SearchPlaces>,
  existing: string[],
  expected: { path: string; source: string } | { message: RegExp },
): void {
  const files = new Set(existing);
  const result = findBinary(FOGBANK_DAP, { ...PLACES, ...places }, (file) => files.has(file));
  if ('message' in expected) {
    assert.equal(result.found, false, `expected no binary, got ${JSON.stringify(result)}`);
    if (!result.found) {
      assert.match(result.message, expected.message);
    }
  } else {
    assert.deepEqual(result.found ? { path: result.path, source: result.source } : result, expected);
  }
}

describe('findBinary', () => {
  const everywhere = [
    '/opt/dap/fogbank-dap',
    '/ws/app/target/debug/fogbank-dap',
    '/ws/app/target/release/fogbank-dap',
    '/ws/fogbank/target/debug/fogbank-dap',
    '/usr/local/bin/fogbank-dap',
    '/usr/bin/fogbank-dap',
  ];

  test('the setting comes first', () => {
    check({ setting: '/opt/dap/fogbank-dap' }, everywhere, { path: '/opt/dap/fogbank-dap', source: 'setting' });
  });

  test('a setting that points nowhere is an error naming the setting, not a fallback', () => {
    check({ setting: '/opt/none/fogbank-dap' }, everywhere, {
      message: /^The setting fogbank\.dapPath is "\/opt\/none\/fogbank-dap", but \/opt\/none\/fogbank-dap is not an executable file\. Fix the path, or clear the setting/,
    });
  });

  test('the setting may be relative, use ~ or ${workspaceFolder}', () => {
    check({ setting: 'bin/fogbank-dap' }, ['/ws/app/bin/fogbank-dap'], { path: '/ws/app/bin/fogbank-dap', source: 'setting' });
    check({ setting: '~/bin/fogbank-dap' }, ['/home/dev/bin/fogbank-dap'], { path: '/home/dev/bin/fogbank-dap', source: 'setting' });
    check({ setting: '${workspaceFolder}/x/fogbank-dap' }, ['/ws/app/x/fogbank-dap'], {
      path: '/ws/app/x/fogbank-dap',
      source: 'setting',
    });
    check({ setting: '  ' }, ['/usr/bin/fogbank-dap'], { path: '/usr/bin/fogbank-dap', source: 'path' });
  });

  test('then the workspace build: debug before release, folders in order', () => {
    check({}, everywhere, { path: '/ws/app/target/debug/fogbank-dap', source: 'workspace' });
    check({}, everywhere.slice(2), { path: '/ws/app/target/release/fogbank-dap', source: 'workspace' });
    check({}, everywhere.slice(3), { path: '/ws/fogbank/target/debug/fogbank-dap', source: 'workspace' });
  });

  test('then PATH, in order, skipping empty entries', () => {
    check({}, everywhere.slice(4), { path: '/usr/local/bin/fogbank-dap', source: 'path' });
    check({}, everywhere.slice(5), { path: '/usr/bin/fogbank-dap', source: 'path' });
    check({ pathVariable: undefined }, everywhere.slice(4), { message: /on PATH \(0 directories\)/ });
  });

  test('not found: every place tried, and the fixes', () => {
    check({}, [], {
      message: new RegExp(
        [
          '^Cannot find the Fogbank debug adapter \\(fogbank-dap\\)\\. ',
          'Looked at: the setting fogbank\\.dapPath \\(empty\\), ',
          '/ws/app/target/debug/fogbank-dap, /ws/app/target/release/fogbank-dap, ',
          '/ws/fogbank/target/debug/fogbank-dap, /ws/fogbank/target/release/fogbank-dap, ',
          'fogbank-dap on PATH \\(2 directories\\)\\. ',
          'To fix it, build it with "cargo build -p fogbank-dap" .*',
          'cargo install --locked --path <fogbank checkout>/debug-adapter.*',
          'or set fogbank\\.dapPath to its full path\\.$',
        ].join(''),
      ),
    });
  });

  test('Windows names end in .exe and PATH is split on ;', () => {
    const places = { platform: 'win32' as const, workspaceFolders: ['C:\\ws'], pathVariable: 'C:\\bin;D:\\tools' };
    check(places, ['D:\\tools\\fogbank-dap.exe'], { path: 'D:\\tools\\fogbank-dap.exe', source: 'path' });
    check(places, ['C:\\ws\\target\\debug\\fogbank-dap.exe'], {
      path: 'C:\\ws\\target\\debug\\fogbank-dap.exe',
      source: 'workspace',
    });
  });

  test('the emulator binary is looked up the same way under its own setting', () => {
    const result = findBinary(FOGBANK, { ...PLACES, setting: '' }, () => false);
    assert.equal(result.found, false);
    assert.match(result.found ? '' : result.message, /Cannot find the Fogbank emulator \(fogbank\)\..*fogbank\.fogbankPath.*cargo build -p fogbank".*<fogbank checkout>\/emulator/);
  });
});

describe('isExecutableFile', () => {
  test('is true only for regular files with execute permission', () => {
    const tree = tempTree({ 'tool': null, 'data.txt': 'x' });
    try {
      const directory = path.join(tree.dir, 'dir');
      mkdirSync(directory);
      assert.equal(isExecutableFile(path.join(tree.dir, 'tool')), true);
      assert.equal(isExecutableFile(path.join(tree.dir, 'data.txt')), false);
      assert.equal(isExecutableFile(directory), false);
      assert.equal(isExecutableFile(path.join(tree.dir, 'missing')), false);
    } finally {
      tree.cleanup();
    }
  });
});

describe('locateBinary (settings and workspace from VS Code)', () => {
  afterEach(() => fake.reset());

  test('reads fogbank.dapPath and the workspace folders, the session folder first', () => {
    const first = tempTree({ 'target/release/fogbank-dap': null });
    const second = tempTree({ 'target/debug/fogbank-dap': null, 'target/debug/fogbank': null });
    try {
      fake.reset([first.dir, second.dir]);
      const secondFolder = fake.folder(1);
      assert.deepEqual(locateBinary(FOGBANK_DAP), {
        found: true,
        path: path.join(first.dir, 'target/release/fogbank-dap'),
        source: 'workspace',
      });
      assert.deepEqual(locateBinary(FOGBANK_DAP, secondFolder), {
        found: true,
        path: path.join(second.dir, 'target/debug/fogbank-dap'),
        source: 'workspace',
      });
      assert.deepEqual(locateBinary(FOGBANK), {
        found: true,
        path: path.join(second.dir, 'target/debug/fogbank'),
        source: 'workspace',
      });

      const custom = path.join(first.dir, 'custom-dap');
      writeFileSync(custom, '#!/bin/sh\n');
      chmodSync(custom, 0o755);
      fake.settings.set('dapPath', custom);
      assert.deepEqual(locateBinary(FOGBANK_DAP, secondFolder), { found: true, path: custom, source: 'setting' });
      // The other binary's setting is its own.
      assert.deepEqual(locateBinary(FOGBANK, secondFolder), {
        found: true,
        path: path.join(second.dir, 'target/debug/fogbank'),
        source: 'workspace',
      });
    } finally {
      first.cleanup();
      second.cleanup();
    }
  });
});
