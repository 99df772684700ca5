// Edge rate limits high enough never to refuse a test's or a load run's calls, all from
// 127.0.0.1: the limits have tests of their own (edge-protection, the fuzzer's default-limits
// phase). Free of vitest, so the chaos and fuzz CLIs can use it too.
export const unthrottled = {
  BAZAAR_EDGE_RATE_PER_ADDRESS: "1000000",
  BAZAAR_EDGE_BURST_PER_ADDRESS: "1000000",
  BAZAAR_EDGE_RATE_PER_USER: "1000000",
  BAZAAR_EDGE_BURST_PER_USER: "1000000",
};
