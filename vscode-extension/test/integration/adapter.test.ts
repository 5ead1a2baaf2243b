/**
 * The real-client test: Microsoft's DAP test client (`DebugClient` from
 * @vscode/debugadapter-testsupport) drives the real `fogbank-dap` on
 * examples/hello-api, in the order VS Code sends requests:
 * initialize, launch, setBreakpoints, configurationDone; then the function,
 * running in a container, is invoked through the emulated HTTP API as curl
 * would, the breakpoint stops it at the right line, locals are read, and
 * after `continue` the HTTP client receives the function's response.
 *
 * The test starts `fogbank start` itself (so it owns the emulator's
 * lifetime) and the adapter connects to it through the control interface,
 * as it does when a user has the emulator running.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import type { DebugProtocol } from '@vscode/debugprotocol';
import { DebugClient } from '@vscode/debugadapter-testsupport';

import { example } from '../helpers';
import { Collected, request, requireBinary, waitFor, within, type HttpAnswer } from './support';

const APP = example('hello-api');
const TEMPLATE = path.join(APP, 'template.yaml');
// Real path, as cargo records it in the DWARF the adapter reports from.
const SOURCE = realpathSync(path.join(APP, 'src', 'main.rs'));
/** The emulator's default ports, which the adapter finds it on. */
const CONTROL_PORT = 3002;
const DEFAULT_LAMBDA_PORT = 3001;
/** The first start builds hello-api with cargo, which takes minutes on two cores. */
const BUILD_TIMEOUT_MS = 15 * 60_000;
const STEP_TIMEOUT_MS = 60_000;

/** The line of `text` in the example's source, from 1. */
function lineOf(text: string): number {
  const index = readFileSync(SOURCE, 'utf8')
    .split('\n')
    .findIndex((line) => line.trim() === text);
  assert.ok(index >= 0, `${SOURCE} has the line \`${text}\``);
  return index + 1;
}

/**
 * A DebugClient over a `fogbank-dap` process started here: DebugClient's own
 * `start()` runs `runtime executable`, which suits Node adapters, while ours
 * is a native binary that takes no arguments.
 */
class AdapterClient extends DebugClient {
  constructor(readonly adapter: Collected) {
    super('', '', 'fogbank');
    const { stdout, stdin } = adapter.child;
    assert.ok(stdout && stdin);
    this.connect(stdout, stdin);
  }

  /** `promise`, failing early with the adapter's output if the adapter exits first. */
  async step<T>(what: string, promise: Promise<T>): Promise<T> {
    const died = this.adapter.exited.then(() => {
      throw new Error(`fogbank-dap ended (${this.adapter.exit}) during: ${what}\nits stderr:\n${this.adapter.tail()}`);
    });
    return within(STEP_TIMEOUT_MS, what, Promise.race([promise, died]));
  }
}

describe('fogbank-dap driven by DebugClient on examples/hello-api', () => {
  let emulator: Collected | undefined;
  let stateDir: string | undefined;
  let gatewayPort = 0;
  let fogbankDap = '';
  let fogbank = '';

  // Set-up runs inside the test rather than in a `before` hook, so that a
  // missing binary or emulator counts as a failed test, not a cancelled one.
  async function startEmulator(): Promise<void> {
    fogbankDap = requireBinary('FOGBANK_DAP', 'fogbank-dap', 'fogbank-dap');
    fogbank = requireBinary('FOGBANK_BIN', 'fogbank', 'fogbank');
    const already = await request(CONTROL_PORT, 'GET', '/fogbank/v1/status').catch(() => undefined);
    assert.equal(
      already,
      undefined,
      `something already answers on the control port ${CONTROL_PORT} (${already?.body ?? ''}); stop the running emulator first`,
    );
    stateDir = mkdtempSync(path.join(tmpdir(), 'fogbank-dap-test-'));
    const started = Collected.spawn(
      fogbank,
      ['start', '--template', TEMPLATE, '--runtime', 'docker', '--state-dir', stateDir, '--ephemeral'],
      { cwd: APP },
    );
    emulator = started;
    // Up first (its Lambda API answers once functions are built), then
    // the control interface must answer at once: the adapter needs it.
    const alive = async (): Promise<void> => {
      if (started.exit !== undefined) {
        throw new Error(`fogbank start ended (${started.exit}):\n${started.tail()}`);
      }
    };
    const status = await waitFor(BUILD_TIMEOUT_MS, `fogbank start to serve the Lambda API on 127.0.0.1:${DEFAULT_LAMBDA_PORT}`, async () => {
      await alive();
      const answer = await request(DEFAULT_LAMBDA_PORT, 'GET', '/2015-03-31/functions/').catch(() => undefined);
      return answer?.status === 200 ? answer : undefined;
    })
      .then(() =>
        waitFor(10_000, `the emulator's control interface, GET http://127.0.0.1:${CONTROL_PORT}/fogbank/v1/status`, async () => {
          await alive();
          const answer = await request(CONTROL_PORT, 'GET', '/fogbank/v1/status').catch(() => undefined);
          return answer?.status === 200 ? answer : undefined;
        }),
      )
      .catch((error: unknown) => {
        throw new Error(`${error instanceof Error ? error.message : String(error)}\nfogbank start output:\n${started.tail()}`);
      });
    const document = JSON.parse(status.body) as { runtime?: string; ports?: { gateway?: number } };
    // The acceptance: a real function in a container.
    assert.equal(
      document.runtime,
      'docker',
      `the emulator runs functions as ${String(document.runtime)}, not in containers; start a Docker engine ` +
        `(dockerd) so that this test debugs the function in a container\n${started.tail()}`,
    );
    assert.ok(document.ports?.gateway, `the status reports the API Gateway port: ${status.body}`);
    gatewayPort = document.ports.gateway;
  }

  after(async () => {
    await emulator?.stop();
    if (stateDir !== undefined) {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('launch, breakpoint, invoke, stop at the line, read a local, continue, response', async () => {
    await startEmulator();
    const adapter = Collected.spawn(fogbankDap, [], { cwd: APP, env: { ...process.env, FOGBANK_BIN: fogbank } });
    const client = new AdapterClient(adapter);
    client.defaultTimeout = STEP_TIMEOUT_MS;
    const output: string[] = [];
    client.on('output', (event: DebugProtocol.OutputEvent) => output.push(event.body.output));
    // In the release build the `let length = ...` line before it is all
    // inlined library code, so the adapter would move a breakpoint there to
    // this line; the test sets it where code starts.
    const breakpointLine = lineOf('let body = json!({ "message": greeting, "length": length });');
    let invocation: Promise<HttpAnswer> | undefined;
    try {
      const initialized = client.waitForEvent('initialized', STEP_TIMEOUT_MS);
      const capabilities = await client.step('initialize', client.initializeRequest());
      assert.equal(capabilities.body?.supportsConfigurationDoneRequest, true, 'configurationDone is supported');

      const launched = client.step(
        'launch',
        client.launchRequest({ type: 'fogbank', request: 'launch', template: TEMPLATE, function: 'HelloFunction' } as DebugProtocol.LaunchRequestArguments),
      );
      await client.step('the initialized event', initialized);
      const set = await client.step(
        'setBreakpoints',
        client.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [{ line: breakpointLine }] }),
      );
      const [breakpoint] = set.body.breakpoints;
      assert.equal(breakpoint?.verified, true, `the breakpoint at main.rs:${breakpointLine} is verified: ${JSON.stringify(breakpoint)}`);
      assert.equal(breakpoint.line, breakpointLine);
      await client.step('configurationDone', client.configurationDoneRequest());
      await launched;

      const stopped = client.step('a stop at the breakpoint', client.assertStoppedLocation('breakpoint', { path: SOURCE, line: breakpointLine }));
      // As a user would: curl through the emulated HTTP API.
      invocation = request(gatewayPort, 'GET', '/hello/Ada');
      const trace = await stopped;
      const top = trace.body.stackFrames[0];
      assert.ok(top);
      assert.match(top.name, /hello/, `the top frame is the hello function: ${top.name}`);

      const scopes = await client.step('scopes', client.scopesRequest({ frameId: top.id }));
      const variables = (
        await Promise.all(
          scopes.body.scopes
            .filter((scope) => scope.variablesReference > 0 && !/regist/i.test(scope.name))
            .map((scope) => client.step(`variables of ${scope.name}`, client.variablesRequest({ variablesReference: scope.variablesReference }))),
        )
      ).flatMap((response) => response.body.variables);
      const greeting = variables.find((variable) => variable.name === 'greeting');
      assert.match(greeting?.value ?? '', /Hello, Ada!/, `greeting is read: ${JSON.stringify(variables)}`);
      const name = variables.find((variable) => variable.name === 'name');
      assert.match(name?.value ?? '', /Ada/, `the name argument is read: ${JSON.stringify(variables)}`);

      const threadId = (await client.step('threads', client.threadsRequest())).body.threads[0]?.id ?? 1;
      await client.step('continue', client.continueRequest({ threadId }));
      const answer = await within(STEP_TIMEOUT_MS, 'the HTTP response after continue', invocation);
      assert.equal(answer.status, 200, answer.body);
      assert.deepEqual(JSON.parse(answer.body), { message: 'Hello, Ada!', length: 11 });

      await client.step('disconnect', client.disconnectRequest({}));
      // The emulator stays up and the function usable after the session.
      const after = await within(STEP_TIMEOUT_MS, 'a request after disconnect', request(gatewayPort, 'GET', '/hello/Grace'));
      assert.equal(after.status, 200, after.body);
      assert.deepEqual(JSON.parse(after.body), { message: 'Hello, Grace!', length: 13 });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${detail}\n--- adapter output events:\n${output.join('')}\n--- fogbank-dap stderr:\n${adapter.tail()}` +
          `\n--- emulator output:\n${emulator?.tail() ?? ''}`,
      );
    } finally {
      await adapter.stop(5_000);
      await invocation?.catch(() => undefined);
    }
  });
});
