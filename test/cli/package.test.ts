/**
 * What `npm pack` puts in lockstep's package, the one `npm install --global <tarball or git URL>` installs into an
 * image or a CI job: the built bundles the bin loads (dist/ is git-ignored, and npm leaves git-ignored files out
 * unless `files` names them), and the sources the rehearsal synthesizes; no tests, benchmarks or local state. And
 * what a CDK app gets from it installed: `import { ReleaseFlow } from 'lockstep'`, its functions bundled from there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/cli-process.ts';

function packedFiles(): string[] {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [pack] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  assert.ok(pack);
  return pack.files.map((f) => f.path);
}

describe('the package', () => {
  it('carries the bundles the installed command loads, and the sources its rehearsal synthesizes', () => {
    const files = packedFiles();
    for (const file of [
      'bin/lockstep.cjs',
      'dist/cli.cjs',
      'dist/rehearsal.cjs',
      'dist/github-action.cjs',
      'action.yml',
      'infra/app.ts',
      'functions/migrate/handler.ts',
      'rehearsal/commands.ts',
      'cdk.json',
      'package.json',
    ]) {
      assert.ok(files.includes(file), `${file} is not in the package`);
    }
    const stray = files.filter((f) =>
      /^(test|bench|scripts|node_modules|\.lockstep|cdk\.out)\/|compile-cache/.test(f),
    );
    assert.deepEqual(stray, []);
  });

  it('installed, gives a CDK app ReleaseFlow from "lockstep" and bundles its functions from the installed copy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-installed-'));
    try {
      // Install the packed tarball as npm would, offline: the package in node_modules/lockstep, its dependencies
      // beside it (npm hoists them), here this checkout's own.
      execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {
        cwd: repoRoot,
        stdio: 'ignore',
      });
      const modules = join(dir, 'node_modules');
      mkdirSync(modules);
      execFileSync('tar', ['-xzf', join(dir, 'lockstep-0.1.0.tgz'), '-C', modules]);
      execFileSync('mv', [join(modules, 'package'), join(modules, 'lockstep')]);
      for (const dependency of readdirSync(join(repoRoot, 'node_modules')))
        symlinkSync(join(repoRoot, 'node_modules', dependency), join(modules, dependency));
      writeFileSync(join(dir, 'package.json'), '{ "name": "shop-infra", "private": true, "type": "module" }');
      mkdirSync(join(dir, 'migrations'));
      writeFileSync(
        join(dir, 'migrations', '0001_orders.sql'),
        'CREATE TABLE orders (id bigint PRIMARY KEY);',
      );
      writeFileSync(join(dir, 'app.ts'), APP);

      const out = execFileSync(process.execPath, [join(modules, 'tsx', 'dist', 'cli.mjs'), 'app.ts'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });

      const { functions, bundles } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
        functions: number;
        bundles: string[];
      };
      assert.ok(functions >= 5, `${functions} functions`);
      assert.equal(bundles.length, functions, 'every function is a bundle made at synth');
      const code = bundles.map((b) => readFileSync(b, 'utf8')).join('\n');
      assert.match(code, /ReleaseInProgressError/, 'preflight, bundled from node_modules/lockstep/functions');
      assert.ok(existsSync(join(modules, 'lockstep', 'infra', 'index.ts')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A CDK app as a user writes it: its own VPC, database and service, lockstep's construct from the package. */
const APP = `
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as rds from 'aws-cdk-lib/aws-rds';
import { MigrationsSource, ReleaseDatabase, ReleaseFlow } from 'lockstep';

// As the cdk CLI runs it: each function names its bundle in its metadata.
const app = new App({ outdir: 'cdk.out', context: { 'aws:cdk:enable-asset-metadata': true } });
const stack = new Stack(app, 'Shop', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
const db = new rds.DatabaseInstance(stack, 'Db', {
  engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
  vpc,
  storageEncrypted: true,
  credentials: rds.Credentials.fromGeneratedSecret('app_owner'),
});
const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
taskDefinition.addContainer('app', { image: ecs.ContainerImage.fromRegistry('example/app:v1') });
const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
new ReleaseFlow(stack, 'Release', {
  database: ReleaseDatabase.instance(db),
  databaseSecret: db.secret!,
  vpc,
  service: new ecs.FargateService(stack, 'Service', { cluster, taskDefinition }),
  containerName: 'app',
  migrations: MigrationsSource.bundled('migrations'),
});
const assembly = app.synth();
const artifact = assembly.getStackByName('Shop');
const resources = Object.values(artifact.template.Resources) as { Type: string; Metadata?: Record<string, string> }[];
const lambdas = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path']);
const bundles = lambdas
  .map((r) => resolve(assembly.directory, r.Metadata?.['aws:asset:path'] ?? '', 'index.js'))
  .filter((p) => existsSync(p));
console.log(JSON.stringify({ functions: lambdas.length, bundles }));
`;
