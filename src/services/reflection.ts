import {
  create,
  createFileRegistry,
  toBinary,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

// The answer to one request, written once for both versions of the protocol:
// their messages are wire-identical, so each version builds its own response
// from this.
type Answer =
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "errorResponse"; value: { errorCode: Code; errorMessage: string } };

// gRPC server reflection (v1 and v1alpha) over the given services, so that
// tools such as buf curl and grpcurl need no copy of the schema.
export function reflectionServices(served: DescService[]): {
  v1: ServiceImpl<typeof v1.ServerReflection>;
  v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
} {
  const reflection = new Reflection(served);
  return {
    v1: { serverReflectionInfo: (requests) => reflection.stream(requests, (init) => create(v1.ServerReflectionResponseSchema, init)) },
    v1alpha: {
      serverReflectionInfo: (requests) => reflection.stream(requests, (init) => create(v1alpha.ServerReflectionResponseSchema, init)),
    },
  };
}

class Reflection {
  private readonly serviceNames: string[];
  private readonly registry: FileRegistry;
  // Symbols declared inside types, which the registry does not look up.
  private readonly members = new Map<string, DescFile>();

  constructor(served: DescService[]) {
    this.serviceNames = served.map((service) => service.typeName);
    const files = new Set(served.map((service) => service.file));
    this.registry = createFileRegistry(
      ...[...files].map((file) => createFileRegistry(file.proto, (name) => file.dependencies.find((dep) => dep.proto.name === name))),
    );
    for (const desc of this.registry) {
      for (const name of memberNames(desc)) this.members.set(name, desc.file);
    }
  }

  async *stream<Request extends ReflectionRequest, Response>(
    requests: AsyncIterable<Request>,
    respond: (init: { validHost: string; originalRequest: Request; messageResponse: Answer }) => Response,
  ): AsyncIterable<Response> {
    // Files already sent on this stream; the protocol lets a server skip them.
    const sent = new Set<string>();
    for await (const request of requests) {
      yield respond({ validHost: request.host, originalRequest: request, messageResponse: this.answer(request, sent) });
    }
  }

  private answer(request: ReflectionRequest, sent: Set<string>): Answer {
    const { case: kind, value } = request.messageRequest;
    switch (kind) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.serviceNames.map((name) => ({ name })) } };
      case "fileByFilename":
        return this.fileAnswer(this.registry.getFile(value), sent, `no file named ${value}`);
      case "fileContainingSymbol":
        return this.fileAnswer(this.registry.get(value)?.file ?? this.members.get(value), sent, `no symbol named ${value}`);
      case "fileContainingExtension":
      case "allExtensionNumbersOfType":
        return errorAnswer(Code.Unimplemented, "this server does not answer questions about extensions");
      case undefined:
        return errorAnswer(Code.InvalidArgument, "the request sets none of its message_request fields");
    }
  }

  // The file and its transitive imports, leaving out imports already sent on
  // this stream. The requested file itself is sent again even then, as
  // grpc-go does: a client that asks for it gets it, and every answer has it
  // first.
  private fileAnswer(file: DescFile | undefined, sent: Set<string>, notFound: string): Answer {
    if (file === undefined) return errorAnswer(Code.NotFound, notFound);
    const descriptors: Uint8Array[] = [];
    const add = (f: DescFile) => {
      sent.add(f.proto.name);
      descriptors.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) if (!sent.has(dep.proto.name)) add(dep);
    };
    add(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: descriptors } };
  }
}

function errorAnswer(errorCode: Code, errorMessage: string): Answer {
  return { case: "errorResponse", value: { errorCode, errorMessage } };
}

// The full names of the symbols declared inside a type: a service's methods, a
// message's fields and oneofs, an enum's values. Protobuf names enum values in
// the scope that holds their enum: rollcall.v1.PARTICIPANT_STATUS_CONNECTED.
function memberNames(desc: DescMessage | DescEnum | DescExtension | DescService): string[] {
  switch (desc.kind) {
    case "service":
      return desc.methods.map((method) => `${desc.typeName}.${method.name}`);
    case "message":
      return [...desc.fields, ...desc.oneofs].map((member) => `${desc.typeName}.${member.name}`);
    case "enum": {
      const scope = desc.typeName.slice(0, desc.typeName.lastIndexOf(".") + 1);
      return desc.values.map((value) => scope + value.name);
    }
    case "extension":
      return [];
  }
}
