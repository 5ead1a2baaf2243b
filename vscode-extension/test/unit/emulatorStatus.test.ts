import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';

import {
  EmulatorStatusMonitor,
  loopbackGet,
  parseControlStatus,
  parseListFunctions,
  probeEmulator,
  STOPPED,
  type EmulatorStatus,
  type HttpGet,
} from '../../src/emulatorStatus';

describe('parseControlStatus', () => {
  function check(body: string, expected: EmulatorStatus | undefined): void {
    assert.deepEqual(parseControlStatus(body, 3002), expected);
  }

  test('reads the status document', () => {
    // The shape of emulator/src/control/wire.rs `Status`.
    check(
      JSON.stringify({
        version: '0.1.0',
        template: '/app/template.yaml',
        stateDir: '/app/.fogbank',
        runtime: 'docker',
        ports: { lambda: 3001, gateway: 3000, sqs: 9324, control: 3002 },
        functions: [
          { logicalId: 'HelloFunction', name: 'HelloFunction', runtime: 'provided.al2023', codeDir: '/b', program: '/b/bootstrap', debugging: true, instances: 1 },
          { logicalId: 'Worker', name: 'app-worker', runtime: 'python3.12', codeDir: '/w', debugging: false, instances: 0 },
          'Plain',
          { name: 'NameOnly' },
          7,
        ],
      }),
      {
        state: 'running',
        source: 'control',
        version: '0.1.0',
        template: '/app/template.yaml',
        runtime: 'docker',
        ports: { lambda: 3001, gateway: 3000, sqs: 9324, control: 3002 },
        functions: ['HelloFunction', 'Worker', 'Plain', 'NameOnly'],
        debugging: ['HelloFunction'],
      },
    );
  });

  test('tolerates missing and odd fields', () => {
    check(JSON.stringify({ ports: { lambda: 0, gateway: 'x', sqs: 70000 } }), {
      state: 'running',
      source: 'control',
      version: undefined,
      template: undefined,
      runtime: undefined,
      ports: { control: 3002 },
      functions: [],
      debugging: [],
    });
  });

  test('rejects what is not a status document', () => {
    check('', undefined);
    check('not json', undefined);
    check('[]', undefined);
    check('{"version":"1"}', undefined);
    check('{"ports":[3001]}', undefined);
  });
});

describe('parseListFunctions', () => {
  test('reads a ListFunctions answer', () => {
    assert.deepEqual(parseListFunctions('{"Functions":[{"FunctionName":"A"},{"FunctionName":"B"}],"NextMarker":null}', 3001), {
      state: 'running',
      source: 'lambda',
      version: undefined,
      template: undefined,
      runtime: undefined,
      ports: { lambda: 3001 },
      functions: ['A', 'B'],
      debugging: [],
    });
    assert.equal(parseListFunctions('{"message":"no"}', 3001), undefined);
    assert.equal(parseListFunctions('<html>', 3001), undefined);
  });
});

describe('probeEmulator', () => {
  /** Probes with canned answers per port and path, and returns the status and what was asked. */
  async function check(
    answers: Record<string, { status: number; body: string }>,
    expected: Partial<Extract<EmulatorStatus, { state: 'running' }>> | 'stopped',
    expectedAsked: string[],
  ): Promise<void> {
    const asked: string[] = [];
    const get: HttpGet = async (port, path) => {
      asked.push(`${port}${path}`);
      return answers[`${port}${path}`];
    };
    const status = await probeEmulator({ control: 3002, lambda: 3001 }, get);
    if (expected === 'stopped') {
      assert.deepEqual(status, STOPPED);
    } else {
      assert.equal(status.state, 'running');
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual((status as Record<string, unknown>)[key], value, key);
      }
    }
    assert.deepEqual(asked, expectedAsked);
  }

  const control = { status: 200, body: '{"ports":{"lambda":3101},"functions":["F"]}' };
  const lambda = { status: 200, body: '{"Functions":[{"FunctionName":"G"}]}' };

  test('asks the control interface first', async () => {
    await check({ '3002/fogbank/v1/status': control, '3001/2015-03-31/functions/': lambda }, { source: 'control', functions: ['F'] }, [
      '3002/fogbank/v1/status',
    ]);
  });

  test('falls back to the Lambda API when the control interface is absent or odd', async () => {
    const both = ['3002/fogbank/v1/status', '3001/2015-03-31/functions/'];
    await check({ '3001/2015-03-31/functions/': lambda }, { source: 'lambda', functions: ['G'], ports: { lambda: 3001 } }, both);
    await check({ '3002/fogbank/v1/status': { status: 404, body: '{}' }, '3001/2015-03-31/functions/': lambda }, { source: 'lambda' }, both);
    await check({ '3002/fogbank/v1/status': { status: 200, body: 'hello' }, '3001/2015-03-31/functions/': lambda }, { source: 'lambda' }, both);
  });

  test('is stopped when neither answers as the emulator would', async () => {
    const both = ['3002/fogbank/v1/status', '3001/2015-03-31/functions/'];
    await check({}, 'stopped', both);
    await check({ '3001/2015-03-31/functions/': { status: 200, body: '<html>another server</html>' } }, 'stopped', both);
  });
});

describe('loopbackGet and the monitor, against real HTTP servers', () => {
  async function serve(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  test('reads an answer, and reports refused, hung and oversized answers as nothing', async () => {
    const get = loopbackGet(300);
    const ok = await serve((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ path: request.url }));
    });
    const hung = await serve(() => undefined);
    const huge = await serve((_request, response) => {
      response.writeHead(200);
      response.end(Buffer.alloc(2 << 20, 'x'));
    });
    try {
      assert.deepEqual(await get(ok.port, '/fogbank/v1/status'), { status: 200, body: '{"path":"/fogbank/v1/status"}' });
      assert.equal(await get(hung.port, '/'), undefined);
      assert.equal(await get(huge.port, '/'), undefined);
    } finally {
      await ok.close();
      await hung.close();
      await huge.close();
    }
    // The port is closed now: connection refused.
    assert.equal(await get(ok.port, '/'), undefined);
  });

  test('the monitor reports changes once, as the emulator comes and goes', async () => {
    let answering = true;
    const server = await serve((request, response) => {
      if (!answering || request.url !== '/fogbank/v1/status') {
        response.writeHead(404);
        response.end();
        return;
      }
      response.writeHead(200);
      response.end(JSON.stringify({ version: '0.1.0', ports: { lambda: 3001, control: 1 }, functions: ['F'] }));
    });
    const monitor = new EmulatorStatusMonitor(() => ({ control: server.port, lambda: server.port }), loopbackGet(500), 60_000);
    const seen: string[] = [];
    monitor.onDidChange((status) => seen.push(status.state));
    try {
      assert.equal((await monitor.refresh()).state, 'running');
      assert.equal((await monitor.refresh()).state, 'running');
      answering = false;
      assert.equal((await monitor.refresh()).state, 'stopped');
      assert.deepEqual(seen, ['running', 'stopped']);
      assert.deepEqual(monitor.current, STOPPED);
    } finally {
      monitor.dispose();
      await server.close();
    }
  });
});
