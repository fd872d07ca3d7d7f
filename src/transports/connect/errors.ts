import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { CallCancelledError, RollcallError, type ErrorKind, StoreUnavailableError } from "../../domain/errors.js";

const codeOfKind: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  out_of_range: Code.OutOfRange,
};

export function connectErrorOf(error: unknown, log: (message: string) => void): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof RollcallError) return new ConnectError(error.message, codeOfKind[error.kind]);
  if (error instanceof StoreUnavailableError) return new ConnectError(error.callerMessage, Code.Unavailable);
  if (error instanceof CallCancelledError) return new ConnectError(error.message, Code.Canceled);
  log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return new ConnectError("internal error", Code.Internal);
}

// Turns the domain's typed errors into Connect errors, for unary calls and
// for errors raised while a response streams. Unary calls also end at their
// deadline: a store command cannot be recalled, but it is atomic, so the
// caller only misses its outcome.
export function errorInterceptor(log: (message: string) => void): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await untilAborted(next(req), req.signal);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message, log) };
    } catch (error) {
      throw connectErrorOf(error, log);
    }
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, log: (message: string) => void): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw connectErrorOf(error, log);
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ConnectError.from(signal.reason, Code.Canceled));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
