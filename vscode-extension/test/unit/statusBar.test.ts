import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { STOPPED, type EmulatorStatus } from '../../src/emulatorStatus';
import { describeStatus, EmulatorStatusBar, type StatusView } from '../../src/statusBar';
import { fake } from '../fake/vscode';

function check(status: EmulatorStatus, startedHere: boolean, expected: { text: string; tooltip: RegExp; command: string }): void {
  const view: StatusView = describeStatus(status, startedHere);
  assert.equal(view.text, expected.text);
  assert.match(view.tooltip, expected.tooltip);
  assert.equal(view.command, expected.command);
}

const FULL = {
  state: 'running',
  source: 'control',
  version: '0.1.0',
  template: '/app/template.yaml',
  runtime: 'docker',
  ports: { lambda: 3001, gateway: 3000, sqs: 9324, control: 3002 },
  functions: ['HelloFunction', 'Worker'],
  debugging: [],
} as const satisfies EmulatorStatus;

describe('describeStatus', () => {
  test('stopped offers to start', () => {
    check(STOPPED, false, { text: '$(debug-disconnect) Fogbank: stopped', tooltip: /Click to start one/, command: 'fogbank.startEmulator' });
  });

  test('started here but not answering yet is starting', () => {
    check(STOPPED, true, { text: '$(sync~spin) Fogbank: starting', tooltip: /building functions/, command: 'fogbank.showLogs' });
  });

  test('running shows the ports, and the details in the tooltip', () => {
    check(FULL, true, {
      text: '$(radio-tower) Fogbank λ 3001 · API 3000 · SQS 9324',
      tooltip:
        /^Fogbank emulator 0\.1\.0 is running \(started here\)\.\nTemplate: \/app\/template\.yaml\nFunctions run as: Docker containers\nLambda API: http:\/\/127\.0\.0\.1:3001\nAPI Gateway: http:\/\/127\.0\.0\.1:3000\nSQS: http:\/\/127\.0\.0\.1:9324\nControl: http:\/\/127\.0\.0\.1:3002\nFunctions: HelloFunction, Worker\n/,
      command: 'fogbank.showLogs',
    });
  });

  test('found through the Lambda API only, it says what is unknown', () => {
    check({ ...FULL, source: 'lambda', version: undefined, template: undefined, runtime: undefined, ports: { lambda: 3001 } }, false, {
      text: '$(radio-tower) Fogbank λ 3001',
      tooltip: /^Fogbank emulator is running\.\nLambda API: http:\/\/127\.0\.0\.1:3001\n.*control interface did not answer/s,
      command: 'fogbank.showLogs',
    });
  });

  test('a function under the debugger shows in the icon and the tooltip', () => {
    check({ ...FULL, runtime: 'process', debugging: ['HelloFunction'] }, false, {
      text: '$(debug-alt) Fogbank λ 3001 · API 3000 · SQS 9324',
      tooltip: /Functions run as: host processes\n.*Functions: HelloFunction \(debugging\), Worker\n/s,
      command: 'fogbank.showLogs',
    });
  });
});

describe('EmulatorStatusBar', () => {
  test('shows the view on a status bar item', () => {
    fake.reset();
    const bar = new EmulatorStatusBar();
    bar.show(FULL, false);
    const [item] = fake.statusBarItems;
    assert.ok(item);
    assert.equal(item.visible, true);
    assert.equal(item.text, describeStatus(FULL, false).text);
    assert.equal(item.command, 'fogbank.showLogs');
    bar.dispose();
    assert.equal(item.visible, false);
  });
});
