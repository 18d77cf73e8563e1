// The service's errors as HTTP answers them, for the tests that check every error's status, body and docs row:
// src/errors.ts defines each error once (code and message), src/http/error-answers.ts is the one table from an
// error to its status, headers and body per API family. `Errors` here is src/errors.ts's, with each request
// error answered as the service's own (FastAPI) routes answer it.
import { Errors as catalogue, RequestError } from '../dist/src/errors.js';
import { errorAnswer, type ErrorAnswer } from '../dist/src/http/error-answers.js';

/** A request error with the answer the FastAPI routes give it. */
export class HttpError {
  readonly code: string;
  readonly statusCode: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(readonly error: RequestError) {
    const answer = errorAnswer(error, 'bulk-predict');
    this.code = error.code;
    this.statusCode = answer.status;
    this.body = answer.body;
    this.headers = Object.fromEntries(answer.headers);
  }
}

type Factories = typeof catalogue;

/** src/errors.ts's factories; those of request errors make HttpErrors. */
export const Errors = Object.fromEntries(
  Object.entries(catalogue).map(([name, make]) => [
    name,
    (...args: never[]) => {
      const error = (make as (...a: never[]) => Error)(...args);
      return error instanceof RequestError ? new HttpError(error) : error;
    },
  ]),
) as unknown as { [Name in keyof Factories]: (...args: Parameters<Factories[Name]>) => HttpError | ReturnType<Factories[Name]> };

/** The error as the TEI routes answer it. */
export function teiErrorFor(error: HttpError): ErrorAnswer {
  return errorAnswer(error.error, 'tei');
}
