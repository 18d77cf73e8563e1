// Counter and histogram families for the hot path. prom-client's bound children still build a label object
// and a hash string on every inc/observe; these children are plain numbers bound once, and the text
// exposition is built only when Prometheus scrapes.

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

abstract class Family<Child> {
  private readonly children = new Map<string, { labels: string; child: Child }>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'histogram',
    private readonly labelNames: readonly string[],
  ) {}

  /** The child for these label values, created on first use; callers keep it and reuse it. */
  child(...values: string[]): Child {
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (entry === undefined) {
      const labels = this.labelNames.map((name, i) => `${name}="${escapeLabel(values[i] ?? '')}"`).join(',');
      entry = { labels, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** The family in Prometheus text format (version 0.0.4). */
  render(): string {
    let text = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    for (const { labels, child } of this.children.values()) text += this.renderChild(labels, child);
    return text;
  }

  protected abstract create(): Child;
  protected abstract renderChild(labels: string, child: Child): string;
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class CounterFamily extends Family<CounterChild> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'counter', labelNames);
  }
  protected create(): CounterChild {
    return new CounterChild();
  }
  protected renderChild(labels: string, child: CounterChild): string {
    return `${this.name}${labels ? `{${labels}}` : ''} ${child.value}\n`;
  }
}

export class HistogramChild {
  count = 0;
  sum = 0;
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.count++;
    this.sum += value;
  }
}

export class HistogramFamily extends Family<HistogramChild> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    labelNames: readonly string[] = [],
  ) {
    super(name, help, 'histogram', labelNames);
  }
  protected create(): HistogramChild {
    return new HistogramChild(this.bounds);
  }
  protected renderChild(labels: string, child: HistogramChild): string {
    const rest = labels ? `,${labels}` : '';
    let text = '';
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += child.counts[i];
      text += `${this.name}_bucket{le="${bound}"${rest}} ${cumulative}\n`;
    });
    text += `${this.name}_bucket{le="+Inf"${rest}} ${child.count}\n`;
    const plain = labels ? `{${labels}}` : '';
    return `${text}${this.name}_sum${plain} ${child.sum}\n${this.name}_count${plain} ${child.count}\n`;
  }
}
