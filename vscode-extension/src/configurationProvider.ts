/**
 * The `fogbank` debug configurations: generated from the template's
 * functions, completed when fields are missing (including plain F5 with no
 * launch.json), and checked before the adapter starts so that a wrong
 * template, function or event is reported here, naming the field to fix.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { defaultFolder, readSettings, resolveAgainst, templatePath } from './settings';
import { findFunction, loadTemplateFunctions, TemplateError, type TemplateFunction } from './template';

export const DEBUG_TYPE = 'fogbank';

const MODES = ['live', 'in-place'] as const;

/** How the provider asks the user to choose; injected so tests can answer. */
export interface FunctionChooser {
  (functions: readonly TemplateFunction[], template: string): Promise<TemplateFunction | undefined>;
}

/** Asks with a quick pick, listing each function's runtime and events. */
export const quickPickFunction: FunctionChooser = async (functions, template) => {
  const picked = await vscode.window.showQuickPick(
    functions.map((f) => ({
      label: f.logicalId,
      description: f.runtime ?? '',
      detail: f.events.join(' · '),
      function: f,
    })),
    { title: `Fogbank: which function of ${path.basename(template)} to debug?`, placeHolder: 'Function' },
  );
  return picked?.function;
};

export class FogbankConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly chooseFunction: FunctionChooser = quickPickFunction) {}

  /** One launch configuration per function of the template, and an attach for the first. */
  async provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): Promise<vscode.DebugConfiguration[]> {
    const workspaceFolder = defaultFolder(folder);
    const template = templatePath(workspaceFolder);
    const templateInConfig = templateForLaunchJson(workspaceFolder, readSettings(workspaceFolder).template);
    let functions: TemplateFunction[];
    try {
      functions = await loadTemplateFunctions(template);
    } catch (error) {
      void vscode.window.showWarningMessage(
        `Fogbank: ${errorMessage(error)}. The generated configuration names a placeholder function; edit "function" and "template".`,
      );
      return [launchConfiguration('HelloFunction', templateInConfig)];
    }
    if (functions.length === 0) {
      void vscode.window.showWarningMessage(
        `Fogbank: ${template} has no AWS::Serverless::Function. The generated configuration names a placeholder function.`,
      );
      return [launchConfiguration('HelloFunction', templateInConfig)];
    }
    const configurations = functions.map((f) => launchConfiguration(f.logicalId, templateInConfig));
    const first = functions[0];
    if (first !== undefined) {
      configurations.push({
        type: DEBUG_TYPE,
        request: 'attach',
        name: `Attach to ${first.logicalId} (running emulator)`,
        template: templateInConfig,
        function: first.logicalId,
      });
    }
    return configurations;
  }

  /**
   * Fills in what is missing before variables are substituted: the request,
   * the name, the template from `fogbank.template`, and the function (asking
   * when the template has several). Plain F5 without launch.json arrives
   * here as an empty configuration.
   */
  async resolveDebugConfiguration(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    const workspaceFolder = defaultFolder(folder);
    const resolved: vscode.DebugConfiguration = { ...config };
    resolved.type = DEBUG_TYPE;
    resolved.request = typeof config.request === 'string' && config.request !== '' ? config.request : 'launch';
    const relayed = resolved.request === 'attach' && typeof resolved['relay'] === 'string';

    if (typeof resolved['template'] !== 'string' || resolved['template'] === '') {
      resolved['template'] = templatePath(workspaceFolder);
    }
    if (typeof resolved['function'] !== 'string' || resolved['function'] === '') {
      const template = resolveAgainst(workspaceFolder, resolved['template'] as string);
      const chosen = await this.pickFunction(template);
      if (chosen === undefined) {
        return undefined;
      }
      resolved['function'] = chosen;
    }
    if (relayed) {
      resolved['mode'] ??= 'live';
      resolved['secret'] ??= '${env:FOGBANK_SESSION_SECRET}';
    }
    if (typeof resolved.name !== 'string' || resolved.name === '') {
      const verb = resolved.request === 'attach' ? 'Attach to' : 'Debug';
      resolved.name = `${verb} ${String(resolved['function'])}`;
    }
    return resolved;
  }

  /**
   * Checks the configuration once `${...}` variables are substituted, and
   * makes its paths absolute. Returns undefined (which stops the session
   * quietly) after showing an error that names the field to fix.
   */
  async resolveDebugConfigurationWithSubstitutedVariables(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    const problem = await checkConfiguration(defaultFolder(folder), config);
    if (typeof problem === 'string') {
      void vscode.window.showErrorMessage(`Fogbank: launch configuration "${config.name}": ${problem}`);
      return undefined;
    }
    return problem.config;
  }

  private async pickFunction(template: string): Promise<string | undefined> {
    let functions: TemplateFunction[];
    try {
      functions = await loadTemplateFunctions(template);
    } catch (error) {
      void vscode.window.showErrorMessage(`Fogbank: ${errorMessage(error)}`);
      return undefined;
    }
    if (functions.length === 0) {
      void vscode.window.showErrorMessage(`Fogbank: ${template} has no AWS::Serverless::Function to debug.`);
      return undefined;
    }
    if (functions.length === 1) {
      return functions[0]?.logicalId;
    }
    return (await this.chooseFunction(functions, template))?.logicalId;
  }
}

/**
 * Validates a substituted configuration. Returns the configuration with
 * absolute paths, or a message naming the field at fault and its fix.
 */
export async function checkConfiguration(
  folder: vscode.WorkspaceFolder | undefined,
  config: vscode.DebugConfiguration,
): Promise<{ config: vscode.DebugConfiguration } | string> {
  const checked: vscode.DebugConfiguration = { ...config };
  if (checked.request !== 'launch' && checked.request !== 'attach') {
    return `"request" is "${String(checked.request)}"; use "launch" or "attach".`;
  }
  const relay = checked['relay'];
  const relayed = checked.request === 'attach' && relay !== undefined;
  if (relayed) {
    if (typeof relay !== 'string' || !relay.startsWith('https://')) {
      return `"relay" must be the relay's URL, https://host:port; it is ${JSON.stringify(relay)}.`;
    }
    if (typeof checked['session'] !== 'string' || checked['session'] === '') {
      return '"session" is missing; it is the session ID printed by "fogbank debug-session new".';
    }
    if (typeof checked['secret'] !== 'string' || checked['secret'] === '') {
      return '"secret" is empty; set the FOGBANK_SESSION_SECRET environment variable or "secret" (preferably as "${env:FOGBANK_SESSION_SECRET}").';
    }
    if (!(MODES as readonly unknown[]).includes(checked['mode'])) {
      return `"mode" is ${JSON.stringify(checked['mode'])}; use "live" or "in-place".`;
    }
    if (checked['program'] !== undefined) {
      if (typeof checked['program'] !== 'string') {
        return '"program" must be the path of the function binary with debug information.';
      }
      checked['program'] = resolveAgainst(folder, checked['program']);
    }
  }

  if (typeof checked['function'] !== 'string' || checked['function'] === '') {
    return '"function" is missing; name the function\'s logical ID from the template.';
  }
  if (typeof checked['template'] !== 'string' || checked['template'] === '') {
    return '"template" is missing; give the path of the SAM template.';
  }
  checked['template'] = resolveAgainst(folder, checked['template']);
  // A relayed session runs the cloud function's code; the local template
  // only helps with names, so it may be absent.
  const templateRequired = !relayed;
  let functions: TemplateFunction[] | undefined;
  try {
    functions = await loadTemplateFunctions(checked['template']);
  } catch (error) {
    if (templateRequired || !(error instanceof TemplateError && error.missing)) {
      return `"template": ${errorMessage(error)}`;
    }
  }
  if (functions !== undefined && findFunction(functions, checked['function']) === undefined) {
    const known = functions.map((f) => f.logicalId).join(', ') || 'none';
    return `"function": ${checked['template']} has no function "${checked['function']}"; its functions are: ${known}.`;
  }

  if (checked['event'] !== undefined) {
    if (typeof checked['event'] !== 'string') {
      return '"event" must be the path of a JSON event file.';
    }
    checked['event'] = resolveAgainst(folder, checked['event']);
    const eventProblem = await checkEventFile(checked['event']);
    if (eventProblem !== undefined) {
      return `"event": ${eventProblem}`;
    }
  }
  if (checked['runtime'] !== undefined && checked['runtime'] !== 'docker' && checked['runtime'] !== 'process') {
    return `"runtime" is ${JSON.stringify(checked['runtime'])}; use "docker" or "process", or leave it out.`;
  }
  const env = checked['env'];
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env)) {
      return '"env" must be an object of variable names to string values.';
    }
    for (const [name, value] of Object.entries(env as Record<string, unknown>)) {
      if (typeof value !== 'string') {
        return `"env": the value of ${name} must be a string, not ${JSON.stringify(value)}.`;
      }
    }
  }
  return { config: checked };
}

/** A message when `file` is missing or not JSON, else undefined. */
async function checkEventFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return `the event file ${file} does not exist or cannot be read.`;
  }
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    return `the event file ${file} is not valid JSON: ${errorMessage(error)}.`;
  }
}

function launchConfiguration(functionName: string, template: string): vscode.DebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: `Debug ${functionName}`,
    template,
    function: functionName,
  };
}

/** The template as launch.json should spell it: relative to `${workspaceFolder}` when it lies inside it. */
function templateForLaunchJson(folder: vscode.WorkspaceFolder | undefined, setting: string): string {
  if (path.isAbsolute(setting) || folder === undefined) {
    return setting;
  }
  return `\${workspaceFolder}/${setting.split(path.sep).join('/')}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
