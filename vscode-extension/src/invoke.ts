/** `fogbank invoke`: one invocation of one function, outside the running emulator. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface InvokeRequest {
  readonly fogbank: string;
  readonly template: string;
  /** The function's logical ID. */
  readonly function: string;
  /** A JSON event file; `{}` is sent when undefined. */
  readonly event: string | undefined;
  /** `--runtime`, when not the emulator's own choice. */
  readonly runtime: 'docker' | 'process' | undefined;
}

/** What `fogbank invoke` printed: the result on stdout, logs and build output on stderr. */
export interface InvokeResult {
  /** 0 for a successful invocation, 1 for a function error, 2 for a template problem. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export function invokeArguments(request: InvokeRequest): string[] {
  const args = ['invoke', request.function, '--template', request.template];
  if (request.event !== undefined) {
    args.push('--event', request.event);
  }
  if (request.runtime !== undefined) {
    args.push('--runtime', request.runtime);
  }
  return args;
}

/**
 * Runs `fogbank invoke` from the template's directory. `onStderr` receives
 * its logs as they come (a build can take minutes); `cancelled` kills it.
 * Rejects only when the binary cannot be run at all.
 */
export function runInvoke(
  request: InvokeRequest,
  onStderr: (text: string) => void,
  cancelled: { onCancellationRequested(listener: () => void): unknown },
): Promise<InvokeResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(request.fogbank, invokeArguments(request), {
      cwd: path.dirname(request.template),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (data: Buffer) => stdout.push(data));
    child.stderr.on('data', (data: Buffer) => {
      stderr.push(data);
      onStderr(data.toString('utf8'));
    });
    cancelled.onCancellationRequested(() => child.kill('SIGTERM'));
    child.on('error', (error) => reject(new Error(`running ${request.fogbank}: ${error.message}`)));
    child.on('close', (exitCode) =>
      resolve({
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        seconds: (Date.now() - started) / 1000,
      }),
    );
  });
}

/** The result payload pretty-printed when it is JSON, as is otherwise. */
export function formatPayload(stdout: string): { text: string; json: boolean } {
  const trimmed = stdout.trim();
  try {
    return { text: `${JSON.stringify(JSON.parse(trimmed), null, 2)}\n`, json: true };
  } catch {
    return { text: stdout, json: false };
  }
}
