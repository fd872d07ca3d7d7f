import { Code, ConnectError } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import type http from "node:http";
import type http2 from "node:http2";
import { CallCancelledError, RollcallError, StoreUnavailableError, type ErrorKind } from "../domain/errors.js";
import type { Logger } from "../observability/logger.js";
import { inFlight, requestSeriesOf, streamsOpen, type LatencySeries } from "../observability/metrics.js";
import { refusalError } from "./auth-refusal.js";
import type { BasicAuth } from "./basic-auth.js";

// What every request goes through, whichever server carries it: its request
// id, authentication, its deadline, the mapping of rollcall's typed errors to
// RPC codes, one access log line and its metrics. The grpc-js server calls it
// directly, connect-node through an interceptor and its node handler, and the
// plain HTTP routes (REST, console, webhooks, /metrics) through httpHandler().
//
// Kept cheap, as it runs on every call: metric series are made once per
// method and code, nothing is built for the access line when info is off,
// and time comes from performance.now().

export type Transport = "grpc-js" | "connect-node" | "http";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export interface CallPolicyOptions {
  auth: BasicAuth;
  // Type names of the services that take no credentials (health, reflection).
  publicServices: ReadonlySet<string>;
  log: Logger;
  // ROLLCALL_METRICS=off: nothing is counted.
  metrics: boolean;
}

const codeKinds: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  out_of_range: Code.OutOfRange,
};

// The codes as gRPC and Connect spell them on the wire.
export const codeNames: readonly string[] = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

// Codes that are the server's failure (HTTP 5xx): their access lines are errors.
const serverFailures = new Set(["unknown", "internal", "unavailable", "data_loss", "deadline_exceeded", "unimplemented"]);

// The counts of one method (RPC path or REST route) on one transport and
// protocol, with a series per code made the first time the code is seen, and
// its access logger, whose fixed fields pino serializes once.
export class Meter {
  private readonly byCode = new Map<string, LatencySeries<"transport" | "protocol" | "method" | "code">>();
  readonly open: ReturnType<typeof streamsOpen.labels> | undefined;

  constructor(
    readonly transport: Transport,
    readonly protocol: string,
    readonly method: string,
    stream: boolean,
    // Undefined when access lines are off.
    readonly access: Logger | undefined,
  ) {
    this.open = stream ? streamsOpen.labels(transport, method) : undefined;
  }

  record(code: string, seconds: number): void {
    let series = this.byCode.get(code);
    if (series === undefined) {
      series = requestSeriesOf({ transport: this.transport, protocol: this.protocol, method: this.method, code });
      this.byCode.set(code, series);
    }
    series.observe(seconds);
  }
}

// One request or RPC, from its arrival to its answer.
export class Call {
  readonly started = performance.now();
  // The caller's account, once authenticated.
  account: string | undefined = undefined;
  // The RPC code name, or the HTTP status of a plain HTTP request; undefined
  // until known.
  code: string | undefined = undefined;
  bytesIn = 0;
  bytesOut = 0;
  // The client's IP address, where failed authentications are counted.
  peer: string | undefined = undefined;

  constructor(
    // Plain HTTP requests learn their route after they start.
    public meter: Meter,
    readonly requestId: string,
  ) {}
}

// Request ids made here: a random prefix per process and a counter, unique
// across instances without costing a random draw per call.
const idPrefix = randomBytes(6).toString("hex") + "-";
let idCount = 0;
// What a caller's x-request-id may be to be used as is.
const acceptedRequestId = /^[\x21-\x7e]{1,128}$/;

export class CallPolicy {
  private readonly meters = new Map<string, Meter>();
  // The access logger, or undefined when its lines would be dropped. It
  // skips redaction (costly per line): its lines carry only the fields
  // end() puts there, never a header, token or secret.
  private readonly access: Logger | undefined;
  private readonly log: Logger;
  // Whether the access line's byte counts are worth counting.
  readonly countsBytes: boolean;

  constructor(private readonly options: CallPolicyOptions) {
    this.log = options.log.child({ component: "calls" });
    const access = options.log.child({ component: "access" }, { redact: { paths: [] } });
    this.access = access.isLevelEnabled("info") ? access : undefined;
    this.countsBytes = this.access !== undefined;
    for (const transport of ["grpc-js", "connect-node", "http"]) inFlight[transport] ??= 0;
  }

  // The meter of a method; made once, kept.
  meter(transport: Transport, protocol: string, method: string, stream = false): Meter {
    const key = `${transport} ${protocol} ${method}`;
    let meter = this.meters.get(key);
    if (meter === undefined) {
      meter = new Meter(transport, protocol, method, stream, this.access?.child({ transport, protocol, method }));
      this.meters.set(key, meter);
    }
    return meter;
  }

  // A call starts: its request id is the caller's x-request-id if it sent a
  // usable one, else a new one.
  begin(meter: Meter, requestId: unknown): Call {
    const id = typeof requestId === "string" && acceptedRequestId.test(requestId) ? requestId : idPrefix + (++idCount).toString(36);
    if (this.options.metrics) {
      inFlight[meter.transport]!++;
      meter.open?.inc();
    }
    return new Call(meter, id);
  }

  // The account an RPC acts for: undefined for the public services, else the
  // one its Basic credentials name; an Unauthenticated error, or Resource
  // exhausted for a caller (address or account) that failed too often.
  authenticate(call: Call, service: string, authorization: string | null | undefined, address: string | undefined): string | undefined {
    if (this.options.publicServices.has(service)) return undefined;
    const authentication = this.options.auth.authenticate(authorization, address);
    if ("refused" in authentication) throw refusalError(authentication);
    call.account = authentication.accountSid;
    return authentication.accountSid;
  }

  // Runs a handler's work to its answer, ended at the call's deadline (or its
  // cancellation, for transports that give a signal): a store command cannot
  // be recalled, but it is atomic, so the caller only misses its outcome.
  // Errors come out as Connect errors, with the call's code set.
  async run<T>(call: Call, work: () => Promise<T>, deadline: AbortSignal | number | undefined): Promise<T> {
    try {
      const value = await untilDeadline(work(), deadline);
      call.code ??= "ok";
      return value;
    } catch (error) {
      throw this.errorOf(call, error);
    }
  }

  // The Connect error a failure is answered with; an unexpected one is
  // logged with its stack, once, under the call's request id.
  errorOf(call: Call, error: unknown): ConnectError {
    const connectError = connectErrorOf(error);
    if (connectError === undefined) {
      this.log.error({ requestId: call.requestId, method: call.meter.method, err: error }, "internal error");
      call.code = "internal";
      return new ConnectError("internal error", Code.Internal);
    }
    call.code = codeNames[connectError.code] ?? "unknown";
    return connectError;
  }

  // The answer could not be written after it started (the transport's own
  // failure, not a handler's): the call ends as internal.
  answerFailed(call: Call, reason: unknown): void {
    this.log.warn({ requestId: call.requestId, method: call.meter.method, err: reason }, "the answer failed while being written");
    call.code = "internal";
  }

  // A call is answered (a stream ended): its access line and its metrics.
  end(call: Call): void {
    const seconds = (performance.now() - call.started) / 1000;
    const code = call.code ?? "unknown";
    const meter = call.meter;
    if (this.options.metrics) {
      inFlight[meter.transport]!--;
      meter.open?.dec();
      meter.record(code, seconds);
    }
    if (meter.access === undefined) return;
    const line = {
      requestId: call.requestId,
      account: call.account,
      code,
      durationMs: Math.round(seconds * 1e6) / 1000,
      bytesIn: call.bytesIn,
      bytesOut: call.bytesOut,
    };
    if (serverFailures.has(code) || code.startsWith("5")) meter.access.error(line, "request failed");
    else meter.access.info(line, "request");
  }

  // A plain HTTP route under the policy: request id in and out, access line
  // and metrics at the response's end. The handler may name its route more
  // precisely (call.meter) and the account it served.
  httpHandler(
    route: string,
    protocol: string,
    handler: (req: Request, res: Response, call: Call) => void,
  ): (req: Request, res: Response) => void {
    const meter = this.meter("http", protocol, route);
    return (req, res) => {
      const call = this.begin(meter, req.headers["x-request-id"]);
      res.setHeader("x-request-id", call.requestId);
      res.once("close", () => {
        call.code = res.writableFinished ? String(res.statusCode) : "canceled";
        if (this.countsBytes) {
          call.bytesIn = Number(req.headers["content-length"] ?? 0) || 0;
          call.bytesOut = Number(res.getHeader("content-length") ?? 0) || 0;
        }
        this.end(call);
      });
      handler(req, res, call);
    };
  }
}

// rollcall's typed errors as Connect errors; undefined for an unexpected one.
export function connectErrorOf(error: unknown): ConnectError | undefined {
  if (error instanceof ConnectError) return error;
  if (error instanceof RollcallError) return new ConnectError(error.message, codeKinds[error.kind]);
  if (error instanceof StoreUnavailableError) return new ConnectError(error.callerMessage, Code.Unavailable);
  if (error instanceof CallCancelledError) return new ConnectError(error.message, Code.Canceled);
  return undefined;
}

function untilDeadline<T>(work: Promise<T>, deadline: AbortSignal | number | undefined): Promise<T> {
  if (deadline === undefined || deadline === Infinity) return work;
  if (typeof deadline === "number") {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ConnectError("the deadline passed", Code.DeadlineExceeded)), Math.max(deadline, 0));
      work.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }
  if (deadline.aborted) return Promise.reject(ConnectError.from(deadline.reason, Code.Canceled));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ConnectError.from(deadline.reason, Code.Canceled));
    deadline.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => deadline.removeEventListener("abort", onAbort));
  });
}
