// Request bodies as they travel: a gRPC length-prefixed frame, and Connect JSON calls to the
// edge for setting up the bench's users and products.
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";

/** A gRPC message frame: uncompressed flag, 4-byte big-endian length, the protobuf bytes. */
export function grpcFrame<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Buffer {
  const message = toBinary(schema, create(schema, init));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** A Connect unary call through the edge with a JSON body; throws with the edge's answer on failure. */
export async function callEdge(edgeUrl: string, rpcPath: string, body: unknown, accessToken?: string): Promise<any> {
  const response = await fetch(`${edgeUrl}/${rpcPath}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(accessToken && { authorization: `Bearer ${accessToken}` }) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${rpcPath} answered ${response.status}: ${await response.text()}`);
  return response.json();
}
