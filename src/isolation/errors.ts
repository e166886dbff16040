import { ErrorCode, HarnessError, IsolationErrorCode } from '../protocol/errors';

/**
 * A HarnessError raised by isolation, so the dispatcher, the CLI and the extension report it like
 * any other (code, message, details). Its codes are the protocol's (IsolationErrorCode, plus the
 * core's INVALID_ARGUMENT, NOT_FOUND, CONFLICT, ... as they are).
 */
export class IsolationError extends HarnessError {
  constructor(code: IsolationErrorCode | ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export { ErrorCode, IsolationErrorCode };
