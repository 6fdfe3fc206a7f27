import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/app.ts';
import { toMermaid } from '../../infra/diagram.ts';
import { INITIAL_APP_IMAGE } from '../../infra/release-image-stack.ts';
import { synthesizeReleaseDefinition } from '../../rehearsal/definition.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README’s diagram is the synthesized state machine (regenerate: lockstep diagram)', () => {
  const embedded = /<!-- diagram:start[^>]*-->\n```mermaid\n([\s\S]*?)```\n<!-- diagram:end -->/.exec(
    readme,
  )?.[1];
  assert.ok(embedded, 'the README has a diagram block');
  assert.equal(embedded, toMermaid(synthesizeReleaseDefinition().definition));
});

test('every lockstep command the README shows exists in the installed command, with the options it shows', () => {
  const help = (args: string[]) =>
    execFileSync(process.execPath, ['bin/lockstep.cjs', ...args, '--help'], {
      cwd: new URL('../../', import.meta.url),
      encoding: 'utf8',
    });
  assert.doesNotMatch(
    readme,
    /npx tsx cli\/main\.ts/,
    'the README shows the installed command, not the source',
  );
  const shown = new Set(
    [
      ...readme.matchAll(
        /lockstep (migrate|plan|status|repair|adopt|baseline|publish|start|release|snapshots|restore|rollback|diagram|new|exec|lint|approve|reject)\b/g,
      ),
    ].map((m) => m[1] as string),
  );
  assert.ok(shown.size >= 10, [...shown].join(' '));
  for (const command of shown) {
    const text = help([command]);
    const flags = new Set(
      [...readme.matchAll(new RegExp(`lockstep ${command} ([^\\n\`|]*)`, 'g'))].flatMap((m) =>
        // After `exec … --` come the command's own flags, not lockstep's.
        [...((m[1] as string).split(' -- ')[0] as string).matchAll(/--[a-z-]+/g)].map((f) => f[0]),
      ),
    );
    for (const flag of flags) assert.ok(text.includes(flag), `lockstep ${command} ${flag}`);
  }
});

test('the first-deploy walk names the stacks, parameter, first image and tag prefixes the example app has', () => {
  const walk = /### First deploy\n([\s\S]*?)\n### /.exec(readme)?.[1];
  assert.ok(walk, 'the README has a First deploy section');
  const { stack, imageStack } = createApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
  const template = Template.fromStack(stack);
  assert.ok(walk.includes('npx cdk deploy --all'), 'deploys both stacks, the image stack first');
  for (const name of [stack.stackName, imageStack.stackName, stack.imageParameterName, INITIAL_APP_IMAGE])
    assert.ok(walk.includes(name), name);
  const rule = Object.values(template.findResources('AWS::Events::Rule')).find(
    (r) => r.Properties.EventPattern?.source?.[0] === 'aws.ecr',
  );
  assert.ok(rule, 'the example has an image push rule');
  const prefixes = (rule.Properties.EventPattern.detail['image-tag'] as { prefix: string }[]).map(
    (t) => t.prefix,
  );
  assert.ok(prefixes.length > 0);
  for (const prefix of prefixes) assert.ok(walk.includes(`\`${prefix}\``), `tag prefix ${prefix}`);
  const outputs = Object.keys(template.findOutputs('*'));
  for (const output of ['AppRepositoryUri', 'StateMachineArn', 'ImageParameterName'])
    assert.ok(outputs.includes(output) && walk.includes(output), output);
});

test('the Lint section’s rules table lists every rule with its severity and safe way, as engine/lint/rules.ts has them', async () => {
  const { RULES } = await import('../../engine/lint/rules.ts');
  for (const [id, rule] of Object.entries(RULES)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${id}\``));
    assert.ok(row, `a row for ${id}`);
    const cells = row.split('|').map((c) => c.trim());
    assert.equal(cells[2], rule.severity === 'scaled' ? 'by size' : rule.severity, id);
    assert.equal(cells[5], rule.safe.replace(/\|/g, '\\|'), id);
  }
});
