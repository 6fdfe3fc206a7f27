/**
 * The rehearsal commands: `release --local`, `snapshots --local`, `restore --local` and `diagram`. Their code
 * (the rehearsal, the CDK app it synthesizes, the Step Functions interpreter) is loaded only for them: from the
 * installed command, the rehearsal's own bundle beside the CLI's (dist/rehearsal.cjs, built by `npm run
 * build:cli`); from source, the rehearsal module itself.
 */
import { join } from 'node:path';
import { InvalidInputError } from '../../engine/errors.ts';
import type { Output } from '../output.ts';
import { keepParserOnBaselineTier } from '../parser-tier.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';
import type { Ask } from '../terminal-prompt.ts';

type Rehearsal = typeof import('../../rehearsal/commands.ts');

/** Set to true by the bundler when it builds dist/cli.cjs. */
declare const LOCKSTEP_BUNDLED: boolean;

export async function loadRehearsal(): Promise<Rehearsal> {
  // The rehearsal's bundle has its own copy of the engine, whose parser this entry's hook does not reach.
  keepParserOnBaselineTier();
  if (typeof LOCKSTEP_BUNDLED !== 'undefined' && LOCKSTEP_BUNDLED) {
    // A path the bundler cannot follow: the rehearsal stays out of dist/cli.cjs, which every command loads.
    const bundle = join(__dirname, 'rehearsal.cjs');
    return require(bundle) as Rehearsal;
  }
  // Computed, so that the bundler does not follow it either.
  const source = ['..', '..', 'rehearsal', 'commands.ts'].join('/');
  return (await import(source)) as Rehearsal;
}

export interface ReleaseOptions {
  readonly dir?: string;
  readonly command?: string;
  readonly pendingCheck?: string;
  readonly migrationTimeout?: string;
  readonly image?: string;
  readonly release?: string;
  readonly failAt?: string;
  readonly run?: string;
  readonly approval?: boolean;
  readonly approve?: boolean;
  readonly reject?: string;
}

/** What `release --local` takes from the process: the terminal to ask at the approval gate, and who answers. */
export interface ReleaseDeps {
  readonly ask: Ask | undefined;
  readonly approver: string | undefined;
}

export function release(raw: ReleaseOptions, output: Output, deps: ReleaseDeps): Promise<Outcome> {
  return outcomeOf(async () => {
    const local = await loadRehearsal();
    await local.releaseLocal({
      ...raw,
      ask: deps.ask,
      approver: deps.approver,
      cwd: process.cwd(),
      print: (line) => output.note(line),
      now: () => new Date(),
    });
    return succeeded('');
  });
}

export function snapshots(): Promise<Outcome> {
  return outcomeOf(async () => {
    const local = await loadRehearsal();
    const list = await local.withLocalDatabase(
      process.cwd(),
      () => {},
      ({ server }) => local.localSnapshots(server).list(),
    );
    return succeeded(
      list.length
        ? list.map((s) => `${s.id}  ${s.createdAt.toISOString()}`).join('\n')
        : 'no local snapshots',
    );
  });
}

export function restore(id: string): Promise<Outcome> {
  return outcomeOf(async () => {
    if (!id) throw new InvalidInputError('snapshot', 'name one: lockstep snapshots --local lists them');
    const local = await loadRehearsal();
    await local.withLocalDatabase(process.cwd(), () => {}, local.restoreLocal(id));
    return succeeded(`restored database "app" from ${id}`);
  });
}

export function diagram(): Promise<Outcome> {
  return outcomeOf(async () => succeeded(await (await loadRehearsal()).diagram()));
}
