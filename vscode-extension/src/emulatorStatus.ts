/**
 * Whether a Fogbank emulator is running on this machine, and on which ports.
 *
 * The emulator's loopback control interface answers
 * `GET /fogbank/v1/status` with its version, template, ports and functions;
 * that is asked first. An emulator without it (or with it on another port)
 * is still recognised by its Lambda Invoke API's ListFunctions route, which
 * gives the functions and the one port that answered.
 */
import * as http from 'node:http';
import * as vscode from 'vscode';

/** The emulator's ports; a port is absent when not known. */
export interface EmulatorPorts {
  readonly lambda?: number;
  readonly gateway?: number;
  readonly sqs?: number;
  readonly control?: number;
}

export type EmulatorStatus =
  | { readonly state: 'stopped' }
  | {
      readonly state: 'running';
      /** Which endpoint answered: the control interface knows everything, the Lambda API only part. */
      readonly source: 'control' | 'lambda';
      readonly version: string | undefined;
      readonly template: string | undefined;
      /** Where functions run: `docker` or `process`. */
      readonly runtime: string | undefined;
      readonly ports: EmulatorPorts;
      readonly functions: readonly string[];
      /** The functions whose instances run under the debugger. */
      readonly debugging: readonly string[];
    };

export const STOPPED: EmulatorStatus = { state: 'stopped' };

export const CONTROL_STATUS_PATH = '/fogbank/v1/status';
export const LIST_FUNCTIONS_PATH = '/2015-03-31/functions/';

/** An HTTP GET on loopback: the status code and body, or undefined when nothing answered. */
export type HttpGet = (port: number, path: string) => Promise<{ status: number; body: string } | undefined>;

/** Parses the control interface's status document; undefined when it is not one. */
export function parseControlStatus(body: string, controlPort: number): EmulatorStatus | undefined {
  const document = parseJson(body);
  if (!isRecord(document) || !isRecord(document['ports'])) {
    return undefined;
  }
  const ports = document['ports'];
  const entries: unknown[] = Array.isArray(document['functions']) ? document['functions'] : [];
  return {
    state: 'running',
    source: 'control',
    version: typeof document['version'] === 'string' ? document['version'] : undefined,
    template: typeof document['template'] === 'string' ? document['template'] : undefined,
    runtime: typeof document['runtime'] === 'string' ? document['runtime'] : undefined,
    ports: withoutUndefined({
      lambda: port(ports['lambda']),
      gateway: port(ports['gateway']),
      sqs: port(ports['sqs']),
      control: port(ports['control']) ?? controlPort,
    }),
    functions: entries.flatMap(functionName),
    debugging: entries.filter((entry) => isRecord(entry) && entry['debugging'] === true).flatMap(functionName),
  };
}

/** Parses a Lambda ListFunctions answer; undefined when it is not one. */
export function parseListFunctions(body: string, lambdaPort: number): EmulatorStatus | undefined {
  const document = parseJson(body);
  if (!isRecord(document) || !Array.isArray(document['Functions'])) {
    return undefined;
  }
  return {
    state: 'running',
    source: 'lambda',
    version: undefined,
    template: undefined,
    runtime: undefined,
    ports: { lambda: lambdaPort },
    functions: document['Functions'].flatMap(functionName),
    debugging: [],
  };
}

/** Asks the control interface, then the Lambda API, and says what is running. */
export async function probeEmulator(ports: { control: number; lambda: number }, get: HttpGet): Promise<EmulatorStatus> {
  const control = await get(ports.control, CONTROL_STATUS_PATH);
  if (control?.status === 200) {
    const status = parseControlStatus(control.body, ports.control);
    if (status !== undefined) {
      return status;
    }
  }
  const lambda = await get(ports.lambda, LIST_FUNCTIONS_PATH);
  if (lambda?.status === 200) {
    const status = parseListFunctions(lambda.body, ports.lambda);
    if (status !== undefined) {
      return status;
    }
  }
  return STOPPED;
}

/** GET on 127.0.0.1 with a short timeout; any failure is "nothing answered". */
export function loopbackGet(timeoutMs: number): HttpGet {
  return (port, path) =>
    new Promise((resolve) => {
      const request = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // A status document is small; something streaming megabytes is not the emulator.
          if (size > 1 << 20) {
            request.destroy();
            resolve(undefined);
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', () => resolve(undefined));
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(undefined));
    });
}

/** Two statuses that would show the same. */
export function sameStatus(a: EmulatorStatus, b: EmulatorStatus): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Polls the emulator every `intervalMs` and fires {@link onDidChange} when
 * what it reports changes. `refresh()` polls at once (after starting or
 * stopping, say).
 */
export class EmulatorStatusMonitor implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<EmulatorStatus>();
  readonly onDidChange = this.changed.event;
  private status: EmulatorStatus = STOPPED;
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling: Promise<EmulatorStatus> | undefined;

  constructor(
    private readonly ports: () => { control: number; lambda: number },
    private readonly get: HttpGet,
    private readonly intervalMs: number,
  ) {}

  get current(): EmulatorStatus {
    return this.status;
  }

  start(): void {
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.refresh(), this.intervalMs);
      void this.refresh();
    }
  }

  /** Polls now, sharing a poll already in flight. */
  refresh(): Promise<EmulatorStatus> {
    this.polling ??= probeEmulator(this.ports(), this.get).then((status) => {
      this.polling = undefined;
      if (!sameStatus(status, this.status)) {
        this.status = status;
        this.changed.fire(status);
      }
      return status;
    });
    return this.polling;
  }

  dispose(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.changed.dispose();
  }
}

function functionName(entry: unknown): string[] {
  if (typeof entry === 'string') {
    return [entry];
  }
  if (isRecord(entry)) {
    for (const key of ['logicalId', 'name', 'FunctionName']) {
      const value = entry[key];
      if (typeof value === 'string') {
        return [value];
      }
    }
  }
  return [];
}

function port(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536 ? value : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withoutUndefined(ports: { [K in keyof EmulatorPorts]: number | undefined }): EmulatorPorts {
  return Object.fromEntries(Object.entries(ports).filter(([, value]) => value !== undefined)) as EmulatorPorts;
}
