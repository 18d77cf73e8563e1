// What the graph guarantees about an activation before it is quantized, read from the nodes that produce it.
// The per-row rewrite (per-row-quantization.ts) uses it to skip work a guarantee makes unnecessary:
// - a Gelu output is never below -0.17, so its rows need only their maximum (one reduction instead of two);
// - a LayerNorm output is bounded by its weights alone: every row normalised over d features has
//   |n_j| <= sqrt(d - 1), so |gamma_j * n_j + beta_j| <= max_j(|gamma_j| * sqrt(d - 1) + |beta_j|). That bound
//   is a constant scale that never clips and depends on no text at all.
// Only the exact forms PyTorch's ONNX export writes are recognised; anything else gets no guarantee and is
// quantized from its rows' own range, which is always correct.
import { TensorProto_DataType, type GraphProto, type NodeProto, type TensorProto } from 'onnx-buf';

/** Above |min Gelu(x)| = 0.16997 (at x = -0.7518): a Gelu row's largest magnitude is max(row max, this). */
export const GELU_LOWEST = 0.17;

export class GraphFacts {
  private readonly producers = new Map<string, NodeProto>();
  private readonly initializers: Map<string, TensorProto>;

  constructor(graph: GraphProto) {
    this.initializers = new Map(graph.initializer.map((t) => [t.name, t]));
    for (const node of graph.node) for (const name of node.output) this.producers.set(name, node);
  }

  /**
   * True if `tensor` is erf-Gelu(x) as exported: Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5) or
   * Mul(Mul(x, 0.5), Add(Erf(Div(x, sqrt 2)), 1)), operands of Mul and Add in either order.
   */
  isErfGelu(tensor: string): boolean {
    const outer = this.op(tensor, 'Mul');
    if (!outer) return false;
    for (const [a, b] of orders(outer.input)) {
      const inner = this.op(a, 'Mul');
      if (!inner) continue;
      for (const [x, c] of orders(inner.input)) {
        if (this.isScalar(b, 0.5) && this.isErfTerm(c, x)) return true; // Mul(Mul(x, erfTerm), 0.5)
        if (this.isScalar(c, 0.5) && this.isErfTerm(b, x)) return true; // Mul(Mul(x, 0.5), erfTerm)
      }
    }
    return false;
  }

  /**
   * max|y| over any input if `tensor` is a LayerNorm over its last axis of length d, as exported before opset
   * 17 (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta) or as one
   * LayerNormalization node (axis -1); undefined otherwise.
   */
  layerNormBound(tensor: string, d: bigint): number | undefined {
    const node = this.producers.get(tensor);
    if (node?.opType === 'LayerNormalization' && node.domain === '') {
      const axis = node.attribute.find((a) => a.name === 'axis')?.i ?? -1n;
      if (axis !== -1n || node.input.length < 2) return undefined;
      return bound(this.vector(node.input[1], d), node.input[2] ? this.vector(node.input[2], d) : new Float32Array(Number(d)), d);
    }
    const addBeta = this.op(tensor, 'Add');
    if (!addBeta) return undefined;
    for (const [scaled, beta] of orders(addBeta.input)) {
      const mul = this.op(scaled, 'Mul');
      const betaValues = this.vector(beta, d);
      if (!mul || !betaValues) continue;
      for (const [normalised, gamma] of orders(mul.input)) {
        const gammaValues = this.vector(gamma, d);
        if (gammaValues && this.isNormalised(normalised)) return bound(gammaValues, betaValues, d);
      }
    }
    return undefined;
  }

  /** Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(Sub(..), 2)), eps >= 0))), means over the last axis. */
  private isNormalised(tensor: string): boolean {
    const div = this.op(tensor, 'Div');
    const sub = div && this.op(div.input[0], 'Sub');
    const mean = sub && this.op(sub.input[1], 'ReduceMean');
    if (!div || !sub || !mean || mean.input[0] !== sub.input[0] || !this.meansLastAxis(mean)) return false;
    const sqrt = this.op(div.input[1], 'Sqrt');
    const addEps = sqrt && this.op(sqrt.input[0], 'Add');
    if (!addEps) return false;
    for (const [variance, eps] of orders(addEps.input)) {
      const meanSquare = this.op(variance, 'ReduceMean');
      const pow = meanSquare && this.op(meanSquare.input[0], 'Pow');
      const epsValue = this.scalar(eps);
      if (pow && pow.input[0] === sub.output[0] && this.isScalar(pow.input[1], 2) && this.meansLastAxis(meanSquare!)) {
        return epsValue !== undefined && epsValue >= 0;
      }
    }
    return false;
  }

  private meansLastAxis(mean: NodeProto): boolean {
    const keepdims = mean.attribute.find((a) => a.name === 'keepdims')?.i ?? 1n;
    const axesAttribute = mean.attribute.find((a) => a.name === 'axes')?.ints;
    const axes = axesAttribute ?? (mean.input[1] ? this.int64s(mean.input[1]) : undefined);
    return keepdims === 1n && axes !== undefined && axes.length === 1 && axes[0] === -1n;
  }

  /** Add(Erf(Div(x, sqrt 2)), 1), or Erf(Mul(x, 1/sqrt 2)), operands in either order. */
  private isErfTerm(tensor: string, x: string): boolean {
    const add = this.op(tensor, 'Add');
    if (!add) return false;
    for (const [e, one] of orders(add.input)) {
      const erf = this.op(e, 'Erf');
      if (!erf || !this.isScalar(one, 1)) continue;
      const div = this.op(erf.input[0], 'Div');
      if (div && div.input[0] === x && this.isScalar(div.input[1], Math.SQRT2)) return true;
      const mul = this.op(erf.input[0], 'Mul');
      if (mul && orders(mul.input).some(([m, c]) => m === x && this.isScalar(c, Math.SQRT1_2))) return true;
    }
    return false;
  }

  /** The ONNX-domain node of that type that writes `tensor`. */
  private op(tensor: string, opType: string): NodeProto | undefined {
    const node = this.producers.get(tensor);
    return node?.opType === opType && node.domain === '' ? node : undefined;
  }

  private constant(name: string): TensorProto | undefined {
    const initializer = this.initializers.get(name);
    if (initializer) return initializer;
    const node = this.producers.get(name);
    return node?.opType === 'Constant' && node.attribute.length === 1 ? node.attribute[0].t : undefined;
  }

  private isScalar(name: string, value: number): boolean {
    const v = this.scalar(name);
    return v !== undefined && Math.abs(v - value) <= 1e-6 * Math.max(1, Math.abs(value));
  }

  private scalar(name: string): number | undefined {
    const values = this.floats(name);
    return values?.length === 1 ? values[0] : undefined;
  }

  /** A constant float vector of length d. */
  private vector(name: string, d: bigint): Float32Array | undefined {
    const t = this.constant(name);
    const values = this.floats(name);
    return t && t.dims.length === 1 && t.dims[0] === d && values?.length === Number(d) ? values : undefined;
  }

  private floats(name: string): Float32Array | undefined {
    const t = this.constant(name);
    if (!t || t.dataType !== TensorProto_DataType.FLOAT || t.externalData.length > 0) return undefined;
    if (t.rawData.length === 0) return Float32Array.from(t.floatData);
    return new Float32Array(Uint8Array.from(t.rawData).buffer);
  }

  private int64s(name: string): bigint[] | undefined {
    const t = this.constant(name);
    if (!t || t.dataType !== TensorProto_DataType.INT64) return undefined;
    if (t.rawData.length === 0) return [...t.int64Data];
    return [...new BigInt64Array(Uint8Array.from(t.rawData).buffer)];
  }
}

function bound(gamma: Float32Array | undefined, beta: Float32Array | undefined, d: bigint): number | undefined {
  if (!gamma || !beta || d < 2n) return undefined;
  const spread = Math.sqrt(Number(d) - 1);
  let max = 0;
  for (let j = 0; j < gamma.length; j++) max = Math.max(max, Math.abs(gamma[j]) * spread + Math.abs(beta[j]));
  return Number.isFinite(max) && max > 0 ? max : undefined;
}

/** Both orders of a commutative op's two inputs. */
function orders(inputs: readonly string[]): [string, string][] {
  return inputs.length === 2
    ? [
        [inputs[0], inputs[1]],
        [inputs[1], inputs[0]],
      ]
    : [];
}
