import * as assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type * as vscode from 'vscode';

import { FOGBANK, FOGBANK_DAP, type BinaryKind, type BinaryLookup } from '../../src/binaries';
import { FogbankDescriptorFactory } from '../../src/descriptorFactory';
import { DebugAdapterExecutable, fake } from '../fake/vscode';

function session(folder: vscode.WorkspaceFolder | undefined): vscode.DebugSession {
  return { name: 'Debug HelloFunction', workspaceFolder: folder } as vscode.DebugSession;
}

/** A factory whose lookups answer from `found` (binary name to path). */
function factory(found: Record<string, string>, log: string[]): FogbankDescriptorFactory {
  const locate = (kind: BinaryKind): BinaryLookup => {
    const path = found[kind.name];
    return path !== undefined
      ? { found: true, path, source: 'workspace' }
      : { found: false, tried: [], message: `Cannot find ${kind.description} (${kind.name}). To fix it, build it.` };
  };
  return new FogbankDescriptorFactory(locate, { appendLine: (line) => log.push(line) });
}

describe('FogbankDescriptorFactory', () => {
  afterEach(() => fake.reset());

  test('runs fogbank-dap from the session folder and tells it which fogbank to start', () => {
    fake.reset(['/ws/app']);
    const log: string[] = [];
    const descriptor = factory({ 'fogbank-dap': '/ws/app/target/debug/fogbank-dap', fogbank: '/ws/app/target/debug/fogbank' }, log)
      .createDebugAdapterDescriptor(session(fake.folder(0)));
    assert.ok(descriptor instanceof DebugAdapterExecutable);
    assert.equal(descriptor.command, '/ws/app/target/debug/fogbank-dap');
    assert.deepEqual(descriptor.args, []);
    assert.deepEqual(descriptor.options, { env: { FOGBANK_BIN: '/ws/app/target/debug/fogbank' }, cwd: '/ws/app' });
    assert.match(log.join('\n'), /starting \/ws\/app\/target\/debug\/fogbank-dap \(from the workspace\) for "Debug HelloFunction" with FOGBANK_BIN=/);
  });

  test('without fogbank the adapter still starts, and finds the emulator itself', () => {
    const descriptor = factory({ 'fogbank-dap': '/usr/bin/fogbank-dap' }, []).createDebugAdapterDescriptor(session(undefined));
    assert.ok(descriptor instanceof DebugAdapterExecutable);
    assert.deepEqual(descriptor.options, { env: {} });
  });

  test('without fogbank-dap the session fails with the lookup message and its fix', () => {
    const log: string[] = [];
    assert.throws(
      () => factory({ fogbank: '/usr/bin/fogbank' }, log).createDebugAdapterDescriptor(session(undefined)),
      /^Error: Cannot find the Fogbank debug adapter \(fogbank-dap\)\. To fix it, build it\.$/,
    );
    assert.match(log.join('\n'), /Cannot find the Fogbank debug adapter/);
  });

  test('looks up the two binaries it needs', () => {
    const asked: string[] = [];
    new FogbankDescriptorFactory(
      (kind) => {
        asked.push(kind.name);
        return { found: true, path: `/bin/${kind.name}`, source: 'path' };
      },
      { appendLine: () => undefined },
    ).createDebugAdapterDescriptor(session(undefined));
    assert.deepEqual(asked, [FOGBANK_DAP.name, FOGBANK.name]);
  });
});
