// What a PromQL expression asks of the series it reads, checked against what processes export.
// The expression is parsed with the Prometheus UI's own grammar (@prometheus-io/lezer-promql);
// a dashboard or an alert that names a series nobody exports, or a label that series lacks,
// draws an empty panel or never fires, and nothing else would say so.
import { parser } from "@prometheus-io/lezer-promql";

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

/** Series names and, for each, the labels its samples carry (from a /metrics scrape). */
export type ExportedSeries = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * Labels Prometheus adds to every scraped sample from the target (the ServiceMonitor's
 * defaults and its job relabelling), so no process exports them itself.
 */
export const targetLabels: ReadonlySet<string> = new Set([
  "job",
  "instance",
  "namespace",
  "pod",
  "service",
  "container",
  "endpoint",
]);

/** Series Prometheus makes itself for every target. */
const scrapeSeries = new Set(["up", "scrape_duration_seconds", "scrape_samples_scraped"]);

/** Grafana's interval variables: they stand where PromQL takes a duration. */
const grafanaDurations = /\$(?:__rate_interval|__interval|__range|\{__rate_interval\}|\{__interval\}|\{__range\})/g;

interface Selector {
  name: string | undefined;
  labels: string[];
}

/** Samples (name and labels) into the series each name has and the labels seen on it. */
export function exportedSeries(samples: Iterable<{ name: string; labels: Record<string, string> }>): ExportedSeries {
  const series = new Map<string, Set<string>>();
  for (const sample of samples) {
    let labels = series.get(sample.name);
    if (!labels) series.set(sample.name, (labels = new Set()));
    for (const label of Object.keys(sample.labels)) labels.add(label);
  }
  return series;
}

/**
 * What is wrong with `expression` against `exported`: syntax errors, series no process exports,
 * labels matched or grouped by that the series do not carry. Empty when it reads only what exists.
 */
export function unknownReferences(expression: string, exported: ExportedSeries): string[] {
  const text = expression.replace(grafanaDurations, "5m");
  const tree = parser.parse(text);
  const problems: string[] = [];
  const at = (node: SyntaxNode) => `${JSON.stringify(text.slice(node.from, node.to))} at ${node.from}`;
  tree.iterate({
    enter(ref) {
      if (ref.type.isError)
        problems.push(`syntax error at ${ref.from}: ${JSON.stringify(text.slice(ref.from, ref.from + 20))}`);
    },
  });
  if (problems.length > 0) return problems;

  const labelsOf = (name: string | undefined): ReadonlySet<string> | undefined =>
    name === undefined ? undefined : scrapeSeries.has(name) ? new Set() : exported.get(name);

  tree.iterate({
    enter(ref) {
      const node = ref.node;
      if (node.name === "VectorSelector") {
        const selector = selectorOf(node, text);
        const labels = labelsOf(selector.name);
        if (selector.name === undefined) problems.push(`${at(node)} selects no series by name`);
        else if (labels === undefined) problems.push(`series ${selector.name} is exported by no process`);
        else {
          for (const label of selector.labels.filter((l) => !labels.has(l) && !targetLabels.has(l)))
            problems.push(`series ${selector.name} has no label ${label}`);
        }
        return false;
      }
      if (node.name === "AggregateExpr" || node.name === "BinaryExpr") {
        // by/without of an aggregation, on/ignoring/group_left of a binary operation: labels of
        // the series inside it.
        const modifier = node.getChild(node.name === "AggregateExpr" ? "AggregateModifier" : "MatchingModifierClause");
        if (!modifier) return undefined;
        const inside = selectorsUnder(node, text).flatMap((s) => [...(labelsOf(s.name) ?? [])]);
        for (const grouping of modifier.getChildren("GroupingLabels")) {
          for (const label of grouping.getChildren("LabelName").map((n) => text.slice(n.from, n.to))) {
            if (!inside.includes(label) && !targetLabels.has(label))
              problems.push(`${at(modifier)}: no series it groups has the label ${label}`);
          }
        }
      }
      return undefined;
    },
  });
  return problems;
}

/**
 * A Grafana variable's query: `label_values(<selector>, <label>)` or `query_result(<expr>)`
 * checked like a panel's; a bare `label_values(<label>)` against every series.
 */
export function unknownVariableReferences(query: string, exported: ExportedSeries): string[] {
  const labelValues = /^\s*label_values\(\s*(?:(.*),)?\s*([A-Za-z_]\w*)\s*\)\s*$/s.exec(query);
  if (labelValues) {
    const [, selector, label] = labelValues;
    if (selector === undefined) {
      const anywhere = [...exported.values()].some((labels) => labels.has(label!)) || targetLabels.has(label!);
      return anywhere ? [] : [`no series has the label ${label}`];
    }
    return unknownReferences(`count by (${label}) (${selector})`, exported);
  }
  const queryResult = /^\s*query_result\((.*)\)\s*$/s.exec(query);
  if (queryResult) return unknownReferences(queryResult[1]!, exported);
  return [`not a variable query this check reads: ${query}`];
}

function selectorOf(node: SyntaxNode, text: string): Selector {
  const identifier = node.getChild("Identifier");
  let name = identifier ? text.slice(identifier.from, identifier.to) : undefined;
  const labels: string[] = [];
  const matchers = node.getChild("LabelMatchers");
  for (const matcher of matchers ? [...childrenOf(matchers)] : []) {
    const labelNode = matcher.getChild("LabelName") ?? matcher.getChild("QuotedLabelName");
    if (!labelNode) continue;
    const label = text.slice(labelNode.from, labelNode.to).replace(/^"|"$/g, "");
    if (label === "__name__") {
      const value = matcher.getChild("StringLiteral");
      if (value && matcher.getChild("MatchOp")?.getChild("EqlSingle"))
        name = JSON.parse(text.slice(value.from, value.to));
    } else {
      labels.push(label);
    }
  }
  return { name, labels };
}

function selectorsUnder(node: SyntaxNode, text: string): Selector[] {
  const found: Selector[] = [];
  const cursor = node.cursor();
  const end = node.to;
  do {
    if (cursor.from >= end) break;
    if (cursor.name === "VectorSelector") found.push(selectorOf(cursor.node, text));
  } while (cursor.next());
  return found;
}

function* childrenOf(node: SyntaxNode): Generator<SyntaxNode> {
  for (let child = node.firstChild; child; child = child.nextSibling) yield child;
}

/** Every PromQL expression of a Grafana dashboard: panels' targets, rows' panels, variables. */
export function dashboardQueries(dashboard: unknown): {
  panels: Array<{ where: string; expr: string }>;
  variables: Array<{ where: string; query: string }>;
} {
  const board = dashboard as {
    panels?: DashboardPanel[];
    templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> };
  };
  const panels: Array<{ where: string; expr: string }> = [];
  const visit = (panel: DashboardPanel) => {
    for (const target of panel.targets ?? [])
      if (target.expr !== undefined)
        panels.push({ where: `panel "${panel.title}" ${target.refId ?? ""}`, expr: target.expr });
    for (const inner of panel.panels ?? []) visit(inner);
  };
  for (const panel of board.panels ?? []) visit(panel);
  const variables = (board.templating?.list ?? [])
    .filter((variable) => variable.type === "query")
    .map((variable) => ({
      where: `variable ${variable.name}`,
      query: typeof variable.query === "string" ? variable.query : (variable.query?.query ?? ""),
    }));
  return { panels, variables };
}

interface DashboardPanel {
  title?: string;
  targets?: Array<{ refId?: string; expr?: string }>;
  panels?: DashboardPanel[];
}
