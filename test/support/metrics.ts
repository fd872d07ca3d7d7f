import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from "parse-prometheus-text-format";

// /metrics as a Prometheus server reads it, parsed by a text-format parser.
export async function scrape(url: string): Promise<PrometheusFamily[]> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return parsePrometheusTextFormat(await response.text());
}

// The sample of a family whose labels include `labels`; undefined if none.
export function sampleOf(families: PrometheusFamily[], name: string, labels: Record<string, string> = {}): PrometheusSample | undefined {
  const family = families.find((f) => f.name === name);
  return family?.metrics.find((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value));
}

// A counter's or gauge's value (0 when the labels were never seen), or a histogram's count.
export function valueOf(families: PrometheusFamily[], name: string, labels: Record<string, string> = {}): number {
  const sample = sampleOf(families, name, labels);
  return Number(sample?.value ?? sample?.count ?? 0);
}
