/**
 * The `lockstep` command: parse the arguments, run one engine command, print, exit. See ./exit-codes.ts for
 * what the exit codes mean.
 */
import { hostname, userInfo } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError } from 'commander';
import { InvalidInputError } from '../engine/errors.ts';
import packageJson from '../package.json' with { type: 'json' };
import { ExitCode, exitCodeFor } from './exit-codes.ts';
import { addOptions, type CommandName, type RawOptions } from './options.ts';
import { errorJson, errorText, jsonHead, Output } from './output.ts';
import { addPublishOptions, type RawPublishOptions } from './publish-options.ts';
import { runCommand } from './run-command.ts';
import { Shutdown } from './shutdown.ts';
import { addStartOptions, type RawStartOptions } from './start-options.ts';

// A process-wide choice, so the entry makes it, not the engine. The SQL parser's 1.7 MB WebAssembly module compiles
// on first use, after this line: V8's optimising tier would recompile it in the background and an exiting process
// waits for that, 0.1–0.2 s more per run (bench/RESULTS.md). Large files parse somewhat slower without that tier.
setFlagsFromString('--liftoff-only');

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

/** Loaded only for `publish`: the AWS SDK costs start-up time no other command needs. */
async function runPublish(raw: RawPublishOptions, output: Output): Promise<number> {
  try {
    const [{ S3Client }, { publish }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('./publish.ts'),
    ]);
    const result = await publish({ s3: new S3Client({}), now: () => new Date() }, raw);
    if (raw.json) output.json({ ...jsonHead('publish', ExitCode.Success), ...result });
    else
      output.result(
        result.unchanged
          ? `already published, unchanged: ${result.location}`
          : `published ${result.files} migrations to ${result.location}`,
      );
    return ExitCode.Success;
  } catch (err) {
    const code = exitCodeFor(err);
    if (raw.json) output.json({ ...jsonHead('publish', code), error: errorJson(err) });
    else output.note(errorText(err));
    return code;
  }
}

/** Loaded only for `start`. */
async function runStart(raw: RawStartOptions, output: Output): Promise<number> {
  try {
    const [{ SFNClient }, { startRelease }] = await Promise.all([
      import('@aws-sdk/client-sfn'),
      import('./start.ts'),
    ]);
    const result = await startRelease(
      {
        sfn: new SFNClient({}),
        print: (line) => output.note(line),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        pollMs: 2000,
      },
      raw,
    );
    if (raw.json) output.json({ ...jsonHead('start', ExitCode.Success), ...result });
    return ExitCode.Success;
  } catch (err) {
    const code = exitCodeFor(err);
    if (raw.json) output.json({ ...jsonHead('start', code), error: errorJson(err) });
    else output.note(errorText(err));
    return code;
  }
}

/**
 * The rehearsal commands synthesize the stack from this checkout's sources, so they run from source (`npm start`,
 * `npx tsx cli/main.ts …`). The specifier is computed so the bundler leaves them out of the installed CLI.
 */
async function runLocal(
  output: Output,
  work: (local: typeof import('./local-commands.ts')) => Promise<void>,
): Promise<number> {
  const specifier = ['.', 'local-commands.ts'].join('/');
  let local: typeof import('./local-commands.ts');
  try {
    local = await import(specifier);
  } catch {
    output.note(
      'the local rehearsal runs from a lockstep checkout: npm start (or npx tsx cli/main.ts release --local)',
    );
    return ExitCode.UsageError;
  }
  try {
    await work(local);
    return ExitCode.Success;
  } catch (err) {
    output.note(errorText(err));
    return exitCodeFor(err);
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
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const [name, description] of COMMANDS) {
    addOptions(program.command(name).description(description), name).action(async (raw: RawOptions) => {
      exitCode = await runCommand(name, raw, {
        output,
        shutdown,
        env: process.env,
        cwd: process.cwd(),
        hostname: hostname(),
        now: Date.now,
        osUser: osUser(),
      });
    });
  }

  addPublishOptions(
    program
      .command('publish')
      .description(
        'upload a release’s migrations and their checksums to S3, for the migrate function to run',
      ),
  ).action(async (raw: RawPublishOptions) => {
    exitCode = await runPublish(raw, output);
  });

  addStartOptions(
    program.command('start').description('start a release on AWS; with --follow, watch it to the end'),
  ).action(async (raw: RawStartOptions) => {
    exitCode = await runStart(raw, output);
  });

  program
    .command('release')
    .description(
      'rehearse a whole release locally: the real state machine and functions, an embedded PostgreSQL',
    )
    .requiredOption('--local', 'run on this machine (the only mode: a real release is `lockstep start`)')
    .option('--dir <path>', 'migrations directory', './migrations')
    .option('--image <uri>', 'the image to "deploy"', undefined)
    .option('--release <label>', 'release label (default: local-<timestamp>)')
    .option('--fail-at <step>', 'rehearse a failure at snapshot, migrate or deploy')
    .option('--run <command>', 'start this command (with DATABASE_URL) only if the release succeeded')
    .action(async (raw: { dir: string; image?: string; release?: string; failAt?: string; run?: string }) => {
      exitCode = await runLocal(output, async (local) => {
        await local.releaseLocal({
          ...raw,
          cwd: process.cwd(),
          print: (line) => output.note(line),
          now: () => new Date(),
        });
      });
    });
  program
    .command('snapshots')
    .description('list the local rehearsal’s snapshots')
    .requiredOption('--local', 'the local rehearsal’s')
    .action(async () => {
      exitCode = await runLocal(output, async (local) => {
        const snapshots = await local.withLocalDatabase(
          process.cwd(),
          () => {},
          ({ server }) => local.localSnapshots(server).list(),
        );
        output.result(
          snapshots.length
            ? snapshots.map((s) => `${s.id}  ${s.createdAt.toISOString()}`).join('\n')
            : 'no local snapshots',
        );
      });
    });
  program
    .command('restore')
    .description('replace the local database with a snapshot')
    .requiredOption('--local', 'the local rehearsal’s')
    .argument('<snapshot>', 'snapshot id (lockstep snapshots --local)')
    .action(async (id: string) => {
      exitCode = await runLocal(output, async (local) => {
        await local.withLocalDatabase(process.cwd(), () => {}, local.restoreLocal(id));
        output.result(`restored database "app" from ${id}`);
      });
    });
  program
    .command('diagram')
    .description('print the release state machine as a Mermaid flowchart')
    .action(async () => {
      exitCode = await runLocal(output, async (local) => {
        output.result(local.diagram());
      });
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
