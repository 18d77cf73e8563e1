// The tei.v1 messages (schemas/grpc/tei.proto) as @grpc/proto-loader gives and takes them with src/grpc/protos.ts's
// options: the proto's snake_case names, enums as their names (an unknown value stays its number), 64-bit
// integers as numbers, every scalar present with its default, and an `optional` field absent when unset.

export type TruncationDirection = 'TRUNCATION_DIRECTION_RIGHT' | 'TRUNCATION_DIRECTION_LEFT' | number;

export interface InfoResponse {
  readonly version: string;
  readonly sha?: string;
  readonly docker_label?: string;
  readonly model_id: string;
  readonly model_sha?: string;
  readonly model_dtype: string;
  readonly model_type: 'MODEL_TYPE_EMBEDDING' | 'MODEL_TYPE_CLASSIFIER' | 'MODEL_TYPE_RERANKER';
  readonly max_concurrent_requests: number;
  readonly max_input_length: number;
  readonly max_batch_tokens: number;
  readonly max_batch_requests?: number;
  readonly max_client_batch_size: number;
  readonly tokenization_workers: number;
}

/** Where a request's time went, in nanoseconds (TEI's ResponseMetadata). */
export interface Metadata {
  readonly compute_chars: number;
  readonly compute_tokens: number;
  readonly total_time_ns: number;
  readonly tokenization_time_ns: number;
  readonly queue_time_ns: number;
  readonly inference_time_ns: number;
}

export interface PredictRequest {
  readonly inputs: string;
  readonly truncate: boolean;
  readonly raw_scores: boolean;
  readonly truncation_direction: TruncationDirection;
}

export interface PredictPairRequest {
  readonly inputs: readonly string[];
  readonly truncate: boolean;
  readonly raw_scores: boolean;
  readonly truncation_direction: TruncationDirection;
}

export interface PredictResponse {
  readonly predictions: readonly { readonly score: number; readonly label: string }[];
  readonly metadata: Metadata;
}

export interface RerankRequest {
  readonly query: string;
  readonly texts: readonly string[];
  readonly truncate: boolean;
  readonly raw_scores: boolean;
  readonly return_text: boolean;
  readonly truncation_direction: TruncationDirection;
}

export interface RerankStreamRequest {
  readonly query: string;
  readonly text: string;
  readonly truncate: boolean;
  readonly raw_scores: boolean;
  readonly return_text: boolean;
  readonly truncation_direction: TruncationDirection;
}

export interface RerankResponse {
  readonly ranks: readonly { readonly index: number; readonly text?: string; readonly score: number }[];
  readonly metadata: Metadata;
}

export interface EncodeRequest {
  readonly inputs: string;
  readonly add_special_tokens: boolean;
  readonly prompt_name?: string;
}

export interface SimpleToken {
  readonly id: number;
  readonly text: string;
  readonly special: boolean;
  /** Code points into `inputs`; absent for a special token, which is none of its text. */
  readonly start?: number;
  readonly stop?: number;
}

export interface EncodeResponse {
  readonly tokens: readonly SimpleToken[];
}

export interface DecodeRequest {
  readonly ids: readonly number[];
  readonly skip_special_tokens: boolean;
}

export interface DecodeResponse {
  readonly text: string;
}
