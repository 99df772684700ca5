// The check the operator pack's test relies on: it must fail on what an empty panel or a silent
// alert would hide.
import { describe, expect, it } from "vitest";
import { exportedSeries, unknownReferences, unknownVariableReferences } from "./promql-references.ts";

const exported = exportedSeries([
  { name: "grpc_server_handled_total", labels: { grpc_service: "s", grpc_method: "m", grpc_code: "OK" } },
  { name: "grpc_server_handling_seconds_bucket", labels: { grpc_service: "s", grpc_method: "m", le: "0.1" } },
  { name: "bazaar_health_serving", labels: { grpc_service: "" } },
]);

describe("checking PromQL against the series processes export", () => {
  it("when an expression reads only exported series, labels and target labels, then nothing is reported", () => {
    expect(
      unknownReferences(
        'histogram_quantile(0.99, sum by (job, grpc_method, le) (rate(grpc_server_handling_seconds_bucket{namespace="bazaar", job=~"$job"}[$__rate_interval]))) > 1 and on (job) up == 1',
        exported,
      ),
    ).toEqual([]);
    expect(
      unknownReferences('sum without (grpc_code) ({__name__="grpc_server_handled_total", grpc_code!="OK"})', exported),
    ).toEqual([]);
  });

  it("when a panel names a series nobody exports, then it is reported", () => {
    expect(unknownReferences("sum(rate(bazaar_rpc_server_handled_total[5m]))", exported)).toEqual([
      "series bazaar_rpc_server_handled_total is exported by no process",
    ]);
  });

  it("when a matcher or a grouping names a label the series lacks, then it is reported", () => {
    expect(unknownReferences('grpc_server_handled_total{code="ok"}', exported)).toEqual([
      "series grpc_server_handled_total has no label code",
    ]);
    expect(unknownReferences("sum by (rpc_method) (grpc_server_handled_total)", exported)).toEqual([
      '"by (rpc_method)" at 4: no series it groups has the label rpc_method',
    ]);
    expect(unknownReferences('up{grpc_service="x"}', exported)).toEqual(["series up has no label grpc_service"]);
  });

  it("when an expression does not parse, then the syntax error is reported", () => {
    expect(unknownReferences("sum by (job (grpc_server_handled_total)", exported)).toEqual([
      expect.stringMatching(/^syntax error at \d+/),
    ]);
  });

  it("when a variable's query reads a missing series or label, then it is reported", () => {
    expect(unknownVariableReferences("label_values(grpc_server_handled_total, namespace)", exported)).toEqual([]);
    expect(unknownVariableReferences("label_values(grpc_server_handled_total, rpc_service)", exported)).toEqual([
      expect.stringContaining("label rpc_service"),
    ]);
    expect(unknownVariableReferences("label_values(bazaar_rpc_server_handled_total, job)", exported)).toEqual([
      "series bazaar_rpc_server_handled_total is exported by no process",
    ]);
  });
});
