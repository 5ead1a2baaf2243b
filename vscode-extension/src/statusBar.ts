/** The status bar item: is the emulator running, and on which ports. */
import * as vscode from 'vscode';

import type { EmulatorStatus } from './emulatorStatus';

/** What the item shows and does, decided without touching the UI. */
export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly command: string;
}

/**
 * The view of `status`. `startedHere` is whether this window started the
 * emulator and it has not exited: then a silent emulator is still
 * starting (building functions, typically), not stopped.
 */
export function describeStatus(status: EmulatorStatus, startedHere: boolean): StatusView {
  if (status.state === 'stopped') {
    if (startedHere) {
      return {
        text: '$(sync~spin) Fogbank: starting',
        tooltip: 'The Fogbank emulator is starting (building functions first). Click to show its logs.',
        command: 'fogbank.showLogs',
      };
    }
    return {
      text: '$(debug-disconnect) Fogbank: stopped',
      tooltip: 'No Fogbank emulator answers on this machine. Click to start one.',
      command: 'fogbank.startEmulator',
    };
  }
  const { ports } = status;
  const parts = [
    ports.lambda !== undefined ? `λ ${ports.lambda}` : undefined,
    ports.gateway !== undefined ? `API ${ports.gateway}` : undefined,
    ports.sqs !== undefined ? `SQS ${ports.sqs}` : undefined,
  ].filter((part): part is string => part !== undefined);
  const lines = [
    `Fogbank emulator${status.version !== undefined ? ` ${status.version}` : ''} is running${startedHere ? ' (started here)' : ''}.`,
  ];
  if (status.template !== undefined) {
    lines.push(`Template: ${status.template}`);
  }
  if (status.runtime !== undefined) {
    lines.push(`Functions run as: ${status.runtime === 'docker' ? 'Docker containers' : status.runtime === 'process' ? 'host processes' : status.runtime}`);
  }
  const urls: [string, number | undefined][] = [
    ['Lambda API', ports.lambda],
    ['API Gateway', ports.gateway],
    ['SQS', ports.sqs],
    ['Control', ports.control],
  ];
  for (const [name, port] of urls) {
    if (port !== undefined) {
      lines.push(`${name}: http://127.0.0.1:${port}`);
    }
  }
  if (status.functions.length > 0) {
    const names = status.functions.map((name) => (status.debugging.includes(name) ? `${name} (debugging)` : name));
    lines.push(`Functions: ${names.join(', ')}`);
  }
  if (status.source === 'lambda') {
    lines.push('(Found through its Lambda API; the control interface did not answer, so other ports are unknown.)');
  }
  lines.push(startedHere ? 'Click to show the logs.' : 'Click to show the Fogbank log.');
  return {
    text: `${status.debugging.length > 0 ? '$(debug-alt)' : '$(radio-tower)'} Fogbank ${parts.join(' · ')}`.trimEnd(),
    tooltip: lines.join('\n'),
    command: 'fogbank.showLogs',
  };
}

export class EmulatorStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('fogbank.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Fogbank emulator';
  }

  show(status: EmulatorStatus, startedHere: boolean): void {
    const view = describeStatus(status, startedHere);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
