import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { on } from "node:events";
import type http2 from "node:http2";
import type net from "node:net";
import { accountKey } from "../../services/account.js";
import type { Call, CallPolicy } from "../call-policy.js";
import type { ServiceBinding } from "../../services/services.js";
import { isGrpcContentType } from "../http/http2-first-request.js";
import { writeBounded } from "./bounded-writes.js";
import { withSpecGrpcMessage } from "./grpc-message.js";
import { addressOfPeer, statusDetailsOf } from "./peer-and-status.js";

type Handler = (request: unknown, context: HandlerContext) => unknown;

export interface GrpcJsServerOptions {
  bindings: ServiceBinding[];
  // Authentication, deadlines, error codes, access log and metrics.
  policy: CallPolicy;
  maxRequestBytes: number;
  // SETTINGS_MAX_CONCURRENT_STREAMS of its connections.
  maxConcurrentStreams: number;
}
// What the one port needs to hand connections to grpc-js: where a stream
// that is not gRPC goes, and what to do with each new session.
export interface GrpcConnectionOptions {
  // Unset, grpc-js answers them itself (415, as on a port for gRPC alone).
  serveOther?: StreamListener;
  onSession: (session: http2.ServerHttp2Session) => void;
}

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

// gRPC served by @grpc/grpc-js, which measured about four times the throughput
// of connect-node's gRPC on this kind of machine (docs/BENCHMARKS.md), on the
// connections of the one port whose requests are gRPC. It runs the very handlers the connect-node router runs, built from the same
// generated descriptors, under the same call policy as connect-node.
export class GrpcJsServer {
  private readonly server: grpc.Server;

  constructor(private readonly options: GrpcJsServerOptions) {
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxRequestBytes,
      "grpc.max_concurrent_streams": options.maxConcurrentStreams,
      // Channelz's bookkeeping of every call and session costs throughput and
      // nothing here reads it.
      "grpc.enable_channelz": 0,
    });
    for (const { service, impl } of options.bindings) {
      const definition: grpc.ServiceDefinition = {};
      const handlers: grpc.UntypedServiceImplementation = {};
      for (const method of service.methods) {
        const handler = (impl as Record<string, Handler | undefined>)[method.localName];
        if (handler === undefined) continue;
        (definition as Record<string, grpc.MethodDefinition<Buffer, Buffer>>)[method.localName] = methodDefinition(method);
        handlers[method.localName] = this.handle(method, handler);
      }
      this.server.addService(definition, handlers);
    }
  }

  // The connections the one port hands over (Server.createConnectionInjector).
  // A request that is not gRPC on such a connection (a client that mixes
  // protocols on one connection, which the one port cannot foresee) would
  // be answered 415 by grpc-js, or, for gRPC-Web, served as gRPC: it goes to
  // `serveOther` instead. grpc-js gives no hook for that, nor for the
  // spelling of grpc-message, so the stream listener of the http2 server it
  // made for the injector is wrapped; the
  // server is found in grpc-js's own map of its http2 servers, and its
  // absence (another grpc-js) stops the start rather than serve wrongly.
  acceptConnections(options: GrpcConnectionOptions): (socket: net.Socket) => void {
    const internals = this.server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> };
    const before = new Set(internals.http2Servers?.keys() ?? []);
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const made = [...(internals.http2Servers?.keys() ?? [])].filter((server) => !before.has(server));
    if (made.length !== 1) throw new Error("cannot find the http2 server of grpc-js's connection injector (grpc-js internals changed)");
    const http2Server = made[0]!;
    const { serveOther, onSession } = options;
    const grpcListeners = http2Server.listeners("stream") as StreamListener[];
    http2Server.removeAllListeners("stream");
    http2Server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      if (serveOther !== undefined && !isGrpcContentType(headers["content-type"])) return serveOther(stream, headers, flags, rawHeaders);
      withSpecGrpcMessage(stream);
      for (const listener of grpcListeners) listener.call(http2Server, stream, headers, flags, rawHeaders);
    });
    http2Server.on("session", onSession);
    return (socket) => injector.injectConnection(socket);
  }

  // Refuses new calls and waits for those in flight; after graceMs, ends them.
  async close(graceMs: number): Promise<void> {
    const timer = setTimeout(() => this.server.forceShutdown(), graceMs);
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    clearTimeout(timer);
  }

  private handle(method: DescMethod, handler: Handler): grpc.UntypedHandleCall {
    const { policy } = this.options;
    const path = `${method.parent.typeName}/${method.name}`;
    const meter = policy.meter("grpc-js", "grpc", path, method.methodKind !== "unary");
    const service = method.parent.typeName;
    // An error's status, with the request id (trailers; the only headers of an answer that is an error).
    const toStatus = (call: Call, error: unknown): Partial<grpc.StatusObject> => {
      const connectError = error instanceof ConnectError && call.code !== undefined ? error : policy.errorOf(call, error);
      const metadata = statusDetailsOf(connectError) ?? new grpc.Metadata();
      metadata.set("x-request-id", call.requestId);
      return { code: connectError.code as number, details: connectError.rawMessage, metadata };
    };
    const begin = (call: GrpcCall): Call => policy.begin(meter, call.metadata.get("x-request-id")[0]);
    const contextOf = (started: Call, call: GrpcCall): HandlerContext => {
      const values = createContextValues();
      const account = policy.authenticate(
        started,
        service,
        call.metadata.get("authorization")[0]?.toString(),
        addressOfPeer(call.getPeer()),
      );
      if (account !== undefined) values.set(accountKey, account);
      return handlerContext(method, call, values);
    };
    const output = method.output;
    // A streamed answer: the request id first, then the responses of the
    // handler given the request (or the requests of a client stream).
    const serveStream = (
      call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>,
      requestOf: (started: Call) => unknown,
    ) => {
      const started = begin(call);
      call.sendMetadata(requestIdMetadata(started));
      stream(call, started, output, () => handler(requestOf(started), contextOf(started, call)) as AsyncIterable<object>)
        .catch((error: unknown) => call.emit("error", toStatus(started, error)))
        .finally(() => policy.end(started));
    };
    switch (method.methodKind) {
      case "unary":
        return (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const started = begin(call);
          policy
            .run(
              started,
              () => handler(decoded(method.input, call.request, started), contextOf(started, call)) as Promise<object>,
              remainingMs(call),
            )
            .then(
              (response) => {
                let bytes: Buffer;
                try {
                  bytes = encoded(output, response);
                } catch (error) {
                  callback(toStatus(started, error));
                  return policy.end(started);
                }
                started.bytesOut = bytes.length;
                // The request id goes with the response, in the same write:
                // sent sooner, the headers would take a write of their own.
                call.sendMetadata(requestIdMetadata(started));
                callback(null, bytes);
                policy.end(started);
              },
              (error: unknown) => {
                callback(toStatus(started, error));
                policy.end(started);
              },
            );
        };
      case "server_streaming":
        return (call: grpc.ServerWritableStream<Buffer, Buffer>) =>
          serveStream(call, (started) => decoded(method.input, call.request, started));
      case "bidi_streaming":
        return (call: grpc.ServerDuplexStream<Buffer, Buffer>) => serveStream(call, (started) => requestsOf(method.input, call, started));
      case "client_streaming":
        throw new Error(`${method.parent.typeName}.${method.name}: client streaming is not served`);
    }
  }
}

type GrpcCall = {
  metadata: grpc.Metadata;
  cancelled: boolean;
  getPeer(): string;
  getDeadline(): grpc.Deadline;
  sendMetadata(metadata: grpc.Metadata): void;
  once(event: "cancelled", listener: () => void): unknown;
};

function requestIdMetadata(call: Call): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("x-request-id", call.requestId);
  return metadata;
}

// Milliseconds to the call's deadline; undefined without one.
function remainingMs(call: GrpcCall): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - Date.now() : undefined;
}

// The handler context connect-es handlers expect: the caller's account, the
// time left to the deadline, and a signal that aborts when the call is
// cancelled or its deadline passes (grpc-js cancels the call then). Built
// lazily: unary handlers seldom look at the signal or the headers, and making
// them for every call cost a fifth of the throughput of a Get (bench/run.ts,
// CPU profile).
function handlerContext(method: DescMethod, call: GrpcCall, values: ContextValues): HandlerContext {
  let signal: AbortSignal | undefined;
  let headers: { request: Headers; response: Headers; trailer: Headers } | undefined;
  const allHeaders = () => (headers ??= { request: new Headers(), response: new Headers(), trailer: new Headers() });
  return {
    method,
    service: method.parent,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `/${method.parent.typeName}/${method.name}`,
    values,
    timeoutMs: () => remainingMs(call),
    get signal() {
      if (signal === undefined) {
        const cancelled = new AbortController();
        const cancel = () => cancelled.abort(new ConnectError("the call was cancelled", Code.Canceled));
        if (call.cancelled) cancel();
        else call.once("cancelled", cancel);
        signal = cancelled.signal;
      }
      return signal;
    },
    get requestHeader() {
      return allHeaders().request;
    },
    get responseHeader() {
      return allHeaders().response;
    },
    get responseTrailer() {
      return allHeaders().trailer;
    },
  };
}

// The requests of a client stream, ending when the client half-closes: the
// call's own async iterator did not end then (seen with buf curl's reflection).
async function* requestsOf(input: DescMessage, call: grpc.ServerDuplexStream<Buffer, Buffer>, started: Call): AsyncIterable<object> {
  for await (const [request] of on(call, "data", { close: ["end"] })) yield decoded(input, request as Buffer, started);
}

// A request message from its bytes. grpc-js is given the bytes as they came
// (its deserializer would end a call whose bytes do not decode with INTERNAL,
// yet they are the caller's error): they are decoded here, where a failure
// is INVALID_ARGUMENT, as connect-node answers undecodable JSON.
function decoded(input: DescMessage, bytes: Buffer, started: Call): object {
  started.bytesIn += bytes.length;
  try {
    return fromBinary(input, bytes);
  } catch (error) {
    throw new ConnectError(
      `cannot decode message ${input.typeName} from binary: ${error instanceof Error ? error.message : String(error)}`,
      Code.InvalidArgument,
    );
  }
}

// A response's bytes. Handlers may answer with an init object rather than a message.
function encoded(output: DescMessage, message: object): Buffer {
  const bytes = toBinary(output, create(output, message as MessageShape<DescMessage>));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Writes every response under the byte bound of bounded-writes.ts, counting
// the bytes for the access line.
async function stream(
  call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>,
  started: Call,
  output: DescMessage,
  responses: () => AsyncIterable<object>,
): Promise<void> {
  await writeBounded(call, responses, (response) => {
    const bytes = encoded(output, response);
    started.bytesOut += bytes.length;
    return bytes;
  });
  started.code = call.cancelled ? "canceled" : "ok";
}

// Bytes in, bytes out: decoding and encoding happen in the handlers above.
function methodDefinition(method: DescMethod): grpc.MethodDefinition<Buffer, Buffer> {
  const same = (bytes: Buffer) => bytes;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: same,
    requestDeserialize: same,
    responseSerialize: same,
    responseDeserialize: same,
  };
}
