import type { ValidateFunction } from 'ajv';
import * as requestValidators from '../generated/request-validators.js';
import * as configValidator from '../generated/config-validator.js';

// The generated modules are plain JS; these casts give them AJV's types. They were compiled ahead of time
// by schemas/build.mjs, so nothing here compiles a schema.
export const validateBulkPredictRequest = requestValidators.validateBulkPredictRequest as unknown as ValidateFunction;
export const validateBulkPredictResponse = requestValidators.validateBulkPredictResponse as unknown as ValidateFunction;
export const validateConfig = configValidator.validateConfig as unknown as ValidateFunction;
export const validateHfTextClassificationRequest = requestValidators.validateHfTextClassificationRequest as unknown as ValidateFunction;
export const validateOipInferRequest = requestValidators.validateOipInferRequest as unknown as ValidateFunction;
export const validateModelSettings = requestValidators.validateModelSettings as unknown as ValidateFunction;
export const validateRepositoryIndexRequest = requestValidators.validateRepositoryIndexRequest as unknown as ValidateFunction;
export const validateRepositoryModelRequest = requestValidators.validateRepositoryModelRequest as unknown as ValidateFunction;
