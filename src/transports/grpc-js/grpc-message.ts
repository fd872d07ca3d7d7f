import type http2 from "node:http2";
import { respelled } from "../grpc-message.js";

// grpc-js writes grpc-message with encodeURI; its status goes out through
// the stream's respond (a trailers-only answer) or sendTrailers, which this
// wraps on one stream to send the spec's form (../grpc-message.ts).
export function withSpecGrpcMessage(stream: http2.ServerHttp2Stream): void {
  const respond = stream.respond.bind(stream);
  const sendTrailers = stream.sendTrailers.bind(stream);
  stream.respond = (headers, options) => respond(respelledHeaders(headers), options);
  stream.sendTrailers = (trailers) => sendTrailers(respelledHeaders(trailers));
}

function respelledHeaders<T extends http2.OutgoingHttpHeaders | undefined>(headers: T): T {
  const message = headers?.["grpc-message"];
  if (typeof message !== "string") return headers;
  return { ...headers, "grpc-message": respelled(message) };
}
