import { Code, ConnectError, createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { DescMethod } from "@bufbuild/protobuf";
import type http from "node:http";
import http2 from "node:http2";
import { decodableBody, undecodableQuery } from "./decodable-requests.js";
import { withSpecGrpcMessage } from "./grpc-message.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// connect-node's request handler, except that a request that does not decode
// is invalid_argument rather than internal (decodable-requests.ts), a content
// type no protocol takes gets a Connect error saying which are taken, and a
// call whose response fails to be written is ended rather than left open.
// connect-es can fail that way after the headers went out: it percent-encodes
// grpc-message, which throws on a lone surrogate, and its JSON decoder quotes
// a +json body in its error messages, cutting emoji in half (found by
// test/fuzz.test.ts).
export function rpcNodeHandler(
  options: ConnectNodeAdapterOptions & { routes: (router: ConnectRouter) => void },
  log: (message: string) => void,
) {
  const router = createConnectRouter(options);
  options.routes(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (req: Request, res: Response) => {
    const handler = handlers.get(req.url?.split("?", 1)[0] ?? "");
    if (handler === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const contextValues = options.contextValues?.(req);
    const request = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    if (request.method === "GET" && handler.allowedMethods.includes("GET")) {
      const undecodable = undecodableQuery(new URL(request.url), handler.method.input);
      if (undecodable !== undefined) return answerError(res, 400, undecodable);
    } else if (request.method !== "GET") {
      request.body = decodableBody(request.header, request.body as AsyncIterable<Uint8Array>, {
        input: handler.method.input,
        compressions: options.acceptCompression ?? [],
        readMaxBytes: options.readMaxBytes ?? 0xffffffff,
      });
    }
    handler(request)
      .then((uRes) =>
        uRes.status === 415
          ? answerError(res, 415, unsupportedContentType(handler.method, request.header), acceptPost(handler.method))
          : universalResponseToNodeResponse(withSpecGrpcMessage(uRes), res),
      )
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        log(`rpc ${handler.service.typeName}/${handler.method.name} failed while answering: ${String(reason)}`);
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
