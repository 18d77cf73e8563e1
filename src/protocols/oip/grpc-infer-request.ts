// A ModelInfer request of inference.GRPCInferenceService -> its texts, the outputs asked for and whether they are
// answered raw; or INVALID_ARGUMENT naming the field that is wrong. The shape and count rules are the HTTP
// route's (tensors.ts).
import { Errors } from '../../errors.js';
import { checkTextTensor, OIP_OUTPUT_NAMES, type OipOutputName, requestedOutputs } from './tensors.js';
import { splitRawBytes } from './raw-tensors.js';

/** An InferParameter: one of its fields is set, named by `parameter_choice` (proto-loader's `oneofs`). */
export interface InferParameter {
  readonly parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
  readonly bool_param?: boolean;
  readonly int64_param?: number;
  readonly string_param?: string;
}

export interface InferTensorContents {
  readonly bytes_contents: readonly Buffer[];
  readonly [typed: string]: readonly unknown[];
}

/** The message as proto-loader gives it (protos.ts: the proto's field names, absent fields at their defaults). */
export interface ModelInferRequest {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: Readonly<Record<string, InferParameter>>;
  readonly inputs: readonly {
    readonly name: string;
    readonly datatype: string;
    readonly shape: readonly number[];
    readonly parameters: Readonly<Record<string, InferParameter>>;
    readonly contents: InferTensorContents | null;
  }[];
  readonly outputs: readonly { readonly name: string; readonly parameters: Readonly<Record<string, InferParameter>> }[];
  readonly raw_input_contents: readonly Buffer[];
}

export interface OipGrpcInferRequest {
  readonly texts: string[];
  readonly outputs: readonly OipOutputName[];
  /**
   * Answer in raw_output_contents: when the texts came in raw_input_contents (as Triton's clients send them), or
   * when a requested output asks for `binary_data` (Triton's output parameter). The protocol allows raw contents
   * for every output or none, so one output asking makes them all raw.
   */
  readonly raw: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseModelInferRequest(request: ModelInferRequest, maxTexts: number): OipGrpcInferRequest {
  const { inputs, outputs, raw_input_contents: rawInputs } = request;
  if (inputs.length !== 1) throw Errors.InvalidInput(`inputs has ${inputs.length} tensors: send one BYTES tensor of texts`);
  const [input] = inputs;
  if (input.datatype !== 'BYTES') {
    throw Errors.InvalidInput(`inputs[0].datatype is ${JSON.stringify(input.datatype.slice(0, 20))}: send BYTES`);
  }
  let elements: readonly Buffer[];
  let field: string;
  if (rawInputs.length > 0) {
    if (rawInputs.length !== 1) throw Errors.InvalidInput(`raw_input_contents has ${rawInputs.length} entries for one input`);
    if (input.contents && Object.values(input.contents).some((values) => values.length > 0)) {
      throw Errors.InvalidInput('inputs[0].contents must be empty when raw_input_contents is used');
    }
    field = 'raw_input_contents[0]';
    elements = splitRawBytes(rawInputs[0], field);
  } else {
    field = 'inputs[0].contents.bytes_contents';
    elements = input.contents?.bytes_contents ?? [];
  }
  checkTextTensor(input.shape, elements.length, maxTexts);
  const texts = elements.map((bytes, i) => {
    try {
      return utf8.decode(bytes);
    } catch {
      throw Errors.InvalidInput(`${field}[${i}] is not valid UTF-8`);
    }
  });
  outputs.forEach(({ name }, i) => {
    if (!(OIP_OUTPUT_NAMES as readonly string[]).includes(name)) {
      throw Errors.InvalidInput(
        `outputs[${i}].name ${JSON.stringify(name.slice(0, 100))} is not an output of this model: ${OIP_OUTPUT_NAMES.join(' or ')}`,
      );
    }
  });
  const binary = outputs.some(({ parameters }) => parameters.binary_data?.bool_param === true);
  return {
    texts,
    outputs: requestedOutputs(outputs.map(({ name }) => name as OipOutputName)),
    raw: rawInputs.length > 0 || binary,
  };
}
