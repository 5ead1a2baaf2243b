import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type * as vscode from 'vscode';

import { startArguments } from '../../src/emulator';
import { activate } from '../../src/extension';
import { formatPayload, invokeArguments } from '../../src/invoke';
import { fake } from '../fake/vscode';
import { tempTree } from '../helpers';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('activate', () => {
  let subscriptions: { dispose(): unknown }[] = [];

  afterEach(() => {
    for (const subscription of subscriptions) {
      subscription.dispose();
    }
    subscriptions = [];
    fake.reset();
  });

  test('registers the commands and shows the emulator status', async () => {
    fake.reset(['/nonexistent/app']);
    const port = await closedPort();
    fake.settings.set('controlPort', port);
    fake.settings.set('lambdaPort', port);
    activate({ subscriptions } as unknown as vscode.ExtensionContext);

    assert.deepEqual([...fake.registeredCommands.keys()].sort(), [
      'fogbank.invokeFunction',
      'fogbank.showLogs',
      'fogbank.startEmulator',
      'fogbank.stopEmulator',
    ]);
    const [item] = fake.statusBarItems;
    assert.ok(item?.visible);
    assert.equal(item.text, '$(debug-disconnect) Fogbank: stopped');
    assert.equal(item.command, 'fogbank.startEmulator');

    await fake.registeredCommands.get('fogbank.stopEmulator')?.();
    assert.deepEqual(fake.infos, ['Fogbank: no emulator is running.']);
  });

  test('commands explain a missing binary or template with the fix', async () => {
    fake.reset(['/nonexistent/app']);
    const port = await closedPort();
    fake.settings.set('controlPort', port);
    fake.settings.set('lambdaPort', port);
    fake.settings.set('fogbankPath', '/nonexistent/fogbank');
    activate({ subscriptions } as unknown as vscode.ExtensionContext);

    fake.messageAnswers = [undefined];
    await fake.registeredCommands.get('fogbank.startEmulator')?.();
    assert.equal(fake.errors.length, 1);
    assert.match(fake.errors[0] ?? '', /^Fogbank: The setting fogbank\.fogbankPath is "\/nonexistent\/fogbank", but .* is not an executable file/);
    assert.equal(fake.terminals.length, 0);

    await fake.registeredCommands.get('fogbank.invokeFunction')?.();
    assert.match(fake.errors[1] ?? '', /^Fogbank: \/nonexistent\/app\/template\.yaml: does not exist/);

    const tools = tempTree({ 'fogbank': null });
    try {
      fake.settings.set('fogbankPath', path.join(tools.dir, 'fogbank'));
      await fake.registeredCommands.get('fogbank.startEmulator')?.();
      assert.equal(
        fake.errors[2],
        'Fogbank: there is no SAM template at /nonexistent/app/template.yaml; open the application\'s folder or set fogbank.template.',
      );
      assert.equal(fake.terminals.length, 0);
    } finally {
      tools.cleanup();
    }
  });
});

describe('command lines', () => {
  test('fogbank start', () => {
    const command = { fogbank: 'fogbank', template: '/app/template.yaml', runtime: undefined, extraArguments: ['--warm'] };
    assert.deepEqual(startArguments(command), ['start', '--template', '/app/template.yaml', '--warm']);
    assert.deepEqual(startArguments({ ...command, runtime: 'process' }), [
      'start',
      '--template',
      '/app/template.yaml',
      '--runtime',
      'process',
      '--warm',
    ]);
  });

  test('fogbank invoke, with and without an event', () => {
    const request = { fogbank: 'fogbank', template: '/app/t.yaml', function: 'F', event: undefined, runtime: undefined };
    assert.deepEqual(invokeArguments(request), ['invoke', 'F', '--template', '/app/t.yaml']);
    assert.deepEqual(invokeArguments({ ...request, event: '/app/events/e.json' }), [
      'invoke',
      'F',
      '--template',
      '/app/t.yaml',
      '--event',
      '/app/events/e.json',
    ]);
    assert.deepEqual(invokeArguments({ ...request, runtime: 'docker' }), ['invoke', 'F', '--template', '/app/t.yaml', '--runtime', 'docker']);
  });

  test('results are pretty-printed when they are JSON', () => {
    assert.deepEqual(formatPayload('{"statusCode":200}\n'), { text: '{\n  "statusCode": 200\n}\n', json: true });
    assert.deepEqual(formatPayload('plain text\n'), { text: 'plain text\n', json: false });
  });
});
