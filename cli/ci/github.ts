/**
 * GitHub Actions' side of a CI report: workflow commands for annotations, the GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files. Escaping as @actions/core does it (packages/core/src/command.ts): a message escapes
 * `%`, CR and LF; a property also `:` and `,` (they end the command prefix and separate properties).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { Annotation } from './report.ts';

const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/**
 * `::error file=…,line=…,col=…,title=…::message`. `path` turns the annotation's file (relative to the migrations
 * directory) into a path relative to the repository root, which is what GitHub places annotations by.
 */
export function workflowCommand(annotation: Annotation, path: (file: string) => string): string {
  const properties = [
    annotation.file === undefined ? undefined : `file=${escapeProperty(path(annotation.file))}`,
    annotation.line === undefined ? undefined : `line=${annotation.line}`,
    annotation.column === undefined ? undefined : `col=${annotation.column}`,
    `title=${escapeProperty(annotation.title)}`,
  ].filter((p) => p !== undefined);
  return `::${annotation.level} ${properties.join(',')}::${escapeData(annotation.message)}`;
}

/**
 * Appends outputs to the GITHUB_OUTPUT file in its multi-line form (`name<<delimiter`), with a delimiter no value
 * contains, as @actions/core's `setOutput` writes them.
 */
export function appendOutputs(file: string, outputs: Readonly<Record<string, string>>): void {
  let text = '';
  for (const [name, value] of Object.entries(outputs)) {
    const delimiter = `ghadelimiter_${randomUUID()}`;
    if (value.includes(delimiter)) throw new Error(`output ${name} contains its own delimiter`);
    text += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  }
  appendFileSync(file, text);
}

/** Appends Markdown to the job summary (GITHUB_STEP_SUMMARY); steps of one job share the file. */
export function appendSummary(file: string, markdown: string): void {
  appendFileSync(file, `${markdown}\n`);
}
