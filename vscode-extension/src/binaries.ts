/**
 * Finding the `fogbank` and `fogbank-dap` binaries.
 *
 * The order is fixed and user-visible (it is in the README and in the
 * not-found message): the setting, then the workspace's own Cargo build
 * output (so a Fogbank checkout debugs with what it just built), then PATH.
 * A setting that points nowhere is an error rather than a silent fallback:
 * running some other binary than the one the user named would be worse.
 */
import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';

/** What to look for, and how to tell the user to get it. */
export interface BinaryKind {
  /** The file name without any `.exe`. */
  readonly name: string;
  /** A human name for messages. */
  readonly description: string;
  /** The key of its path setting under `fogbank.`. */
  readonly settingKey: 'fogbankPath' | 'dapPath';
  /** The cargo package that builds it. */
  readonly cargoPackage: string;
  /** The package's directory in the Fogbank repository, for `cargo install --path`. */
  readonly crateDirectory: string;
}

export const FOGBANK: BinaryKind = {
  name: 'fogbank',
  description: 'the Fogbank emulator',
  settingKey: 'fogbankPath',
  cargoPackage: 'fogbank',
  crateDirectory: 'emulator',
};

export const FOGBANK_DAP: BinaryKind = {
  name: 'fogbank-dap',
  description: 'the Fogbank debug adapter',
  settingKey: 'dapPath',
  cargoPackage: 'fogbank-dap',
  crateDirectory: 'debug-adapter',
};

/** Where the search looks; everything the lookup reads from the outside world. */
export interface SearchPlaces {
  /** The setting's value; empty or undefined when unset. */
  readonly setting: string | undefined;
  /** Absolute paths of the workspace folders, in order. */
  readonly workspaceFolders: readonly string[];
  /** The `PATH` environment variable. */
  readonly pathVariable: string | undefined;
  /** The user's home directory, for `~/` in the setting. */
  readonly home: string;
  readonly platform: NodeJS.Platform;
}

/** Where a found binary came from. */
export type BinarySource = 'setting' | 'workspace' | 'path';

export type BinaryLookup =
  | { readonly found: true; readonly path: string; readonly source: BinarySource }
  | { readonly found: false; readonly message: string; readonly tried: readonly string[] };

/** True when `file` is a file this process may execute. */
export type ExecutableProbe = (file: string) => boolean;

/** The real probe: an existing regular file with execute permission. */
export const isExecutableFile: ExecutableProbe = (file) => {
  try {
    if (!statSync(file).isFile()) {
      return false;
    }
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * Looks for `kind` in the setting, then `target/debug` and `target/release`
 * under each workspace folder, then each directory on PATH, and returns the
 * first executable found, or a message that lists the places tried and the
 * ways to fix it.
 */
export function findBinary(kind: BinaryKind, places: SearchPlaces, isExecutable: ExecutableProbe): BinaryLookup {
  const paths = places.platform === 'win32' ? path.win32 : path.posix;
  const fileName = places.platform === 'win32' ? `${kind.name}.exe` : kind.name;

  const setting = places.setting?.trim() ?? '';
  if (setting !== '') {
    const file = expandSetting(setting, places, paths);
    if (isExecutable(file)) {
      return { found: true, path: file, source: 'setting' };
    }
    return {
      found: false,
      tried: [file],
      message:
        `The setting fogbank.${kind.settingKey} is "${setting}", but ${file} is not an executable file. ` +
        `Fix the path, or clear the setting to use the workspace's build or PATH.`,
    };
  }

  const tried: string[] = [];
  for (const folder of places.workspaceFolders) {
    for (const profile of ['debug', 'release']) {
      const file = paths.join(folder, 'target', profile, fileName);
      tried.push(file);
      if (isExecutable(file)) {
        return { found: true, path: file, source: 'workspace' };
      }
    }
  }

  const separator = places.platform === 'win32' ? ';' : ':';
  const pathDirectories = (places.pathVariable ?? '').split(separator).filter((dir) => dir !== '');
  for (const directory of pathDirectories) {
    const file = paths.join(directory, fileName);
    if (isExecutable(file)) {
      return { found: true, path: file, source: 'path' };
    }
  }
  tried.push(`${fileName} on PATH (${pathDirectories.length} directories)`);

  return {
    found: false,
    tried,
    message:
      `Cannot find ${kind.description} (${fileName}). Looked at: the setting fogbank.${kind.settingKey} (empty), ` +
      `${tried.join(', ')}. To fix it, build it with "cargo build -p ${kind.cargoPackage}" in the Fogbank ` +
      `workspace, or install it onto PATH with "cargo install --locked --path <fogbank checkout>/` +
      `${kind.crateDirectory}", or set fogbank.${kind.settingKey} to its full path.`,
  };
}

/** Resolves `~/`, `${workspaceFolder}` and relative paths in a setting. */
function expandSetting(setting: string, places: SearchPlaces, paths: path.PlatformPath): string {
  const folder = places.workspaceFolders[0];
  let file = setting;
  if (folder !== undefined) {
    file = file.replaceAll('${workspaceFolder}', folder);
  }
  if (file === '~' || file.startsWith('~/')) {
    file = paths.join(places.home, file.slice(1));
  }
  if (!paths.isAbsolute(file) && folder !== undefined) {
    file = paths.join(folder, file);
  }
  return file;
}
