// The error codes and HarnessError are shared by every side, so they live in the protocol.
export { describeError, ErrorCode, HarnessError, isHarnessError } from '../protocol/errors';
