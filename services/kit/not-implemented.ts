// A service whose RPCs arrive in a later milestone: every method answers UNIMPLEMENTED with
// the milestone's name, so a client learns what is missing instead of hanging or guessing.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";

export function notYetImplemented<S extends DescService>(service: S, milestone: string): ServiceImpl<S> {
  const impl: Record<string, () => never> = {};
  for (const method of service.methods) {
    impl[method.localName] = () => {
      throw new ConnectError(`${service.name}.${method.name} arrives with ${milestone}`, Code.Unimplemented);
    };
  }
  return impl as unknown as ServiceImpl<S>;
}
