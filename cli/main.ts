/**
 * The `lockstep` command: parse the arguments, run one engine command, print, exit. See ./exit-codes.ts for
 * what the exit codes mean.
 */
import { hostname, userInfo } from 'node:os';
import { Command, CommanderError } from 'commander';
import { InvalidInputError } from '../engine/errors.ts';
import { beforeParserLoads } from '../engine/sql-parser.ts';
import packageJson from '../package.json' with { type: 'json' };
import { addAdoptOptions, type RawAdoptOptions } from './adopt-options.ts';
import { addApprovalOptions, type RawApprovalOptions } from './approval-options.ts';
import { addBaselineOptions, type RawBaselineOptions } from './baseline-options.ts';
import type { RawNewOptions } from './commands/new.ts';
import type { ReleaseOptions } from './commands/rehearsal.ts';
import { addExecOptions, type RawExecOptions } from './exec/options.ts';
import { ExitCode } from './exit-codes.ts';
import { addLintOptions, type RawLintOptions } from './lint-options.ts';
import { addOptions, type CommandName, DEFAULTS, type RawOptions } from './options.ts';
import { errorJson, errorText, Output } from './output.ts';
import { keepParserOnBaselineTier } from './parser-tier.ts';
import { addPublishOptions, type RawPublishOptions } from './publish-options.ts';
import { addReleasesOptions, type RawReleasesOptions } from './releases-options.ts';
import { jsonDocument, jsonHead, type Outcome, report } from './report.ts';
import { addRollbackOptions, type RawRollbackOptions } from './rollback-options.ts';
import { Shutdown } from './shutdown.ts';
import { addStartOptions, type RawStartOptions } from './start-options.ts';

// Which V8 tiers compile the SQL parser, set when it loads (./parser-tier.ts).
beforeParserLoads(keepParserOnBaselineTier);

const COMMANDS: ReadonlyArray<readonly [CommandName, string]> = [
  ['migrate', 'apply pending migrations, one transaction each, under an advisory lock'],
  ['plan', 'show pending migrations and drift; exit 5 when migrate would refuse to run'],
  ['status', 'show applied and pending migrations'],
  [
    'repair',
    'accept a deliberate edit of an applied migration: record its new checksum, with who, when and why',
  ],
];

/** Who runs this, for `repair`'s audit row; a container may have a uid with no name. */
function osUser(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

// No top-level await: the CLI is bundled as CommonJS, which Node loads faster than ES modules.
async function main(): Promise<void> {
  const output = new Output(process.stdout, process.stderr);
  const shutdown = new Shutdown(
    (line) => output.note(line),
    () => output.flush(),
  ).install();
  let exitCode: number = ExitCode.Success;

  const program = new Command('lockstep')
    .description('Apply PostgreSQL migrations safely: one run at a time, each in its own transaction.')
    .version(packageJson.version)
    // `lockstep --version` is the program's; after a command name, `--version <v>` is that command's (baseline).
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  // `--summary` and `--codequality`: the outcome as CI files too, from the same document `--json` prints.
  const ciFiles = async (
    command: string,
    raw: { dir?: string; summary?: string; codequality?: string },
    outcome: Outcome,
  ) => {
    if (outcome.silent || !(raw.summary || raw.codequality)) return;
    const { writeCiFiles } = await import('./ci/files.ts');
    const cwd = process.cwd();
    const paths = { cwd, dir: raw.dir ?? DEFAULTS.dir, root: process.env.CI_PROJECT_DIR ?? cwd };
    for (const problem of writeCiFiles(raw, jsonDocument(command, outcome), paths))
      output.note(`warning: ${problem}`);
  };
  // Each command's code is loaded when it runs, and its outcome printed one way (./report.ts).
  const finish = (command: string, json: boolean | undefined, outcome: Outcome) => {
    exitCode = report(output, command, json ?? false, outcome);
  };

  // What a command that connects needs from the process.
  const runDeps = () => ({
    output,
    shutdown,
    env: process.env,
    cwd: process.cwd(),
    hostname: hostname(),
    now: Date.now,
    osUser: osUser(),
  });

  for (const [name, description] of COMMANDS) {
    addOptions(program.command(name).description(description), name).action(async (raw: RawOptions) => {
      const { run } = await import('./commands/engine.ts');
      const outcome = await run(name, raw, runDeps());
      await ciFiles(name, raw, outcome);
      finish(name, raw.json, outcome);
    });
  }

  addAdoptOptions(
    program
      .command('adopt')
      .description("take over another tool's migration history, so migrate applies only what it has not"),
  ).action(async (raw: RawAdoptOptions) => {
    const { run } = await import('./commands/adopt.ts');
    finish('adopt', raw.json, await run(raw, runDeps()));
  });

  addBaselineOptions(
    program
      .command('baseline')
      .description(
        'for a database built without any tool: record the migrations up to --version as applied, without running them',
      ),
  ).action(async (raw: RawBaselineOptions) => {
    const { run, terminalPrompt } = await import('./commands/baseline.ts');
    finish('baseline', raw.json, await run(raw, { ...runDeps(), ask: terminalPrompt() }));
  });

  addExecOptions(
    program
      .command('exec')
      .description(
        'run a command under the migration lock, with DATABASE_URL and PG* set; exit with its exit code',
      )
      .usage('[options] -- <command> [args...]')
      .argument('<command...>', 'the command and its arguments, after --; no shell unless you run one')
      .addHelpText(
        'after',
        `
Examples:
  lockstep exec --release v1.4.2 -- python manage.py migrate
  lockstep exec --timeout 30m -- sh -c 'npx prisma migrate deploy && npm run seed'

Exit codes: the command's own (128+N when signal N ended it); 124 when --timeout stopped it; 126 or 127 when
it could not be started; 2, 4 (the lock is held, or was lost while the command ran) or 7 when lockstep could not
run it; 128+N when lockstep itself got signal N (passed on to the command).`,
      ),
  ).action(async (argv: string[], raw: RawExecOptions) => {
    const { run } = await import('./commands/exec.ts');
    const outcome = await run(argv, raw, { ...runDeps(), terminal: process.stdin.isTTY === true });
    finish('exec', raw.json, outcome);
  });

  addLintOptions(
    program
      .command('lint')
      .description(
        'find what pending migrations would lock, rewrite or break in production; with a database, live sizes and blocking sessions',
      ),
  ).action(async (raw: RawLintOptions) => {
    const { run } = await import('./commands/lint.ts');
    const outcome = await run(raw, runDeps());
    await ciFiles('lint', raw, outcome);
    finish('lint', raw.json || raw.format === 'json', outcome);
  });

  program
    .command('new')
    .description(
      'write the next migration file: a version after every existing one, named after <description>',
    )
    .argument('<description>', 'what the migration does, e.g. "add email to users"')
    .option('--dir <path>', 'migrations directory (created if missing)', './migrations')
    .option('--no-transaction', 'start the file with -- lockstep:no-transaction')
    .option(
      '--after-deploy',
      'start the file with -- lockstep:after-deploy: it runs once the new version is rolled out',
    )
    .option('--sequence', 'number it next in sequence (0001, 0002, …) whatever the directory does')
    .option('--timestamp', 'version it with the UTC time (YYYYMMDDHHMMSS) whatever the directory does')
    .option('--json', 'print one JSON document')
    .action(async (description: string, raw: RawNewOptions & { transaction?: boolean }) => {
      const { run } = await import('./commands/new.ts');
      const options = { ...raw, noTransaction: raw.transaction === false };
      finish('new', raw.json, await run(description, options, { cwd: process.cwd(), now: () => new Date() }));
    });

  addPublishOptions(
    program
      .command('publish')
      .description(
        'upload a release’s migrations and their checksums to S3, for the migrate function to run',
      ),
  ).action(async (raw: RawPublishOptions) => {
    const { run } = await import('./commands/publish.ts');
    finish('publish', raw.json, await run(raw));
  });

  addStartOptions(
    program.command('start').description('start a release on AWS; with --follow, watch it to the end'),
  ).action(async (raw: RawStartOptions) => {
    const { run } = await import('./commands/start.ts');
    finish('start', raw.json, await run(raw, output, process.env));
  });

  // The approval gate's decision: the command and the AWS SDK are loaded only when it runs.
  const decisionDeps = async () => {
    const { awsDecisionClients } = await import('./commands/decision-clients.ts');
    return { clients: awsDecisionClients, env: process.env, now: () => new Date() };
  };
  addApprovalOptions(
    program
      .command('approve')
      .description('let a release waiting at its approval gate go on: it migrates, then deploys'),
    false,
  ).action(async (execution: string, raw: RawApprovalOptions) => {
    const { run } = await import('./commands/approve.ts');
    finish('approve', raw.json, await run(execution, raw, await decisionDeps()));
  });
  addApprovalOptions(
    program
      .command('reject')
      .description(
        'stop a release waiting at its approval gate: it fails with your reason, changing nothing',
      ),
    true,
  ).action(async (execution: string, raw: RawApprovalOptions) => {
    const { run } = await import('./commands/reject.ts');
    finish('reject', raw.json, await run(execution, raw, await decisionDeps()));
  });
  program
    .command('release')
    .description(
      'rehearse a whole release locally: the real state machine and functions, an embedded PostgreSQL',
    )
    .requiredOption('--local', 'run on this machine (the only mode: a real release is `lockstep start`)')
    .option('--dir <path>', 'SQL migrations directory (default: ./migrations)')
    .option(
      '--command <command>',
      'migrate with your tool’s command instead (command mode), run here with DATABASE_URL and PG* set; one string, split without a shell as -c migrationCommand is',
    )
    .option(
      '--pending-check <command>',
      'with --command: a command that exits 0 when nothing is pending (then no snapshot and no migration), run first as -c pendingCheckCommand is',
    )
    .option(
      '--migration-timeout <duration>',
      'with --command: stop the command (StopTask) and fail the release after this long, e.g. 90s, 15m (default: the stack’s, 1h)',
    )
    .option('--image <uri>', 'the image to "deploy"', undefined)
    .option('--release <label>', 'release label (default: local-<timestamp>)')
    .option('--fail-at <step>', 'rehearse a failure at snapshot, migrate or deploy')
    .option('--run <command>', 'start this command (with DATABASE_URL) only if the release succeeded')
    .option(
      '--approval',
      'with the approval gate (-c approval=true): pause before migrating and ask here, y/n (and a reason)',
    )
    .option('--approve', 'with --approval: approve at the gate without asking (scripts)')
    .option('--reject <reason>', 'with --approval: reject at the gate with this reason, without asking')
    .action(async (raw: ReleaseOptions) => {
      const rehearsal = await import('./commands/rehearsal.ts');
      const { terminalPrompt } = await import('./terminal-prompt.ts');
      const deps = { ask: terminalPrompt(), approver: osUser() };
      finish('release', false, await rehearsal.release(raw, output, deps));
    });
  program
    .command('snapshots')
    .description('list the local rehearsal’s snapshots')
    .requiredOption('--local', 'the local rehearsal’s')
    .action(async () => {
      const rehearsal = await import('./commands/rehearsal.ts');
      finish('snapshots', false, await rehearsal.snapshots());
    });
  program
    .command('restore')
    .description('replace the local database with a snapshot')
    .requiredOption('--local', 'the local rehearsal’s')
    .argument('<snapshot>', 'snapshot id (lockstep snapshots --local)')
    .action(async (id: string) => {
      const rehearsal = await import('./commands/rehearsal.ts');
      finish('restore', false, await rehearsal.restore(id));
    });
  // Release records: the command and the AWS SDK are loaded only when it runs.
  const releasesDeps = async () => {
    const releases = await import('./commands/releases.ts');
    return { releases, deps: { dynamodb: releases.awsDynamoDB, env: process.env, cwd: process.cwd() } };
  };
  const releasesCommand = addReleasesOptions(
    program
      .command('releases')
      .description('list release records, newest first (lockstep releases show <release>: one)'),
    true,
  ).action(async (raw: RawReleasesOptions) => {
    const { releases, deps } = await releasesDeps();
    finish('releases', raw.json, await releases.list(raw, deps));
  });
  addReleasesOptions(
    releasesCommand
      .command('show')
      .description('show one release record: image, revisions, migrations, snapshot, outcome')
      .argument('<release>', 'release label (or record key)'),
    false,
  ).action(async (release: string, _raw: RawReleasesOptions, command: Command) => {
    // Options written after `show` may be parsed as `releases`' own: take both.
    const raw = command.optsWithGlobals<RawReleasesOptions>();
    const { releases, deps } = await releasesDeps();
    finish('releases show', raw.json, await releases.show(release, raw, deps));
  });
  addRollbackOptions(
    program
      .command('rollback')
      .description(
        'run an earlier release’s image again: image only when what ran since is backward compatible, else with the database restored (--restore-database)',
      ),
  ).action(async (raw: RawRollbackOptions) => {
    const { run, awsClients } = await import('./commands/rollback.ts');
    const deps = { output, env: process.env, cwd: process.cwd(), now: () => new Date(), ...awsClients };
    finish('rollback', raw.json, await run(raw, deps));
  });
  program
    .command('diagram')
    .description('print the release state machine as a Mermaid flowchart')
    .action(async () => {
      const rehearsal = await import('./commands/rehearsal.ts');
      finish('diagram', false, await rehearsal.diagram());
    });

  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other complaint of commander's is a usage error.
      exitCode = err.exitCode === 0 ? ExitCode.Success : ExitCode.UsageError;
      if (exitCode !== ExitCode.Success && process.argv.includes('--json')) {
        const command = COMMANDS.find(([name]) => process.argv.slice(2).includes(name))?.[0];
        const error = new InvalidInputError('arguments', err.message.replace(/^error: /, ''));
        output.json({ ...jsonHead(command, exitCode), error: errorJson(error) });
      }
    } else {
      exitCode = ExitCode.InternalError;
      output.note(errorText(err));
    }
  }
  await shutdown.exit(exitCode);
}

void main();
