// Fogbank's Lambda runtime for Node.js functions (Node 18 and newer).
//
// Fogbank starts one of these per function instance, as
//
//     node <runtime dir>/bootstrap.mjs [HANDLER]
//
// with the working directory set to the function's code and the environment
// Lambda gives a function (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
// AWS_LAMBDA_FUNCTION_NAME and the rest). It speaks the Lambda Runtime API
// (/2018-06-01) as AWS's managed Node.js runtime does: it loads the handler
// (CommonJS or ES module, `.js`, `.mjs` or `.cjs`), posts an init error and
// exits if that fails, and otherwise loops on `invocation/next`, calling the
// handler with the event, a Lambda context and a callback.
//
// The file is self-contained and uses only Node's standard library, so it runs
// on whatever Node the host or the container has and can be embedded into the
// fogbank binary. It assumes no host path: everything comes from the
// environment.
//
// Behaviour follows AWS's runtime interface client where the two can differ:
// handler resolution order, error types and messages, the error body
// (`errorType`, `errorMessage`, `trace`), callback semantics including
// `callbackWaitsForEmptyEventLoop`, and the console log format. One deliberate
// difference: multi-line log messages keep their newlines instead of Lambda's
// carriage returns, because Fogbank prints them to a terminal.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import util from 'node:util';

const require = createRequire(import.meta.url);

const RUNTIME_API_VERSION = '/2018-06-01';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

// --- Errors ------------------------------------------------------------------

// Lambda names its runtime errors `Runtime.<Class>`; callers branch on them.
class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const errorClass of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  UnhandledPromiseRejection,
]) {
  errorClass.prototype.name = `Runtime.${errorClass.name}`;
}

function isErrorLike(value) {
  return (
    value &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string'
  );
}

/** The error body Lambda's Node.js runtime posts and returns to callers. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replace(/\x7F/g, '%7F'),
        errorMessage: error.message?.replace(/\x7F/g, '%7F'),
        trace: error.stack.replace(/\x7F/g, '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(value) {
  if (!(value instanceof Error)) return value;
  const result = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') result.stack = value.stack.split('\n');
  return result;
}

/** An error as the text log shows it: a tab, then its JSON. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => withEnumerableProperties(value));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

function intoError(value) {
  return value instanceof Error ? value : new Error(value);
}

// --- Logging -----------------------------------------------------------------

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');
const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});
const jsonLogFormat = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';

function jsonErrorReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJsonLine(level, message, params) {
  const record = { timestamp: new Date().toISOString(), level: level.name, requestId: globalThis[REQUEST_ID] };
  const tenantId = globalThis[TENANT_ID];
  if (tenantId !== undefined && tenantId !== null) record.tenantId = tenantId;
  if (params.length === 0) {
    record.message = message;
    try {
      return JSON.stringify(record, jsonErrorReplacer);
    } catch {
      record.message = util.format(message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(message, ...params);
  for (const param of [message, ...params]) {
    if (param instanceof Error) {
      record.errorType = param?.constructor?.name ?? 'UnknownError';
      record.errorMessage = param.message;
      record.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(record);
}

function writeLog(level, message, ...params) {
  const line = jsonLogFormat
    ? formatJsonLine(level, message, params)
    : `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(message, ...params)}`;
  // Writes to pipes and files are synchronous on Linux, so lines from the
  // runtime and from the handler stay in order.
  process.stdout.write(line + '\n');
}

/** Replaces the console methods with Lambda's formatted, levelled logger. */
function patchConsole() {
  const minimum = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const method = (level) =>
    level.priority >= minimum.priority ? (message, ...params) => writeLog(level, message, ...params) : () => {};
  console.trace = method(LEVELS.TRACE);
  console.debug = method(LEVELS.DEBUG);
  console.info = method(LEVELS.INFO);
  console.log = console.info;
  console.warn = method(LEVELS.WARN);
  console.error = method(LEVELS.ERROR);
  console.fatal = (message, ...params) => writeLog(LEVELS.FATAL, message, ...params);
}

function logError(label, error) {
  if (jsonLogFormat) {
    console.error(intoError(error));
  } else {
    console.error(label, toFormatted(intoError(error)));
  }
}

// --- The Runtime API client ----------------------------------------------------

/**
 * One keep-alive HTTP/1.1 connection to the Runtime API.
 *
 * This is a minimal client on a plain socket rather than `node:http`: the
 * Runtime API is a fixed, local peer, and the general HTTP machinery cost
 * about three times the CPU of this loop per invocation. It handles what an
 * HTTP/1.1 server may send: Content-Length or chunked bodies, bodies
 * delimited by the connection closing, interim 1xx answers and
 * `Connection: close`.
 *
 * The socket is referenced only while a request is in flight. Idle, it does
 * not keep the event loop alive, which is what lets `beforeExit` mark the end
 * of a callback-style invocation (as Node's keep-alive agent behaves).
 */
class RuntimeApiClient {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
    this.port = Number(address.slice(colon + 1));
    this.hostHeader = address;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    // The request awaiting its response: one at a time, as the API is used.
    this.pending = null;
  }

  connect() {
    const socket = net.connect({ host: this.hostname, port: this.port, noDelay: true });
    socket.on('data', (chunk) => {
      if (socket !== this.socket) return;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      if (this.pending) this.pending.received = true;
      this.parse();
    });
    socket.on('error', (error) => this.lost(socket, error));
    socket.on('close', () => this.lost(socket, null));
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
  }

  /** Sends one request; resolves to `{ statusCode, headers, body }` (header names lower-cased). */
  request(method, requestPath, body, headers = {}) {
    return new Promise((resolve, reject) => {
      const reused = this.socket !== null;
      if (!reused) this.connect();
      this.pending = {
        method,
        resolve,
        reject,
        reused,
        received: false,
        head: null,
        retry: () => this.request(method, requestPath, body, headers),
      };
      let head = `${method} ${requestPath} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n`;
      for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
      if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
      head += '\r\n';
      this.socket.ref();
      if (body === undefined) {
        this.socket.write(head);
      } else if (typeof body === 'string' && body.length < 65536) {
        this.socket.write(head + body);
      } else {
        this.socket.write(head);
        this.socket.write(body);
      }
    });
  }

  /** The connection failed or closed: settle the pending request. */
  lost(socket, error) {
    if (socket !== this.socket) return;
    this.socket = null;
    socket.destroy();
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    if (pending.head && pending.head.mode === 'close') {
      // The body was delimited by the connection closing.
      pending.resolve({ statusCode: pending.head.statusCode, headers: pending.head.headers, body: this.buffer });
    } else if (pending.reused && !pending.received) {
      // A server may close an idle keep-alive connection just as a request
      // goes out; nothing reached it, so sending once more is safe.
      pending.retry().then(pending.resolve, pending.reject);
    } else {
      pending.reject(error ?? new Error('the Runtime API closed the connection mid-response'));
    }
  }

  fail(error) {
    const pending = this.pending;
    this.pending = null;
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    pending?.reject(error);
  }

  parse() {
    const pending = this.pending;
    if (!pending) return;
    while (!pending.head) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buffer.toString('utf8', 0, end).split('\r\n');
      this.buffer = this.buffer.subarray(end + 4);
      const status = /^HTTP\/1\.\d (\d{3})/.exec(lines[0]);
      if (!status) {
        this.fail(new Error(`the Runtime API answered a malformed status line: ${lines[0].slice(0, 200)}`));
        return;
      }
      const statusCode = Number(status[1]);
      // An interim 1xx answer (100 Continue) precedes the real one.
      if (statusCode < 200 && statusCode !== 101) continue;
      const headers = {};
      for (let index = 1; index < lines.length; index += 1) {
        const line = lines[index];
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      let mode = 'close';
      if (pending.method === 'HEAD' || statusCode === 204 || statusCode === 304) mode = 'empty';
      else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) mode = 'chunked';
      else if (headers['content-length'] !== undefined) mode = 'length';
      pending.head = { statusCode, headers, mode, length: Number(headers['content-length']), chunks: [] };
    }
    const head = pending.head;
    let body;
    if (head.mode === 'empty') {
      body = Buffer.alloc(0);
    } else if (head.mode === 'length') {
      if (!(head.length >= 0)) {
        this.fail(new Error(`the Runtime API sent a malformed Content-Length: ${head.headers['content-length']}`));
        return;
      }
      if (this.buffer.length < head.length) return;
      body = this.buffer.subarray(0, head.length);
      this.buffer = this.buffer.subarray(head.length);
    } else if (head.mode === 'chunked') {
      for (;;) {
        if (head.trailers) {
          const end = this.buffer.indexOf('\r\n');
          if (end < 0) return;
          this.buffer = this.buffer.subarray(end + 2);
          if (end === 0) break;
          continue;
        }
        const end = this.buffer.indexOf('\r\n');
        if (end < 0) return;
        const size = parseInt(this.buffer.toString('latin1', 0, end).split(';')[0].trim(), 16);
        if (Number.isNaN(size)) {
          this.fail(new Error('the Runtime API sent a malformed chunk size'));
          return;
        }
        if (size === 0) {
          this.buffer = this.buffer.subarray(end + 2);
          head.trailers = true;
          continue;
        }
        if (this.buffer.length < end + 2 + size + 2) return;
        head.chunks.push(this.buffer.subarray(end + 2, end + 2 + size));
        this.buffer = this.buffer.subarray(end + 2 + size + 2);
      }
      body = Buffer.concat(head.chunks);
    } else {
      return; // Read until the connection closes; see `lost`.
    }
    this.pending = null;
    if (/close/i.test(head.headers.connection ?? '')) {
      const socket = this.socket;
      this.socket = null;
      socket.destroy();
    } else {
      this.socket.unref();
    }
    pending.resolve({ statusCode: head.statusCode, headers: head.headers, body });
  }

  async nextInvocation() {
    const response = await this.request('GET', `${RUNTIME_API_VERSION}/runtime/invocation/next`);
    if (response.statusCode !== 200) {
      throw new Error(`GET invocation/next answered ${response.statusCode} ${response.body.toString().slice(0, 512)}`);
    }
    return { headers: response.headers, body: response.body.toString('utf8') };
  }

  async post(requestPath, body, headers) {
    const response = await this.request('POST', requestPath, body, headers);
    if (response.statusCode !== 202) {
      // Lambda's runtimes carry on after a rejected post (a response over the
      // 6 MB limit, say): the Runtime API has already failed the invocation.
      process.stderr.write(
        `fogbank runtime: POST ${requestPath} answered ${response.statusCode} ${response.body.toString().slice(0, 512).trimEnd()}\n`,
      );
    }
  }

  postResponse(id, body, contentType) {
    return this.post(`${RUNTIME_API_VERSION}/runtime/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': contentType,
    });
  }

  postError(requestPath, error) {
    const response = toRapidResponse(error);
    return this.post(requestPath, JSON.stringify(response), {
      'Content-Type': 'application/json',
      [ERROR_TYPE_HEADER]: response.errorType ?? 'Unhandled',
    });
  }

  postInvocationError(id, error) {
    return this.postError(`${RUNTIME_API_VERSION}/runtime/invocation/${encodeURIComponent(id)}/error`, error);
  }

  postInitError(error) {
    return this.postError(`${RUNTIME_API_VERSION}/runtime/init/error`, error);
  }
}

/** Runs `action`, then `after`, even when the Runtime API is unreachable. */
function settle(action, after) {
  action.then(after, (error) => {
    process.stderr.write(`fogbank runtime: lost the Runtime API: ${error.message}\n`);
    process.exit(3);
  });
}

// --- Loading the handler -------------------------------------------------------

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const packageJson = path.join(folder, 'package.json');
  if (fs.existsSync(packageJson)) {
    try {
      return JSON.parse(fs.readFileSync(packageJson, 'utf8'))?.type === 'module';
    } catch (error) {
      console.warn(`${packageJson} cannot be read, it will be ignored for ES module detection purposes.`, error);
      return false;
    }
  }
  if (folder === '/') return false;
  return hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

function hasPackageJsonTypeModule(file) {
  const jsPath = `${file}.js`;
  return fs.existsSync(jsPath) ? hasFolderPackageJsonTypeModule(path.dirname(jsPath)) : false;
}

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function tryImport(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

// The order AWS's runtime tries: the name as given, then `.js` as CommonJS
// unless the nearest package.json says "type": "module", then `.js` as an ES
// module, `.mjs`, `.cjs`, and last Node's own resolution from the task root.
async function loadModule(appRoot, moduleRoot, moduleName) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = tryRequire(lambdaStylePath);
  if (extensionless) return extensionless;
  const typeModule = hasPackageJsonTypeModule(lambdaStylePath);
  if (!typeModule) {
    const commonJs = tryRequire(`${lambdaStylePath}.js`);
    if (commonJs) return commonJs;
  }
  const loaded =
    (typeModule && (await tryImport(`${lambdaStylePath}.js`))) ||
    (await tryImport(`${lambdaStylePath}.mjs`)) ||
    tryRequire(`${lambdaStylePath}.cjs`);
  if (loaded) return loaded;
  return require(require.resolve(moduleName, { paths: [appRoot, moduleRoot] }));
}

/**
 * Loads `[dir/]file.function[.nested]` relative to `appRoot`, throwing
 * Lambda's `Runtime.*` errors for a malformed name, a module that cannot be
 * found or parsed, and a missing or non-function export.
 */
async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match || match.length !== 3) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;

  let userModule;
  try {
    userModule = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) throw new UserCodeSyntaxError(error);
    if (error.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(error);
    throw error;
  }
  const handler = handlerPath.split('.').reduce((nested, key) => nested && nested[key], userModule);
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

// --- Response streaming ----------------------------------------------------------

const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/**
 * The `responseStream` of a `streamifyResponse` handler. Fogbank's Runtime
 * API takes whole responses, so the stream is buffered and posted as one
 * response once the handler has finished it; the caller receives the same
 * bytes Lambda would stream, all at once.
 */
function createBufferedResponseStream() {
  const chunks = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  stream.contentType = 'application/octet-stream';
  stream.setContentType = (contentType) => {
    stream.contentType = contentType;
  };
  stream.collected = () => Buffer.concat(chunks);
  return stream;
}

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[HANDLER_STREAMING] = STREAM_RESPONSE;
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
      // The metadata prelude, then eight NUL bytes, then the body: the
      // framing function URLs read from a streamed HTTP response.
      stream.write(JSON.stringify(prelude));
      stream.write(new Uint8Array(8));
      return stream;
    },
  },
};

// --- The invocation loop ---------------------------------------------------------

const environmentData = {
  functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  // A string, as in AWS's runtime, which reads it from the environment.
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
};

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

/** Adds the invocation's fields to `target` (the callback context) and returns it. */
function attachContext(target, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) {
    process.env._X_AMZN_TRACE_ID = trace;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return Object.assign(target, environmentData, {
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

function serialize(result) {
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

function isPromise(value) {
  return value && typeof value.then === 'function';
}

class Runtime {
  constructor(client, handler) {
    this.client = client;
    this.handler = handler;
    this.streaming = handler[HANDLER_STREAMING] === STREAM_RESPONSE;
    // Called by the process-wide handlers; they report against whichever
    // invocation is current, or as an init error before the first one.
    this.onUncaughtException = (error) => settle(client.postInitError(error), () => process.exit(129));
    this.onUnhandledRejection = (error) => settle(client.postInitError(error), () => process.exit(128));
    // Runs when the event loop empties: the end of a callback-style
    // invocation that waits for an empty loop, or of one that never answers.
    this.beforeExit = () => {};
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().catch((error) => {
        console.log(`Unexpected Top Level Error: ${error.toString()}`);
        this.onUncaughtException(error);
      });
    });
  }

  async handleOnce() {
    const { headers, body } = await this.client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) throw new Error('invocation id is missing or invalid');
    globalThis[REQUEST_ID] = id;
    globalThis[TENANT_ID] = headers['lambda-runtime-aws-tenant-id'];
    this.onUncaughtException = (error) => settle(this.client.postInvocationError(id, error), () => process.exit(129));
    this.onUnhandledRejection = (error) => settle(this.client.postInvocationError(id, error), () => process.exit(128));
    if (this.streaming) {
      return this.handleStreaming(id, headers, body);
    }

    const [callback, callbackContext, markCompleted] = this.buildCallbackContext(id);
    // A handler that neither returns a promise nor calls the callback
    // answers null once the event loop is empty, as in Lambda.
    this.beforeExit = () => {
      markCompleted();
      settle(this.client.postResponse(id, 'null', 'application/json'), () => this.scheduleIteration());
    };
    try {
      const result = this.handler(JSON.parse(body), attachContext(callbackContext, headers), callback);
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (error) {
      callback(error);
    }
  }

  /** The callback and context methods of one invocation, as Lambda defines them. */
  buildCallbackContext(id) {
    const scheduleNext = () => this.scheduleIteration();
    const postError = (error) => {
      logError('Invoke Error', error);
      settle(this.client.postInvocationError(id, error), scheduleNext);
    };
    let completed = false;
    const complete = (result) => {
      if (completed) {
        console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
        return;
      }
      completed = true;
      let payload;
      try {
        payload = serialize(result);
      } catch (error) {
        postError(error);
        return;
      }
      settle(this.client.postResponse(id, payload, 'application/json'), scheduleNext);
    };
    let waitForEmptyEventLoop = true;
    const callback = (error, result) => {
      this.beforeExit = () => {};
      if (error !== undefined && error !== null) {
        postError(error);
      } else if (!waitForEmptyEventLoop) {
        complete(result);
      } else {
        this.beforeExit = () => setImmediate(() => complete(result));
      }
    };
    const done = (error, result) => {
      this.beforeExit = () => {};
      if (error !== undefined && error !== null) {
        postError(error);
      } else {
        complete(result);
      }
    };
    // Only the first of callback, succeed, fail and done counts.
    let finished = false;
    const once =
      (fn) =>
      (...args) => {
        if (!finished) {
          fn(...args);
          finished = true;
        }
      };
    const callbackContext = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: once((result) => done(null, result)),
      fail: once((error) => (error === undefined || error === null ? done('handled') : done(error, null))),
      done: once(done),
    };
    return [once(callback), callbackContext, () => (completed = true)];
  }

  async handleStreaming(id, headers, body) {
    const scheduleNext = () => this.scheduleIteration();
    const fail = (error) => {
      logError('Invoke Error', error);
      settle(this.client.postInvocationError(id, error), scheduleNext);
    };
    this.beforeExit = () => scheduleNext();
    const stream = createBufferedResponseStream();
    let result;
    try {
      const context = attachContext(
        {
          callbackWaitsForEmptyEventLoop: true,
        },
        headers,
      );
      result = this.handler(JSON.parse(body), stream, context);
    } catch (error) {
      fail(error);
      return;
    }
    if (!isPromise(result)) {
      fail('Streaming does not support non-async handlers.');
      return;
    }
    try {
      if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
    } catch (error) {
      fail(error);
      return;
    }
    if (!stream.writableEnded) {
      fail('Response stream is not finished.');
      return;
    }
    // `end()` finishes the stream on a later tick; wait for its last write.
    if (!stream.writableFinished) await new Promise((resolve) => stream.once('finish', resolve));
    this.beforeExit = () => {};
    settle(this.client.postResponse(id, stream.collected(), stream.contentType), scheduleNext);
  }
}

async function main() {
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    process.stderr.write('fogbank runtime: AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(2);
  }
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const handlerName = process.argv[2] ?? process.env._HANDLER ?? '';
  const client = new RuntimeApiClient(address);
  let runtime = null;

  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    if (runtime) {
      runtime.onUncaughtException(error);
    } else {
      settle(client.postInitError(error), () => process.exit(129));
    }
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    if (runtime) {
      runtime.onUnhandledRejection(error);
    } else {
      settle(client.postInitError(error), () => process.exit(128));
    }
  });
  process.on('beforeExit', () => runtime?.beforeExit());

  let handler;
  try {
    handler = await loadHandler(appRoot, handlerName);
  } catch (error) {
    // Reported as Lambda's runtime reports any error thrown during init.
    logError('Uncaught Exception', error);
    settle(client.postInitError(error), () => process.exit(129));
    return;
  }
  runtime = new Runtime(client, handler);
  runtime.scheduleIteration();
}

await main();
