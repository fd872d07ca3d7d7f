import type http from "node:http";
import type http2 from "node:http2";
import type { ParticipantOperations } from "../../operations/participants.js";
import type { RoomOperations } from "../../operations/rooms.js";
import type { TrackOperations } from "../../operations/tracks.js";
import { CallCancelledError, RollcallError, StoreUnavailableError } from "../../domain/errors.js";
import type { Authentication, BasicAuth } from "../basic-auth.js";
import type { Call, CallPolicy } from "../call-policy.js";
import { errorBody, parameterName, twilioErrorOf } from "./errors.js";
import { Params } from "./params.js";
import { requestPathOf } from "./request-path.js";
import { matchRoute, restRoutes, type RestReply } from "./routes.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export interface RestOptions {
  participants: ParticipantOperations;
  rooms: RoomOperations;
  tracks: TrackOperations;
  auth: BasicAuth;
  // Base of the absolute URLs in responses; else the request's scheme and host.
  publicUrl: string | undefined;
  maxRequestBytes: number;
  // Request ids, access log and metrics; internal errors are logged there.
  policy: CallPolicy;
}

export function isRestPath(url: string | undefined): boolean {
  return url !== undefined && (url === "/v1" || url.startsWith("/v1/") || url.startsWith("/v1?"));
}

class HttpError extends Error {
  constructor(
    readonly reply: RestReply,
    readonly headers: Record<string, string> = {},
  ) {
    super("http error");
  }
}

// The Twilio Video v1 REST API over HTTP/1.1 and HTTP/2: authentication,
// routing, parameters and Twilio's error bodies, under the call policy's
// access log and metrics (by route pattern, not path). What each route does
// is in routes.ts.
export function restHandler(options: RestOptions): (req: Request, res: Response) => void {
  const { policy } = options;
  const routes = restRoutes(options.participants, options.rooms, options.tracks);
  const routeNames = new Map(routes.map((route) => [route, "/v1/" + route.pattern.map(routeSegment).join("/")]));

  async function reply(req: Request, call: Call, signal: AbortSignal): Promise<{ reply: RestReply; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? "/", "http://rollcall.invalid");
    const { path, resource, segments } = requestPathOf(url.pathname);
    // A reset that came with the request (in the same read as its headers)
    // shows once that read is done: one turn later, before any store command.
    await Promise.resolve();
    if (req.socket.destroyed || ("stream" in req && req.stream.destroyed)) throw new CallCancelledError("the client went away");
    const notFound = () =>
      new HttpError({ status: 404, body: errorBody(404, 20404, `The requested resource ${resource || "/"} was not found`) });
    const match = matchRoute(routes, segments);
    if (match !== undefined) {
      const verb = req.method !== undefined && match.route.methods[req.method] !== undefined ? req.method : "other";
      call.meter = policy.meter("http", "rest", `${verb} ${routeNames.get(match.route)!}`);
    }
    const authentication = options.auth.authenticate(req.headers.authorization, req.socket.remoteAddress);
    if ("refused" in authentication) throw refusal(authentication);
    const { accountSid } = authentication;
    call.account = accountSid;
    if (match === undefined) throw notFound();
    const action = match.route.methods[req.method ?? ""];
    if (action === undefined) {
      const allowed = Object.keys(match.route.methods).join(", ");
      throw new HttpError(
        { status: 405, body: errorBody(405, 20004, `Method ${req.method} not allowed; use ${allowed}`) },
        { allow: allowed },
      );
    }
    const params = req.method === "POST" ? new Params(await readForm(req, options.maxRequestBytes)) : new Params(url.searchParams);
    try {
      return { reply: await action({ accountSid, args: match.args, params, base: baseUrl(req, options.publicUrl), path, signal }) };
    } catch (error) {
      if (error instanceof RollcallError && error.kind === "not_found") throw notFound();
      throw error;
    }
  }

  return policy.httpHandler("other /v1", "rest", (req, res, call) => {
    reply(req, call, clientGone(res)).then(
      ({ reply: { status, body } }) => send(res, status, body),
      (error: unknown) => {
        if (error instanceof HttpError) return send(res, error.reply.status, error.reply.body, error.headers, req);
        if (error instanceof RollcallError) {
          const { status, code } = twilioErrorOf(error.reason);
          const message = error.field === undefined ? error.rule : `${parameterName(error.field)} ${error.rule}`;
          return send(res, status, errorBody(status, code, message));
        }
        // The client is gone: nobody to answer.
        if (error instanceof CallCancelledError) return;
        if (error instanceof StoreUnavailableError) {
          return send(res, 503, errorBody(503, 20500, `Service unavailable: ${error.callerMessage}`), { "retry-after": "1" });
        }
        policy.errorOf(call, error);
        return send(res, 500, errorBody(500, 20500, "Internal server error"));
      },
    );
  });
}

// A pattern's segment as Twilio's documentation names it: ":room" -> "{room}".
function routeSegment(part: string): string {
  return part.startsWith(":") ? `{${part.slice(1)}}` : part;
}

// 401 for missing or wrong credentials; 429 with Retry-After (Twilio's 20429)
// for a client that failed too often.
function refusal(authentication: Exclude<Authentication, { accountSid: string }>): HttpError {
  if (authentication.refused === "credentials") {
    return new HttpError({ status: 401, body: errorBody(401, 20003, "Authenticate") }, { "www-authenticate": 'Basic realm="rollcall"' });
  }
  const seconds = Math.ceil(authentication.retryAfterMs / 1000);
  return new HttpError(
    { status: 429, body: errorBody(429, 20429, `Too Many Requests: too many failed authentications; retry after ${seconds} s`) },
    { "retry-after": String(seconds) },
  );
}

// Aborted when the response closes unfinished: the client reset its stream or
// closed its connection.
function clientGone(res: Response): AbortSignal {
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

async function readForm(req: Request, maxBytes: number): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "application/x-www-form-urlencoded").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new HttpError({ status: 415, body: errorBody(415, 20422, "Content-Type must be application/x-www-form-urlencoded") });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        throw new HttpError(
          { status: 413, body: errorBody(413, 20422, `The request body is larger than ${maxBytes} bytes`) },
          { connection: "close" },
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    // The client went away or broke the body's framing (Node's parser then
    // answers 400 itself): its fault, not an internal error.
    throw new HttpError(
      { status: 400, body: errorBody(400, 20422, "The request body ended early or was malformed") },
      { connection: "close" },
    );
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

const hostForm = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

function baseUrl(req: Request, publicUrl: string | undefined): string {
  if (publicUrl !== undefined) return publicUrl;
  const host = req.headers.host ?? req.headers[":authority"];
  const local = req.socket.localAddress?.includes(":") ? `[${req.socket.localAddress}]` : req.socket.localAddress;
  return `http://${typeof host === "string" && hostForm.test(host) ? host : `${local}:${req.socket.localPort}`}`;
}

function send(res: Response, status: number, body: unknown, headers: Record<string, string> = {}, req?: Request): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(text));
  for (const [name, value] of Object.entries(headers)) {
    // HTTP/2 has no connection header: closing is the session's business.
    if (name === "connection" && req?.httpVersionMajor !== 1) continue;
    res.setHeader(name, value);
  }
  res.end(text);
}
