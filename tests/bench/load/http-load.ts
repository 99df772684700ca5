// One fixed HTTP request sent over and over by an external load generator (h2load or wrk).
export interface HttpLoad {
  url: string;
  method?: "GET" | "POST";
  body?: Uint8Array;
  headers?: Record<string, string>;
  /** Requests in flight at once. */
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  /** Where the generator's body and log files go. */
  workDir: string;
  onStart?: (pid: number) => void;
}
