import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { on } from "node:events";
import type http2 from "node:http2";
import type net from "node:net";
import type { BasicAuth } from "../basic-auth.js";
import { accountKey } from "../../services/account.js";
import { refusalError } from "../connect/authentication.js";
import { connectErrorOf } from "../connect/errors.js";
import { writeBounded, type WritableCall } from "./bounded-writes.js";
import { addressOfPeer, statusDetailsOf } from "./peer-and-status.js";
import type { ServiceBinding } from "../../services/services.js";
import { isGrpcContentType } from "../http/http2-first-request.js";
import { withSpecGrpcMessage } from "./grpc-message.js";

type Handler = (request: unknown, context: HandlerContext) => unknown;

export interface GrpcJsServerOptions {
  bindings: ServiceBinding[];
  // Type names of the services that take no credentials.
  publicServices: Set<string>;
  auth: BasicAuth;
  maxRequestBytes: number;
  // SETTINGS_MAX_CONCURRENT_STREAMS of its connections.
  maxConcurrentStreams: number;
  log: (message: string) => void;
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
// connections of the one port whose requests are gRPC. It runs
// the very handlers the connect-node router runs, built from the same
// generated descriptors, with the same authentication and error codes.
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
        (definition as Record<string, grpc.MethodDefinition<object, object>>)[method.localName] = methodDefinition(method);
        handlers[method.localName] = this.handle(method, handler, options.publicServices.has(service.typeName));
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

  private handle(method: DescMethod, handler: Handler, isPublic: boolean): grpc.UntypedHandleCall {
    const { auth, log } = this.options;
    const toStatus = (error: unknown): Partial<grpc.StatusObject> => {
      const connectError = connectErrorOf(error, log);
      return { code: connectError.code as number, details: connectError.rawMessage, metadata: statusDetailsOf(connectError) };
    };
    const contextOf = (call: GrpcCall): HandlerContext => {
      const values = createContextValues();
      if (!isPublic) {
        const authentication = auth.authenticate(call.metadata.get("authorization")[0]?.toString(), addressOfPeer(call.getPeer()));
        if ("refused" in authentication) throw refusalError(authentication);
        values.set(accountKey, authentication.accountSid);
      }
      return handlerContext(method, call, values);
    };
    const serialize = responseSerializer(method.output);
    const stream = (call: WritableCall, responses: () => AsyncIterable<object>) => writeBounded(call, responses, serialize);
    switch (method.methodKind) {
      case "unary":
        return (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
          Promise.resolve()
            .then(() => handler(decoded(call.request), contextOf(call)))
            .then(
              (response) => callback(null, response as object),
              (error: unknown) => callback(toStatus(error)),
            );
        };
      case "server_streaming":
        return (call: grpc.ServerWritableStream<object, object>) => {
          stream(call, () => handler(decoded(call.request), contextOf(call)) as AsyncIterable<object>).catch((error: unknown) =>
            call.emit("error", toStatus(error)),
          );
        };
      case "bidi_streaming":
        return (call: grpc.ServerDuplexStream<object, object>) => {
          stream(call, () => handler(requestsOf(call), contextOf(call)) as AsyncIterable<object>).catch((error: unknown) =>
            call.emit("error", toStatus(error)),
          );
        };
      case "client_streaming":
        throw new Error(`${method.parent.typeName}.${method.name}: client streaming is not served`);
    }
  }
}

type GrpcCall = { metadata: grpc.Metadata; cancelled: boolean; getPeer(): string; once(event: "cancelled", listener: () => void): unknown };

// The handler context connect-es handlers expect: the caller's account, and a
// signal that aborts when the call is cancelled or its deadline passes (grpc-js
// cancels the call then). Built lazily: unary handlers seldom look at the
// signal or the headers, and making them for every call cost a fifth of the
// throughput of a Get (bench/run.ts, CPU profile).
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
    timeoutMs: () => undefined,
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
async function* requestsOf(call: grpc.ServerDuplexStream<object, object>): AsyncIterable<object> {
  for await (const [request] of on(call, "data", { close: ["end"] })) yield decoded(request);
}

// A request that did not decode. grpc-js ends a call whose deserializer
// throws with INTERNAL, yet bytes that are no message of the method's input
// type are the caller's error: the deserializer returns this instead, and
// decoded() throws it as INVALID_ARGUMENT where the handler would receive the
// request (connect-node answers undecodable JSON the same way).
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

function decoded(request: unknown): object {
  if (request instanceof UndecodableRequest) throw new ConnectError(request.reason, Code.InvalidArgument);
  return request as object;
}

function decodeRequest(input: DescMessage, bytes: Buffer): object {
  try {
    return fromBinary(input, bytes);
  } catch (error) {
    return new UndecodableRequest(
      `cannot decode message ${input.typeName} from binary: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function methodDefinition(method: DescMethod): grpc.MethodDefinition<object, object> {
  const input = method.input;
  const output = method.output;
  const serialize = responseSerializer(output);
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (message) => Buffer.from(toBinary(input, message as MessageShape<DescMessage>)),
    requestDeserialize: (bytes) => decodeRequest(input, bytes),
    // Streamed responses come serialized (bounded-writes.ts).
    responseSerialize: (message) => (Buffer.isBuffer(message) ? message : serialize(message)),
    responseDeserialize: (bytes) => fromBinary(output, bytes),
  };
}

// Handlers may answer with an init object rather than a message.
function responseSerializer(output: DescMessage): (message: object) => Buffer {
  return (message) => Buffer.from(toBinary(output, create(output, message as MessageShape<DescMessage>)));
}
