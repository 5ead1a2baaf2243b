/**
 * The extension's commands against the real `fogbank` binary, on a copy of
 * examples/python-api (a Python function needs no build, so this is quick):
 * Start Emulator runs `fogbank start` in a terminal and the status bar sees
 * it on its ports; Stop Emulator (or Ctrl-C in the terminal) ends it;
 * Invoke Function… runs `fogbank invoke` and shows the response.
 */
import * as assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as vscode from 'vscode';

import { activate } from '../../src/extension';
import { fake, type FakeStatusBarItem, type FakeTerminal } from '../fake/vscode';
import { example, tempTree } from '../helpers';
import { requireBinary, waitFor } from './support';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('commands with the real fogbank, on examples/python-api', () => {
  let app: { dir: string; cleanup(): void };
  let lambdaPort: number;
  let gatewayPort: number;
  let controlPort: number;
  const subscriptions: { dispose(): unknown }[] = [];
  let statusBar: FakeStatusBarItem;

  before(async () => {
    const fogbank = requireBinary('FOGBANK_BIN', 'fogbank', 'fogbank');
    app = tempTree({});
    cpSync(example('python-api'), app.dir, { recursive: true, filter: (source) => !source.includes('.fogbank') });
    lambdaPort = await freePort();
    gatewayPort = await freePort();
    controlPort = await freePort();
    const sqsPort = await freePort();
    fake.reset([app.dir]);
    fake.settings.set('fogbankPath', fogbank);
    fake.settings.set('lambdaPort', lambdaPort);
    fake.settings.set('controlPort', controlPort);
    // The extension's commands are under test here, not the container
    // runtime (the adapter test runs its function in a container).
    fake.settings.set('runtime', 'process');
    // Ports of its own, so that this emulator never meets another one.
    fake.settings.set('startArguments', [
      ...['--lambda-port', String(lambdaPort), '--sqs-port', String(sqsPort)],
      ...['--port', String(gatewayPort), '--control-port', String(controlPort), '--ephemeral'],
    ]);
    activate({ subscriptions } as unknown as vscode.ExtensionContext);
    const item = fake.statusBarItems[0];
    assert.ok(item, 'a status bar item');
    statusBar = item;
  });

  after(async () => {
    // Stops an emulator a failed test left running.
    await fake.registeredCommands.get('fogbank.stopEmulator')?.();
    for (const subscription of subscriptions) {
      subscription.dispose();
    }
    fake.reset();
    app.cleanup();
  });

  async function start(): Promise<FakeTerminal> {
    await fake.registeredCommands.get('fogbank.startEmulator')?.();
    assert.deepEqual(fake.errors, []);
    const terminal = fake.terminals.at(-1);
    assert.ok(terminal, 'a terminal for the emulator');
    // The status may first come from the Lambda API alone, if it answers
    // before the control interface; it settles on the control interface's.
    await waitFor(60_000, `the status bar to show the emulator's ports; terminal:\n${terminal.written}`, async () => {
      // The terminal is reused between runs: only this run's output counts.
      const thisRun = terminal.written.slice(terminal.written.lastIndexOf('$ '));
      if (/fogbank (exited with code|could not be started)/.test(thisRun)) {
        throw new Error(`the emulator ended early:\n${terminal.written}`);
      }
      return statusBar.text.includes(`λ ${lambdaPort} · API ${gatewayPort}`) ? true : undefined;
    });
    return terminal;
  }

  test('Start Emulator runs fogbank start in a terminal; the status bar shows it; Stop Emulator ends it', async () => {
    assert.equal(statusBar.text, '$(debug-disconnect) Fogbank: stopped');
    const terminal = await start();
    assert.equal(terminal.name, 'Fogbank emulator');
    assert.match(terminal.written, /^\$ .*fogbank start --template .*template\.yaml --runtime process --lambda-port \d+/);
    assert.match(terminal.written, /serving .*template\.yaml/);
    assert.match(terminal.written, /\r\n/, 'terminal lines end in CRLF');
    assert.match(statusBar.text, new RegExp(`λ ${lambdaPort} · API ${gatewayPort} · SQS \\d+`));
    const tooltip = statusBar.tooltip ?? '';
    assert.match(tooltip, new RegExp(`Template: ${app.dir}/template\\.yaml`), 'found through the control interface');
    assert.match(tooltip, new RegExp(`Control: http://127\\.0\\.0\\.1:${controlPort}`));
    assert.match(tooltip, /Functions: HelloWorldFunction/);
    const log = fake.outputChannels.find((channel) => channel.name === 'Fogbank');
    assert.match(log?.text ?? '', /serving .*template\.yaml/, 'the emulator output is in the Fogbank log');

    await fake.registeredCommands.get('fogbank.stopEmulator')?.();
    assert.match(terminal.written, /fogbank (exited with code 0|stopped \(SIGTERM\))/);
    assert.equal(statusBar.text, '$(debug-disconnect) Fogbank: stopped');
  });

  test('Ctrl-C in the terminal stops the emulator too', async () => {
    const terminal = await start();
    terminal.type('\x03');
    await waitFor(20_000, `the emulator to stop; terminal:\n${terminal.written}`, async () =>
      statusBar.text.includes('stopped') ? true : undefined,
    );
    assert.match(terminal.written, /\^C\r\n/);
  });

  test('Invoke Function… runs the picked function with the picked event and shows the response', async () => {
    fake.quickPickAnswers = ['HelloWorldFunction', 'event.json'];
    await fake.registeredCommands.get('fogbank.invokeFunction')?.();
    assert.deepEqual(fake.errors, []);
    assert.deepEqual(fake.quickPicks.slice(-2), [
      { title: 'Fogbank: invoke which function?', labels: ['HelloWorldFunction'] },
      { title: 'Fogbank: with which event?', labels: ['create-item.json', 'event.json', 'get-item.json', 'No event', 'Choose a file…'] },
    ]);
    const shown = fake.openedDocuments.at(-1);
    assert.equal(shown?.language, 'json');
    const response = JSON.parse(shown?.content ?? 'null') as { statusCode: number; body: string };
    assert.equal(response.statusCode, 200);
    assert.deepEqual(JSON.parse(response.body), { message: 'hello world' });
    assert.match(fake.infos.at(-1) ?? '', /^Fogbank: HelloWorldFunction answered in \d+\.\d\d s\.$/);
  });

  test('Invoke Function… reports a function error with its payload', async () => {
    rmSync(path.join(app.dir, 'hello_world', 'app.py'));
    fake.quickPickAnswers = ['HelloWorldFunction', 'No event'];
    fake.messageAnswers = [undefined];
    await fake.registeredCommands.get('fogbank.invokeFunction')?.();
    assert.equal(fake.errors.at(-1), 'Fogbank: HelloWorldFunction returned an error (shown beside).');
    const shown = JSON.parse(fake.openedDocuments.at(-1)?.content ?? 'null') as { errorType: string };
    assert.equal(shown.errorType, 'Runtime.ImportModuleError');
  });
});
