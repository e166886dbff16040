// Secrets for signature checks: from an environment variable, or from a file that only its owner
// can read. The value is never logged and never put in a reply or an error message.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, HarnessError } from '../core/errors';
import type { SecretSource } from './config';

/** Reads a secret; throws INVALID_ARGUMENT naming the variable or file (never the value). */
export function readSecret(source: SecretSource, what: string, workspace: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  if ('env' in source) {
    const value = env[source.env];
    if (!value) throw new HarnessError(ErrorCode.InvalidArgument, `${what}: environment variable ${source.env} is not set or empty`);
    return Buffer.from(value, 'utf8');
  }
  const file = path.resolve(workspace, source.file);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch (e) {
    throw new HarnessError(ErrorCode.InvalidArgument, `${what}: cannot read secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    // Checked on the open file, so the file cannot be swapped between the check and the read.
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new HarnessError(ErrorCode.InvalidArgument, `${what}: secret file ${file} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new HarnessError(
        ErrorCode.InvalidArgument,
        `${what}: secret file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``,
      );
    }
    const value = fs.readFileSync(fd).toString('utf8').trim();
    if (!value) throw new HarnessError(ErrorCode.InvalidArgument, `${what}: secret file ${file} is empty`);
    return Buffer.from(value, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
