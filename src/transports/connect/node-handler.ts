import { Code, ConnectError, createConnectRouter, createContextValues, type ConnectRouter } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { DescMethod } from "@bufbuild/protobuf";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import type http from "node:http";
import http2 from "node:http2";
import { codeNames, type Call, type CallPolicy } from "../call-policy.js";
import { callKey, callPolicyInterceptor } from "./call-policy-interceptor.js";
import { decodableBody, undecodableQuery } from "./decodable-requests.js";
import { withSpecGrpcMessage } from "./grpc-message.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// connect-node's request handler under the call policy: each request starts
// a call (request id in and out), the policy's interceptor runs first, and
// the call ends, logged and counted, once its answer is written, whether it
// failed in a handler or in connect-node itself (a wrong content type, an
// undecodable message).
//
// Unlike connect-node, a request that does not decode is invalid_argument
// rather than internal (decodable-requests.ts), a content type no protocol
// takes gets a Connect error saying which are taken, and grpc-message is
// spelled as the gRPC spec says (../grpc-message.ts).
//
// A call whose response fails to be written is ended rather than left open.
// connect-es can fail that way after the headers went out: it
// percent-encodes grpc-message, which throws on a lone surrogate, and its
// JSON decoder quotes a +json body in its error messages, cutting emoji in
// half (found by test/fuzz.test.ts).
export function rpcNodeHandler(options: ConnectNodeAdapterOptions & { routes: (router: ConnectRouter) => void }, policy: CallPolicy) {
  const router = createConnectRouter({ ...options, interceptors: [callPolicyInterceptor(policy), ...(options.interceptors ?? [])] });
  options.routes(router);
  const handlers = new Map(
    router.handlers.map((handler) => {
      const method = handler.requestPath.slice(1);
      const stream = handler.method.methodKind !== "unary";
      const meters = {
        grpc: policy.meter("connect-node", "grpc", method, stream),
        "grpc-web": policy.meter("connect-node", "grpc-web", method, stream),
        connect: policy.meter("connect-node", "connect", method, stream),
      };
      return [handler.requestPath, { handler, meters }];
    }),
  );
  const unknownPath = policy.meter("connect-node", "connect", "unknown");
  return (req: Request, res: Response) => {
    const route = handlers.get(req.url?.split("?", 1)[0] ?? "");
    const call = policy.begin(route === undefined ? unknownPath : route.meters[protocolOf(req)], req.headers["x-request-id"]);
    res.setHeader("x-request-id", call.requestId);
    if (route === undefined) {
      res.writeHead(404);
      res.end();
      call.code = "unimplemented";
      policy.end(call);
      return;
    }
    const contextValues = options.contextValues?.(req) ?? createContextValues();
    contextValues.set(callKey, call);
    call.peer = req.socket.remoteAddress;
    const uReq = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    if (policy.countsBytes) call.bytesIn = Number(req.headers["content-length"] ?? 0) || 0;
    let answer: UniversalServerResponse | undefined;
    // The end of the call: the response is written, or its stream closed
    // early (connect-node's own promise does not settle then).
    res.once("close", () => {
      if (!res.writableFinished) call.code ??= "canceled";
      call.code ??= answer === undefined ? "unknown" : codeOfAnswer(answer);
      policy.end(call);
    });
    const method = route.handler.method;
    if (uReq.method === "GET" && route.handler.allowedMethods.includes("GET")) {
      const undecodable = undecodableQuery(new URL(uReq.url), method.input);
      if (undecodable !== undefined) {
        call.code = "invalid_argument";
        return answerError(res, 400, undecodable);
      }
    } else if (uReq.method !== "GET") {
      uReq.body = decodableBody(uReq.header, uReq.body as AsyncIterable<Uint8Array>, {
        input: method.input,
        compressions: options.acceptCompression ?? [],
        readMaxBytes: options.readMaxBytes ?? 0xffffffff,
      });
    }
    route
      .handler(uReq)
      .then((uRes) => {
        if (uRes.status === 415) {
          call.code = "invalid_argument";
          return answerError(res, 415, unsupportedContentType(method, uReq.header), acceptPost(method));
        }
        answer = uRes;
        if (policy.countsBytes && uRes.body !== undefined) uRes.body = counted(uRes.body, call);
        return universalResponseToNodeResponse(withSpecGrpcMessage(uRes), res);
      })
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        policy.answerFailed(call, reason);
        endFailed(res);
      });
  };
}

// connect-es answers a content type no protocol takes with 415 and no body;
// this says which it takes.
function unsupportedContentType(method: DescMethod, header: Headers): ConnectError {
  const given = header.get("content-type");
  return new ConnectError(
    `${given === null ? "the request has no content-type" : `content-type ${JSON.stringify(given)} is not accepted`}; ${method.parent.typeName}/${method.name} takes ${acceptedTypes(method).join(", ")}`,
    Code.InvalidArgument,
  );
}

function acceptedTypes(method: DescMethod): string[] {
  const connect =
    method.methodKind === "unary" ? ["application/json", "application/proto"] : ["application/connect+json", "application/connect+proto"];
  return [...connect, "application/grpc", "application/grpc+json", "application/grpc-web", "application/grpc-web+json"];
}

function acceptPost(method: DescMethod): Record<string, string> {
  return { "accept-post": acceptedTypes(method).join(", ") };
}

// A Connect error of our own, as connect-es writes them: JSON {code, message}.
function answerError(res: Response, status: number, error: ConnectError, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ code: Code[error.code].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toLowerCase(), message: error.rawMessage }));
}

function protocolOf(req: Request): "grpc" | "grpc-web" | "connect" {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

async function* counted(body: AsyncIterable<Uint8Array>, call: Call): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    call.bytesOut += chunk.byteLength;
    yield chunk;
  }
}

// The code of an answer connect-node made without the interceptor (the
// request failed before a handler): grpc-status, else the HTTP status.
function codeOfAnswer(uRes: UniversalServerResponse): string {
  const grpcStatus = uRes.trailer?.get("grpc-status") ?? uRes.header?.get("grpc-status");
  if (grpcStatus !== null && grpcStatus !== undefined) return codeNames[Number(grpcStatus)] ?? "unknown";
  return codeOfHttpStatus[uRes.status] ?? (uRes.status < 300 ? "ok" : "unknown");
}

// Connect's mapping of HTTP statuses to codes, for errors that carry no code of their own.
const codeOfHttpStatus: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "unimplemented",
  408: "deadline_exceeded",
  409: "aborted",
  412: "failed_precondition",
  413: "resource_exhausted",
  415: "internal",
  429: "unavailable",
  431: "resource_exhausted",
  499: "canceled",
  500: "internal",
  501: "unimplemented",
  502: "unavailable",
  503: "unavailable",
  504: "deadline_exceeded",
};

function endFailed(res: Response): void {
  if (!res.headersSent) {
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: "internal", message: "internal error" }));
  } else if ("stream" in res) {
    res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  } else {
    res.destroy();
  }
}
