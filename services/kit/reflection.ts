// grpc.reflection.v1.ServerReflection, answered from the descriptors protobuf-es embeds in
// gen/, so `grpcurl` and `buf curl` can call any service without a copy of the protos.
import { createRegistry, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponseSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { bind, type ServiceBinding } from "./serve.ts";

type Response = MessageInitShape<typeof ServerReflectionResponseSchema>;

export function createReflection(services: DescService[]): ServiceBinding {
  const files = new Map<string, DescFile>();
  const collect = (file: DescFile) => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    for (const dependency of file.dependencies) collect(dependency);
  };
  for (const service of [...services, ServerReflection]) collect(service.file);
  const registry = createRegistry(...files.values());
  const serviceNames = [...services, ServerReflection].map((service) => service.typeName);

  /** The file and everything it imports, as serialized FileDescriptorProtos. */
  const withDependencies = (file: DescFile): Uint8Array[] => {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out;
  };

  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const direct = registry.get(symbol);
    if (direct && "file" in direct) return direct.file;
    // A method is asked for as "pkg.Service.Method": look up its service.
    const parent = registry.getService(symbol.slice(0, symbol.lastIndexOf(".")));
    return parent?.file;
  };

  const answer = (request: ServerReflectionRequest): Response => {
    const base = { validHost: request.host, originalRequest: request };
    const notFound = (what: string): Response => ({
      ...base,
      messageResponse: { case: "errorResponse", value: { errorCode: 5, errorMessage: `${what} not found` } },
    });
    const fileResponse = (file: DescFile | undefined, what: string): Response =>
      file
        ? {
            ...base,
            messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } },
          }
        : notFound(what);
    const message = request.messageRequest;
    switch (message.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: { case: "listServicesResponse", value: { service: serviceNames.map((name) => ({ name })) } },
        };
      case "fileByFilename":
        return fileResponse(files.get(message.value), message.value);
      case "fileContainingSymbol":
        return fileResponse(fileOfSymbol(message.value), message.value);
      case "fileContainingExtension": {
        const target = registry.getMessage(message.value.containingType);
        return fileResponse(
          target && registry.getExtensionFor(target, message.value.extensionNumber)?.file,
          "extension",
        );
      }
      case "allExtensionNumbersOfType":
        return notFound(`extensions of ${message.value}`);
      default:
        return {
          ...base,
          messageResponse: { case: "errorResponse", value: { errorCode: 3, errorMessage: "empty request" } },
        };
    }
  };

  const impl: ServiceImpl<typeof ServerReflection> = {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield answer(request);
    },
  };
  return bind(ServerReflection, impl);
}
