/**
 * The Fogbank commands: Start Emulator, Stop Emulator, Invoke Function…
 * and Show Logs.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { FOGBANK } from './binaries';
import type { EmulatorProcess } from './emulator';
import type { EmulatorStatusMonitor } from './emulatorStatus';
import { listEventFiles } from './eventFiles';
import { formatPayload, runInvoke } from './invoke';
import { defaultFolder, locateBinary, readSettings, templatePath } from './settings';
import { loadTemplateFunctions, type TemplateFunction } from './template';

export const COMMANDS = {
  start: 'fogbank.startEmulator',
  stop: 'fogbank.stopEmulator',
  invoke: 'fogbank.invokeFunction',
  showLogs: 'fogbank.showLogs',
} as const;

export interface CommandContext {
  readonly emulator: EmulatorProcess;
  readonly monitor: EmulatorStatusMonitor;
  readonly log: vscode.OutputChannel;
}

export function registerCommands(context: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.start, () => startEmulator(context)),
    vscode.commands.registerCommand(COMMANDS.stop, () => stopEmulator(context)),
    vscode.commands.registerCommand(COMMANDS.invoke, () => invokeFunction(context)),
    vscode.commands.registerCommand(COMMANDS.showLogs, () => context.log.show(true)),
  ];
}

async function startEmulator({ emulator, monitor, log }: CommandContext): Promise<void> {
  if (emulator.running) {
    emulator.showTerminal();
    return;
  }
  const status = await monitor.refresh();
  if (status.state === 'running') {
    const where = status.template !== undefined ? ` for ${status.template}` : '';
    void vscode.window.showInformationMessage(
      `Fogbank: an emulator${where} is already running on this machine (not started from this window). Stop it where it runs first to start another.`,
    );
    return;
  }
  const folder = await pickFolder();
  if (folder === undefined) {
    return;
  }
  const fogbank = locateBinary(FOGBANK, folder);
  if (!fogbank.found) {
    showBinaryError(fogbank.message);
    return;
  }
  const template = templatePath(folder);
  if (!existsSync(template)) {
    void vscode.window.showErrorMessage(
      `Fogbank: there is no SAM template at ${template}; open the application's folder or set fogbank.template.`,
    );
    return;
  }
  log.appendLine(`[emulator] using ${fogbank.path} (from the ${fogbank.source})`);
  const settings = readSettings(folder);
  emulator.start({ fogbank: fogbank.path, template, runtime: settings.runtime, extraArguments: settings.startArguments });
}

async function stopEmulator({ emulator, monitor }: CommandContext): Promise<void> {
  if (!emulator.running) {
    const status = await monitor.refresh();
    const message =
      status.state === 'running'
        ? 'Fogbank: the running emulator was not started from this window; stop it in the terminal where it runs (Ctrl-C).'
        : 'Fogbank: no emulator is running.';
    void vscode.window.showInformationMessage(message);
    return;
  }
  await emulator.stop();
  await monitor.refresh();
}

async function invokeFunction({ log }: CommandContext): Promise<void> {
  const folder = await pickFolder();
  if (folder === undefined) {
    return;
  }
  const template = templatePath(folder);
  let functions: TemplateFunction[];
  try {
    functions = await loadTemplateFunctions(template);
  } catch (error) {
    void vscode.window.showErrorMessage(`Fogbank: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  if (functions.length === 0) {
    void vscode.window.showErrorMessage(`Fogbank: ${template} has no AWS::Serverless::Function to invoke.`);
    return;
  }
  const picked = await vscode.window.showQuickPick(
    functions.map((f) => ({ label: f.logicalId, description: f.runtime ?? '', detail: f.events.join(' · ') })),
    { title: 'Fogbank: invoke which function?', placeHolder: 'Function' },
  );
  if (picked === undefined) {
    return;
  }
  const event = await pickEvent(template);
  if (event === undefined) {
    return;
  }
  const fogbank = locateBinary(FOGBANK, folder);
  if (!fogbank.found) {
    showBinaryError(fogbank.message);
    return;
  }

  const request = {
    fogbank: fogbank.path,
    template,
    function: picked.label,
    event: event === NO_EVENT ? undefined : event,
    runtime: readSettings(folder).runtime,
  };
  log.appendLine(
    `[invoke] ${picked.label} with ${request.event === undefined ? '{}' : path.basename(request.event)}`,
  );
  let result;
  try {
    result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Fogbank: invoking ${picked.label}`,
        cancellable: true,
      },
      (_progress, token) => runInvoke(request, (text) => log.append(text), token),
    );
  } catch (error) {
    void vscode.window.showErrorMessage(`Fogbank: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }

  const payload = formatPayload(result.stdout);
  log.appendLine(`[invoke] ${picked.label} exited with code ${String(result.exitCode)} after ${result.seconds.toFixed(2)} s`);
  if (result.stdout.trim() !== '') {
    const document = await vscode.workspace.openTextDocument({
      content: payload.text,
      language: payload.json ? 'json' : 'plaintext',
    });
    await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
  if (result.exitCode === 0) {
    void vscode.window.showInformationMessage(`Fogbank: ${picked.label} answered in ${result.seconds.toFixed(2)} s.`);
  } else {
    const what =
      result.exitCode === 1 && result.stdout.trim() !== ''
        ? 'returned an error (shown beside)'
        : `failed (exit code ${String(result.exitCode)})`;
    const choice = await vscode.window.showErrorMessage(`Fogbank: ${picked.label} ${what}.`, 'Show Logs');
    if (choice === 'Show Logs') {
      log.show(true);
    }
  }
}

const NO_EVENT = '';
const BROWSE = '\0browse';

/** An event file path, {@link NO_EVENT} for `{}`, or undefined when the user gave up. */
async function pickEvent(template: string): Promise<string | undefined> {
  const files = await listEventFiles(template);
  const items: (vscode.QuickPickItem & { value: string })[] = [
    ...files.map((file) => ({
      label: path.basename(file),
      description: path.relative(path.dirname(template), path.dirname(file)),
      value: file,
    })),
    { label: 'No event', description: 'send {}', value: NO_EVENT },
    { label: 'Choose a file…', value: BROWSE },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Fogbank: with which event?',
    placeHolder: files.length > 0 ? 'An event file from events/' : 'No events/ directory beside the template',
  });
  if (picked?.value !== BROWSE) {
    return picked?.value;
  }
  const chosen = await vscode.window.showOpenDialog({
    canSelectMany: false,
    defaultUri: vscode.Uri.file(path.dirname(template)),
    filters: { 'JSON events': ['json'] },
    openLabel: 'Invoke with this event',
  });
  return chosen?.[0]?.fsPath;
}

async function pickFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length > 1) {
    return vscode.window.showWorkspaceFolderPick({ placeHolder: 'Fogbank: which folder holds the SAM application?' });
  }
  const folder = defaultFolder();
  if (folder === undefined) {
    void vscode.window.showErrorMessage('Fogbank: open the folder of a SAM application (with its template.yaml) first.');
  }
  return folder;
}

function showBinaryError(message: string): void {
  void vscode.window.showErrorMessage(`Fogbank: ${message}`, 'Open Settings').then((choice) => {
    if (choice === 'Open Settings') {
      void vscode.commands.executeCommand('workbench.action.openSettings', 'fogbank.');
    }
  });
}
