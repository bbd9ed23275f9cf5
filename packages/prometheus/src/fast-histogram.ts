/**
 * A histogram with one label whose values are known up front, for the hot
 * path. prom-client's `Histogram.observe` validates and hashes the labels on
 * every call (about 1 µs, as much as a quarter of a whole `sendMessage` to
 * a user with two sockets); here an observation is a bucket search and three
 * additions in a typed array (about 0.05 µs).
 *
 * It is registered on a prom-client registry as a metric of its own: a
 * registry needs `name`, `help`, `type`, `get()` and `reset()`, and `get()`
 * returns what prom-client's `Histogram` returns, so the text format, the JSON
 * and cluster aggregation read it as theirs.
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Map<string, Float64Array>;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    labelValues: readonly string[],
    private readonly upperBounds: readonly number[],
  ) {
    if (upperBounds.length === 0 || upperBounds.some((b, i) => !(b > (upperBounds[i - 1] ?? Number.NEGATIVE_INFINITY)))) {
      throw new TypeError(`wshub: buckets of ${name} must be increasing numbers, got ${JSON.stringify(upperBounds)}`);
    }
    this.counts = new Map(labelValues.map((value) => [value, this.empty()]));
  }

  /** The observe function of one label value: `observe(seconds)`. */
  series(labelValue: string): (value: number) => void {
    const counts = this.counts.get(labelValue);
    if (!counts) throw new TypeError(`wshub: ${this.name} has no ${this.labelName} "${labelValue}"`);
    const bounds = this.upperBounds;
    const last = bounds.length;
    return (value) => {
      // Linear: the first buckets are where nearly every observation lands.
      let i = 0;
      while (i < last && value > bounds[i]!) i++;
      counts[i]!++;
      counts[last + 1]! += value; // sum
    };
  }

  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const [labelValue, counts] of this.counts) {
      const labels = { [this.labelName]: labelValue };
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      cumulative += counts[this.upperBounds.length]!;
      values.push({ labels: { le: '+Inf', ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      values.push({ labels, value: counts[this.upperBounds.length + 1]!, metricName: `${this.name}_sum` });
      values.push({ labels, value: cumulative, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const counts of this.counts.values()) counts.fill(0);
  }

  /** One count per bucket, one for +Inf, then the sum. */
  private empty(): Float64Array {
    return new Float64Array(this.upperBounds.length + 2);
  }
}
