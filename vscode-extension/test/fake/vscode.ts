/**
 * A fake of the parts of the `vscode` module the extension uses, for unit
 * tests in plain Node. The test build aliases `vscode` to this file, so the
 * code under test imports it unchanged.
 *
 * It behaves like VS Code where the extension depends on the behaviour
 * (configuration lookups, events, executables) and records what the
 * extension shows the user so that tests can assert on it. Tests steer it
 * through {@link fake}.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';

// ---- control -------------------------------------------------------------------------------

type Answer = unknown;

/** What the extension showed, and what the "user" will answer next. */
export const fake = {
  /** `fogbank.*` settings by key without the prefix. */
  settings: new Map<string, unknown>(),
  workspaceFolders: undefined as vscode.WorkspaceFolder[] | undefined,
  errors: [] as string[],
  warnings: [] as string[],
  infos: [] as string[],
  /** Answers for the next quick picks, in order: a label to pick, or undefined to cancel. */
  quickPickAnswers: [] as (string | undefined)[],
  quickPicks: [] as { title: string | undefined; labels: string[] }[],
  /** Answers for the next showErrorMessage calls that offer buttons. */
  messageAnswers: [] as Answer[],
  executedCommands: [] as { command: string; args: unknown[] }[],
  registeredCommands: new Map<string, (...args: unknown[]) => unknown>(),
  terminals: [] as FakeTerminal[],
  outputChannels: [] as FakeOutputChannel[],
  statusBarItems: [] as FakeStatusBarItem[],
  openedDocuments: [] as { content: string; language: string | undefined }[],

  /** The workspace folder at `index`, which must exist. */
  folder(index: number): vscode.WorkspaceFolder {
    const folder = fake.workspaceFolders?.[index];
    if (folder === undefined) {
      throw new Error(`fake: no workspace folder ${index}`);
    }
    return folder;
  },

  /** Back to a fresh window with the given workspace folders. */
  reset(folders: string[] = []): void {
    fake.settings.clear();
    fake.workspaceFolders =
      folders.length === 0
        ? undefined
        : folders.map(
            // The fake's Uri has the members the extension reads; the cast
            // lets tests hand folders to code typed against the real API.
            (folder, index) => ({ uri: Uri.file(folder), name: path.basename(folder), index }) as unknown as vscode.WorkspaceFolder,
          );
    fake.errors = [];
    fake.warnings = [];
    fake.infos = [];
    fake.quickPickAnswers = [];
    fake.quickPicks = [];
    fake.messageAnswers = [];
    fake.executedCommands = [];
    fake.registeredCommands.clear();
    fake.terminals = [];
    fake.outputChannels = [];
    fake.statusBarItems = [];
    fake.openedDocuments = [];
  },
};

// ---- basic types ---------------------------------------------------------------------------

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly fsPath: string,
  ) {}

  static file(file: string): Uri {
    return new Uri('file', path.resolve(file));
  }

  static joinPath(base: Uri, ...segments: string[]): Uri {
    return Uri.file(path.join(base.fsPath, ...segments));
  }

  get path(): string {
    return this.fsPath;
  }

  toString(): string {
    return `file://${this.fsPath}`;
  }
}

export interface Disposable {
  dispose(): unknown;
}

export type Event<T> = (listener: (value: T) => unknown) => Disposable;

export class EventEmitter<T> {
  private listeners = new Set<(value: T) => unknown>();

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      listener(value);
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}

export enum DebugConfigurationProviderTriggerKind {
  Initial = 1,
  Dynamic = 2,
}

export class DebugAdapterExecutable {
  constructor(
    readonly command: string,
    readonly args: string[] = [],
    readonly options?: { env?: Record<string, string>; cwd?: string },
  ) {}
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };

  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

// ---- workspace -----------------------------------------------------------------------------

class Configuration {
  constructor(private readonly section: string) {}

  get<T>(key: string, defaultValue?: T): T | undefined {
    const full = this.section === 'fogbank' ? key : `${this.section}.${key}`;
    return fake.settings.has(full) ? (fake.settings.get(full) as T) : defaultValue;
  }

  has(key: string): boolean {
    return fake.settings.has(key);
  }
}

export const workspace = {
  get workspaceFolders(): readonly vscode.WorkspaceFolder[] | undefined {
    return fake.workspaceFolders;
  },
  getConfiguration(section?: string): Configuration {
    return new Configuration(section ?? '');
  },
  onDidChangeConfiguration: new EventEmitter<{ affectsConfiguration(section: string): boolean }>().event,
  async openTextDocument(options: { content: string; language?: string }): Promise<{ content: string }> {
    fake.openedDocuments.push({ content: options.content, language: options.language });
    return { content: options.content };
  },
};

// ---- window --------------------------------------------------------------------------------

interface QuickPickItem {
  label: string;
}

export class FakeOutputChannel {
  text = '';
  shown = false;

  constructor(readonly name: string) {}

  append(value: string): void {
    this.text += value;
  }

  appendLine(value: string): void {
    this.text += `${value}\n`;
  }

  show(): void {
    this.shown = true;
  }

  dispose(): void {}
}

export class FakeStatusBarItem {
  text = '';
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  visible = false;

  constructor(
    readonly id: string,
    readonly alignment: StatusBarAlignment,
    readonly priority: number,
  ) {}

  show(): void {
    this.visible = true;
  }

  hide(): void {
    this.visible = false;
  }

  dispose(): void {
    this.visible = false;
  }
}

interface Pseudoterminal {
  onDidWrite: Event<string>;
  open(initialDimensions: unknown): void;
  close(): void;
  handleInput?(data: string): void;
}

/** A terminal that opens its pseudoterminal at once and collects what it writes. */
export class FakeTerminal {
  written = '';
  shown = false;
  exitStatus: undefined = undefined;
  private readonly subscription: Disposable;

  constructor(
    readonly name: string,
    readonly pty: Pseudoterminal,
  ) {
    this.subscription = pty.onDidWrite((text) => {
      this.written += text;
    });
    pty.open(undefined);
  }

  show(): void {
    this.shown = true;
  }

  /** What a user typing into the terminal does. */
  type(data: string): void {
    this.pty.handleInput?.(data);
  }

  dispose(): void {
    this.subscription.dispose();
    this.pty.close();
  }
}

async function message(list: string[], text: string, buttons: unknown[]): Promise<Answer> {
  list.push(text);
  return buttons.length > 0 ? fake.messageAnswers.shift() : undefined;
}

export const window = {
  showErrorMessage: (text: string, ...buttons: unknown[]) => message(fake.errors, text, buttons),
  showWarningMessage: (text: string, ...buttons: unknown[]) => message(fake.warnings, text, buttons),
  showInformationMessage: (text: string, ...buttons: unknown[]) => message(fake.infos, text, buttons),
  async showQuickPick<T extends QuickPickItem>(items: T[] | Promise<T[]>, options?: { title?: string }): Promise<T | undefined> {
    const resolved = await items;
    fake.quickPicks.push({ title: options?.title, labels: resolved.map((item) => item.label) });
    const answer = fake.quickPickAnswers.shift();
    if (answer === undefined) {
      return undefined;
    }
    const item = resolved.find((candidate) => candidate.label === answer);
    if (item === undefined) {
      throw new Error(`fake quick pick: no item "${answer}" among ${resolved.map((i) => i.label).join(', ')}`);
    }
    return item;
  },
  createOutputChannel(name: string): FakeOutputChannel {
    const channel = new FakeOutputChannel(name);
    fake.outputChannels.push(channel);
    return channel;
  },
  createStatusBarItem(id: string, alignment: StatusBarAlignment, priority: number): FakeStatusBarItem {
    const item = new FakeStatusBarItem(id, alignment, priority);
    fake.statusBarItems.push(item);
    return item;
  },
  createTerminal(options: { name: string; pty: Pseudoterminal }): FakeTerminal {
    const terminal = new FakeTerminal(options.name, options.pty);
    fake.terminals.push(terminal);
    return terminal;
  },
  async withProgress<R>(
    _options: unknown,
    task: (progress: { report(value: unknown): void }, token: CancellationTokenSource['token']) => Promise<R>,
  ): Promise<R> {
    const source = new CancellationTokenSource();
    return task({ report: () => undefined }, source.token);
  },
  async showTextDocument(document: unknown): Promise<unknown> {
    return document;
  },
  async showOpenDialog(): Promise<Uri[] | undefined> {
    return undefined;
  },
  async showWorkspaceFolderPick(): Promise<vscode.WorkspaceFolder | undefined> {
    return fake.workspaceFolders?.[0];
  },
};

// ---- commands and debug --------------------------------------------------------------------

export const commands = {
  registerCommand(command: string, callback: (...args: unknown[]) => unknown): Disposable {
    fake.registeredCommands.set(command, callback);
    return { dispose: () => fake.registeredCommands.delete(command) };
  },
  async executeCommand(command: string, ...args: unknown[]): Promise<unknown> {
    fake.executedCommands.push({ command, args });
    const registered = fake.registeredCommands.get(command);
    return registered?.(...args);
  },
};

export const debug = {
  registerDebugConfigurationProvider(): Disposable {
    return { dispose: () => undefined };
  },
  registerDebugAdapterDescriptorFactory(): Disposable {
    return { dispose: () => undefined };
  },
};
