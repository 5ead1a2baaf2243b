/**
 * Reading the functions out of a SAM template.
 *
 * The extension only needs a function list (for launch configurations, the
 * invoke picker and validation), so this reads just `Globals.Function` and the
 * `AWS::Serverless::Function` resources. Everything else the emulator reads
 * itself; the emulator is the authority on whether a template is valid.
 */
import { readFile } from 'node:fs/promises';

import { parseDocument, type CollectionTag, type ScalarTag } from 'yaml';

/** One `AWS::Serverless::Function` of a template. */
export interface TemplateFunction {
  /** The resource's logical ID, which `fogbank` and `fogbank-dap` accept as the function's name. */
  readonly logicalId: string;
  /** `Properties.FunctionName` when it is a plain string. */
  readonly functionName: string | undefined;
  /** `Runtime`, from the function or from `Globals.Function`; undefined when absent or computed by an intrinsic. */
  readonly runtime: string | undefined;
  /** `Handler`, from the function or from `Globals.Function`. */
  readonly handler: string | undefined;
  /** `CodeUri`, from the function or from `Globals.Function`, when it is a local path. */
  readonly codeUri: string | undefined;
  /** One line per event source, such as `HttpApi GET /hello/{name}` or `SQS`. */
  readonly events: readonly string[];
}

/** A template that cannot be read; the message names the file and the place. */
export class TemplateError extends Error {
  constructor(
    readonly file: string,
    detail: string,
    /** True when the file does not exist, as opposed to being unreadable or invalid. */
    readonly missing = false,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'TemplateError';
  }
}

const FUNCTION_TYPE = 'AWS::Serverless::Function';

// CloudFormation's short-form intrinsics. Without them the YAML reader would
// warn on every `!Ref`; with them a computed value reads as
// `{ "Fn::Sub": ... }`, which the accessors below treat as "not a plain
// string" instead of mistaking it for a literal.
const INTRINSICS: readonly [tag: string, key: string][] = [
  ['!Ref', 'Ref'],
  ['!Condition', 'Condition'],
  ...[
    'And',
    'Base64',
    'Cidr',
    'Equals',
    'FindInMap',
    'GetAtt',
    'GetAZs',
    'If',
    'ImportValue',
    'Join',
    'Not',
    'Or',
    'Select',
    'Split',
    'Sub',
    'Transform',
    'ToJsonString',
    'Length',
  ].map((name): [string, string] => [`!${name}`, `Fn::${name}`]),
];

const CLOUDFORMATION_TAGS: (ScalarTag | CollectionTag)[] = INTRINSICS.flatMap(([tag, key]) => [
  { tag, resolve: (value: string) => ({ [key]: value }) } satisfies ScalarTag,
  ...(['map', 'seq'] as const).map(
    (collection) =>
      ({
        tag,
        collection,
        resolve: (value) => ({ [key]: value.toJSON() }),
      }) satisfies CollectionTag,
  ),
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function plainString(value: Json | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Parses a SAM template (YAML or JSON text) and returns its functions in
 * template order.
 *
 * Throws {@link TemplateError} when the text is not YAML, or has no
 * `Resources` map. Resources that are malformed in ways the emulator would
 * report (a function without `Properties`, say) are still listed, with the
 * fields that could be read.
 */
export function readTemplateFunctions(text: string, file: string): TemplateFunction[] {
  const document = parseDocument(text, {
    customTags: CLOUDFORMATION_TAGS,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const [error] = document.errors;
  if (error !== undefined) {
    throw new TemplateError(file, `${place(text, error.pos[0])}: ${firstLine(error.message)}`);
  }
  let root: Json | undefined;
  try {
    // The alias limit stops "billion laughs" templates from exhausting memory.
    root = document.toJS({ maxAliasCount: 100 }) as Json | undefined;
  } catch (conversion) {
    throw new TemplateError(file, conversion instanceof Error ? conversion.message : String(conversion));
  }
  if (!isObject(root)) {
    throw new TemplateError(file, 'is not a SAM template: its top level is not a map');
  }
  const resources = root['Resources'];
  if (!isObject(resources)) {
    throw new TemplateError(file, 'has no `Resources` map, so it defines no functions');
  }
  const globals = isObject(root['Globals']) && isObject(root['Globals']['Function']) ? root['Globals']['Function'] : {};

  const functions: TemplateFunction[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (!isObject(resource) || resource['Type'] !== FUNCTION_TYPE) {
      continue;
    }
    const properties = isObject(resource['Properties']) ? resource['Properties'] : {};
    const property = (name: string): string | undefined =>
      plainString(properties[name]) ?? (name in properties ? undefined : plainString(globals[name]));
    functions.push({
      logicalId,
      functionName: plainString(properties['FunctionName']),
      runtime: property('Runtime'),
      handler: property('Handler'),
      codeUri: property('CodeUri'),
      events: describeEvents(properties['Events']),
    });
  }
  return functions;
}

/** The one-line summaries of a function's `Events` map. */
function describeEvents(events: Json | undefined): string[] {
  if (!isObject(events)) {
    return [];
  }
  return Object.values(events).flatMap((event) => {
    if (!isObject(event)) {
      return [];
    }
    const type = plainString(event['Type']) ?? 'event';
    const properties = isObject(event['Properties']) ? event['Properties'] : {};
    const method = plainString(properties['Method']);
    const path = plainString(properties['Path']);
    if (path !== undefined) {
      return [`${type} ${method === undefined ? 'ANY' : method.toUpperCase()} ${path}`];
    }
    return [type];
  });
}

/** `line L, column C` (both from 1) of a character offset. */
function place(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  const column = before.length - (before.lastIndexOf('\n') + 1) + 1;
  return `line ${line}, column ${column}`;
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

/**
 * Reads and parses the template at `file`. Throws {@link TemplateError} when
 * it cannot be read or parsed, with a message that says which setting chose it.
 */
export async function loadTemplateFunctions(file: string): Promise<TemplateFunction[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? 'does not exist; open the folder that holds your SAM template, or set fogbank.template (or "template" in launch.json) to its path'
        : `cannot be read: ${(error as Error).message}`;
    throw new TemplateError(file, detail, code === 'ENOENT');
  }
  return readTemplateFunctions(text, file);
}

/** The function whose logical ID, or else FunctionName, is `name`. */
export function findFunction(functions: readonly TemplateFunction[], name: string): TemplateFunction | undefined {
  return functions.find((f) => f.logicalId === name) ?? functions.find((f) => f.functionName === name);
}
