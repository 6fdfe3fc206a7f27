/**
 * The checksum rule: what counts as "the same migration file" once it has been applied.
 *
 * The sha256, hex, of the file's text as UTF-8 with a leading byte-order mark removed and every CRLF or lone CR
 * turned into LF. So a file that git (`core.autocrlf`) or an editor re-saved with other line endings or a BOM
 * is still the file that ran; any other change, even one space, is an edit. (Flyway normalizes line endings
 * the same way.)
 *
 * Versions before this rule stored the sha256 of the raw bytes. For a file with LF endings and no BOM the two
 * agree; for the rest, a recorded checksum also matches when it is the raw-bytes checksum of the file as it is,
 * or of the file with LF or CRLF endings, with or without a BOM — so existing histories keep validating, and a
 * CRLF file applied under the old rule survives a later conversion to LF.
 */
import * as crypto from 'node:crypto';

const BOM = '\uFEFF';
/**
 * sha256 of the text as UTF-8, hex. `crypto.hash` (Node ≥ 20.12) is a single native call; a Hash object per file
 * costs several times more, which a no-op run over a thousand applied files pays for every one of them.
 */
const sha256: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

/** The text the checksum is taken of: no leading BOM, LF line endings. */
export function normalizeMigrationText(sql: string): string {
  const body = sql.startsWith(BOM) ? sql.slice(1) : sql;
  return body.includes('\r') ? body.replace(/\r\n?/g, '\n') : body;
}

/** The checksum lockstep records for a migration whose decoded text is `sql`. */
export function migrationChecksum(sql: string): string {
  return sha256(normalizeMigrationText(sql));
}

/** The raw-bytes checksums earlier versions may have recorded for this same text. */
export function legacyChecksums(sql: string): string[] {
  const body = sql.startsWith(BOM) ? sql.slice(1) : sql;
  const lf = normalizeMigrationText(body);
  const variants = new Set([body, lf, lf.replace(/\n/g, '\r\n')]);
  return [...variants].flatMap((v) => [sha256(v), sha256(BOM + v)]);
}

/** Whether a recorded checksum is this file's, under the current rule or the raw-bytes one before it. */
export function checksumMatches(
  recorded: string,
  file: { readonly checksum: string; readonly sql: string },
): boolean {
  return recorded === file.checksum || legacyChecksums(file.sql).includes(recorded);
}
