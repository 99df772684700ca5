// protoc-gen-openapi: writes openapi/bazaar.openapi.json, the OpenAPI 3.1 document of the REST
// routes the edge transcodes from the services' google.api.http annotations. buf runs it with
// `strategy: all` (buf.gen.yaml): one request holds every file, as one document covers them all.
import { create, createFileRegistry } from "@bufbuild/protobuf";
import {
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
  type CodeGeneratorRequest,
} from "@bufbuild/protobuf/wkt";
import { runNodeJs, type Plugin } from "@bufbuild/protoplugin";
import { openApiDocument } from "./document.ts";
import { httpRoutes } from "../http-routes.ts";

const plugin: Plugin = {
  name: "protoc-gen-openapi",
  version: "v1",
  run(request: CodeGeneratorRequest) {
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: request.protoFile }));
    // From the request's own descriptors, not imported from gen/: gen/ is what this run rewrites.
    const httpOption = registry.getExtension("google.api.http");
    const services = request.fileToGenerate.flatMap((name) => registry.getFile(name)?.services ?? []);
    const document = openApiDocument(httpOption ? httpRoutes(services, httpOption) : []);
    return create(CodeGeneratorResponseSchema, {
      supportedFeatures: BigInt(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
      file: [{ name: "openapi/bazaar.openapi.json", content: `${JSON.stringify(document, null, 2)}\n` }],
    });
  },
};

runNodeJs(plugin);
