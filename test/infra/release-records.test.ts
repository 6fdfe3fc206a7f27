/**
 * The release-records table (infra/constructs/release-records.ts) as synthesized: keyed for "this database's
 * releases, newest first", indexed by release label and across databases, encrypted, recoverable, kept when the
 * stack goes; the state machine may only put records there.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CfnElement } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { buildFlowStack } from '../support/flow-stack.ts';

type FlowStack = ReturnType<typeof buildFlowStack>;

/** `[roles, actions]` of every policy statement whose resource mentions `resource` (JSON text). */
function grantsOn(template: FlowStack['template'], resource: string): unknown[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((s) => JSON.stringify(s.Resource).includes(resource))
      .map((s) => [p.Properties.Roles, s.Action]),
  );
}

/** What {@link grantsOn} must find on a records table: a PutItem for each state machine's role, nothing else. */
function onlyPutsByBothMachines(stack: FlowStack['stack'], flow: FlowStack['flow']): unknown[] {
  const roleOf = (machine: typeof flow.stateMachine) =>
    stack.getLogicalId(machine.role.node.defaultChild as CfnElement);
  return [
    [[{ Ref: roleOf(flow.stateMachine) }], 'dynamodb:PutItem'],
    [[{ Ref: roleOf(flow.rollbackStateMachine) }], 'dynamodb:PutItem'],
  ];
}

describe('release records table', () => {
  const { stack, flow, template } = buildFlowStack();
  const id = stack.getLogicalId(flow.recordsTable.node.defaultChild as CfnElement);
  const resource = template.findResources('AWS::DynamoDB::Table')[id];
  const table = resource?.Properties;

  test('keyed by database and start time, with the byRelease and newest indexes', () => {
    assert.deepEqual(table?.KeySchema, [
      { AttributeName: 'database', KeyType: 'HASH' },
      { AttributeName: 'recordKey', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(
      table?.GlobalSecondaryIndexes.map(
        (i: { IndexName: string; KeySchema: unknown; Projection: unknown }) => [
          i.IndexName,
          i.KeySchema,
          i.Projection,
        ],
      ),
      [
        [
          'byRelease',
          [
            { AttributeName: 'release', KeyType: 'HASH' },
            { AttributeName: 'recordKey', KeyType: 'RANGE' },
          ],
          { ProjectionType: 'ALL' },
        ],
        [
          'newest',
          [
            { AttributeName: 'kind', KeyType: 'HASH' },
            { AttributeName: 'recordKey', KeyType: 'RANGE' },
          ],
          { ProjectionType: 'ALL' },
        ],
      ],
    );
    assert.equal(table?.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(table?.TimeToLiveSpecification, undefined, 'records do not expire');
  });

  test('encrypted with the AWS managed key, point-in-time recovery on, retained when the stack is deleted', () => {
    assert.deepEqual(table?.SSESpecification, { SSEEnabled: true });
    assert.deepEqual(table?.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
    assert.equal(resource?.DeletionPolicy, 'Retain');
    assert.equal(resource?.UpdateReplacePolicy, 'Retain');
  });

  test('the two state machines put records, and no role may do more with the table', () => {
    assert.deepEqual(grantsOn(template, `"${id}"`), onlyPutsByBothMachines(stack, flow));
  });
});

describe('an existing release-records table (recordsTable)', () => {
  const { stack, flow, template } = buildFlowStack({
    props: (s) => ({ recordsTable: dynamodb.Table.fromTableName(s, 'Kept', 'lockstep-records-kept') }),
  });

  test('no table is created for the records; both state machines write the one given, and only put', () => {
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    assert.equal(tables.length, 1, 'only the release-lock table');
    assert.deepEqual(tables[0]?.Properties.KeySchema, [{ AttributeName: 'lockId', KeyType: 'HASH' }]);
    const kept = JSON.stringify({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':dynamodb:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':table/lockstep-records-kept',
        ],
      ],
    });
    assert.deepEqual(grantsOn(template, kept), onlyPutsByBothMachines(stack, flow));
    for (const machine of Object.values(template.findResources('AWS::StepFunctions::StateMachine')))
      assert.ok(JSON.stringify(machine).includes('\\"TableName\\":\\"lockstep-records-kept\\"'));
  });
});
