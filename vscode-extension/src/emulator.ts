/**
 * The `fogbank start` process that the extension runs, shown in a terminal.
 *
 * The extension spawns the process itself and shows it through a
 * pseudoterminal, rather than typing a command into a shell, so that it
 * knows exactly when the emulator exits, can stop it with SIGTERM (which
 * `fogbank start` handles by stopping its instances cleanly) and can copy
 * every line to the Fogbank log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** How long `stop()` waits for a clean exit before SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** What `start` runs. */
export interface EmulatorCommand {
  readonly fogbank: string;
  readonly template: string;
  /** `--runtime`, when not the emulator's own choice. */
  readonly runtime: 'docker' | 'process' | undefined;
  readonly extraArguments: readonly string[];
}

/** The arguments of `fogbank start` for a command. */
export function startArguments(command: EmulatorCommand): string[] {
  const runtime = command.runtime === undefined ? [] : ['--runtime', command.runtime];
  return ['start', '--template', command.template, ...runtime, ...command.extraArguments];
}

/** Where emulator output goes besides the terminal. */
export interface OutputSink {
  append(text: string): void;
}

export class EmulatorProcess implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private terminal: vscode.Terminal | undefined;
  private readonly write = new vscode.EventEmitter<string>();
  private readonly runningChanged = new vscode.EventEmitter<boolean>();
  /** Fires true when a process starts and false when it exits. */
  readonly onDidChangeRunning = this.runningChanged.event;
  // Output that arrives before VS Code opens the terminal is kept until it does.
  private pending: string[] | undefined = [];

  constructor(private readonly log: OutputSink) {}

  /** True while a `fogbank start` started here has not exited. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts `fogbank start` and shows its terminal; does nothing but show it when already running. */
  start(command: EmulatorCommand): void {
    if (this.child !== undefined) {
      this.terminal?.show(true);
      return;
    }
    if (this.terminal === undefined) {
      // A fresh terminal shows only this run, not the end of the last one.
      this.pending = [];
    }
    const args = startArguments(command);
    const commandLine = [command.fogbank, ...args].map(quoteForDisplay).join(' ');
    this.output(`$ ${commandLine}\n`);
    const child = spawn(command.fogbank, args, {
      cwd: path.dirname(command.template),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (data: Buffer) => this.output(data.toString('utf8')));
    child.stderr?.on('data', (data: Buffer) => this.output(data.toString('utf8')));
    this.exited = new Promise((resolve) => {
      const finish = (description: string): void => {
        if (this.child === child) {
          this.child = undefined;
          this.output(`\n${description}\n`);
          this.runningChanged.fire(false);
        }
        resolve();
      };
      child.on('error', (error) => finish(`fogbank could not be started: ${error.message}`));
      child.on('exit', (code, signal) =>
        finish(signal !== null ? `fogbank stopped (${signal})` : `fogbank exited with code ${code ?? 'unknown'}`),
      );
    });
    this.runningChanged.fire(true);
    this.showTerminal();
  }

  /** Stops the emulator started here: SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (child === undefined || exited === undefined) {
      return;
    }
    child.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, STOP_GRACE_MS);
    });
    await Promise.race([exited, forced]);
    clearTimeout(timer);
    await exited;
  }

  showTerminal(): void {
    if (this.terminal === undefined) {
      this.pending ??= [];
      const pty: vscode.Pseudoterminal = {
        onDidWrite: this.write.event,
        open: () => {
          for (const text of this.pending ?? []) {
            this.write.fire(text);
          }
          this.pending = undefined;
        },
        close: () => {
          // Closing the terminal is the natural way to end what runs in it.
          this.terminal = undefined;
          this.pending = [];
          void this.stop();
        },
        handleInput: (data) => {
          if (data === '\x03') {
            this.write.fire('^C\r\n');
            void this.stop();
          }
        },
      };
      this.terminal = vscode.window.createTerminal({ name: 'Fogbank emulator', pty });
    }
    this.terminal.show(true);
  }

  dispose(): void {
    void this.stop();
    this.terminal?.dispose();
    this.write.dispose();
    this.runningChanged.dispose();
  }

  private output(text: string): void {
    this.log.append(text);
    // A terminal wants CRLF; the process writes LF.
    const forTerminal = text.replace(/\r?\n/g, '\r\n');
    if (this.pending !== undefined) {
      this.pending.push(forTerminal);
    } else {
      this.write.fire(forTerminal);
    }
  }
}

function quoteForDisplay(argument: string): string {
  return /^[\w@%+=:,./-]+$/.test(argument) ? argument : `'${argument.replaceAll("'", "'\\''")}'`;
}
