/**
 * infra/constructs/console-host.ts: the console host the alerts' execution links use, in each partition, whether the
 * stack's partition is known at synth or only at deploy time; and the links in the synthesized release definition.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { consoleHost } from '../../infra/constructs/console-host.ts';
import { resolveValue } from '../../rehearsal/definition.ts';
import { buildFlowStack } from '../support/flow-stack.ts';

/** A CloudFormation value as it resolves in `partition` and `region`; other resources stand for their ids. */
const evaluate = (value: unknown, conditions: Record<string, unknown>, partition: string, region: string) =>
  resolveValue(value, (ref) => `<${ref.id}>`, conditions, {
    'AWS::Partition': partition,
    'AWS::Region': region,
  }) as string;

const PARTITIONS = [
  ['aws', 'eu-west-1', 'eu-west-1.console.aws.amazon.com'],
  ['aws-cn', 'cn-north-1', 'console.amazonaws.cn'],
  ['aws-us-gov', 'us-gov-west-1', 'console.amazonaws-us-gov.com'],
  ['aws-iso', 'us-iso-east-1', 'us-iso-east-1.console.aws.amazon.com'],
] as const;

describe('the console host of the stack’s partition', () => {
  test('known only at deploy time: chosen by conditions on AWS::Partition, added once however often it is asked', () => {
    const stack = new Stack(new App(), 'Anywhere');
    new CfnOutput(stack, 'First', { value: consoleHost(stack) });
    new CfnOutput(stack, 'Second', { value: consoleHost(stack) });
    const template = Template.fromStack(stack).toJSON();
    assert.deepEqual(Object.keys(template.Conditions ?? {}).sort(), [
      'LockstepConsoleInChina',
      'LockstepConsoleInGovCloud',
    ]);
    for (const [partition, region, host] of PARTITIONS)
      for (const output of ['First', 'Second'])
        assert.equal(
          evaluate(template.Outputs[output].Value, template.Conditions, partition, region),
          host,
          `${output} in ${partition}`,
        );
  });

  for (const [, region, host] of PARTITIONS.slice(0, 3))
    test(`known at synth (${region}): ${host}, with no condition`, () => {
      const stack = new Stack(new App(), 'There', { env: { region, account: '123456789012' } });
      assert.equal(consoleHost(stack), host);
      new CfnOutput(stack, 'Host', { value: consoleHost(stack) });
      assert.equal(Template.fromStack(stack).toJSON().Conditions, undefined);
    });

  test('the alerts of both state machines link to the execution in the console of the partition it runs in', () => {
    const { template } = buildFlowStack();
    const json = template.toJSON();
    const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    assert.equal(machines.length, 2, 'the release and the rollback');
    for (const machine of machines) {
      const definition = machine.Properties.DefinitionString;
      const text = (partition: string, region: string) =>
        evaluate(definition, json.Conditions, partition, region);
      const links =
        text('aws', 'eu-west-1').match(/States\.Format\('https:\/\/\{\}\/states\/home[^']*'/g) ?? [];
      assert.ok(links.length >= 2, 'the failure alert and the success notice at least');
      assert.ok(!text('aws', 'eu-west-1').includes('{}.console.aws.amazon.com'));
      for (const [partition, region, host] of PARTITIONS) {
        const linked = `'${host}', '${region}', $$.Execution.Id`;
        assert.equal(text(partition, region).split(linked).length - 1, links.length, partition);
      }
    }
  });
});
