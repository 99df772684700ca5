// LOCAL-DEV DEFAULTS ONLY. The demo accounts the launcher seeds when BAZAAR_DEMO_SEED=1.
// Fixed ids let the auth seed (users) and the product seed (the seller's shops) agree without
// one service reading the other's tables. Production never sets BAZAAR_DEMO_SEED.
export const devAccounts = {
  admin: {
    id: "0193a000-0000-7000-8000-000000000001",
    email: "admin@bazaar.test",
    password: "admin-dev-password",
    displayName: "Dev Admin",
  },
  seller: {
    id: "0193a000-0000-7000-8000-000000000002",
    email: "seller@bazaar.test",
    password: "seller-dev-password",
    displayName: "Dev Seller",
  },
  customer: {
    id: "0193a000-0000-7000-8000-000000000003",
    email: "customer@bazaar.test",
    password: "customer-dev-password",
    displayName: "Dev Customer",
  },
} as const;
