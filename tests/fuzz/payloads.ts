// The request body of one method in either encoding: JSON that is valid, valid with hostile
// changes, or any JSON at all; protobuf bytes that are valid or damaged — or, for well-formed
// calls, only the valid ones. Built once per method.
import fc from "fast-check";
import type { DescMessage } from "@bufbuild/protobuf";
import { docOf, jsonBody, jsonBodyBytes, mutatedDoc, type JsonBody } from "./json-doc.ts";
import { binaryBody, binaryBodyBytes, type BinaryBody } from "./message-binary.ts";
import { messageJson, type KnownValues } from "./message-json.ts";

export type Payload = { encoding: "json"; json: JsonBody } | { encoding: "proto"; proto: BinaryBody };

export class Payloads {
  readonly #known: KnownValues;
  readonly #json = new Map<DescMessage, fc.Arbitrary<JsonBody>>();
  readonly #proto = new Map<DescMessage, fc.Arbitrary<BinaryBody>>();
  readonly #wellFormed = new Map<DescMessage, fc.Arbitrary<Payload>>();

  constructor(known: KnownValues) {
    this.#known = known;
  }

  json(message: DescMessage): fc.Arbitrary<JsonBody> {
    let arbitrary = this.#json.get(message);
    if (!arbitrary) {
      const valid = messageJson(message, this.#known).map(docOf);
      arbitrary = jsonBody(
        fc.oneof(
          { weight: 5, arbitrary: valid },
          { weight: 4, arbitrary: mutatedDoc(valid) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => docOf(value as never)) },
        ),
      );
      this.#json.set(message, arbitrary);
    }
    return arbitrary;
  }

  proto(message: DescMessage): fc.Arbitrary<BinaryBody> {
    let arbitrary = this.#proto.get(message);
    if (!arbitrary) {
      arbitrary = binaryBody(messageJson(message, this.#known));
      this.#proto.set(message, arbitrary);
    }
    return arbitrary;
  }

  /** The message's generated JSON as it is, in either encoding: no damage, no hostile changes. */
  wellFormed(message: DescMessage): fc.Arbitrary<Payload> {
    let arbitrary = this.#wellFormed.get(message);
    if (!arbitrary) {
      arbitrary = fc.oneof(
        this.wellFormedJson(message).map((json): Payload => ({ encoding: "json", json })),
        this.wellFormedProto(message).map((proto): Payload => ({ encoding: "proto", proto })),
      );
      this.#wellFormed.set(message, arbitrary);
    }
    return arbitrary;
  }

  wellFormedJson(message: DescMessage): fc.Arbitrary<JsonBody> {
    return messageJson(message, this.#known, "most").map((value) => ({ doc: docOf(value), damage: { kind: "none" } }));
  }

  wellFormedProto(message: DescMessage): fc.Arbitrary<BinaryBody> {
    return messageJson(message, this.#known, "most").map((json) => ({ json, damage: { kind: "none" } }));
  }

  /** Either encoding, as a client speaking `encoding` (or either) would send it. */
  of(message: DescMessage, encoding?: Payload["encoding"]): fc.Arbitrary<Payload> {
    const json = this.json(message).map((body): Payload => ({ encoding: "json", json: body }));
    const proto = this.proto(message).map((body): Payload => ({ encoding: "proto", proto: body }));
    if (encoding === "json") return json;
    if (encoding === "proto") return proto;
    return fc.oneof(json, proto);
  }
}

export function payloadBytes(message: DescMessage, payload: Payload): Buffer {
  return payload.encoding === "json" ? jsonBodyBytes(payload.json) : binaryBodyBytes(message, payload.proto);
}
