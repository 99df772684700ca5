// What the fuzzer signs in with and aims at: an access token for each dev account and a service
// token (so generated calls get past authentication into the handlers), renewed as a long run
// goes on, and ids of real catalog records (so generated ids sometimes hit rows).
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService, ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { createMeshClient } from "../../services/kit/clients.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import type { Role } from "./headers.ts";
import type { KnownValues } from "./message-json.ts";

const userRoles = ["customer", "seller", "admin"] as const;

export interface Credentials {
  /** An access token per role, replaced in place by renew(): cases read them when sent. */
  tokens: Record<Role, string>;
  renew(): Promise<void>;
  close(): void;
}

/** Signs the dev accounts in through the edge and trades the service secret with auth. */
export async function signIn(edgeUrl: string, authAddress: string, serviceSecret: string): Promise<Credentials> {
  const auth = createClient(AuthService, createConnectTransport({ baseUrl: edgeUrl, httpVersion: "1.1" }));
  const identity = createMeshClient(ServiceIdentityService, authAddress);
  const serviceToken = async () =>
    (await identity.client.issueServiceToken({ serviceName: "edge", secret: serviceSecret })).accessToken;
  const tokens = { service: await serviceToken() } as Record<Role, string>;
  const refreshTokens = {} as Record<(typeof userRoles)[number], string>;
  for (const role of userRoles) {
    const { tokens: issued } = await auth.login({
      email: devAccounts[role].email,
      password: devAccounts[role].password,
    });
    tokens[role] = issued!.accessToken;
    refreshTokens[role] = issued!.refreshToken;
  }
  return {
    tokens,
    async renew() {
      // Refreshed rather than signed in again: fuzzed logins may have throttled sign-ins.
      for (const role of userRoles) {
        const { tokens: renewed } = await auth.refreshToken({ refreshToken: refreshTokens[role] });
        tokens[role] = renewed!.accessToken;
        refreshTokens[role] = renewed!.refreshToken;
      }
      tokens.service = await serviceToken();
    },
    close: () => identity.close(),
  };
}

/** Ids of demo catalog records: products, their shops and categories. */
export async function catalogIds(edgeUrl: string): Promise<KnownValues> {
  const products = createClient(ProductService, createConnectTransport({ baseUrl: edgeUrl, httpVersion: "1.1" }));
  const page = await products.listProducts({ pageSize: 6 });
  const ids = page.products.flatMap((product) => [product.id, product.shopId, product.categoryId]);
  return { ids: [...new Set(ids)].sort() };
}
