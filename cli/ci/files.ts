/**
 * `--summary <file>` and `--codequality <file>`: a command's result as CI files, for any CI. The summary is the
 * Markdown GitHub's job summary shows (appended, as steps share that file; a GitLab job keeps it as an artifact);
 * the Code Quality report is what GitLab shows on a merge request's changes
 * (https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format: `description`, `check_name`,
 * `fingerprint` unique per issue, `severity` info|minor|major|critical|blocker, `location.path` relative to the
 * repository, `location.lines.begin`).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { type Annotation, ciReport } from './report.ts';

export interface CiFiles {
  readonly summary?: string | undefined;
  readonly codequality?: string | undefined;
}

export interface CiPaths {
  readonly cwd: string;
  /** The migrations directory the annotations' file names are relative to. */
  readonly dir: string;
  /** The repository root paths in reports are relative to. */
  readonly root: string;
}

const SEVERITY: Record<Annotation['level'], string> = { error: 'major', warning: 'minor', notice: 'info' };

export function codeQuality(annotations: readonly Annotation[], path: (file: string) => string): unknown[] {
  return annotations
    .filter((a) => a.file !== undefined)
    .map((a) => {
      const file = path(a.file ?? '');
      const line = a.line ?? 1;
      const fingerprint = createHash('sha256')
        .update([file, line, a.column ?? '', a.title, a.message].join('\0'))
        .digest('hex')
        .slice(0, 32);
      return {
        description: `${a.title}: ${a.message}`,
        check_name: `lockstep/${a.title}`,
        fingerprint,
        severity: SEVERITY[a.level],
        location: { path: file, lines: { begin: line } },
      };
    });
}

/** Turns a migration file name into its path from the repository root, with `/`, as CI places annotations. */
export const repositoryPath =
  (paths: CiPaths) =>
  (file: string): string =>
    relative(paths.root, resolve(paths.cwd, paths.dir, file))
      .split(sep)
      .join('/');

/** Writes the files asked for; returns a problem per file it could not write. */
export function writeCiFiles(files: CiFiles, document: unknown, paths: CiPaths): string[] {
  if (!files.summary && !files.codequality) return [];
  const report = ciReport(document);
  const path = repositoryPath(paths);
  const problems: string[] = [];
  const attempt = (flag: string, file: string, write: () => void) => {
    try {
      write();
    } catch (err) {
      problems.push(`could not write ${flag} ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (files.summary) {
    const file = resolve(paths.cwd, files.summary);
    attempt('--summary', files.summary, () => appendFileSync(file, `${report.summary}\n`));
  }
  if (files.codequality) {
    const file = resolve(paths.cwd, files.codequality);
    const issues = codeQuality(report.annotations, path);
    attempt('--codequality', files.codequality, () =>
      writeFileSync(file, `${JSON.stringify(issues, null, 2)}\n`),
    );
  }
  return problems;
}
