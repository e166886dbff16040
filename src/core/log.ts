// The logger interface is shared by every side, so it lives in the protocol.
export { silentLogger, stderrLogger, type Logger } from '../protocol/log';
