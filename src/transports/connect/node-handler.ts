import { Code, ConnectError, createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type http from "node:http";
import http2 from "node:http2";
import { withSpecGrpcMessage } from "./grpc-message.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

// connect-node's request handler, except that a call whose response fails to
// be written is ended rather than left open. connect-es can fail that way
// after the headers went out: it percent-encodes grpc-message, which throws
// on a lone surrogate, and its JSON decoder quotes a +json body in its error
// messages, cutting emoji in half (found by test/fuzz.test.ts).
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
    handler(universalRequestFromNodeRequest(req, res, undefined, contextValues))
      .then((uRes) => universalResponseToNodeResponse(withSpecGrpcMessage(uRes), res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        log(`rpc ${handler.service.typeName}/${handler.method.name} failed while answering: ${String(reason)}`);
        endFailed(res);
      });
  };
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
