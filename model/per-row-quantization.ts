// Per-row (per-token) activation quantization for dynamically quantized ONNX models.
//
// onnxruntime's quantize_dynamic quantizes every MatMul input with one DynamicQuantizeLinear per tensor: one
// scale and zero point for the whole batch, padding rows included, so a text's scores move with its
// batch-mates. This rewrite gives every activation a scale that no other text can move, symmetric with the
// zero point fixed at 128 (MatMulInteger's CPU kernel takes only a scalar zero point for its input), one
// quantization per activation, shared by the MatMuls that read it, each product through ORT's
// MatMulIntegerToFloat. Which scale depends on what the graph guarantees (activation-bounds.ts):
// - a LayerNorm output: one constant scale from the LayerNorm's weights, a bound no input can exceed. The
//   product is then an ordinary per-tensor MatMulIntegerToFloat, with the bias added inside the GEMM.
// - any other activation: a scale per row (token), max|row| / 127, computed from that row alone; for a Gelu
//   output the row's maximum is enough (Gelu is never below -0.17). MatMulIntegerToFloat applies a per-row
//   input scale after its GEMM, to the bias too, so these biases stay separate Add nodes.
// Measured (docs/batch-invariance.md): the per-row scale, its two reductions and the separate bias Adds are what
// cost throughput; the LayerNorm bound removes them from half the activations.
//
// Only the exact pattern quantize_dynamic writes is rewritten; anything else is refused with the node that did
// not fit, so an unfamiliar graph never becomes a silently wrong model.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from 'onnx-buf';
import { GELU_LOWEST, GraphFacts } from './activation-bounds.js';

/** Names the rewrite in model ids and logs; bump it whenever the produced graph changes. */
export const PER_ROW_QUANTIZATION_ID = 'per-row-int8-v3';

const MS_DOMAIN = 'com.microsoft';
/** Added to every new node and tensor name, so they cannot collide with the model's own. */
const PREFIX = 'per_row_q';
const INT8_MAX = 127;
/** Zero point of the uint8 activations: symmetric, so the same for every row (MatMulIntegerToFloat takes one). */
const ZERO_POINT = 128;
/** Floor of a row's max|x|: an all-zero row gets a finite scale (and quantizes to the zero point). */
const MIN_ROW_MAX = 1e-30;

export class GraphNotRecognisedError extends Error {
  constructor(why: string) {
    super(`the ONNX graph is not a dynamically quantized graph this server can make batch-invariant: ${why}`);
    this.name = 'GraphNotRecognisedError';
  }
}

export interface PerRowQuantizationResult {
  readonly bytes: Uint8Array;
  /** MatMuls rewritten, and distinct activations quantized (one activation may feed several MatMuls). */
  readonly matMuls: number;
  readonly activations: number;
  /** Of those activations: LayerNorm outputs with a constant scale, and Gelu outputs scaled by their row maximum. */
  readonly layerNormActivations: number;
  readonly geluActivations: number;
  /** Bias Adds moved into a MatMulIntegerToFloat (those after a LayerNorm-scaled activation). */
  readonly fusedBiases: number;
  /** Bias Adds left outside, merged with the residual Add that follows into one Sum. */
  readonly summedResiduals: number;
}

/** One MatMul as quantize_dynamic wrote it: DQL(x) -> MatMulInteger -> Cast -> Mul(Mul(a_scale, b_scale)). */
interface QuantizedMatMul {
  readonly input: string;
  readonly weight: string;
  readonly weightScale: string;
  readonly weightZeroPoint: string;
  readonly output: string;
  /** Rows of the weight: the activation's last dimension. */
  readonly k: bigint;
  /** Nodes this MatMul's rewrite removes. */
  readonly nodes: readonly NodeProto[];
  /**
   * The Add of a constant bias that alone reads the output, if there is one, and the Add that alone reads its
   * result (a residual connection), if there is one.
   */
  readonly biasAdd?: { readonly node: NodeProto; readonly bias: string; readonly next?: NodeProto };
}

/**
 * Rewrites an ONNX model's bytes; undefined for a graph that quantizes nothing at run time (an fp32 or a
 * statically quantized model: no batch-mate can move its scales). Throws GraphNotRecognisedError for a graph
 * that does, outside the known pattern.
 */
export function perRowQuantize(modelBytes: Uint8Array): PerRowQuantizationResult | undefined {
  const model = fromBinary(ModelProtoSchema, modelBytes);
  const graph = model.graph;
  if (!graph) throw new GraphNotRecognisedError('the model has no graph');
  if (!quantizesAtRunTime(graph)) return undefined;
  const defaultOpset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  if (defaultOpset === undefined) throw new GraphNotRecognisedError('the model imports no default (ai.onnx) opset');
  const msOpset = model.opsetImport.find((o) => o.domain === MS_DOMAIN);
  if (msOpset !== undefined && msOpset.version !== 1n)
    throw new GraphNotRecognisedError(`it imports ${MS_DOMAIN} opset ${msOpset.version}, not 1`);

  const names = [
    ...graph.initializer.map((t) => t.name),
    ...graph.input.map((i) => i.name),
    ...graph.node.flatMap((n) => [n.name, ...n.output]),
  ];
  const clash = names.find((name) => name.startsWith(`${PREFIX}_`));
  if (clash !== undefined) throw new GraphNotRecognisedError(`it already has a name that the rewrite would use (${clash})`);
  const matMuls = findQuantizedMatMuls(graph);
  if (matMuls.length === 0)
    throw new GraphNotRecognisedError('it has no DynamicQuantizeLinear -> MatMulInteger pattern (is it the int8 model_quantized.onnx?)');

  const facts = new GraphFacts(graph);
  const removed = new Set<NodeProto>(matMuls.flatMap((m) => m.nodes));
  const inputs = [...new Set(matMuls.map((m) => m.input))];
  const constants = quantizationConstants(defaultOpset);
  let layerNormActivations = 0;
  let geluActivations = 0;
  let fusedBiases = 0;
  let summedResiduals = 0;
  // Each rewritten block goes where its DynamicQuantizeLinear was, so the node list stays topologically sorted.
  const replacement = new Map<NodeProto, NodeProto[]>();
  for (const [i, input] of inputs.entries()) {
    const users = matMuls.filter((m) => m.input === input);
    const id = `${PREFIX}_${i}`;
    const k = users[0].k;
    const bound = facts.layerNormBound(input, k);
    let quantized: Quantization;
    if (bound !== undefined) {
      quantized = boundedQuantizationNodes(input, id, constants, bound);
      layerNormActivations++;
    } else {
      const gelu = facts.isErfGelu(input);
      quantized = rowQuantizationNodes(input, id, constants, k, gelu);
      if (gelu) geluActivations++;
    }
    const products = users.map((m, j) => {
      // A per-tensor scale leaves the bias unscaled inside the GEMM; a per-row one would scale it too.
      const bias = quantized.perTensor && m.biasAdd ? m.biasAdd : undefined;
      if (bias) {
        removed.add(bias.node);
        fusedBiases++;
      } else if (m.biasAdd?.next && !replacement.has(m.biasAdd.next)) {
        // Outside the GEMM, bias and residual are one Sum: one node and no intermediate tensor instead of two
        // Adds; (product + bias) + residual, in the Adds' order, so the values are the same bit for bit.
        const { node: add, bias: b, next } = m.biasAdd;
        const residual = next.input.find((name) => name !== add.output[0])!;
        removed.add(add);
        replacement.set(next, [node('Sum', [m.output, b, residual], next.output, next.name)]);
        summedResiduals++;
      }
      return matMulIntegerToFloat(m, quantized, `${id}_${j}`, constants, bias);
    });
    replacement.set(users[0].nodes[0], [...quantized.nodes, ...products]);
    graph.initializer.push(...quantized.tensors);
  }
  graph.node = graph.node.flatMap((node) => replacement.get(node) ?? (removed.has(node) ? [] : [node]));
  graph.initializer.push(...constants.tensors);
  if (msOpset === undefined) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: MS_DOMAIN, version: 1n }));
  return {
    bytes: toBinary(ModelProtoSchema, model),
    matMuls: matMuls.length,
    activations: inputs.length,
    layerNormActivations,
    geluActivations,
    fusedBiases,
    summedResiduals,
  };
}

/** A DynamicQuantize* node anywhere, subgraphs (If, Loop, Scan bodies) included. */
function quantizesAtRunTime(graph: GraphProto): boolean {
  return graph.node.some(
    (n) => n.opType.startsWith('DynamicQuantize') || n.attribute.some((a) => [...(a.g ? [a.g] : []), ...a.graphs].some(quantizesAtRunTime)),
  );
}

function findQuantizedMatMuls(graph: GraphProto): QuantizedMatMul[] {
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.node) {
    for (const name of node.input) {
      if (name !== '') consumers.set(name, [...(consumers.get(name) ?? []), node]);
    }
  }
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const only = (tensor: string, opType: string, where: string): NodeProto => {
    const users = consumers.get(tensor) ?? [];
    if (users.length !== 1 || users[0].opType !== opType || users[0].domain !== '' || graphOutputs.has(tensor)) {
      const found = users.map((u) => u.opType).join(', ') || 'nothing';
      throw new GraphNotRecognisedError(`${where}: ${tensor} feeds ${found}; expected exactly one ${opType}`);
    }
    return users[0];
  };
  const result: QuantizedMatMul[] = [];
  for (const dql of graph.node) {
    if (dql.opType !== 'DynamicQuantizeLinear') continue;
    const at = `DynamicQuantizeLinear ${JSON.stringify(dql.name)}`;
    if (dql.domain !== '' || dql.input.length !== 1 || dql.output.length !== 3)
      throw new GraphNotRecognisedError(`${at} is not the one-input, three-output ONNX operator`);
    const [q, scale, zeroPoint] = dql.output;
    const qUsers = consumers.get(q) ?? [];
    if (qUsers.length === 0) throw new GraphNotRecognisedError(`${at}: its output feeds nothing`);
    const scaleUsers = consumers.get(scale) ?? [];
    for (const mmi of qUsers) {
      const mAt = `MatMulInteger ${JSON.stringify(mmi.name)}`;
      if (mmi.opType !== 'MatMulInteger' || mmi.domain !== '')
        throw new GraphNotRecognisedError(`${at}: its output feeds ${mmi.opType}, not MatMulInteger`);
      const [a, weight, aZeroPoint, weightZeroPoint] = mmi.input;
      if (a !== q || aZeroPoint !== zeroPoint || weight === undefined || weightZeroPoint === undefined) {
        throw new GraphNotRecognisedError(`${mAt} does not take (quantized input, weight, its zero point, weight zero point)`);
      }
      checkWeight(initializers, weight, weightZeroPoint, mAt);
      const cast = only(mmi.output[0], 'Cast', mAt);
      if (attributeInt(cast, 'to') !== BigInt(TensorProto_DataType.FLOAT))
        throw new GraphNotRecognisedError(`${mAt}: its Cast is not to float`);
      const mul = only(cast.output[0], 'Mul', mAt);
      const scaleProduct = mul.input.find((name) => name !== cast.output[0]);
      const scaleMul = scaleUsers.find((n) => n.opType === 'Mul' && n.output[0] === scaleProduct);
      if (!scaleMul || mul.input.length !== 2)
        throw new GraphNotRecognisedError(`${mAt}: its output is not multiplied by (input scale x weight scale)`);
      const weightScale = scaleMul.input.find((name) => name !== scale);
      if (weightScale === undefined || !initializers.has(weightScale) || scaleMul.input.length !== 2) {
        throw new GraphNotRecognisedError(`${mAt}: the input scale is not multiplied by a constant weight scale`);
      }
      checkWeightScale(initializers.get(weightScale)!, initializers.get(weight)!, mAt);
      if ((consumers.get(scaleMul.output[0]) ?? []).length !== 1)
        throw new GraphNotRecognisedError(`${mAt}: its scale product is used elsewhere`);
      const n = initializers.get(weight)!.dims[1];
      result.push({
        input: dql.input[0],
        k: initializers.get(weight)!.dims[0],
        weight,
        weightScale,
        weightZeroPoint,
        output: mul.output[0],
        nodes: [dql, mmi, cast, scaleMul, mul],
        biasAdd: graphOutputs.has(mul.output[0]) ? undefined : biasAdd(consumers, graphOutputs, mul.output[0], n, initializers),
      });
    }
    // Every use of the scale must be one of the rewritten MatMuls' scale products.
    if (scaleUsers.length !== qUsers.length || scaleUsers.some((n) => n.opType !== 'Mul')) {
      throw new GraphNotRecognisedError(
        `${at}: its scale is used by ${scaleUsers.map((n) => n.opType).join(', ')}, not only by its MatMuls' scale products`,
      );
    }
    const zeroPointUsers = consumers.get(zeroPoint) ?? [];
    if (zeroPointUsers.some((n) => !qUsers.includes(n)))
      throw new GraphNotRecognisedError(`${at}: its zero point is used outside its MatMulIntegers`);
  }
  return result;
}

/**
 * The output's only consumer, if it is an ONNX Add of a constant float bias with one value per output column;
 * with the ONNX Add that alone reads its result, if there is one.
 */
function biasAdd(
  consumers: Map<string, NodeProto[]>,
  graphOutputs: Set<string>,
  output: string,
  n: bigint,
  initializers: Map<string, TensorProto>,
): QuantizedMatMul['biasAdd'] {
  const onlyAdd = (tensor: string): NodeProto | undefined => {
    const users = consumers.get(tensor) ?? [];
    const [add] = users;
    const plain = users.length === 1 && add.opType === 'Add' && add.domain === '' && add.input.length === 2;
    return plain && !add.input.every((name) => name === tensor) ? add : undefined;
  };
  const add = onlyAdd(output);
  const bias = add?.input.find((name) => name !== output);
  const t = bias === undefined ? undefined : initializers.get(bias);
  if (!add || !t || t.dataType !== TensorProto_DataType.FLOAT || t.dims.length !== 1 || t.dims[0] !== n) return undefined;
  return { node: add, bias: t.name, next: graphOutputs.has(add.output[0]) ? undefined : onlyAdd(add.output[0]) };
}

/** A constant 2-D int8/uint8 weight with a scalar or per-column zero point of its type: what MatMulIntegerToFloat takes. */
function checkWeight(initializers: Map<string, TensorProto>, weight: string, zeroPoint: string, at: string): void {
  const w = initializers.get(weight);
  const zp = initializers.get(zeroPoint);
  const int8 = (t: TensorProto): boolean => t.dataType === TensorProto_DataType.INT8 || t.dataType === TensorProto_DataType.UINT8;
  if (!w || w.dims.length !== 2 || !int8(w))
    throw new GraphNotRecognisedError(`${at}: its weight ${weight} is not a constant 2-D int8/uint8 tensor`);
  if (!zp || zp.dataType !== w.dataType || !scalarOrPerColumn(zp, w)) {
    throw new GraphNotRecognisedError(
      `${at}: its weight zero point ${zeroPoint} is not a constant of the weight's type, scalar or one per output column`,
    );
  }
}

/** A scalar or per-column float weight scale (MatMulIntegerToFloat applies either inside its GEMM). */
function checkWeightScale(scale: TensorProto, weight: TensorProto, at: string): void {
  if (scale.dataType !== TensorProto_DataType.FLOAT || !scalarOrPerColumn(scale, weight)) {
    throw new GraphNotRecognisedError(`${at}: its weight scale ${scale.name} is neither a float scalar nor one float per output column`);
  }
}

function scalarOrPerColumn(t: TensorProto, weight: TensorProto): boolean {
  return elementCount(t) === 1 || (t.dims.length === 1 && t.dims[0] === weight.dims[1]);
}

interface Constants {
  readonly tensors: TensorProto[];
  readonly int8Max: string;
  readonly minRowMax: string;
  readonly geluLowest: string;
  readonly zeroPoint: string;
  /** [-1] as the reductions' axes input, from opset 18 on; before, axes is an attribute. */
  readonly lastAxis: string | undefined;
  /** [-1]: a Reshape to one dimension. */
  readonly flat: string;
}

function quantizationConstants(defaultOpset: bigint): Constants {
  const tensors: TensorProto[] = [];
  const constant = (base: string, dataType: TensorProto_DataType, rawData: Uint8Array<ArrayBuffer>, dims: bigint[] = []): string => {
    const name = `${PREFIX}_${base}`;
    tensors.push(create(TensorProtoSchema, { name, dataType, dims, rawData }));
    return name;
  };
  const float = (value: number): Uint8Array<ArrayBuffer> => new Uint8Array(new Float32Array([value]).buffer);
  const minusOne = (): Uint8Array<ArrayBuffer> => int64s([-1n]);
  return {
    tensors,
    int8Max: constant('int8_max', TensorProto_DataType.FLOAT, float(INT8_MAX)),
    minRowMax: constant('min_row_max', TensorProto_DataType.FLOAT, float(MIN_ROW_MAX)),
    geluLowest: constant('gelu_lowest', TensorProto_DataType.FLOAT, float(GELU_LOWEST)),
    zeroPoint: constant('zero_point', TensorProto_DataType.UINT8, new Uint8Array([ZERO_POINT])),
    flat: constant('flat', TensorProto_DataType.INT64, minusOne(), [1n]),
    lastAxis: defaultOpset >= 18n ? constant('last_axis', TensorProto_DataType.INT64, minusOne(), [1n]) : undefined,
  };
}

interface Quantization {
  readonly nodes: NodeProto[];
  readonly tensors: TensorProto[];
  /** uint8, x's shape, zero point 128. */
  readonly quantized: string;
  /** float: a scalar, or [..., 1] with each row's scale. */
  readonly scale: string;
  readonly perTensor: boolean;
}

/** x -> q = saturate(round(x / s) + 128) with one constant s = bound / 127: no row can reach past the bound. */
function boundedQuantizationNodes(x: string, id: string, c: Constants, bound: number): Quantization {
  const scale = create(TensorProtoSchema, {
    name: `${id}_scale`,
    dataType: TensorProto_DataType.FLOAT,
    rawData: new Uint8Array(new Float32Array([bound / INT8_MAX]).buffer),
  });
  const quantized = `${id}_quantized`;
  const nodes = [node('QuantizeLinear', [x, scale.name, c.zeroPoint], [quantized], `${id}_quantize`)];
  return { nodes, tensors: [scale], quantized, scale: scale.name, perTensor: true };
}

/**
 * x -> q = saturate(round(x / s) + 128), s = max(max|row|, tiny) / 127 for each row (last axis). The range
 * comes from ReduceMax and ReduceMin (two reads, no tensor written); a Gelu output needs only ReduceMax, its
 * minimum being above -GELU_LOWEST. The quantization is one per-axis QuantizeLinear over x viewed as a
 * [rows, k] matrix, which takes a zero point per row, hence the Expand.
 * Measured against Abs + ReduceMax and a Div before a per-tensor QuantizeLinear: fewer passes, faster.
 */
function rowQuantizationNodes(x: string, id: string, c: Constants, k: bigint, gelu: boolean): Quantization {
  const t = (suffix: string): string => `${id}_${suffix}`;
  const reduce = (op: string, output: string): NodeProto =>
    c.lastAxis === undefined
      ? node(op, [x], [output], output, [intAttribute('keepdims', 1n), intsAttribute('axes', [-1n])])
      : node(op, [x, c.lastAxis], [output], output, [intAttribute('keepdims', 1n)]);
  const matrixShape = create(TensorProtoSchema, {
    name: t('matrix_shape'),
    dataType: TensorProto_DataType.INT64,
    dims: [2n],
    rawData: int64s([-1n, k]),
  });
  const range = gelu
    ? [reduce('ReduceMax', t('row_hi')), node('Max', [t('row_hi'), c.geluLowest], [t('row_max')], t('max'))]
    : [
        reduce('ReduceMax', t('row_hi')),
        reduce('ReduceMin', t('row_lo')),
        node('Neg', [t('row_lo')], [t('row_neg_lo')], t('neg')),
        node('Max', [t('row_hi'), t('row_neg_lo'), c.minRowMax], [t('row_max')], t('max')),
      ];
  const nodes = [
    ...range,
    node('Div', [t('row_max'), c.int8Max], [t('row_scale')], t('scale')),
    node('Reshape', [t('row_scale'), c.flat], [t('row_scale_flat')], t('scale_flat')),
    node('Shape', [t('row_scale_flat')], [t('rows')], t('rows')),
    node('Expand', [c.zeroPoint, t('rows')], [t('row_zero_point')], t('row_zero_point')),
    node('Reshape', [x, matrixShape.name], [t('matrix')], t('matrix')),
    node('QuantizeLinear', [t('matrix'), t('row_scale_flat'), t('row_zero_point')], [t('quantized_matrix')], t('quantize'), [
      intAttribute('axis', 0n),
    ]),
    node('Shape', [x], [t('shape')], t('shape')),
    node('Reshape', [t('quantized_matrix'), t('shape')], [t('quantized')], t('quantized')),
  ];
  return { nodes, tensors: [matrixShape], quantized: t('quantized'), scale: t('row_scale'), perTensor: false };
}

/** The product; with `bias`, the bias too, written where the bias Add wrote. */
function matMulIntegerToFloat(m: QuantizedMatMul, q: Quantization, id: string, c: Constants, bias?: QuantizedMatMul['biasAdd']): NodeProto {
  const inputs = [q.quantized, m.weight, q.scale, m.weightScale, c.zeroPoint, m.weightZeroPoint];
  if (bias) return node('MatMulIntegerToFloat', [...inputs, bias.bias], [bias.node.output[0]], `${id}_matmul`, [], MS_DOMAIN);
  return node('MatMulIntegerToFloat', inputs, [m.output], `${id}_matmul`, [], MS_DOMAIN);
}

function node(opType: string, input: string[], output: string[], name: string, attribute: AttributeProto[] = [], domain = ''): NodeProto {
  return create(NodeProtoSchema, { opType, input, output, name, attribute, domain });
}

function intAttribute(name: string, i: bigint): AttributeProto {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i });
}

function intsAttribute(name: string, ints: bigint[]): AttributeProto {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints });
}

function attributeInt(n: NodeProto, name: string): bigint | undefined {
  return n.attribute.find((a) => a.name === name)?.i;
}

function elementCount(t: TensorProto): number {
  return t.dims.reduce((n, d) => n * Number(d), 1);
}

function int64s(values: bigint[]): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new BigInt64Array(values).buffer);
}
