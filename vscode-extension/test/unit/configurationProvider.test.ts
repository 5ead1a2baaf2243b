import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type * as vscode from 'vscode';

import { FogbankConfigurationProvider } from '../../src/configurationProvider';
import { fake } from '../fake/vscode';
import { HELLO_TEMPLATE, tempTree } from '../helpers';

const ONE_FUNCTION = `Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties: { Runtime: provided.al2023, Handler: bootstrap }
`;

let workspace: { dir: string; cleanup(): void };
let folder: vscode.WorkspaceFolder;
const provider = new FogbankConfigurationProvider();

function file(relative: string): string {
  return path.join(workspace.dir, relative);
}

beforeEach(() => {
  workspace = tempTree({
    'template.yaml': HELLO_TEMPLATE,
    'single/template.yaml': ONE_FUNCTION,
    'events/hello.json': '{"name": "Ada"}',
    'events/broken.json': '{"name": ',
    'bin/bootstrap': null,
  });
  fake.reset([workspace.dir]);
  folder = fake.folder(0);
});

afterEach(() => {
  workspace.cleanup();
  fake.reset();
});

describe('provideDebugConfigurations', () => {
  test('one launch per function of the template, and an attach for the first', async () => {
    assert.deepEqual(await provider.provideDebugConfigurations(folder), [
      {
        type: 'fogbank',
        request: 'launch',
        name: 'Debug HelloFunction',
        template: '${workspaceFolder}/template.yaml',
        function: 'HelloFunction',
      },
      {
        type: 'fogbank',
        request: 'launch',
        name: 'Debug OrderFunction',
        template: '${workspaceFolder}/template.yaml',
        function: 'OrderFunction',
      },
      {
        type: 'fogbank',
        request: 'attach',
        name: 'Attach to HelloFunction (running emulator)',
        template: '${workspaceFolder}/template.yaml',
        function: 'HelloFunction',
      },
    ]);
    assert.deepEqual(fake.warnings, []);
  });

  test('follows the fogbank.template setting', async () => {
    fake.settings.set('template', 'single/template.yaml');
    const configurations = await provider.provideDebugConfigurations(undefined);
    assert.deepEqual(
      configurations.map((c) => [c.request, c['function'], c['template']]),
      [
        ['launch', 'HelloFunction', '${workspaceFolder}/single/template.yaml'],
        ['attach', 'HelloFunction', '${workspaceFolder}/single/template.yaml'],
      ],
    );
  });

  test('without a readable template: a placeholder and a warning that says why', async () => {
    fake.settings.set('template', 'missing.yaml');
    const configurations = await provider.provideDebugConfigurations(folder);
    assert.deepEqual(configurations, [
      {
        type: 'fogbank',
        request: 'launch',
        name: 'Debug HelloFunction',
        template: '${workspaceFolder}/missing.yaml',
        function: 'HelloFunction',
      },
    ]);
    assert.equal(fake.warnings.length, 1);
    assert.match(fake.warnings[0] ?? '', /missing\.yaml: does not exist.*placeholder function/);
  });
});

describe('resolveDebugConfiguration', () => {
  /** Resolves `config`, answering quick picks with `answers`, and compares with `expected`. */
  async function check(
    config: Partial<vscode.DebugConfiguration>,
    answers: (string | undefined)[],
    expected: Record<string, unknown> | undefined,
  ): Promise<void> {
    fake.quickPickAnswers = [...answers];
    const resolved = await provider.resolveDebugConfiguration(folder, config as vscode.DebugConfiguration);
    assert.deepEqual(resolved, expected);
    assert.deepEqual(fake.quickPickAnswers, [], 'every prepared answer was asked for');
  }

  test('plain F5 without launch.json asks which function, then launches it', async () => {
    await check({}, ['OrderFunction'], {
      type: 'fogbank',
      request: 'launch',
      name: 'Debug OrderFunction',
      template: file('template.yaml'),
      function: 'OrderFunction',
    });
    assert.deepEqual(fake.quickPicks, [
      { title: 'Fogbank: which function of template.yaml to debug?', labels: ['HelloFunction', 'OrderFunction'] },
    ]);
  });

  test('a template with one function needs no question', async () => {
    fake.settings.set('template', 'single/template.yaml');
    await check({}, [], {
      type: 'fogbank',
      request: 'launch',
      name: 'Debug HelloFunction',
      template: file('single/template.yaml'),
      function: 'HelloFunction',
    });
  });

  test('dismissing the question cancels the session quietly', async () => {
    await check({}, [undefined], undefined);
    assert.deepEqual(fake.errors, []);
  });

  test('fills only what is missing', async () => {
    await check(
      { type: 'fogbank', request: 'attach', name: 'mine', template: 'other.yaml', function: 'F', event: 'e.json' },
      [],
      { type: 'fogbank', request: 'attach', name: 'mine', template: 'other.yaml', function: 'F', event: 'e.json' },
    );
    await check({ type: 'fogbank', request: 'launch', function: 'OrderFunction' }, [], {
      type: 'fogbank',
      request: 'launch',
      name: 'Debug OrderFunction',
      template: file('template.yaml'),
      function: 'OrderFunction',
    });
  });

  test('a relayed attach gets the live mode and the secret from the environment by default', async () => {
    await check({ type: 'fogbank', request: 'attach', function: 'HelloFunction', relay: 'https://relay:7443', session: 's' }, [], {
      type: 'fogbank',
      request: 'attach',
      name: 'Attach to HelloFunction',
      template: file('template.yaml'),
      function: 'HelloFunction',
      relay: 'https://relay:7443',
      session: 's',
      mode: 'live',
      secret: '${env:FOGBANK_SESSION_SECRET}',
    });
  });

  test('a template without functions is reported and cancels', async () => {
    fake.settings.set('template', 'events/hello.json');
    await check({}, [], undefined);
    assert.equal(fake.errors.length, 1);
    assert.match(fake.errors[0] ?? '', /events\/hello\.json: has no `Resources` map/);
  });
});

describe('resolveDebugConfigurationWithSubstitutedVariables', () => {
  /**
   * Checks `config` (merged over a valid launch) and compares with
   * `expected`: the checked configuration's changed fields, or the error
   * message shown (after the configuration's name).
   */
  async function check(
    config: Record<string, unknown>,
    expected: { fields: Record<string, unknown> } | { error: RegExp },
  ): Promise<void> {
    fake.errors = [];
    const base = { type: 'fogbank', request: 'launch', name: 'Debug it', template: file('template.yaml'), function: 'HelloFunction' };
    const input = { ...base, ...config } as vscode.DebugConfiguration;
    const result = await provider.resolveDebugConfigurationWithSubstitutedVariables(folder, input);
    if ('error' in expected) {
      assert.equal(result, undefined, 'the session is cancelled');
      assert.equal(fake.errors.length, 1, `one error shown, got ${JSON.stringify(fake.errors)}`);
      assert.match(fake.errors[0] ?? '', /^Fogbank: launch configuration "Debug it": /);
      assert.match(fake.errors[0] ?? '', expected.error);
    } else {
      assert.deepEqual(fake.errors, []);
      assert.deepEqual(result, { ...input, ...expected.fields });
    }
  }

  test('a valid launch passes, with relative paths made absolute', async () => {
    await check({}, { fields: {} });
    await check({ template: 'template.yaml', event: 'events/hello.json' }, {
      fields: { template: file('template.yaml'), event: file('events/hello.json') },
    });
    await check({ function: 'orders', runtime: 'docker', env: { A: '1' } }, { fields: {} });
  });

  test('names the field at fault and the fix', async () => {
    await check({ request: 'debug' }, { error: /"request" is "debug"; use "launch" or "attach"/ });
    await check({ template: 'nope.yaml' }, { error: /"template": .*nope\.yaml: does not exist/ });
    await check({ template: 'events/broken.json' }, { error: /"template": .*broken\.json: line 1, column \d+: / });
    await check({ function: 'Nope' }, {
      error: /"function": .*template\.yaml has no function "Nope"; its functions are: HelloFunction, OrderFunction\./,
    });
    await check({ function: '' }, { error: /"function" is missing/ });
    await check({ event: 'events/none.json' }, { error: /"event": the event file .*none\.json does not exist/ });
    await check({ event: 'events/broken.json' }, { error: /"event": the event file .*broken\.json is not valid JSON/ });
    await check({ event: 7 }, { error: /"event" must be the path of a JSON event file/ });
    await check({ runtime: 'lambda' }, { error: /"runtime" is "lambda"; use "docker" or "process"/ });
    await check({ env: ['A=1'] }, { error: /"env" must be an object/ });
    await check({ env: { A: 1 } }, { error: /"env": the value of A must be a string, not 1/ });
  });

  test('checks relayed attach configurations', async () => {
    const relayed = { request: 'attach', relay: 'https://relay:7443', session: 's', secret: 'k', mode: 'live' };
    await check(relayed, { fields: {} });
    // The cloud function's code runs; the local template is optional there.
    await check({ ...relayed, template: file('absent.yaml') }, { fields: {} });
    await check({ ...relayed, mode: 'in-place', program: 'bin/bootstrap' }, { fields: { mode: 'in-place', program: file('bin/bootstrap') } });
    await check({ ...relayed, relay: 'http://relay:7443' }, { error: /"relay" must be the relay's URL, https:\/\/host:port/ });
    await check({ ...relayed, session: '' }, { error: /"session" is missing; .*fogbank debug-session new/ });
    await check({ ...relayed, secret: '' }, { error: /"secret" is empty; set the FOGBANK_SESSION_SECRET environment variable/ });
    await check({ ...relayed, mode: 'remote' }, { error: /"mode" is "remote"; use "live" or "in-place"/ });
    await check({ ...relayed, function: 'Nope' }, { error: /has no function "Nope"/ });
  });
});
