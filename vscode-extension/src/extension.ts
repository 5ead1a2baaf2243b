/**
 * Entry point: creates the parts and connects them. Each part lives in its
 * own module; nothing here decides anything.
 */
import * as vscode from 'vscode';

import { registerCommands } from './commands';
import { DEBUG_TYPE, FogbankConfigurationProvider } from './configurationProvider';
import { FogbankDescriptorFactory } from './descriptorFactory';
import { EmulatorProcess } from './emulator';
import { EmulatorStatusMonitor, loopbackGet } from './emulatorStatus';
import { locateBinary, readSettings } from './settings';
import { EmulatorStatusBar } from './statusBar';

const POLL_INTERVAL_MS = 3_000;
const PROBE_TIMEOUT_MS = 1_000;
/** Context key for `when` clauses: an emulator started from this window is running. */
const STARTED_HERE_CONTEXT = 'fogbank.emulatorStartedHere';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Fogbank');
  const emulator = new EmulatorProcess(log);
  const monitor = new EmulatorStatusMonitor(
    () => {
      const settings = readSettings();
      return { control: settings.controlPort, lambda: settings.lambdaPort };
    },
    loopbackGet(PROBE_TIMEOUT_MS),
    POLL_INTERVAL_MS,
  );
  const statusBar = new EmulatorStatusBar();
  const render = (): void => statusBar.show(monitor.current, emulator.running);
  const configurations = new FogbankConfigurationProvider();

  context.subscriptions.push(
    log,
    emulator,
    monitor,
    statusBar,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, configurations),
    // The same configurations, listed in the Run and Debug picker without a
    // launch.json. Only `provide` is registered here: the resolve hooks above
    // run for every session whatever its origin, and must not run twice.
    vscode.debug.registerDebugConfigurationProvider(
      DEBUG_TYPE,
      { provideDebugConfigurations: (folder) => configurations.provideDebugConfigurations(folder) },
      vscode.DebugConfigurationProviderTriggerKind.Dynamic,
    ),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new FogbankDescriptorFactory(locateBinary, log)),
    ...registerCommands({ emulator, monitor, log }),
    monitor.onDidChange(render),
    emulator.onDidChangeRunning((running) => {
      void vscode.commands.executeCommand('setContext', STARTED_HERE_CONTEXT, running);
      render();
      void monitor.refresh();
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('fogbank')) {
        void monitor.refresh();
      }
    }),
  );
  render();
  monitor.start();
}

export function deactivate(): void {
  // Everything is in the context's subscriptions, which VS Code disposes.
}
