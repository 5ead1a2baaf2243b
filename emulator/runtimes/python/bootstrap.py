"""Fogbank's Lambda runtime for Python functions.

Fogbank starts one of these per function instance, as

    python3.N -u <runtime dir>/bootstrap.py [HANDLER]

with the working directory set to the function's code and the environment that
Lambda gives a function (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
AWS_LAMBDA_FUNCTION_NAME and the rest). It then speaks the Lambda Runtime API
(/2018-06-01) exactly as AWS's managed Python runtime does: it loads the
handler, posts an init error and exits if that fails, and otherwise loops on
`invocation/next`, calling the handler with the event and a Lambda context and
posting the result or the error.

The file is self-contained and uses only the standard library, so it runs on
whatever Python the host or the container has and can be embedded into the
fogbank binary. It assumes no host path: everything comes from the environment.

Behaviour follows AWS's runtime interface client (awslambdaric) where the two
can differ: the same error types and messages, the same error body
(`errorMessage`, `errorType`, `requestId`, `stackTrace`), the same log line
format. One deliberate difference: multi-line log records keep their newlines
instead of Lambda's carriage returns, because Fogbank prints them to a terminal.
"""

import decimal
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

RUNTIME_API_VERSION = "/2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# The error types AWS's managed runtime reports; callers branch on them.
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in "
    "the function code. However, in rare cases, a Lambda runtime update can "
    "cause unexpected function behavior. For functions using managed runtimes, "
    "runtime updates can be triggered by a function change, or can be applied "
    "automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with "
    "a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

# The request being handled, read by the log filter. Like AWS's runtime, it
# keeps the last request's id between invocations.
_current_request_id = None
_current_tenant_id = None


class FaultError(Exception):
    """A failure the runtime reports with one of Lambda's `Runtime.*` types."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace


class RuntimeApiError(Exception):
    """The Runtime API answered with an unexpected status or broke HTTP."""


class _StaleConnection(Exception):
    """A reused connection was closed before any answer arrived."""


class RuntimeApiClient:
    """One keep-alive HTTP/1.1 connection to the Runtime API.

    A single connection serves every request, so a warm invocation costs two
    round trips on an open socket and no connection set-up. The `next` call
    blocks without a timeout: the Runtime API holds it until an event arrives.

    This is a minimal HTTP/1.1 client on a plain socket rather than
    http.client: the Runtime API is a fixed, local peer, and http.client's
    general machinery (an email parser per response, a send per request part)
    cost about six times the CPU of this loop per invocation. It handles what
    an HTTP/1.1 server may send: Content-Length or chunked bodies, bodies
    delimited by the connection closing, and `Connection: close`.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self._host = host.strip("[]") or "127.0.0.1"
        self._port = int(port)
        self._host_header = address.encode("latin-1")
        self._socket = None
        self._buffer = b""

    def _connect(self):
        sock = socket.create_connection((self._host, self._port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = sock
        self._buffer = b""

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _request(self, method, path, body=b"", headers=()):
        """Sends one request and returns (status, headers, body).

        Header names come back lower-cased; repeated headers are joined with
        ", ". A server may close an idle keep-alive connection just as a
        request goes out; the request then fails before any answer arrives,
        so it is sent once more on a new connection. A fresh connection that
        fails is a real error.
        """
        head = [method.encode("ascii"), b" ", path.encode("latin-1"), b" HTTP/1.1\r\nHost: ", self._host_header]
        for name, value in headers:
            head.append(b"\r\n" + name.encode("latin-1") + b": " + value.encode("latin-1"))
        if method != "GET":
            head.append(b"\r\nContent-Length: " + str(len(body)).encode("ascii"))
        head.append(b"\r\n\r\n")
        request = b"".join(head)
        while True:
            reused = self._socket is not None
            if not reused:
                self._connect()
            try:
                # Small bodies share the headers' segment; large ones are not
                # copied just to save one send.
                try:
                    if len(body) < 65536:
                        self._socket.sendall(request + body)
                    else:
                        self._socket.sendall(request)
                        self._socket.sendall(body)
                except (BrokenPipeError, ConnectionResetError):
                    raise _StaleConnection()
                return self._read_response(method)
            except _StaleConnection:
                self.close()
                if reused:
                    continue
                raise ConnectionResetError("the Runtime API closed the connection without answering")
            except BaseException:
                self.close()
                raise

    def _fill(self):
        chunk = self._socket.recv(262144)
        if not chunk:
            return False
        self._buffer += chunk
        return True

    def _read_until(self, delimiter, stale_if_empty=False):
        while True:
            end = self._buffer.find(delimiter)
            if end >= 0:
                data = self._buffer[:end]
                self._buffer = self._buffer[end + len(delimiter):]
                return data
            if not self._fill():
                if stale_if_empty and not self._buffer:
                    raise _StaleConnection()
                raise ConnectionResetError("the Runtime API closed the connection mid-response")

    def _read_exact(self, length):
        while len(self._buffer) < length:
            if not self._fill():
                raise ConnectionResetError("the Runtime API closed the connection mid-response")
        data = self._buffer[:length]
        self._buffer = self._buffer[length:]
        return data

    def _read_response(self, method):
        while True:
            try:
                head = self._read_until(b"\r\n\r\n", stale_if_empty=True)
            except (ConnectionResetError, BrokenPipeError):
                raise _StaleConnection()
            # Header values are ASCII but for Client-Context, which carries
            # the caller's JSON as UTF-8.
            lines = head.decode("utf-8", "replace").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise RuntimeApiError("the Runtime API answered a malformed status line: {!r}".format(lines[0][:200]))
            status = int(parts[1])
            if status >= 200 or status == 101:
                break
            # An interim 1xx answer (100 Continue) precedes the real one.
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            value = value.strip()
            headers[name] = headers[name] + ", " + value if name in headers else value
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = self._read_until(b"\r\n").split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise RuntimeApiError("the Runtime API sent a malformed chunk size: {!r}".format(size_line[:40]))
                if size == 0:
                    # Trailers, if any, end with an empty line.
                    while self._read_until(b"\r\n"):
                        pass
                    break
                chunks.append(self._read_exact(size))
                self._read_exact(2)
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            body, self._buffer = self._buffer, b""
            headers["connection"] = "close"
        if "close" in headers.get("connection", "").lower():
            self.close()
        return status, headers, body

    def next_invocation(self):
        status, headers, payload = self._request("GET", RUNTIME_API_VERSION + "/runtime/invocation/next")
        if status != 200:
            raise RuntimeApiError("GET invocation/next answered {} {}".format(status, payload[:512]))
        return headers, payload

    def post_response(self, request_id, payload, content_type):
        path = "{}/runtime/invocation/{}/response".format(RUNTIME_API_VERSION, request_id)
        return self._post(path, payload, (("Content-Type", content_type),))

    def post_invocation_error(self, request_id, error):
        path = "{}/runtime/invocation/{}/error".format(RUNTIME_API_VERSION, request_id)
        return self._post_error(path, error)

    def post_init_error(self, error):
        return self._post_error(RUNTIME_API_VERSION + "/runtime/init/error", error)

    def _post_error(self, path, error):
        headers = (
            ("Content-Type", "application/json"),
            (ERROR_TYPE_HEADER, error["errorType"] or "Unhandled"),
        )
        return self._post(path, encode_json(error).encode("utf-8"), headers)

    def _post(self, path, payload, headers):
        status, _, body = self._request("POST", path, payload, headers)
        if status != 202:
            # Lambda's runtimes carry on after a rejected post (for example a
            # response over the 6 MB limit): the Runtime API has already
            # failed the invocation, so the next one can still be served.
            sys.stderr.write(
                "fogbank runtime: POST {} answered {} {}\n".format(
                    path, status, body[:512].decode("utf-8", "replace").rstrip()
                )
            )
        return status


# --- JSON ------------------------------------------------------------------

def _ensure_ascii():
    # Lambda's python3.12 and newer runtimes emit non-ASCII characters as they
    # are; older ones escape them. Fogbank sets AWS_EXECUTION_ENV per runtime.
    execution_env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix = "AWS_Lambda_python3."
    if execution_env.startswith(prefix):
        minor = execution_env[len(prefix):]
        if minor.isdigit() and int(minor) >= 12:
            return False
    return True


def _encode_decimal(value):
    # AWS's runtime writes Decimals (as boto3's DynamoDB types return them)
    # as JSON numbers. The standard library cannot emit raw number text, so a
    # Decimal becomes an int when it is integral and a float otherwise.
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return float("nan")
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError("Object of type {} is not JSON serializable".format(type(value).__name__))


_ENCODER = json.JSONEncoder(ensure_ascii=_ensure_ascii(), allow_nan=True, default=_encode_decimal)
encode_json = _ENCODER.encode


# --- The Lambda context ------------------------------------------------------

class CognitoIdentity:
    """`context.identity`: the Amazon Cognito identity of the caller."""

    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, cognito_identity_id=None, cognito_identity_pool_id=None):
        self.cognito_identity_id = cognito_identity_id
        self.cognito_identity_pool_id = cognito_identity_pool_id

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.cognito_identity_id, self.cognito_identity_pool_id
        )


class Client:
    """`context.client_context.client`: the mobile client that invoked."""

    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        fields = ",".join("{}={}".format(name, getattr(self, name)) for name in self.__slots__)
        return "Client([{}])".format(fields)


class ClientContext:
    """`context.client_context`: the Client-Context the caller sent."""

    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom={},env={},client={}])".format(self.custom, self.env, self.client)


def _object_from_dict(cls, values):
    if values is None:
        return None
    instance = cls()
    for field in cls.__slots__:
        setattr(instance, field, values.get(field) if isinstance(values, dict) else None)
    return instance


# The function's fixed facts, read once: they cannot change while it runs.
# memory_limit_in_mb stays a string, as in AWS's runtime.
_FUNCTION_ENVIRONMENT = tuple(
    os.environ.get(name)
    for name in (
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
    )
)


class LambdaContext:
    """The `context` argument of a handler, with the attributes Lambda documents."""

    def __init__(self, request_id, invoked_function_arn, deadline_ms, client_context, identity, tenant_id):
        self.aws_request_id = request_id
        (
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
        ) = _FUNCTION_ENVIRONMENT
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)
        identity = identity if isinstance(identity, dict) else {}
        self.identity = CognitoIdentity(
            identity.get("cognitoIdentityId"), identity.get("cognitoIdentityPoolId")
        )
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        """Milliseconds left before the invocation times out, never negative."""
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, message):
        """Writes `message` to the function's log as it is, like `print` without a newline."""
        sys.stdout.write(str(message))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={},client_context={},identity={},tenant_id={}])"
        ).format(
            self.aws_request_id,
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
            self.invoked_function_arn,
            self.client_context,
            self.identity,
            self.tenant_id,
        )


def _parse_json_header(value, name):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError as error:
        raise FaultError(CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, error))


# --- Logging -----------------------------------------------------------------

class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id or ""
        record.tenant_id = _current_tenant_id
        return True


class _StdoutHandler(logging.Handler):
    # Looks sys.stdout up on every record, so that a handler which replaces it
    # (as test frameworks do) still sees the log.
    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


_RESERVED_RECORD_FIELDS = frozenset(
    [
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "taskName",
    ]
)


class _JsonFormatter(logging.Formatter):
    """Lambda's JSON log format (`LoggingConfig: LogFormat: JSON`)."""

    _encoder = json.JSONEncoder(ensure_ascii=False, default=str)

    def __init__(self):
        super().__init__(datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record):
        level = min(50, max(0, record.levelno)) // 10 * 10
        message = record.msg if isinstance(record.msg, dict) and not record.args else record.getMessage()
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(level),
            "message": message,
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info:
            result["stackTrace"] = traceback.format_tb(record.exc_info[2])
            result["errorType"] = record.exc_info[0].__name__
            result["errorMessage"] = str(record.exc_info[1])
            result["location"] = "{}:{}:{}".format(record.pathname, record.funcName, record.lineno)
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED_RECORD_FIELDS and key not in result:
                result[key] = value
        return self._encoder.encode({k: v for k, v in result.items() if v is not None}) + "\n"


def _json_log_format():
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def setup_logging():
    """Configures the root logger as Lambda's Python runtime does."""
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    if _json_log_format():
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


def log_error(error):
    """Writes an error record as Lambda's runtime does before reporting it."""
    if _json_log_format():
        record = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "level": "ERROR",
        }
        record.update(error)
        sys.stdout.write(encode_json(record) + "\n")
        return
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
    if error["errorMessage"]:
        if error["errorType"]:
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        lines.extend(element.splitlines() or [""])
    sys.stdout.write("\n".join(lines) + "\n")


class _Unbuffered:
    """Flushes after every write, for when Python was started without -u."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text):
        written = self._stream.write(text)
        self._stream.flush()
        return written

    def writelines(self, lines):
        self._stream.writelines(lines)
        self._stream.flush()


# --- Errors ------------------------------------------------------------------

def make_error(message, error_type, stack_trace, request_id=None):
    """The error body Lambda's Python runtime posts and returns to callers."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc_info, request_id=None):
    """An error body for a raised exception, its trace starting in user code."""
    error_type, value, tb = exc_info
    frames = traceback.extract_tb(tb)
    # The runtime's own frames come first; the trace shows the user's code.
    for index, frame in enumerate(frames):
        if "/bootstrap.py" not in frame.filename:
            frames = frames[index:]
            break
    # Plain tuples format without the column carets of newer Pythons, as
    # Lambda's traces look.
    plain = [(frame.filename, frame.lineno, frame.name, frame.line) for frame in frames]
    return make_error(str(value), error_type.__name__, traceback.format_list(plain), request_id)


# --- Loading the handler -----------------------------------------------------

def load_handler(handler):
    """Imports `module.function` (or `dir/module.function`) from the task root.

    Raises FaultError with Lambda's error type when the name is malformed,
    the module cannot be imported or has a syntax error, or the function is
    missing. Other exceptions raised while importing propagate as they are,
    as they do in Lambda.
    """
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        raise FaultError(MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, error))
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise FaultError(
                BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(module_name),
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise FaultError(
            IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(module_name, error)
        )
    except SyntaxError as error:
        trace = ['  File "%s" Line %s\n    %s' % (error.filename, error.lineno, error.text)]
        raise FaultError(
            USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(module_name, error),
            trace,
        )
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultError(
            HANDLER_NOT_FOUND, "Handler '{}' missing on module '{}'".format(function_name, module_name)
        )


def _prepare_import_path(task_root):
    # Running `python bootstrap.py` puts the runtime's own directory first on
    # sys.path. User modules must win, so the task root goes first and the
    # runtime directory (which holds nothing importable) is dropped.
    script_dir = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == script_dir and script_dir != task_root:
        del sys.path[0]
    if task_root not in sys.path:
        sys.path.insert(0, task_root)


# --- The invocation loop -----------------------------------------------------

def handle_invocation(client, request_handler, headers, body):
    """Runs one invocation and posts its result or error."""
    global _current_request_id, _current_tenant_id
    request_id = headers.get("lambda-runtime-aws-request-id")
    tenant_id = headers.get("lambda-runtime-aws-tenant-id")
    _current_request_id = request_id
    _current_tenant_id = tenant_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    error = None
    try:
        context = LambdaContext(
            request_id,
            headers.get("lambda-runtime-invoked-function-arn"),
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            _parse_json_header(headers.get("lambda-runtime-client-context"), "Client Context"),
            _parse_json_header(headers.get("lambda-runtime-cognito-identity"), "Cognito Identity"),
            tenant_id,
        )
        content_type = headers.get("content-type")
        if content_type is None or content_type.startswith("application/json"):
            try:
                event = json.loads(body)
            except ValueError as parse_error:
                raise FaultError(UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(parse_error))
        else:
            event = body
        result = request_handler(event, context)
        if isinstance(result, bytes):
            payload, result_type = result, "application/unknown"
        else:
            try:
                payload, result_type = encode_json(result).encode("utf-8"), "application/json"
            except Exception as encode_error:
                raise FaultError(MARSHAL_ERROR, "Unable to marshal response: {}".format(encode_error))
    except FaultError as fault:
        error = make_error(fault.message, fault.error_type, fault.stack_trace, request_id)
    except Exception:
        error = error_from_exception(sys.exc_info(), request_id)

    if error is None:
        client.post_response(request_id, payload, result_type)
    else:
        log_error(error)
        client.post_invocation_error(request_id, error)


def main():
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        sys.stderr.write("fogbank runtime: AWS_LAMBDA_RUNTIME_API is not set\n")
        return 2
    handler_name = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER", "")
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()

    # `python -u` (or PYTHONUNBUFFERED) makes the text layer write through.
    if not getattr(sys.stdout, "write_through", False):
        sys.stdout = _Unbuffered(sys.stdout)
        sys.stderr = _Unbuffered(sys.stderr)
    _prepare_import_path(task_root)
    client = RuntimeApiClient(address)

    error = None
    try:
        setup_logging()
        request_handler = load_handler(handler_name)
    except FaultError as fault:
        error = make_error(fault.message, fault.error_type, fault.stack_trace)
    except Exception:
        error = error_from_exception(sys.exc_info())
    if error is not None:
        logging.warning(UNHANDLED_EXCEPTION_WARNING)
        log_error(error)
        try:
            client.post_init_error(error)
        except (OSError, RuntimeApiError) as post_error:
            sys.stderr.write("fogbank runtime: could not report the init error: {}\n".format(post_error))
        return 1

    while True:
        headers, body = client.next_invocation()
        handle_invocation(client, request_handler, headers, body)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RuntimeApiError) as failure:
        # The Runtime API went away (the instance is being stopped) or broke
        # the protocol: nothing can be reported, so say why and stop.
        sys.stderr.write("fogbank runtime: lost the Runtime API: {}\n".format(failure))
        sys.exit(3)
