/**
 * Secrets kept out of gateway.json: the API token and the external broker's password come from a file named in
 * the configuration (`http.tokenFile`, `mqtt.passwordFile`) or from systemd credentials
 * (`$CREDENTIALS_DIRECTORY/api-token`, `…/mqtt-password`, given with LoadCredential=). A value given two ways is
 * refused rather than guessed, and a secret file any user may read is refused. Messages name the file, never
 * its content.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configError } from '../common/settings.js';

/** The file's content without its trailing newline; ERR_CONFIG when missing, empty or readable by everyone. */
export function readSecretFile(path: string, setting: string): string {
  let text: string;
  try {
    if (statSync(path).mode & 0o004) throw configError(`${setting}: ${path} is readable by every user; chmod o-r it (600 or 640)`, { key: setting });
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_CONFIG') throw e;
    throw configError(`${setting}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { key: setting });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '' || value.includes('\n')) throw configError(`${setting}: ${path} must hold the secret on one line`, { key: setting });
  return value;
}

export interface SecretSpec {
  /** Setting holding the value itself (e.g. `http.token`). */
  value: string;
  /** Setting naming a file that holds it (e.g. `http.tokenFile`). */
  file: string;
  /** Name under $CREDENTIALS_DIRECTORY. */
  credential: string;
  current: string | undefined;
  currentFile: string | undefined;
}

/** The secret from its value, its file or the systemd credential (exactly one of them), or undefined. */
export function resolveSecret(s: SecretSpec, env: NodeJS.ProcessEnv): string | undefined {
  if (s.current !== undefined && s.currentFile !== undefined) throw configError(`${s.value} and ${s.file} are both set; set one`, { key: s.value });
  if (s.currentFile !== undefined) return readSecretFile(s.currentFile, s.file);
  if (s.current !== undefined) return s.current;
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return undefined;
  const path = join(dir, s.credential);
  try {
    statSync(path);
  } catch {
    return undefined; // this credential was not passed to the service
  }
  return readSecretFile(path, `${s.value} (systemd credential ${s.credential})`);
}
