/**
 * What the integration tests share: finding the real binaries, running
 * `fogbank start`, HTTP on loopback, and timeouts with useful messages.
 *
 * These tests use the real `fogbank` and `fogbank-dap`. They never skip:
 * a missing binary fails the test with the command that builds it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

import { REPO_ROOT } from '../helpers';

/**
 * The binary `name`: from the environment variable `variable` when set
 * (which must then point at it), else the newest of the workspace's
 * `target/{debug,release}` builds (and `$CARGO_TARGET_DIR`'s). Throws with
 * the fix when there is none.
 */
export function requireBinary(variable: 'FOGBANK_BIN' | 'FOGBANK_DAP', name: string, cargoPackage: string): string {
  const fromEnv = process.env[variable];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) {
      throw new Error(`${variable} is ${fromEnv}, which does not exist; build ${name} with "cargo build -p ${cargoPackage}" or fix ${variable}`);
    }
    return fromEnv;
  }
  const targets = [path.join(REPO_ROOT, 'target')];
  const cargoTarget = process.env['CARGO_TARGET_DIR'];
  if (cargoTarget !== undefined && cargoTarget !== '') {
    targets.unshift(path.resolve(REPO_ROOT, cargoTarget));
  }
  const candidates = targets.flatMap((target) => ['debug', 'release'].map((profile) => path.join(target, profile, name)));
  const existing = candidates
    .filter((file) => existsSync(file))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const newest = existing[0];
  if (newest === undefined) {
    throw new Error(
      `${name} was not found (looked at ${candidates.join(', ')}); build it with "cargo build -p ${cargoPackage}" ` +
        `in ${REPO_ROOT}, or set ${variable} to its path`,
    );
  }
  return newest;
}

/** Rejects with `what` when `promise` takes longer than `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP request to 127.0.0.1; rejects when nothing answers. */
export function request(port: number, method: string, urlPath: string, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Polls `probe` every 250 ms until it returns a value; rejects with `what`
 * after `ms`, or at once with the probe's own error when it throws (a
 * process that died will not come back).
 */
export async function waitFor<T>(ms: number, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A child process whose output is collected, for failure messages. */
export class Collected {
  output = '';
  exit: string | undefined;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (data: Buffer) => (this.output += data.toString('utf8')));
    child.stderr?.on('data', (data: Buffer) => (this.output += data.toString('utf8')));
    // Writing to a process that has exited fails with EPIPE; the exit
    // itself is what the tests report, with the output above.
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
        resolve();
      });
      child.on('error', (error) => {
        this.exit = `could not start: ${error.message}`;
        resolve();
      });
    });
  }

  static spawn(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Collected {
    return new Collected(spawn(file, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exit !== undefined) {
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last `lines` lines of output, for a failure message. */
  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }
}
