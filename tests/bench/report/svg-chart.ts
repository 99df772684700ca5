// Throughput against concurrency for every swept scenario, as a standalone SVG drawn by hand:
// both axes logarithmic (concurrency doubles, throughput spans hundreds to tens of thousands),
// baselines dashed so the mesh's paths read against the ceilings they run under.
import type { BenchReport } from "./bench-report.ts";
import type { RatedMeasurement } from "./derived-figures.ts";

const width = 1160;
const height = 600;
const plot = { left: 80, right: 620, top: 50, bottom: 530 };
const legendX = 645;
// Tableau 10 and six darker ones: a full sweep has about sixteen lines.
const palette = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#1f3b73",
  "#17becf",
  "#bcbd22",
  "#d62728",
  "#000000",
  "#7f7f7f",
];

interface Series {
  label: string;
  baseline: boolean;
  points: Array<{ concurrency: number; requestsPerSecond: number }>;
}

export function renderSweepChart(report: BenchReport): string {
  const series = sweptSeries(report.measurements);
  const levels = report.settings.levels;
  const values = series.flatMap((s) => s.points.map((p) => p.requestsPerSecond)).filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...values, 10)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values, 100)));
  const [cMin, cMax] = [Math.min(...levels), Math.max(...levels)];
  const x = (c: number) =>
    cMin === cMax
      ? (plot.left + plot.right) / 2
      : plot.left + ((Math.log2(c) - Math.log2(cMin)) / (Math.log2(cMax) - Math.log2(cMin))) * (plot.right - plot.left);
  const y = (v: number) =>
    plot.bottom -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (plot.bottom - plot.top);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${plot.left}" y="28" font-size="16" font-weight="bold">${escapeXml(`Bazaar bench: throughput vs concurrency (${report.startedAt.slice(0, 16).replace("T", " ")} UTC)`)}</text>`,
  ];
  for (let decade = yMin; decade <= yMax; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = decade * step;
      if (value > yMax) break;
      const major = step === 1;
      parts.push(
        `<line x1="${plot.left}" x2="${plot.right}" y1="${y(value)}" y2="${y(value)}" stroke="${major ? "#ccc" : "#eee"}"/>`,
      );
      parts.push(
        `<text x="${plot.left - 8}" y="${y(value) + 4}" text-anchor="end" fill="#555">${value.toLocaleString("en")}</text>`,
      );
    }
  }
  for (const c of levels) {
    parts.push(`<line x1="${x(c)}" x2="${x(c)}" y1="${plot.top}" y2="${plot.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${x(c)}" y="${plot.bottom + 18}" text-anchor="middle" fill="#555">${c}</text>`);
  }
  parts.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}" fill="none" stroke="#888"/>`,
  );
  parts.push(
    `<text x="${(plot.left + plot.right) / 2}" y="${height - 30}" text-anchor="middle">requests in flight (log scale)</text>`,
  );
  parts.push(
    `<text transform="translate(22 ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle">requests per second (log scale)</text>`,
  );

  series.forEach((s, index) => {
    const color = palette[index % palette.length]!;
    const dash = s.baseline ? ` stroke-dasharray="6 4"` : "";
    const path = s.points.map((p) => `${x(p.concurrency).toFixed(1)},${y(p.requestsPerSecond).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const p of s.points)
      parts.push(
        `<circle cx="${x(p.concurrency).toFixed(1)}" cy="${y(p.requestsPerSecond).toFixed(1)}" r="3" fill="${color}"/>`,
      );
    const legendY = plot.top + 8 + index * 20;
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 24}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${legendX + 30}" y="${legendY + 4}">${escapeXml(s.label)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function sweptSeries(measurements: RatedMeasurement[]): Series[] {
  const byScenario = new Map<string, RatedMeasurement[]>();
  for (const m of measurements) {
    if (!m.sweep) continue;
    byScenario.set(m.scenarioId, [...(byScenario.get(m.scenarioId) ?? []), m]);
  }
  return [...byScenario.values()].map((runs) => ({
    label: shorten(`${runs[0]!.title} (${runs[0]!.protocol}, ${runs[0]!.generator})`, 74),
    baseline: runs[0]!.kind === "baseline",
    points: runs
      .map((m) => ({ concurrency: m.concurrency, requestsPerSecond: m.figures.requestsPerSecond }))
      .sort((a, b) => a.concurrency - b.concurrency),
  }));
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
