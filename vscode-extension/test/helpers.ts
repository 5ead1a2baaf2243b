/** Shared by the tests: temporary workspaces and the repository's paths. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** The extension's directory (tests run from out/test/<kind>/, bundled). */
export const EXTENSION_DIR = path.resolve(__dirname, '..', '..', '..');
/** The Fogbank repository that holds the extension. */
export const REPO_ROOT = path.resolve(EXTENSION_DIR, '..');

export function example(name: string): string {
  return path.join(REPO_ROOT, 'examples', name);
}

/**
 * A temporary directory holding `files` (relative path to content; a
 * content of `null` makes an executable empty file). Removed by `cleanup`.
 */
export function tempTree(files: Record<string, string | null>): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fogbank-vscode-'));
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content ?? '#!/bin/sh\n');
    if (content === null) {
      chmodSync(file, 0o755);
    }
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const HELLO_TEMPLATE = `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
    Runtime: provided.al2023
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Path: /hello/{name}
            Method: GET
  OrderFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: orders
      CodeUri: orders/
      Handler: app.handler
      Runtime: python3.12
  Queue:
    Type: AWS::SQS::Queue
`;
