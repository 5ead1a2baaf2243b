/**
 * The `fogbank.*` settings, and the workspace facts derived from them
 * (which template, which binaries). The one place that reads configuration,
 * so every feature agrees on defaults.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { findBinary, isExecutableFile, type BinaryKind, type BinaryLookup } from './binaries';

/** The extension's settings, with defaults applied. */
export interface FogbankSettings {
  readonly fogbankPath: string;
  readonly dapPath: string;
  /** The template, relative to the workspace folder or absolute. */
  readonly template: string;
  /** `--runtime` for `fogbank start` and `fogbank invoke`; undefined for the emulator's own choice. */
  readonly runtime: 'docker' | 'process' | undefined;
  readonly startArguments: readonly string[];
  readonly controlPort: number;
  readonly lambdaPort: number;
}

export const DEFAULT_TEMPLATE = 'template.yaml';
export const DEFAULT_CONTROL_PORT = 3002;
export const DEFAULT_LAMBDA_PORT = 3001;

/** Reads the settings for `folder` (or the window when undefined). */
export function readSettings(folder?: vscode.WorkspaceFolder): FogbankSettings {
  const config = vscode.workspace.getConfiguration('fogbank', folder?.uri);
  const text = (key: string, fallback: string): string => {
    const value = config.get<unknown>(key);
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback;
  };
  const port = (key: string, fallback: number): number => {
    const value = config.get<unknown>(key);
    return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536 ? value : fallback;
  };
  const startArguments = config.get<unknown>('startArguments');
  const runtime = config.get<unknown>('runtime');
  return {
    fogbankPath: text('fogbankPath', ''),
    dapPath: text('dapPath', ''),
    template: text('template', DEFAULT_TEMPLATE),
    runtime: runtime === 'docker' || runtime === 'process' ? runtime : undefined,
    startArguments: Array.isArray(startArguments)
      ? startArguments.filter((arg): arg is string => typeof arg === 'string')
      : [],
    controlPort: port('controlPort', DEFAULT_CONTROL_PORT),
    lambdaPort: port('lambdaPort', DEFAULT_LAMBDA_PORT),
  };
}

/** The folder a command acts on: the given one, else the first workspace folder. */
export function defaultFolder(folder?: vscode.WorkspaceFolder): vscode.WorkspaceFolder | undefined {
  return folder ?? vscode.workspace.workspaceFolders?.[0];
}

/** The absolute path of the template for `folder`, from the `fogbank.template` setting. */
export function templatePath(folder: vscode.WorkspaceFolder | undefined): string {
  const template = readSettings(folder).template;
  return resolveAgainst(folder, template);
}

/** `file` made absolute against `folder` (or the process's directory when there is none). */
export function resolveAgainst(folder: vscode.WorkspaceFolder | undefined, file: string): string {
  if (path.isAbsolute(file)) {
    return path.normalize(file);
  }
  return path.resolve(folder?.uri.fsPath ?? process.cwd(), file);
}

/** Finds `kind` from the settings of `folder`, the workspace's build output and PATH. */
export function locateBinary(kind: BinaryKind, folder?: vscode.WorkspaceFolder): BinaryLookup {
  const setting = readSettings(folder)[kind.settingKey];
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  // The folder the session or command belongs to is searched first.
  const ordered = folder === undefined ? folders : [folder.uri.fsPath, ...folders.filter((f) => f !== folder.uri.fsPath)];
  return findBinary(
    kind,
    {
      setting,
      workspaceFolders: ordered,
      pathVariable: process.env['PATH'],
      home: os.homedir(),
      platform: process.platform,
    },
    isExecutableFile,
  );
}
