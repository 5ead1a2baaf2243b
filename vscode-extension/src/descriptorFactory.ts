/**
 * Starts `fogbank-dap` for each `fogbank` debug session, talking DAP over
 * its stdin and stdout.
 */
import * as vscode from 'vscode';

import { FOGBANK, FOGBANK_DAP, type BinaryKind, type BinaryLookup } from './binaries';

/** Finds a binary for a session's folder; injected so tests control the file system. */
export type Locator = (kind: BinaryKind, folder: vscode.WorkspaceFolder | undefined) => BinaryLookup;

/** Where the factory reports what it ran. */
export interface LogSink {
  appendLine(line: string): void;
}

/**
 * The environment variable through which the adapter learns which `fogbank`
 * binary to run when it has to start the emulator itself: the same one the
 * extension's commands run, so both agree on the build.
 */
export const FOGBANK_BIN_VARIABLE = 'FOGBANK_BIN';

export class FogbankDescriptorFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(
    private readonly locate: Locator,
    private readonly log: LogSink,
  ) {}

  /**
   * The adapter executable. Throws, with the lookup's message (places tried
   * and how to fix it), when `fogbank-dap` is nowhere: VS Code shows a
   * thrown error to the user and does not start the session.
   */
  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const adapter = this.locate(FOGBANK_DAP, session.workspaceFolder);
    if (!adapter.found) {
      this.log.appendLine(`[debug] ${adapter.message}`);
      throw new Error(adapter.message);
    }
    const env: Record<string, string> = {};
    const fogbank = this.locate(FOGBANK, session.workspaceFolder);
    if (fogbank.found) {
      env[FOGBANK_BIN_VARIABLE] = fogbank.path;
    }
    this.log.appendLine(
      `[debug] starting ${adapter.path} (from the ${adapter.source}) for "${session.name}"` +
        (fogbank.found ? ` with ${FOGBANK_BIN_VARIABLE}=${fogbank.path}` : ''),
    );
    const options: vscode.DebugAdapterExecutableOptions = { env };
    const cwd = session.workspaceFolder?.uri.fsPath;
    if (cwd !== undefined) {
      options.cwd = cwd;
    }
    return new vscode.DebugAdapterExecutable(adapter.path, [], options);
  }
}
