import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import { findFunction, loadTemplateFunctions, readTemplateFunctions, TemplateError, type TemplateFunction } from '../../src/template';
import { example, HELLO_TEMPLATE, tempTree } from '../helpers';

/** Parses `text` and compares the functions (or the error message) with `expected`. */
function check(text: string, expected: Partial<TemplateFunction>[] | { error: RegExp }): void {
  if ('error' in expected) {
    assert.throws(() => readTemplateFunctions(text, 'template.yaml'), (error: unknown) => {
      assert.ok(error instanceof TemplateError, `expected a TemplateError, got ${String(error)}`);
      assert.match(error.message, /^template\.yaml: /);
      assert.match(error.message, expected.error);
      return true;
    });
    return;
  }
  const functions = readTemplateFunctions(text, 'template.yaml');
  assert.deepEqual(
    functions.map((f, i) => pick(f, Object.keys(expected[i] ?? {}) as (keyof TemplateFunction)[])),
    expected,
  );
}

function pick(f: TemplateFunction, keys: (keyof TemplateFunction)[]): Partial<TemplateFunction> {
  return Object.fromEntries(keys.map((key) => [key, f[key]]));
}

describe('readTemplateFunctions', () => {
  test('lists serverless functions in template order, with globals filled in', () => {
    check(HELLO_TEMPLATE, [
      {
        logicalId: 'HelloFunction',
        functionName: undefined,
        runtime: 'provided.al2023',
        handler: 'bootstrap',
        codeUri: '.',
        events: ['HttpApi GET /hello/{name}'],
      },
      { logicalId: 'OrderFunction', functionName: 'orders', runtime: 'python3.12', events: [] },
    ]);
  });

  test('reads every example application of the repository', () => {
    const expectations: [string, string, string][] = [
      ['hello-api', 'HelloFunction', 'provided.al2023'],
      ['python-api', 'HelloWorldFunction', 'python3.12'],
      ['node-api', 'HelloFunction', 'nodejs20.x'],
    ];
    for (const [name, logicalId, runtime] of expectations) {
      const file = path.join(example(name), 'template.yaml');
      const functions = readTemplateFunctions(readFileSync(file, 'utf8'), file);
      assert.ok(functions.length > 0, `${name} has functions`);
      assert.equal(functions[0]?.logicalId, logicalId);
      assert.equal(functions[0]?.runtime, runtime);
    }
  });

  test('summarises events, defaulting the method to ANY', () => {
    check(
      `Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: { Type: Api, Properties: { Path: /items, Method: post } }
        B: { Type: HttpApi, Properties: { Path: /any } }
        C: { Type: SQS, Properties: { Queue: !GetAtt Q.Arn, BatchSize: 5 } }
        D: not-a-map
`,
      [{ events: ['Api POST /items', 'HttpApi ANY /any', 'SQS'] }],
    );
  });

  test('treats values computed by intrinsics as unknown, in short and long form', () => {
    check(
      `Parameters:
  Rt: { Type: String, Default: python3.12 }
Globals:
  Function:
    Handler: app.handler
Resources:
  Short:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: !Ref Rt
      CodeUri: !Sub "\${AWS::StackName}/src"
      Handler: !If [IsProd, a.b, c.d]
      FunctionName: !Join ["-", [a, b]]
  Long:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: { Ref: Rt }
      FunctionName: { "Fn::Sub": "x-\${AWS::Region}" }
`,
      [
        { logicalId: 'Short', runtime: undefined, codeUri: undefined, handler: undefined, functionName: undefined },
        { logicalId: 'Long', runtime: undefined, handler: 'app.handler', functionName: undefined },
      ],
    );
  });

  test('reads JSON templates', () => {
    check(
      JSON.stringify({
        Resources: {
          Fn: { Type: 'AWS::Serverless::Function', Properties: { Runtime: 'nodejs20.x', Handler: 'index.handler' } },
          Other: { Type: 'AWS::Lambda::Function', Properties: {} },
        },
      }),
      [{ logicalId: 'Fn', runtime: 'nodejs20.x', handler: 'index.handler' }],
    );
  });

  test('lists functions without Properties with what can be read', () => {
    check('Resources:\n  Bare:\n    Type: AWS::Serverless::Function\n', [
      { logicalId: 'Bare', runtime: undefined, handler: undefined, events: [] },
    ]);
  });

  test('a template with no functions gives an empty list', () => {
    check('Resources:\n  Q:\n    Type: AWS::SQS::Queue\n', []);
  });

  test('reports malformed templates with the file and the place', () => {
    check('Resources:\n  A: [\n', { error: /line \d+, column \d+/ });
    check('Resources:\n  A: 1\n  A: 2\n', { error: /line 3, column 3: .*unique/i });
    check('- a\n- b\n', { error: /top level is not a map/ });
    check('', { error: /top level is not a map/ });
    check('Description: no resources\n', { error: /has no `Resources` map/ });
    check('Resources: [a, b]\n', { error: /has no `Resources` map/ });
  });

  test('survives alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 12; i++) {
      bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`);
    }
    bomb.push('Resources: {}');
    check(bomb.join('\n'), { error: /alias/i });
  });
});

describe('readTemplateFunctions under fuzzing', () => {
  // A small deterministic generator, so a failure reproduces with its seed.
  function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const pieces = ['\n', ' ', '  ', ':', '- ', '[', ']', '{', '}', '&a ', '*a', '!Ref ', '!Sub ', '"', "'", '#', '|', '>', '\t', '\u0000', '\ufeff', 'Resources', 'Type', 'AWS::Serverless::Function', '<<: *a', '%YAML 1.2\n', '---\n', '...\n', '? ', ',', '\\'];

  test('mutated templates give functions or a TemplateError, never anything else', () => {
    const seeds = 400;
    for (let seed = 1; seed <= seeds; seed++) {
      const next = random(seed);
      let text = HELLO_TEMPLATE;
      const mutations = 1 + Math.floor(next() * 6);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(next() * (text.length + 1));
        const choice = next();
        if (choice < 0.4) {
          text = text.slice(0, at) + (pieces[Math.floor(next() * pieces.length)] ?? '') + text.slice(at);
        } else if (choice < 0.8) {
          text = text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 20));
        } else {
          text = text.slice(0, at) + String.fromCharCode(Math.floor(next() * 0x3000)) + text.slice(at);
        }
      }
      try {
        const functions = readTemplateFunctions(text, 'fuzz.yaml');
        for (const f of functions) {
          assert.equal(typeof f.logicalId, 'string', `seed ${seed}`);
          assert.ok(Array.isArray(f.events), `seed ${seed}`);
        }
      } catch (error) {
        assert.ok(error instanceof TemplateError, `seed ${seed}: ${String(error)}\n${text}`);
        assert.match(error.message, /^fuzz\.yaml: /, `seed ${seed}`);
      }
    }
  });
});

describe('loadTemplateFunctions', () => {
  test('reads a file, and names a missing one with the setting to fix', async () => {
    const tree = tempTree({ 'template.yaml': HELLO_TEMPLATE });
    try {
      const functions = await loadTemplateFunctions(path.join(tree.dir, 'template.yaml'));
      assert.deepEqual(
        functions.map((f) => f.logicalId),
        ['HelloFunction', 'OrderFunction'],
      );
      const missing = path.join(tree.dir, 'nope.yaml');
      await assert.rejects(loadTemplateFunctions(missing), (error: unknown) => {
        assert.ok(error instanceof TemplateError);
        assert.equal(error.missing, true);
        assert.match(error.message, new RegExp(`^${missing}: does not exist; .*fogbank\\.template`));
        return true;
      });
      await assert.rejects(loadTemplateFunctions(tree.dir), (error: unknown) => {
        assert.ok(error instanceof TemplateError);
        assert.equal(error.missing, false);
        assert.match(error.message, /cannot be read/);
        return true;
      });
    } finally {
      tree.cleanup();
    }
  });

  test('findFunction matches the logical ID first, then FunctionName', () => {
    const functions = readTemplateFunctions(HELLO_TEMPLATE, 't');
    assert.equal(findFunction(functions, 'OrderFunction')?.logicalId, 'OrderFunction');
    assert.equal(findFunction(functions, 'orders')?.logicalId, 'OrderFunction');
    assert.equal(findFunction(functions, 'Queue'), undefined);
  });
});
