/** A minimal reader of the Prometheus text exposition format, enough for assertions in tests. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly samples: readonly Sample[];
  /** Metric family name -> TYPE (counter, gauge, histogram, summary, untyped). */
  readonly families: ReadonlyMap<string, string>;
  /** The one sample of `name` whose labels include `labels`; throws when there is none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
  /** Every sample name a query could use: family names plus _bucket/_sum/_count of histograms. */
  names(): Set<string>;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Scrape {
  const samples: Sample[] = [];
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name && type) families.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return {
    samples,
    families,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)} (want exactly 1)`);
      return found[0]!.value;
    },
    names() {
      const names = new Set(samples.map((s) => s.name));
      for (const name of families.keys()) names.add(name);
      return names;
    },
  };
}
