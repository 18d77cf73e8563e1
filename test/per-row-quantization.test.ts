// The per-row rewrite of dynamically quantized graphs (model/per-row-quantization.ts): on the stand-in, on a
// graph in the exact layout onnxruntime's quantize_dynamic writes for the real model, and on graphs it must
// refuse. Scores through HTTP are in batch-invariance.test.ts.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, copyFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type NodeProto,
  type TensorProto,
} from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import { GraphNotRecognisedError, perRowQuantize, type PerRowQuantizationResult } from '../dist/model/per-row-quantization.js';
import { startService, STANDIN_MODEL_DIR } from './helper.js';
import { untransformedScores } from './direct-model.js';

const STANDIN_ONNX = join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx');

/** The rewrite of a graph that has something to rewrite. */
const rewrite = (bytes: Uint8Array): PerRowQuantizationResult => {
  const result = perRowQuantize(bytes);
  if (!result) throw new Error('the graph had nothing to rewrite');
  return result;
};
const opTypes = (bytes: Uint8Array): string[] => fromBinary(ModelProtoSchema, bytes).graph!.node.map((n) => n.opType);

t.test('the stand-in: every quantized MatMul is rewritten, the same way every time, and ORT runs it', async (t) => {
  const source = readFileSync(STANDIN_ONNX);
  const result = rewrite(source);
  t.equal(result.matMuls, 36, '6 layers x (q, k, v, attention out, FFN in, FFN out)');
  t.equal(result.activations, 24, 'q, k and v share one quantized activation');
  t.equal(result.layerNormActivations, 12, 'the inputs of q/k/v and of FFN in are LayerNorm outputs');
  t.equal(result.geluActivations, 6, 'the input of FFN out is a Gelu output');
  t.equal(result.fusedBiases, 24, 'q, k, v and FFN in add their biases inside the product');
  t.equal(result.summedResiduals, 12, 'attention out and FFN out: bias and residual in one Sum');
  const ops = opTypes(result.bytes);
  t.notOk(ops.includes('DynamicQuantizeLinear'), 'no per-tensor quantization left');
  t.notOk(ops.includes('MatMulInteger'), 'no MatMulInteger left');
  t.equal(ops.filter((op) => op === 'MatMulIntegerToFloat').length, 36);
  t.equal(ops.filter((op) => op === 'Sum').length, 12);
  t.equal(ops.filter((op) => op === 'ReduceMin').length, 6, "only the attention outputs need their rows' minimum");
  t.same(Buffer.from(rewrite(source).bytes), Buffer.from(result.bytes), 'deterministic: every pod derives the same model id');
  const model = fromBinary(ModelProtoSchema, result.bytes);
  t.ok(
    model.opsetImport.some((o) => o.domain === 'com.microsoft' && o.version === 1n),
    'imports the com.microsoft opset',
  );
  const session = await ort.InferenceSession.create(result.bytes);
  t.same(session.inputNames, ['input_ids', 'attention_mask']);
  t.same(session.outputNames, ['logits']);
});

// ---- A graph in quantize_dynamic's layout (onnxruntime/quantization, MatMulInteger path) ----
// One DynamicQuantizeLinear per activation, shared by every MatMul that reads it ("<x>_QuantizeLinear" ->
// "<x>_quantized", "<x>_scale", "<x>_zero_point"); per MatMul: MatMulInteger "<mm>_quant", Cast to float,
// Mul(a_scale, b_scale) "<mm>_quant_scales_mul", and Mul(cast, scales) "<mm>_quant_output_scale_mul" writing
// the original MatMul's output. The weights here: int8 with scalar scale and zero point (as the real model),
// and uint8 with per-column scale and zero point (quantize_dynamic's per_channel option).
const K = 8;
const valueInfo = (name: string, dims: (number | string)[]) =>
  create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: TensorProto_DataType.FLOAT,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
const tensor = (name: string, dataType: TensorProto_DataType, bytes: Uint8Array, dims: number[]): TensorProto =>
  create(TensorProtoSchema, { name, dataType, dims: dims.map(BigInt), rawData: new Uint8Array(bytes) });
const floats = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const op = (opType: string, input: string[], output: string[], name: string, attrs: Record<string, bigint> = {}): NodeProto =>
  create(NodeProtoSchema, {
    opType,
    input,
    output,
    name,
    attribute: Object.entries(attrs).map(([n, i]) => create(AttributeProtoSchema, { name: n, type: AttributeProto_AttributeType.INT, i })),
  });

interface Weight {
  name: string;
  n: number;
  signed: boolean;
  values: number[];
  scale: number[];
  zeroPoint: number[];
}
const weights: Weight[] = [
  {
    name: 'W1',
    n: 4,
    signed: true,
    values: Array.from({ length: K * 4 }, (_, i) => ((i * 37) % 255) - 127),
    scale: [0.02],
    zeroPoint: [0],
  },
  {
    name: 'W2',
    n: 6,
    signed: false,
    values: Array.from({ length: K * 6 }, (_, i) => (i * 53) % 256),
    scale: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06],
    zeroPoint: [120, 128, 130, 125, 128, 131],
  },
];

/** Nodes that compute the quantized activation "A" from the input X, as an exporter writes them. */
interface Prelude {
  nodes: NodeProto[];
  initializer: TensorProto[];
}
/** A = X: an activation the graph says nothing about. */
const identity: Prelude = { nodes: [op('Identity', ['X'], ['A'], 'identity_x')], initializer: [] };

function quantizeDynamicLayout(
  mutate: (nodes: NodeProto[]) => void = () => {},
  prelude: Prelude = identity,
  biases: number[][] = [],
): Uint8Array {
  const nodes: NodeProto[] = [
    ...prelude.nodes,
    op('DynamicQuantizeLinear', ['A'], ['X_quantized', 'X_scale', 'X_zero_point'], 'X_QuantizeLinear'),
  ];
  const initializer: TensorProto[] = [...prelude.initializer];
  for (const w of weights) {
    const type = w.signed ? TensorProto_DataType.INT8 : TensorProto_DataType.UINT8;
    const perColumn = w.scale.length > 1 ? [w.n] : [];
    initializer.push(
      tensor(
        `${w.name}_quantized`,
        type,
        Uint8Array.from(w.values, (v) => v & 255),
        [K, w.n],
      ),
      tensor(`${w.name}_scale`, TensorProto_DataType.FLOAT, floats(w.scale), perColumn),
      tensor(
        `${w.name}_zero_point`,
        type,
        Uint8Array.from(w.zeroPoint, (v) => v & 255),
        perColumn,
      ),
    );
    const mm = `/${w.name}/MatMul`;
    nodes.push(
      op(
        'MatMulInteger',
        ['X_quantized', `${w.name}_quantized`, 'X_zero_point', `${w.name}_zero_point`],
        [`${mm}_output_0_output_quantized`],
        `${mm}_quant`,
      ),
      op(
        'Cast',
        [`${mm}_output_0_output_quantized`],
        [`${mm}_output_0_output_quantized_cast_output`],
        `${mm}_output_0_output_quantized_cast`,
        { to: BigInt(TensorProto_DataType.FLOAT) },
      ),
      op('Mul', ['X_scale', `${w.name}_scale`], [`${mm}_quant_scales_mul:0`], `${mm}_quant_scales_mul`),
      op(
        'Mul',
        [`${mm}_output_0_output_quantized_cast_output`, `${mm}_quant_scales_mul:0`],
        [biases.length > 0 ? `${mm}_output_0` : `Y_${w.name}`],
        `${mm}_quant_output_scale_mul`,
      ),
    );
    const bias = biases[weights.indexOf(w)];
    if (bias) {
      initializer.push(tensor(`${w.name}_bias`, TensorProto_DataType.FLOAT, floats(bias), [w.n]));
      nodes.push(op('Add', [`${w.name}_bias`, `${mm}_output_0`], [`Y_${w.name}`], `/${w.name}/Add`));
    }
  }
  mutate(nodes);
  const graph = create(GraphProtoSchema, {
    name: 'quantize_dynamic layout',
    node: nodes,
    initializer,
    input: [valueInfo('X', ['batch', 'sequence', K])],
    output: weights.map((w) => valueInfo(`Y_${w.name}`, ['batch', 'sequence', w.n])),
  });
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 7n,
      producerName: 'onnx.quantize',
      producerVersion: '0.1.0',
      graph,
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 14n })],
    }),
  );
}

/** x quantized symmetrically with scale s (zero point 128, saturating), times each weight, plus the bias. */
function product(x: number[], s: number, w: Weight, bias: number[] = []): number[] {
  const q = x.map((v) => Math.max(-128, Math.min(127, Math.round(v / s))));
  return Array.from({ length: w.n }, (_, n) => {
    let dot = 0;
    for (let k = 0; k < K; k++) dot += q[k] * (w.values[k * w.n + n] - (w.zeroPoint[n] ?? w.zeroPoint[0]));
    return dot * s * (w.scale[n] ?? w.scale[0]) + (bias[n] ?? 0);
  });
}

/**
 * Runs rows alone and together: identical both ways, and within `tolerance` of `expected`, relative to
 * max(floor, |expected|).
 */
async function checkRows(
  t: Test,
  bytes: Uint8Array,
  rows: number[][],
  expected: (row: number[], w: Weight) => number[],
  tolerance: number,
  floor: number,
): Promise<void> {
  const session = await ort.InferenceSession.create(bytes);
  const run = async (batch: number[][]) =>
    session.run({ X: new ort.Tensor('float32', Float32Array.from(batch.flat()), [1, batch.length, K]) });
  const together = await run(rows);
  for (const [r, row] of rows.entries()) {
    const alone = await run([row]);
    for (const w of weights) {
      const name = `Y_${w.name}`;
      const inBatch = Array.from((together[name].data as Float32Array).slice(r * w.n, (r + 1) * w.n));
      t.same(Array.from(alone[name].data as Float32Array), inBatch, `row ${r} ${name}: identical alone and in the batch`);
      const want = expected(row, w);
      const worst = Math.max(...inBatch.map((v, n) => Math.abs(v - want[n]) / Math.max(floor, Math.abs(want[n]))));
      t.ok(worst < tolerance, `row ${r} ${name}: ${inBatch.map((v) => v.toFixed(3))} vs ${want.map((v) => v.toFixed(3))} (${worst})`);
    }
  }
}

t.test("quantize_dynamic's layout: rows scored alone equal the same rows in a batch, and the math is per row", async (t) => {
  const result = rewrite(quantizeDynamicLayout());
  t.equal(result.matMuls, 2);
  t.equal(result.activations, 1, 'the shared DynamicQuantizeLinear becomes one per-row quantization');
  // Rows of very different magnitudes: one scale per tensor would crush the small ones. The third row's signs
  // alternate: its bytes are 255 and 1, and where two 255s stand side by side MLAS's u8×s8 kernels without VNNI
  // (vpmaddubsw) saturate their int16 pair sum (255 × 127 × 2 > 32767), which ORT does on such CPUs whatever the
  // graph; this test is about the scales, not that.
  const rows = [
    [0.1, -0.2, 0.3, 0.05, -0.01, 0.2, 0.15, -0.3],
    [50, -20, 3, 7, -45, 12, 0.5, 9],
    [1, -1, 1, -1, 1, -1, 1, -1],
  ];
  // What the rewrite promises: each row quantized from its own max|x|, zero point 128.
  await checkRows(t, result.bytes, rows, (row, w) => product(row, Math.max(...row.map(Math.abs)) / 127, w), 1e-5, 1e-6);
});

// ---- Activations the graph bounds: LayerNorm outputs (a constant scale) and Gelu outputs (row maximum only) ----
const scalarConstant = (name: string, value: number): NodeProto =>
  create(NodeProtoSchema, {
    opType: 'Constant',
    output: [name],
    name: `${name}_constant`,
    attribute: [
      create(AttributeProtoSchema, {
        name: 'value',
        type: AttributeProto_AttributeType.TENSOR,
        t: tensor(`${name}_value`, TensorProto_DataType.FLOAT, floats([value]), []),
      }),
    ],
  });
const GAMMA = [1.5, -0.5, 1, 0.25, 2, 1, -1, 0.75];
const BETA = [0.1, -0.2, 0, 0.3, -0.1, 0.05, 0.2, -0.3];
const EPS = 1e-12;
/** LayerNorm over the last axis as torch.onnx exports it before opset 17. */
const layerNorm: Prelude = {
  nodes: [
    op('ReduceMean', ['X'], ['mean'], 'ln_mean', {}),
    op('Sub', ['X', 'mean'], ['centred'], 'ln_sub'),
    scalarConstant('two', 2),
    op('Pow', ['centred', 'two'], ['squared'], 'ln_pow'),
    op('ReduceMean', ['squared'], ['variance'], 'ln_variance'),
    scalarConstant('eps', EPS),
    op('Add', ['variance', 'eps'], ['variance_eps'], 'ln_add_eps'),
    op('Sqrt', ['variance_eps'], ['std'], 'ln_sqrt'),
    op('Div', ['centred', 'std'], ['normalised'], 'ln_div'),
    op('Mul', ['normalised', 'gamma'], ['scaled'], 'ln_mul'),
    op('Add', ['scaled', 'beta'], ['A'], 'ln_add_beta'),
  ],
  initializer: [
    tensor('gamma', TensorProto_DataType.FLOAT, floats(GAMMA), [K]),
    tensor('beta', TensorProto_DataType.FLOAT, floats(BETA), [K]),
  ],
};
for (const n of layerNorm.nodes.filter((n) => n.opType === 'ReduceMean')) {
  n.attribute.push(create(AttributeProtoSchema, { name: 'axes', type: AttributeProto_AttributeType.INTS, ints: [-1n] }));
}
/** Gelu as torch.onnx exports nn.GELU(): x * (erf(x / sqrt 2) + 1) * 0.5. */
const gelu: Prelude = {
  nodes: [
    scalarConstant('sqrt2', Math.SQRT2),
    op('Div', ['X', 'sqrt2'], ['x_over_sqrt2'], 'gelu_div'),
    op('Erf', ['x_over_sqrt2'], ['erf'], 'gelu_erf'),
    scalarConstant('one', 1),
    op('Add', ['erf', 'one'], ['erf_plus_one'], 'gelu_add'),
    op('Mul', ['X', 'erf_plus_one'], ['x_erf'], 'gelu_mul'),
    scalarConstant('half', 0.5),
    op('Mul', ['x_erf', 'half'], ['A'], 'gelu_half'),
  ],
  initializer: [],
};
const BIASES = [
  [1, -2, 3, -4],
  [0.5, 0.25, -0.5, 1, 2, -1],
];

t.test('a LayerNorm output is quantized with one constant scale that no row can exceed, and the bias joins the product', async (t) => {
  const result = rewrite(quantizeDynamicLayout(undefined, layerNorm, BIASES));
  t.equal(result.layerNormActivations, 1);
  t.equal(result.fusedBiases, 2, 'both bias Adds move into MatMulIntegerToFloat');
  const model = fromBinary(ModelProtoSchema, result.bytes);
  const ops = model.graph!.node.map((n) => n.opType);
  t.notOk(ops.includes('ReduceMax'), 'no range is computed at run time');
  t.equal(ops.filter((o) => o === 'Add').length, 2, "only the LayerNorm's own Adds are left");
  const bound = Math.max(...GAMMA.map((g, j) => Math.abs(g) * Math.sqrt(K - 1) + Math.abs(BETA[j])));
  const scale = model.graph!.initializer.find((i) => i.name.endsWith('_scale') && i.name.startsWith('per_row_q_0'))!;
  t.equal(
    new Float32Array(Uint8Array.from(scale.rawData).buffer)[0],
    Math.fround(bound / 127),
    'scale = max(|gamma| sqrt(d - 1) + |beta|) / 127',
  );
  const ln = (x: number[]): number[] => {
    const mean = x.reduce((a, b) => a + b) / K;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / K;
    return x.map((v, j) => ((v - mean) / Math.sqrt(variance + EPS)) * GAMMA[j] + BETA[j]);
  };
  const rows = [
    [0.1, -0.2, 0.3, 0.05, -0.01, 0.2, 0.15, -0.3],
    [50, -20, 3, 7, -45, 12, 0.5, 9],
    // All of a row's spread in one feature: its LayerNorm output reaches sqrt(d - 1), the bound, and is not clipped.
    [0, 0, 0, 0, 1000, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, -1000, 0],
  ];
  // Slack for a value that float32 and this float64 LayerNorm round to neighbouring integers.
  await checkRows(t, result.bytes, rows, (row, w) => product(ln(row), bound / 127, w, BIASES[weights.indexOf(w)]), 0.02, 1);
});

t.test("a Gelu output's rows are scaled by their maximum alone: Gelu never goes below -0.17", async (t) => {
  const result = rewrite(quantizeDynamicLayout(undefined, gelu, BIASES));
  t.equal(result.geluActivations, 1);
  t.equal(result.layerNormActivations, 0);
  t.equal(result.fusedBiases, 0, 'a per-row scale would scale the bias too: the Adds stay');
  const ops = opTypes(result.bytes);
  t.ok(ops.includes('ReduceMax'));
  t.notOk(ops.includes('ReduceMin'), 'one reduction per row, not two');
  const geluOf = (x: number): number => {
    // erf by Abramowitz-Stegun 7.1.26 is too coarse here; integrate the normal density instead.
    const steps = 2000;
    const lo = Math.min(x, -10);
    let phi = 0;
    for (let i = 0; i < steps; i++) {
      const u = lo + ((i + 0.5) * (x - lo)) / steps;
      phi += (Math.exp((-u * u) / 2) / Math.sqrt(2 * Math.PI)) * ((x - lo) / steps);
    }
    return x * phi;
  };
  const rows = [
    [0.1, -0.2, 0.3, 0.05, -0.01, 0.2, 0.15, -0.3],
    [5, -2, 3, 0.7, -4.5, 1.2, 0.5, 0.9],
    // Every value at or below zero: the row's largest magnitude is Gelu's lowest value, under 0.17.
    [-0.75, -0.7, -0.8, -1, -3, -0.5, -0.76, -0.74],
  ];
  await checkRows(
    t,
    result.bytes,
    rows,
    (row, w) => {
      const y = row.map(geluOf);
      return product(y, Math.max(...y, 0.17) / 127, w, BIASES[weights.indexOf(w)]);
    },
    0.02,
    1,
  );
});

t.test('a bias left outside the product and the residual Add after it become one Sum, same values', async (t) => {
  const RESIDUAL = 0.75;
  const withResidual = quantizeDynamicLayout(
    (nodes) => {
      for (const w of weights) {
        const add = nodes.find((n) => n.name === `/${w.name}/Add`)!;
        add.output[0] = `${w.name}_biased`;
        nodes.push(
          scalarConstant(`${w.name}_residual`, RESIDUAL),
          op('Add', [`${w.name}_residual`, `${w.name}_biased`], [`Y_${w.name}`], `/${w.name}/residual_add`),
        );
      }
    },
    identity,
    BIASES,
  );
  const result = rewrite(withResidual);
  t.equal(result.summedResiduals, 2);
  const sums = fromBinary(ModelProtoSchema, result.bytes).graph!.node.filter((n) => n.opType === 'Sum');
  t.same(
    sums.map((n) => n.input),
    weights.map((w) => [`/${w.name}/MatMul_output_0`, `${w.name}_bias`, `${w.name}_residual`]),
    '(product, bias, residual): the order the two Adds added in',
  );
  t.notOk(opTypes(result.bytes).includes('Add'), 'both Adds of each product are gone');
  const rows = [
    [0.1, -0.2, 0.3, 0.05, -0.01, 0.2, 0.15, -0.3],
    [50, -20, 3, 7, -45, 12, 0.5, 9],
  ];
  await checkRows(
    t,
    result.bytes,
    rows,
    (row, w) => product(row, Math.max(...row.map(Math.abs)) / 127, w, BIASES[weights.indexOf(w)]).map((v) => v + RESIDUAL),
    1e-5,
    1e-6,
  );
});

t.test('a graph outside the pattern is refused with the node that did not fit', async (t) => {
  t.throws(() => perRowQuantize(new Uint8Array([1, 2, 3])), 'bytes that are not ONNX');
  const fp32 = toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 7n,
      opsetImport: [create(OperatorSetIdProtoSchema, { version: 14n })],
      graph: create(GraphProtoSchema, {
        node: [op('MatMul', ['X', 'W'], ['Y'], 'mm')],
        initializer: [tensor('W', TensorProto_DataType.FLOAT, floats(Array(K * 2).fill(1)), [K, 2])],
        input: [valueInfo('X', [1, K])],
        output: [valueInfo('Y', [1, 2])],
      }),
    }),
  );
  t.equal(perRowQuantize(fp32), undefined, 'an fp32 model quantizes nothing at run time: nothing to rewrite');
  const fusedAlready = quantizeDynamicLayout((nodes) => {
    nodes.splice(0, nodes.length, op('DynamicQuantizeMatMul', ['X', 'W1_quantized', 'W1_scale', 'W1_zero_point'], ['Y_W1'], 'dqmm'));
  });
  t.throws(
    () => perRowQuantize(fusedAlready),
    { name: 'GraphNotRecognisedError', message: /no DynamicQuantizeLinear -> MatMulInteger pattern/ },
    'a run-time quantization in a form the rewrite does not know (a fused DynamicQuantizeMatMul)',
  );
  const inSubgraph = quantizeDynamicLayout((nodes) => {
    const branch = create(GraphProtoSchema, {
      node: [op('DynamicQuantizeLinear', ['X'], ['q', 's', 'z'], 'inner_dql')],
      output: [valueInfo('q', [K])],
    });
    const attribute = create(AttributeProtoSchema, { name: 'then_branch', type: AttributeProto_AttributeType.GRAPH, g: branch });
    nodes.splice(
      0,
      nodes.length,
      create(NodeProtoSchema, { opType: 'If', input: ['cond'], output: ['Y_W1'], name: 'if', attribute: [attribute] }),
    );
  });
  t.throws(
    () => perRowQuantize(inSubgraph),
    { name: 'GraphNotRecognisedError', message: /no DynamicQuantizeLinear -> MatMulInteger pattern/ },
    'a run-time quantization inside a subgraph is not mistaken for none',
  );
  const cases: [string, (nodes: NodeProto[]) => void, RegExp][] = [
    [
      'the quantized activation also feeds another op',
      (nodes) => nodes.push(op('Identity', ['X_quantized'], ['extra'], 'identity')),
      /X_QuantizeLinear.*feeds Identity, not MatMulInteger/,
    ],
    [
      'the integer product is not cast to float',
      (nodes) => {
        nodes.find((n) => n.opType === 'Cast')!.attribute[0].i = BigInt(TensorProto_DataType.DOUBLE);
      },
      /its Cast is not to float/,
    ],
    [
      'the scale also feeds something else',
      (nodes) => nodes.push(op('Identity', ['X_scale'], ['extra'], 'identity')),
      /its scale is used by/,
    ],
    [
      'the weight is not a constant',
      (nodes) => {
        nodes.find((n) => n.opType === 'MatMulInteger')!.input[1] = 'X';
      },
      /weight X is not a constant 2-D int8\/uint8 tensor/,
    ],
  ];
  for (const [what, mutate, message] of cases) {
    t.throws(() => perRowQuantize(quantizeDynamicLayout(mutate)), { name: 'GraphNotRecognisedError', message }, what);
  }
  t.throws(
    () => perRowQuantize(quantizeDynamicLayout((nodes) => nodes.push(op('Identity', ['X'], ['per_row_q_x'], 'per_row_q_x')))),
    { name: 'GraphNotRecognisedError', message: /already has a name that the rewrite would use \(per_row_q_x\)/ },
    'a name the rewrite would give',
  );
  t.equal(perRowQuantize(rewrite(quantizeDynamicLayout()).bytes), undefined, 'a graph rewritten already: nothing left to rewrite');
  t.ok(
    new GraphNotRecognisedError('x').message.startsWith('the ONNX graph is not a dynamically quantized graph'),
    'the message says what was expected',
  );
});

t.test('the service refuses to start on a graph it does not recognise, naming the setting that turns the rewrite off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'per-row-refusal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'onnx'));
  for (const file of ['config.json', 'tokenizer.json']) copyFileSync(join(STANDIN_MODEL_DIR, file), join(dir, file));
  writeFileSync(
    join(dir, 'onnx', 'model_quantized.onnx'),
    quantizeDynamicLayout((nodes) => nodes.push(op('Identity', ['X_quantized'], ['extra'], 'identity'))),
  );
  const service = await startService({ MODEL_DIR: dir, PER_ROW_QUANTIZATION: 'true' }, { waitHealthy: false });
  const code = await new Promise((resolve) => service.child.once('exit', resolve));
  t.equal(code, 1, 'exit 1');
  t.match(service.output(), /INF_ERR_MODEL_GRAPH/);
  t.match(service.output(), /X_QuantizeLinear.*set PER_ROW_QUANTIZATION=false to serve the model as it is/);
});

t.test('the rewritten stand-in scores a text as the original does, within int8 noise', async (t) => {
  const session = await ort.InferenceSession.create(rewrite(readFileSync(STANDIN_ONNX)).bytes);
  const { Tokenizer } = await import('tokenizers');
  const tokenizer = await Tokenizer.fromFile(join(STANDIN_MODEL_DIR, 'tokenizer.json'));
  for (const text of ['I love you.', 'I hate you.', 'A masterpiece.', 'The film was terrible.']) {
    const e = await tokenizer.encode(text);
    const ids = BigInt64Array.from(e.getIds(), BigInt);
    const out = await session.run({
      input_ids: new ort.Tensor('int64', ids, [1, ids.length]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(e.getAttentionMask(), BigInt), [1, ids.length]),
    });
    const [neg, pos] = Array.from(out.logits.data as Float32Array);
    const positive = 1 / (1 + Math.exp(neg - pos));
    const original = (await untransformedScores(text)).POSITIVE;
    t.ok(Math.abs(positive - original) < 0.05, `${text}: P(positive) ${positive.toFixed(4)} vs ${original.toFixed(4)} unrewritten`);
    t.equal(positive > 0.5, original > 0.5, `${text}: same label`);
  }
});
